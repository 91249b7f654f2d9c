"""Fleet report: aggregation, paths statement, cluster and plan, renderers and escaping of
untrusted node and cluster text."""

from __future__ import annotations

import html.parser
import json
import os
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.report import (
    build_report,
    parse_kruise_version,
    render_html,
    render_json,
    render_markdown,
    set_stats_summary,
    summary_table,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.planner import (
    build_plan,
)

GENERATED_AT = "2025-01-02T03:04:05+00:00"
LINES = ("1.4", "1.5", "1.6", "1.7", "1.8")


def endpoint(
    socket: str,
    *,
    kind: str = "containerd",
    runtime_name: str | None = "containerd",
    runtime_version: str | None = None,
    apis: tuple[str, ...] = ("v1",),
    error: str | None = None,
    aliases: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "socket": socket,
        "aliases": list(aliases),
        "kind": kind,
        "runtime_name": runtime_name,
        "runtime_version": runtime_version,
        "cri_api_versions": list(apis),
        "error": error,
        "probes": {},
    }


def docker_engine(version: str = "20.10.24+dfsg1", mirrors: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "socket": "/run/docker.sock",
        "version": version,
        "api_version": "1.41",
        "cgroup_driver": "cgroupfs",
        "daemon_json": {
            "path": "/etc/docker/daemon.json",
            "registry_mirrors": list(mirrors),
            "insecure_registries": [],
            "data_root": None,
            "exec_opts": [],
            "log_driver": None,
            "log_opts": {},
            "error": None,
        },
        "error": None,
    }


def line_verdicts(
    compatible: set[str],
    reasons: dict[str, str],
    *,
    socket: str | None,
    runtime: str,
    overrides: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """kruise_daemon: a compatible line starts on `socket` and manages the kubelet's runtime."""
    verdicts = {}
    for line in LINES:
        ok = line in compatible
        verdicts[line] = {
            "compatible": ok,
            "starts": ok,
            "socket": socket if ok else None,
            "runtimes": [runtime] if ok else [],
            "reason": reasons.get(line, f"kruise-daemon {line}: see endpoints"),
            **overrides.get(line, {}),
        }
    return verdicts


def kruise_facts(
    *,
    endpoints: list[dict[str, Any]],
    kubelet_runtime: str,
    kubelet_endpoint: str,
    compatible_lines: set[str],
    reasons: dict[str, str] | None = None,
    docker: dict[str, Any] | None = None,
    kubelet_version: str | None = "v1.27.3",
    findings: list[dict[str, Any]] | None = None,
    daemon_overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """ansible_facts.kruise_cri for one host, shaped as docs/facts.md describes."""
    first_socket = endpoints[0]["socket"] if endpoints else None
    return {
        "schema": 1,
        "host_root": "/",
        "endpoints": endpoints,
        "docker": docker,
        "containerd_configs": [],
        "kubelet": {
            "runtime_endpoint": kubelet_endpoint,
            "runtime": kubelet_runtime,
            "source": "/var/lib/kubelet/kubeadm-flags.env",
            "container_runtime_flag": "remote",
            "cgroup_driver": "systemd",
            "config_file": "/var/lib/kubelet/config.yaml",
            "version": kubelet_version,
        },
        "kruise_daemon": line_verdicts(
            compatible_lines,
            reasons or {},
            socket=first_socket,
            runtime=kubelet_runtime,
            overrides=daemon_overrides or {},
        ),
        "findings": findings or [],
    }


CONTAINERD_SOCK = "/run/containerd/containerd.sock"


def containerd_node(version: str, apis: tuple[str, ...], lines: set[str], reason: str) -> dict:
    return kruise_facts(
        endpoints=[
            endpoint(
                CONTAINERD_SOCK,
                runtime_version=version,
                apis=apis,
                aliases=("/var/run/containerd/containerd.sock",),
            )
        ],
        kubelet_runtime="containerd",
        kubelet_endpoint="unix:///run/containerd/containerd.sock",
        compatible_lines=lines,
        reasons={"1.6": reason},
    )


def mixed_fleet() -> tuple[dict[str, dict], dict[str, str]]:
    hosts = {
        "node-ctd14": containerd_node(
            "v1.4.13",
            ("v1alpha2",),
            {"1.4", "1.5"},
            f"containerd v1.4.13 at {CONTAINERD_SOCK} serves only CRI v1alpha2; "
            "kruise-daemon 1.6 needs CRI v1",
        ),
        "node-ctd16": containerd_node(
            "v1.6.20",
            ("v1", "v1alpha2"),
            set(LINES),
            f"containerd v1.6.20 at {CONTAINERD_SOCK} serves CRI v1",
        ),
        "node-ctd21": containerd_node(
            "v2.1.9",
            ("v1",),
            {"1.5", "1.6", "1.7", "1.8"},
            f"containerd v2.1.9 at {CONTAINERD_SOCK} serves CRI v1",
        ),
        "node-dockershim": kruise_facts(
            endpoints=[
                endpoint(
                    "/run/dockershim.sock",
                    kind="dockershim",
                    runtime_name="docker",
                    runtime_version="20.10.24+dfsg1",
                    apis=("v1alpha2",),
                )
            ],
            docker=docker_engine(mirrors=("https://mirror.example.invalid",)),
            kubelet_runtime="docker",
            kubelet_endpoint="unix:///var/run/dockershim.sock",
            kubelet_version="v1.23.17",
            compatible_lines={"1.4", "1.5"},
            reasons={
                "1.6": "dockershim at /run/dockershim.sock serves only CRI v1alpha2; "
                "kruise-daemon 1.6 needs CRI v1"
            },
        ),
        "node-docker-cri-ctd": kruise_facts(
            endpoints=[
                endpoint(CONTAINERD_SOCK, runtime_version="v1.6.20", apis=("v1", "v1alpha2")),
                endpoint(
                    "/run/dockershim.sock",
                    kind="dockershim",
                    runtime_name="docker",
                    runtime_version="20.10.24+dfsg1",
                    apis=("v1alpha2",),
                ),
            ],
            docker=docker_engine(),
            kubelet_runtime="docker",
            kubelet_endpoint="unix:///var/run/dockershim.sock",
            kubelet_version="v1.23.17",
            compatible_lines={"1.4", "1.5"},
            reasons={
                "1.6": "kruise-daemon 1.6 starts on containerd v1.6.20 but the kubelet runs "
                "pods on docker, which it cannot manage"
            },
            daemon_overrides={
                line: {"starts": True, "socket": CONTAINERD_SOCK, "runtimes": ["containerd"]}
                for line in ("1.6", "1.7", "1.8")
            },
            findings=[
                {
                    "severity": "warning",
                    "source": "/etc/containerd/config.toml",
                    "message": "containerd serves CRI but the kubelet uses Docker",
                }
            ],
        ),
    }
    unreachable = {"node-gone": "Failed to connect to the host via ssh: Connection timed out"}
    return hosts, unreachable


def sample_report() -> dict[str, Any]:
    hosts, unreachable = mixed_fleet()
    return build_report(
        hosts, kruise_version="1.6.0", generated_at=GENERATED_AT, unreachable=unreachable
    )


# --- aggregation ------------------------------------------------------------------------------


def test_counts_and_overall_verdict_on_mixed_fleet() -> None:
    report = sample_report()
    assert report["target"] == {"kruise_version": "1.6.0", "line": "1.6"}
    summary = report["summary"]
    assert (summary["nodes"], summary["compatible"], summary["incompatible"]) == (6, 2, 3)
    assert summary["unknown"] == 1
    assert summary["verdict"] == "incompatible"
    assert summary["by_runtime"] == {
        "containerd v1.4.13": 1,
        "containerd v1.6.20": 1,
        "containerd v2.1.9": 1,
        "docker 20.10.24+dfsg1": 2,
        "unknown": 1,
    }


def test_groups_order_and_members() -> None:
    report = sample_report()
    assert list(report["groups"]) == ["incompatible", "unknown", "compatible"]
    hosts = {verdict: [n["host"] for n in nodes] for verdict, nodes in report["groups"].items()}
    assert hosts == {
        "incompatible": ["node-ctd14", "node-docker-cri-ctd", "node-dockershim"],
        "unknown": ["node-gone"],
        "compatible": ["node-ctd16", "node-ctd21"],
    }
    node = report["groups"]["incompatible"][1]
    assert node["reason"].startswith("kruise-daemon 1.6 starts on containerd")
    assert node["kubelet_runtime"] == "docker"
    assert node["kubelet_endpoint"] == "unix:///var/run/dockershim.sock"
    assert [e["cri_api_versions"] for e in node["endpoints"]] == [["v1", "v1alpha2"], ["v1alpha2"]]
    assert node["docker"]["version"] == "20.10.24+dfsg1"
    assert node["lines"] == {"1.4": True, "1.5": True, "1.6": False, "1.7": False, "1.8": False}
    gone = report["groups"]["unknown"][0]
    assert gone["reason"] == (
        "unreachable: Failed to connect to the host via ssh: Connection timed out"
    )
    assert gone["lines"] == {} and gone["endpoints"] == [] and gone["docker"] is None


def test_per_line_matrix_shows_the_bridge_line() -> None:
    report = sample_report()
    assert list(report["per_line"]) == list(LINES)
    assert report["per_line"]["1.5"] == {"compatible": 5, "incompatible": 0, "unknown": 1}
    assert report["per_line"]["1.4"] == {"compatible": 4, "incompatible": 1, "unknown": 1}
    assert report["per_line"]["1.6"] == {"compatible": 2, "incompatible": 3, "unknown": 1}


def test_paths_statement_from_the_data() -> None:
    paths = {p["id"]: p for p in sample_report()["paths"]}
    assert list(paths) == ["migrate_runtime", "pin_bridge_line", "disable_daemon"]
    migrate = paths["migrate_runtime"]
    assert migrate["fits"] == "partly"
    assert migrate["hosts"] == ["node-docker-cri-ctd", "node-dockershim"]
    assert "2 of 3 incompatible nodes" in migrate["statement"]
    assert "node-ctd14" in migrate["statement"]
    pin = paths["pin_bridge_line"]
    assert pin["title"] == "Pin OpenKruise 1.5.5"
    assert pin["fits"] == "unknown" and pin["hosts"] == ["node-gone"]
    assert "Every assessed node (5)" in pin["statement"]
    disable = paths["disable_daemon"]
    assert disable["fits"] == "yes"
    costs = " ".join(disable["costs"])
    for feature in (
        "ContainerRecreateRequest",
        "ImagePullJob",
        "ImageListPullJob",
        "NodeImage",
        "PodProbeMarker",
        "Sidecar terminator",
        "InPlaceUpdateEnvFromMetadata",
    ):
        assert feature in costs


def test_migration_fits_every_node_when_all_incompatible_are_docker_and_pin_is_feasible() -> None:
    hosts, _ = mixed_fleet()
    del hosts["node-ctd14"]
    report = build_report(hosts, kruise_version="v1.6", generated_at=GENERATED_AT)
    paths = {p["id"]: p for p in report["paths"]}
    assert paths["migrate_runtime"]["fits"] == "yes"
    assert paths["migrate_runtime"]["statement"].startswith("All 2 incompatible nodes run")
    assert paths["pin_bridge_line"]["fits"] == "yes"
    assert "feasible fleet-wide" in paths["pin_bridge_line"]["statement"]


def test_pin_not_feasible_names_the_blocking_node() -> None:
    hosts, _ = mixed_fleet()
    hosts["node-ctd14"]["kruise_daemon"]["1.5"]["compatible"] = False
    paths = {
        p["id"]: p
        for p in build_report(hosts, kruise_version="1.6.0", generated_at=GENERATED_AT)["paths"]
    }
    assert paths["pin_bridge_line"]["fits"] == "no"
    assert paths["pin_bridge_line"]["hosts"] == ["node-ctd14"]
    assert "1 node is not compatible" in paths["pin_bridge_line"]["statement"]


def test_no_incompatible_node_means_no_migration_needed() -> None:
    hosts, _ = mixed_fleet()
    report = build_report(
        {h: f for h, f in hosts.items() if h in ("node-ctd16", "node-ctd21")},
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
    )
    assert report["summary"]["verdict"] == "compatible"
    assert report["paths"][0]["fits"] == "not needed"


def test_failed_hosts_and_hosts_without_facts_are_unknown() -> None:
    hosts, _ = mixed_fleet()
    hosts["node-nofacts"] = None
    hosts["node-oldschema"] = {"schema": 7}
    report = build_report(
        hosts,
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
        failed={"node-ctd16": "module failure", "node-x": "boom"},
    )
    unknown = {n["host"]: n["reason"] for n in report["groups"]["unknown"]}
    assert unknown == {
        "node-ctd16": "fact gathering failed: module failure",
        "node-nofacts": "no kruise_cri facts were gathered for this host",
        "node-oldschema": "kruise_cri facts schema 7 is not supported (expected 1)",
        "node-x": "fact gathering failed: boom",
    }
    assert report["summary"]["nodes"] == 8


def test_target_line_missing_from_facts_is_unknown_and_in_the_matrix() -> None:
    hosts, _ = mixed_fleet()
    report = build_report(hosts, kruise_version="1.9.1", generated_at=GENERATED_AT)
    assert report["summary"]["unknown"] == 5
    assert report["summary"]["verdict"] == "unknown"
    assert list(report["per_line"])[-1] == "1.9"
    assert report["groups"]["unknown"][0]["reason"] == (
        "the facts hold no verdict for kruise-daemon 1.9"
    )


def test_empty_fleet() -> None:
    report = build_report({}, kruise_version="1.6.0", generated_at=GENERATED_AT)
    assert report["summary"] == {
        "nodes": 0,
        "compatible": 0,
        "incompatible": 0,
        "unknown": 0,
        "by_runtime": {},
        "verdict": "unknown",
    }
    assert report["groups"] == {"incompatible": [], "unknown": [], "compatible": []}
    assert report["paths"][1]["statement"] == "No node was assessed."
    assert "No node was assessed." in render_html(report)
    assert "None." in render_markdown(report)
    assert summary_table(report).splitlines()[-1].startswith("0 nodes:")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.6.0", ("1.6.0", "1.6")), ("v1.5", ("1.5", "1.5")), ("v1.10.2", ("1.10.2", "1.10"))],
)
def test_kruise_version_forms(value: str, expected: tuple[str, str]) -> None:
    assert parse_kruise_version(value) == expected


@pytest.mark.parametrize("value", ["1", "1.6.0.1", "latest", "1.6.x", "", " 1.6", None, 1.6])
def test_malformed_kruise_version(value: object) -> None:
    with pytest.raises(ValueError, match=r"kruise_version .* expected X\.Y or X\.Y\.Z") as info:
        build_report({}, kruise_version=value, generated_at=GENERATED_AT)  # type: ignore[arg-type]
    assert repr(value) in str(info.value)


def test_hosts_are_sorted_naturally_and_report_is_json_stable() -> None:
    facts = mixed_fleet()[0]["node-ctd16"]
    report = build_report(
        {"n10": facts, "n2": facts, "n1": facts},
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
    )
    assert [n["host"] for n in report["groups"]["compatible"]] == ["n1", "n2", "n10"]
    text = render_json(report)
    assert text.endswith("}\n")
    assert list(json.loads(text)) == [
        "schema",
        "generated_at",
        "target",
        "summary",
        "per_line",
        "groups",
        "paths",
        "cluster",
        "plan",
    ]
    assert json.loads(text) == report


# --- untrusted text ---------------------------------------------------------------------------

EVIL = '<script>alert("x")</script> a|b <img src=x onerror=alert(1)>'


def evil_report() -> dict[str, Any]:
    hosts, _ = mixed_fleet()
    evil = hosts["node-ctd14"]
    evil["kruise_daemon"]["1.6"]["reason"] = EVIL
    evil["endpoints"][0]["error"] = "</td><script>bad()</script>"
    evil["endpoints"][0]["socket"] = "/run/<script>sock()</script>/c.sock"
    evil["findings"] = [{"severity": "<blink>", "source": "a|b", "message": "<marquee>x"}]
    hosts["<script>host|1"] = hosts.pop("node-ctd16")
    return build_report(hosts, kruise_version="1.6.0", generated_at=GENERATED_AT)


class _TagCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def test_html_escapes_node_text() -> None:
    page = render_html(evil_report())
    assert "<script>alert" not in page and "<img" not in page and "<script>bad" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;host|1" in page
    assert "/<wbr>run/<wbr>&lt;script&gt;sock()&lt;/<wbr>script&gt;/<wbr>c.sock" in page
    parser = _TagCollector()
    parser.feed(page)
    # Only the report's own print helper is a script; nothing injected became a tag.
    assert parser.tags.count("script") == 1
    assert not {"img", "blink", "marquee"} & set(parser.tags)
    assert "&lt;blink&gt;" in page and "&lt;marquee&gt;x" in page
    assert "beforeprint" in parser.scripts[0]


def test_markdown_escapes_pipes_and_html() -> None:
    text = render_markdown(evil_report())
    row = next(line for line in text.splitlines() if line.startswith("| node-ctd14 "))
    assert r"a\|b" in row
    assert "<script>" not in text and r"\<script\>" in row
    # The escaped pipe keeps the row at the table's five cells.
    unescaped_pipes = row.replace(r"\|", "").count("|")
    assert unescaped_pipes == 6
    assert r"\<script\>host\|1" in text


def test_summary_table_strips_control_characters() -> None:
    hosts, _ = mixed_fleet()
    hosts["node-ctd14"]["kruise_daemon"]["1.6"]["reason"] = "bad\x1b[31m red\nsecond line"
    table = summary_table(build_report(hosts, kruise_version="1.6", generated_at=GENERATED_AT))
    assert "\x1b" not in table
    assert "bad[31m red second line" in table


# --- renderers --------------------------------------------------------------------------------


def test_markdown_structure() -> None:
    text = render_markdown(sample_report())
    assert text.startswith("# kruise-daemon CRI assessment\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "| 6 | 2 | 3 | 1 |" in text
    assert "| **1.6** (target) | 2 | 3 | 1 | no |" in text
    assert "| 1.5 | 5 | 0 | 1 | on every assessed node |" in text
    assert "- **Pin OpenKruise 1.5.5** (unconfirmed): Every assessed node (5)" in text
    assert "### Incompatible (3)" in text and "### Unknown (1)" in text
    # Every table row in the document has a consistent cell count with its header.
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            widths = {line.replace(r"\|", "").count("|") for line in rows}
            assert len(widths) == 1, block


def test_summary_table_layout() -> None:
    table = summary_table(sample_report())
    lines = table.splitlines()
    assert lines[0].split() == ["HOST", "RUNTIME", "KUBELET", "KRUISE", "1.6", "REASON"]
    assert [line.split()[0] for line in lines[1:7]] == [
        "node-ctd14",
        "node-docker-cri-ctd",
        "node-dockershim",
        "node-gone",
        "node-ctd16",
        "node-ctd21",
    ]
    assert lines[-1] == (
        "6 nodes: 2 compatible, 3 incompatible, 1 unknown; kruise-daemon 1.6 verdict: incompatible"
    )
    # Columns line up: every row has its verdict right under the KRUISE 1.6 header.
    column = lines[0].index("KRUISE 1.6")
    verdicts = [line[column:].split()[0] for line in lines[1:7]]
    assert verdicts == ["incompatible"] * 3 + ["unknown"] + ["compatible"] * 2


def test_set_stats_summary_caps_incompatible_hosts() -> None:
    facts = mixed_fleet()[0]["node-ctd14"]
    report = build_report(
        {f"n{i}": facts for i in range(60)}, kruise_version="1.6.0", generated_at=GENERATED_AT
    )
    stats = set_stats_summary(report)
    assert stats["incompatible"] == 60
    assert len(stats["incompatible_hosts"]) == 50
    assert stats["incompatible_hosts"][:3] == ["n0", "n1", "n2"]
    assert stats["incompatible_hosts_truncated"] is True
    assert stats["verdict"] == "incompatible" and stats["line"] == "1.6"
    assert set_stats_summary(sample_report())["incompatible_hosts_truncated"] is False


def test_html_is_self_contained_and_highlights_target() -> None:
    page = render_html(sample_report())
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "<link", "@import", "src="):
        # The only URL in the sample is the node's own registry mirror, shown as escaped text.
        assert external not in page.replace("https://mirror.example.invalid", "")
    assert '<tr class="target">' in page
    assert page.count("<details>") == 5  # every assessed node; the unreachable one has no evidence
    assert "3 of 6 nodes cannot run kruise-daemon 1.6" in page
    assert page.index('id="nodes-incompatible"') < page.index('id="nodes-compatible"')


def test_write_sample_report(tmp_path: Path) -> None:
    """Renders the 6-node sample; KC_REPORT_SAMPLE_DIR=/tmp/kc-report-sample keeps it for review."""
    sample_dir = Path(os.environ.get("KC_REPORT_SAMPLE_DIR") or tmp_path)
    sample_dir.mkdir(parents=True, exist_ok=True)
    report = sample_report()
    for name, text in (
        ("report.html", render_html(report)),
        ("report.md", render_markdown(report)),
        ("report.json", render_json(report)),
    ):
        (sample_dir / name).write_text(text, encoding="utf-8")
    assert json.loads((sample_dir / "report.json").read_text(encoding="utf-8")) == report
    assert (sample_dir / "report.html").stat().st_size > 10_000


# --- cluster facts and plan -------------------------------------------------------------------

CRASH_MESSAGE = (
    "validate service connection: CRI v1 runtime API is not implemented for endpoint "
    '"unix:///hostvarrun/dockershim.sock": rpc error: code = Unimplemented'
)


def cluster_facts(
    *, crash_message: str = CRASH_MESSAGE, crash_pod: str = "kruise-daemon-7xk2p"
) -> dict[str, Any]:
    """kruise_info's kruise dict for the mixed fleet, shaped as docs/cluster-facts.md shows."""

    def node(name: str, runtime: str, kubelet: str, state: str) -> dict[str, Any]:
        kind, _, version = runtime.partition("://")
        return {
            "name": name,
            "container_runtime_version": runtime,
            "runtime": kind,
            "runtime_version": version,
            "kubelet_version": kubelet,
            "ready": True,
            "unschedulable": False,
            "daemon_pod": f"kruise-daemon-{name}",
            "daemon_pod_state": state,
        }

    return {
        "schema": 1,
        "api": {"server": "https://10.0.0.1:6443", "version": "v1.30.4"},
        "installed": True,
        "version": "1.6.3",
        "line": "1.6",
        "namespace": "kruise-system",
        "manager": {
            "name": "kruise-controller-manager",
            "image": "openkruise/kruise-manager:v1.6.3",
            "replicas": 2,
            "ready_replicas": 2,
            "args": ["--feature-gates=ImagePullJobGate=true", "--token=manager-arg-secret"],
        },
        "install": {
            "method": "helm",
            "helm": {
                "release": "kruise",
                "namespace": "kruise-system",
                "revision": 3,
                "status": "deployed",
                "chart": "kruise",
                "chart_version": "1.6.3",
                "app_version": "1.6.3",
                "values": {
                    "featureGates": "ImagePullJobGate=true",
                    "daemon": {"socketLocation": "/var/run", "extraEnv": "daemon-secret"},
                    "imagePullSecrets": [{"name": "registry-secret"}],
                },
            },
        },
        "feature_gates": {
            "argument": "ImagePullJobGate=true",
            "gates": {"ImagePullJobGate": True},
            "daemon_enabled": True,
        },
        "daemon": {
            "name": "kruise-daemon",
            "namespace": "kruise-system",
            "image": "openkruise/kruise-manager:v1.6.3",
            "desired": 5,
            "ready": 2,
            "available": 2,
            "updated": 5,
            "socket_location": "/var/run",
            "socket_file": None,
            "crash_looping": [
                {
                    "pod": crash_pod,
                    "node": "node-dockershim",
                    "restarts": 12,
                    "reason": "CrashLoopBackOff",
                    "last_exit_code": 1,
                    "last_message": crash_message,
                },
                {
                    "pod": "kruise-daemon-b8d4q",
                    "node": "node-ctd14",
                    "restarts": 9,
                    "reason": "CrashLoopBackOff",
                    "last_exit_code": 1,
                    "last_message": CRASH_MESSAGE,
                },
            ],
        },
        "nodes": [
            node("node-ctd14", "containerd://1.4.13", "v1.22.17", "crash-looping"),
            node("node-ctd16", "containerd://1.6.20", "v1.26.15", "running"),
            node("node-ctd21", "containerd://2.1.9", "v1.33.1", "running"),
            node("node-docker-cri-ctd", "docker://20.10.24", "v1.23.17", "crash-looping"),
            node("node-dockershim", "docker://20.10.24", "v1.23.17", "crash-looping"),
        ],
        "feature_use": {
            "kinds": {
                "ContainerRecreateRequest": {"crd": True, "count": 3},
                "ImagePullJob": {"crd": True, "count": 0, "active": 0},
                "NodePodProbe": {"crd": False, "count": 0},
            },
            "predownload_workloads": {"count": 0, "examples": []},
            "sidecar_terminator_pods": {"count": 0, "examples": []},
            "in_use": True,
            "summary": ["3 ContainerRecreateRequests"],
        },
        "findings": [
            {
                "severity": "warning",
                "source": "apps.kruise.io/v1alpha1 NodePodProbe",
                "message": "CRD not installed",
            }
        ],
        "requests": {"count": 23, "by_resource": {"nodes": 1, "pods": 2}, "seconds": 1.8},
    }


def planned_report(
    cluster: dict[str, Any] | None = None, *, with_cluster: bool = True
) -> dict[str, Any]:
    hosts, unreachable = mixed_fleet()
    cluster = (cluster or cluster_facts()) if with_cluster else None
    plan = build_plan(
        {**hosts, **dict.fromkeys(unreachable)},
        cluster,
        target_version="1.6.0",
        shipped_playbooks=["assess"],
        inventory_hint="inventories/prod/hosts.yml",
    )
    return build_report(
        hosts,
        kruise_version="1.6.0",
        generated_at=GENERATED_AT,
        unreachable=unreachable,
        cluster=cluster,
        plan=plan,
    )


PIN_COMMAND = (
    "ansible-playbook kruise_cri.remediation.pin_kruise -i inventories/prod/hosts.yml "
    "-e kruise_cri_target_version=1.5.5"
)


def test_report_without_cluster_or_plan_keeps_the_node_only_ways_out() -> None:
    report = sample_report()
    assert report["cluster"] is None and report["plan"] is None
    text = render_markdown(report)
    assert "## Recommendation" not in text and "## Cluster" not in text
    assert "- **Pin OpenKruise 1.5.5** (unconfirmed)" in text
    page = render_html(report)
    assert 'id="recommendation"' not in page and 'id="cluster"' not in page
    assert 'class="paths"' in page
    assert set_stats_summary(report)["recommendation"] is None


def test_cluster_is_kept_trimmed() -> None:
    cluster = planned_report()["cluster"]
    assert cluster["version"] == "1.6.3" and cluster["installed"] is True
    assert cluster["api"] == {"server": "https://10.0.0.1:6443", "version": "v1.30.4"}
    assert cluster["install"] == {
        "method": "helm",
        "helm": {
            "release": "kruise",
            "namespace": "kruise-system",
            "revision": 3,
            "status": "deployed",
            "chart": "kruise",
            "chart_version": "1.6.3",
            "app_version": "1.6.3",
            "values": {
                "featureGates": "ImagePullJobGate=true",
                "daemon": {"socketLocation": "/var/run"},
            },
        },
    }
    assert cluster["feature_gates"]["daemon_enabled"] is True
    assert cluster["manager"] == {
        "name": "kruise-controller-manager",
        "image": "openkruise/kruise-manager:v1.6.3",
        "replicas": 2,
        "ready_replicas": 2,
    }
    daemon = cluster["daemon"]
    assert (daemon["desired"], daemon["ready"]) == (5, 2)
    assert [pod["node"] for pod in daemon["crash_looping"]] == ["node-dockershim", "node-ctd14"]
    assert daemon["crash_looping"][0]["last_message"] == CRASH_MESSAGE
    assert cluster["nodes"] == {
        "count": 5,
        "ready": 5,
        "by_runtime": {
            "containerd://1.4.13": 1,
            "containerd://1.6.20": 1,
            "containerd://2.1.9": 1,
            "docker://20.10.24": 2,
        },
        "daemon_pods": {"crash-looping": 3, "running": 2},
    }
    assert cluster["feature_use"]["in_use"] is True
    assert cluster["feature_use"]["kinds"]["ContainerRecreateRequest"] == {"crd": True, "count": 3}
    assert cluster["findings"][0]["message"] == "CRD not installed"
    assert cluster["requests"] == {"count": 23, "by_resource": {"nodes": 1, "pods": 2}}
    text = json.dumps(cluster)
    for secret in ("daemon-secret", "registry-secret", "manager-arg-secret", "seconds"):
        assert secret not in text


def test_plan_is_kept_as_is_and_its_recommendation_summarised() -> None:
    report = planned_report()
    assert report["plan"]["schema"] == 1
    rec = report["plan"]["recommendation"]
    assert rec["path"] == "pin_1_5" and rec["command"] == PIN_COMMAND
    assert [path["id"] for path in report["plan"]["paths"]] == [
        "migrate_runtime",
        "pin_1_5",
        "disable_daemon",
        "nothing_to_do",
    ]
    stats = set_stats_summary(report)
    assert stats["recommendation"] == {
        "path": "pin_1_5",
        "title": "Pin OpenKruise 1.5.5",
        "command": PIN_COMMAND,
        "commands": rec["commands"],
        "risk": rec["risk"]["level"],
    }
    assert json.loads(render_json(report)) == report
    assert list(report)[-2:] == ["cluster", "plan"]


def test_markdown_opens_with_the_recommendation_and_its_command() -> None:
    text = render_markdown(planned_report())
    order = [
        "## Recommendation",
        "## Summary",
        "## Cluster",
        "## kruise-daemon lines",
        "## Ways out",
        "## Nodes",
    ]
    positions = [text.index(heading) for heading in order]
    assert positions == sorted(positions)
    recommendation = text[positions[0] : positions[1]]
    assert "**Pin OpenKruise 1.5.5** · risk: **medium**" in recommendation
    assert f"```sh\n{PIN_COMMAND}\n```" in recommendation
    assert "Step 2 of 2:" in recommendation
    assert "kruise\\_cri.remediation.migrate\\_runtime" in recommendation
    cluster = text[positions[2] : positions[3]]
    assert "| OpenKruise | 1.6.3, Helm release kruise (namespace kruise-system" in cluster
    assert "| kruise-daemon | 2 of 5 pods ready, 2 pods crash-looping" in cluster
    assert "| Daemon features in use | yes: 3 ContainerRecreateRequests |" in cluster
    assert "### Crash-looping kruise-daemon pods (2)" in cluster
    ways_out = text[positions[4] : positions[5]]
    assert "| **Pin OpenKruise 1.5.5** (recommended) | partly |" in ways_out
    assert "| **Migrate Docker nodes to containerd** (then) |" in ways_out
    assert "Every assessed node (5)" not in ways_out  # the node-only statement gives way
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            assert len({line.replace(r"\|", "").count("|") for line in rows}) == 1, block


def test_html_opens_with_the_recommendation_and_shows_the_cluster() -> None:
    page = render_html(planned_report())
    body = page.split("<main", 1)[1]
    ids = ['id="recommendation"', 'id="summary"', 'id="cluster"', 'id="lines"', 'id="ways-out"']
    positions = [body.index(marker) for marker in ids]
    assert positions == sorted(positions)
    assert f'<pre class="command"><code>{PIN_COMMAND}</code></pre>' in page
    assert "Step 1 of 2" in page and "risk: medium" in page
    assert 'class="paths"' not in page  # the plan's table replaces the node-only cards
    assert page.count('<span class="tag">recommended</span>') == 1
    assert "kruise-daemon-7xk2p" in page and "ImagePullJobGate=true" in page
    assert 'href="#recommendation"' in page and 'href="#cluster"' in page


def test_plan_without_cluster_says_the_cluster_is_unknown() -> None:
    report = planned_report(with_cluster=False)
    assert report["cluster"] is None
    assert report["plan"]["cluster_known"] is False
    assert "## Cluster" not in render_markdown(report)
    page = render_html(report)
    assert 'id="cluster"' not in page
    assert "from the node facts alone" in page
    assert 'id="recommendation"' in page


def test_hostile_cluster_text_is_escaped() -> None:
    evil = cluster_facts(crash_message=EVIL + "\x1b[31m", crash_pod="<script>pod()</script>|x")
    evil["findings"][0]["message"] = "<img src=x onerror=alert(2)> a|b"
    report = planned_report(evil)
    page = render_html(report)
    parser = _TagCollector()
    parser.feed(page)
    assert parser.tags.count("script") == 1
    assert "img" not in parser.tags
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; a|b" in page
    assert "&lt;script&gt;pod()&lt;/script&gt;|x" in page
    assert "\x1b" not in page.split("<main", 1)[1].split('id="nodes"')[0]
    text = render_markdown(report)
    row = next(line for line in text.splitlines() if "pod()" in line)
    assert row.startswith(r"| \<script\>pod()\</script\>\|x | node-dockershim | 12 | 1 |")
    assert r"\<script\>alert(\"x\")" not in row and r"\<script\>alert(" in row
    assert row.replace(r"\|", "").count("|") == 6  # five cells, the pipes escaped
    assert "\x1b" not in text
    assert r"\<img src=x onerror=alert(2)\> a\|b" in text


def test_a_command_cannot_close_its_code_block() -> None:
    report = planned_report()
    report["plan"]["recommendation"]["commands"] = ["echo ```` done\n<b>x</b>\x07"]
    text = render_markdown(report)
    assert "`````sh\necho ```` done <b>x</b>\n`````" in text
    page = render_html(report)
    assert "<code>echo ```` done &lt;b&gt;x&lt;/b&gt;</code>" in page


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cluster": {"kruise": {"schema": 1}}}, "cluster: schema None is not supported"),
        ({"cluster": ["x"]}, "cluster must be the kruise dict"),
        ({"plan": {"plan": {"schema": 1}}}, "plan: schema None is not supported"),
        ({"plan": "pin"}, "plan must be the plan of kruise_cri.remediation.remediation_plan"),
    ],
)
def test_malformed_cluster_or_plan(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        build_report({}, kruise_version="1.6.0", generated_at=GENERATED_AT, **kwargs)


def test_write_planned_sample_report(tmp_path: Path) -> None:
    """KC_REPORT_SAMPLE_DIR=/tmp/kc-report-sample keeps it (in planned/) for review."""
    sample_dir = Path(os.environ.get("KC_REPORT_SAMPLE_DIR") or tmp_path) / "planned"
    sample_dir.mkdir(parents=True, exist_ok=True)
    report = planned_report()
    (sample_dir / "report.html").write_text(render_html(report), encoding="utf-8")
    (sample_dir / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (sample_dir / "report.json").write_text(render_json(report), encoding="utf-8")
    assert json.loads((sample_dir / "report.json").read_text(encoding="utf-8")) == report


def test_cluster_without_openkruise_or_its_daemon_renders() -> None:
    absent = {
        "schema": 1,
        "api": {"server": "https://10.0.0.1:6443", "version": "v1.30.4"},
        "installed": False,
        "version": None,
        "line": None,
        "namespace": None,
        "manager": None,
        "install": {"method": None, "helm": None},
        "feature_gates": {"argument": None, "gates": {}, "daemon_enabled": True},
        "daemon": None,
        "nodes": [],
        "feature_use": {"in_use": False, "summary": []},
        "findings": [],
    }
    report = planned_report(absent)
    assert report["cluster"]["daemon"] is None and report["cluster"]["manager"] is None
    assert report["cluster"]["requests"] == {"count": None, "by_resource": {}}
    text = render_markdown(report)
    assert "| OpenKruise | not installed |" in text
    assert "| kruise-daemon | no kruise-daemon DaemonSet |" in text
    assert "| Daemon features in use | none found |" in text
    page = render_html(report)
    assert '<div class="big">not installed</div>' in page

    disabled = cluster_facts()
    disabled["install"] = {"method": "manifests", "helm": None}
    disabled["feature_gates"]["daemon_enabled"] = False
    disabled["daemon"] = None
    report = planned_report(disabled)
    assert report["plan"]["recommendation"]["path"] == "nothing_to_do"
    text = render_markdown(report)
    assert "| OpenKruise | 1.6.3, from manifests (no Helm release) |" in text
    assert "| kruise-daemon | disabled (no DaemonSet) |" in text
    assert "Nothing to run." in text
    assert '<div class="big">daemon off</div>' in render_html(report)
