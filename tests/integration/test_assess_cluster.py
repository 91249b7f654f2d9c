"""The assess playbook and `kruise-cri assess --kubeconfig` on the real lab fleet plus a real
cluster whose nodes are the fleet's (kwok), with OpenKruise 1.6.3 installed by helm, kruise-daemon
crash-looping where 1.6 cannot serve the node, and a ContainerRecreateRequest in use.

The cluster is this module's own control plane: the session's is shared with modules that install
the release `kruise` themselves."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kruise_cri.lab.cluster_objects import client_for, crash_looping, ensure_namespace
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.fleet import RunningFleet
from kruise_cri.lab.lab_cluster import KRUISE_NAMESPACE, LAB_KRUISE_VERSION, seed_lab_cluster
from kruise_cri.lab.nodes import NODES
from kruise_cri.lab.waiting import wait_until
from tests.integration.ansible_run import (
    REPO_ROOT,
    VENV_BIN,
    ansible_env,
)
from tests.integration.awx_jobs import run_job, write_job_environment
from tests.integration.kube_helpers import unreachable_kubeconfig
from tests.integration.service_accounts import grant_account, rbac_permissions

KRUISE_CRI = Path(sys.executable).with_name("kruise-cri")
# The nodes where the real kruise-daemon 1.6 exits, by exit code.
CRASHING = {
    node.name: node.kruise_daemon_1_6_exit_code
    for node in NODES
    if node.kruise_daemon_1_6_exit_code is not None
}
DOCKER_NODES = sorted(node.name for node in NODES if node.with_dockershim)
MIGRATE_TITLE = "Migrate to a containerd that serves CRI v1"
ARCHIVE_VAR = "-e kruise_cri_containerd_archive=CONTAINERD_ARCHIVE"
RENAMED = {"ctd-1-4": "node-containerd-1-4"}  # inventory host -> its Kubernetes node


@pytest.fixture(scope="module")
def lab_cluster(fleet: RunningFleet, tmp_path_factory) -> Iterator[ControlPlane]:
    with ControlPlane(directory=tmp_path_factory.mktemp("plane"), progress=sys.stderr) as plane:
        seed_lab_cluster(plane, fleet.specs, fleet.runtime_versions(), progress=sys.stderr)
        client = client_for(plane.kubeconfig)

        def crashing_ones_crash_looping() -> bool:
            pods = client.get(
                f"/api/v1/namespaces/{KRUISE_NAMESPACE}/pods",
                {"labelSelector": "control-plane=daemon"},
            )["items"]
            waiting = {pod["spec"].get("nodeName") for pod in pods if crash_looping(pod)}
            return sorted(waiting) == sorted(CRASHING)

        wait_until(
            "kwok to report the daemon pods of the nodes 1.6 fails on crash-looping",
            crashing_ones_crash_looping,
        )
        yield plane


def assess_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KRUISE_CRI), "assess", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def renamed_inventory(fleet_inventory: Path, tmp_path_factory) -> Path:
    """The fleet's inventory with one host under another name, and kruise_cri_node_name set."""
    inventory = yaml.safe_load(fleet_inventory.read_text())
    hosts = inventory["all"]["children"]["kube_nodes"]["hosts"]
    for host, node in RENAMED.items():
        hosts[host] = {**hosts.pop(node), "kruise_cri_node_name": node}
    path = tmp_path_factory.mktemp("renamed") / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


@pytest.fixture(scope="module")
def playbook_run(
    lab_cluster: ControlPlane, renamed_inventory: Path, tmp_path_factory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`ansible-playbook kruise_cri.remediation.assess` as a user runs it, with a kubeconfig."""
    report_dir = tmp_path_factory.mktemp("playbook-report")
    proc = subprocess.run(
        [
            str(VENV_BIN / "ansible-playbook"),
            "kruise_cri.remediation.assess",
            "-i",
            str(renamed_inventory),
            "-e",
            f"kruise_cri_kubeconfig={lab_cluster.kubeconfig}",
            "-e",
            f"kruise_cri_report_dir={report_dir}",
        ],
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, report_dir


def read_report(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "report.json").read_text())


def test_report_has_the_cluster(playbook_run) -> None:
    _proc, report_dir = playbook_run
    cluster = read_report(report_dir)["cluster"]
    assert cluster["installed"] is True
    assert cluster["version"] == LAB_KRUISE_VERSION
    assert cluster["install"]["method"] == "helm"
    helm = cluster["install"]["helm"]
    assert (helm["release"], helm["chart"], helm["revision"]) == ("kruise", "kruise", 1)
    assert set(helm["values"]) <= {"featureGates", "daemon"}
    assert cluster["feature_gates"]["daemon_enabled"] is True
    daemon = cluster["daemon"]
    assert daemon["desired"] == len(NODES)
    by_node = {pod["node"]: pod for pod in daemon["crash_looping"]}
    assert {node: pod["last_exit_code"] for node, pod in by_node.items()} == CRASHING
    # No message (the chart keeps none), so the cause comes from the exit code alone.
    assert {pod["last_message"] for pod in by_node.values()} == {"Error"}
    assert "panicked (exit 2)" in by_node["node-containerd-1-4"]["cause"]
    assert "dockershim" in by_node["node-docker-dockershim"]["cause"]
    assert cluster["nodes"]["count"] == len(NODES)
    assert cluster["nodes"]["by_runtime"]["docker://20.10.24"] == len(DOCKER_NODES)
    assert cluster["feature_use"]["in_use"] is True
    assert cluster["feature_use"]["summary"] == ["1 ContainerRecreateRequest"]


def test_plan_recommends_migrating_every_node_1_6_cannot_serve(
    playbook_run, renamed_inventory
) -> None:
    _proc, report_dir = playbook_run
    plan = read_report(report_dir)["plan"]
    assert plan["cluster_known"] is True
    assert plan["installation"]["version"] == LAB_KRUISE_VERSION
    by_name = {node["name"]: node for node in plan["nodes"]}
    assert sorted(by_name) == sorted(node.name for node in NODES)  # renamed host matched
    assert by_name["node-containerd-1-4"]["host"] == "ctd-1-4"
    assert all(node["source"] == "facts" for node in plan["nodes"])
    assert not [f for f in plan["findings"] if "not a node of the cluster" in f["message"]]
    recommendation = plan["recommendation"]
    # Docker nodes move to containerd, containerd 1.4 is upgraded: every node then runs 1.6.
    assert recommendation["path"] == "migrate_runtime"
    assert recommendation["steps"] == ["migrate_runtime"]
    assert recommendation["commands"] == [
        f"ansible-playbook kruise_cri.remediation.migrate_runtime -i {renamed_inventory} "
        f"--limit {','.join(['ctd-1-4', *DOCKER_NODES])} {ARCHIVE_VAR}"
    ]
    assert recommendation["summary"].startswith(
        f"Migrate 2 Docker nodes to containerd ({', '.join(DOCKER_NODES)}) and upgrade "
        "containerd on 1 node (node-containerd-1-4)"
    )
    assert "1 ContainerRecreateRequest" in " ".join(recommendation["reasons"])


def test_report_pages_and_output_show_the_recommendation(playbook_run) -> None:
    proc, report_dir = playbook_run
    recommendation = read_report(report_dir)["plan"]["recommendation"]
    page = (report_dir / "report.html").read_text()
    main = page.split("<main", 1)[1]
    assert main.index('id="recommendation"') < main.index('id="summary"')
    assert f"<code>{html.escape(recommendation['command'])}</code>" in page
    assert 'id="cluster"' in page and LAB_KRUISE_VERSION in page
    markdown = (report_dir / "report.md").read_text()
    assert markdown.index("## Recommendation") < markdown.index("## Summary")
    assert f"```sh\n{recommendation['command']}\n```" in markdown
    # The playbook's own summary, for runs without the CLI
    assert f"Recommendation: {MIGRATE_TITLE}\n" in proc.stdout
    assert f"  {recommendation['command']}\n" in proc.stdout


def test_cli_prints_the_recommendation_and_its_command(
    lab_cluster: ControlPlane, fleet_inventory: Path, tmp_path: Path
) -> None:
    context = yaml.safe_load(lab_cluster.kubeconfig.read_text())["current-context"]
    result = assess_cli(
        "-i",
        str(fleet_inventory),
        "--kubeconfig",
        str(lab_cluster.kubeconfig),
        "--context",
        context,
        "--report-dir",
        str(tmp_path),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    after_summary = result.stdout.split(f"{len(NODES)} nodes: ", 1)[1]
    assert f"Recommendation: {MIGRATE_TITLE} (risk " in after_summary
    assert (
        f"  ansible-playbook kruise_cri.remediation.migrate_runtime -i {fleet_inventory} "
        f"--limit {','.join(['node-containerd-1-4', *DOCKER_NODES])} {ARCHIVE_VAR}\n"
    ) in after_summary
    assert "pin_kruise" not in after_summary
    assert read_report(tmp_path)["cluster"]["version"] == LAB_KRUISE_VERSION


def test_a_cluster_that_cannot_be_read_fails_the_run_before_the_nodes(
    fleet_inventory: Path, tmp_path: Path
) -> None:
    kubeconfig = unreachable_kubeconfig(tmp_path / "gone.kubeconfig", "secret-token-value")
    report_dir = tmp_path / "report"
    result = assess_cli(
        "-i", str(fleet_inventory), "--kubeconfig", str(kubeconfig), "--report-dir", str(report_dir)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cannot reach the API server https://127.0.0.1:1" in output
    assert "secret-token-value" not in output
    assert "The assessment failed" in output
    assert not any(f"{node.name}: " in result.stdout for node in NODES), "nodes were probed"
    assert not report_dir.exists()


def test_without_a_kubeconfig_the_plan_is_made_from_the_nodes_alone(
    fleet_inventory: Path, tmp_path: Path
) -> None:
    result = assess_cli("-i", str(fleet_inventory), "--report-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    report = read_report(tmp_path)
    assert report["cluster"] is None
    plan = report["plan"]
    assert plan["cluster_known"] is False
    assert plan["recommendation"]["path"] == "migrate_runtime"
    assert f"Recommendation: {MIGRATE_TITLE}" in result.stdout
    page = (tmp_path / "report.html").read_text()
    assert 'id="cluster"' not in page and "from the node facts alone" in page


# ------------------------------------------------------------------------------------------
# As AWX runs it: ansible-runner in a private data directory holding the project's playbook, the
# inventory and the extra vars as files, the Kubernetes credential as K8S_AUTH_* variables (a
# service account bound to exactly rbac/assess.yml), no kubeconfig anywhere; the workflow reads
# the verdict and the next job from the stats event's artifacts.

AWX_NAMESPACE = "kruise-cri-awx"
REPORT_CONFIGMAP = "kruise-cri/kruise-cri-report"  # the namespace rbac/assess-publish.yml names


@pytest.fixture(scope="module")
def awx_assess(
    lab_cluster: ControlPlane,
    renamed_inventory: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Any, Path, str]:
    kube = client_for(lab_cluster.kubeconfig)
    ensure_namespace(kube, REPORT_CONFIGMAP.split("/", 1)[0])
    directory = tmp_path_factory.mktemp("awx")
    account = grant_account(
        lab_cluster,
        kube,
        directory,
        "awx-assess",
        [
            *rbac_permissions(REPO_ROOT / "rbac" / "assess.yml"),
            *rbac_permissions(REPO_ROOT / "rbac" / "assess-publish.yml"),
        ],
        accounts_namespace=AWX_NAMESPACE,
    )
    private = directory / "private"
    shutil.copytree(REPO_ROOT / "awx" / "project", private / "project")
    (private / "inventory").mkdir()
    shutil.copy(renamed_inventory, private / "inventory" / "hosts")
    (private / "env").mkdir()
    report_dir = directory / "report"
    (private / "env" / "extravars").write_text(
        yaml.safe_dump(
            {
                "kruise_cri_fail_on_incompatible": True,
                "kruise_cri_report_dir": str(report_dir),
                "kruise_cri_report_configmap": REPORT_CONFIGMAP,
            }
        )
    )
    home = directory / "home"  # no ~/.kube/config
    home.mkdir()
    write_job_environment(private, lab_cluster, account.token, home)
    return run_job(private, "assess.yml"), report_dir, account.token


def test_awx_assess_reads_the_cluster_with_its_credential_and_fails_on_the_verdict(
    awx_assess,
) -> None:
    runner, report_dir, token = awx_assess
    # Red for AWX (the workflow's failure edge), yet the report is whole and names the cluster.
    assert runner.status == "failed" and runner.rc == 2, runner.stdout.read()[-4000:]
    report = read_report(report_dir)
    assert report["cluster"]["installed"] is True
    assert report["cluster"]["version"] == LAB_KRUISE_VERSION
    # rbac/assess.yml lets it read everything: nothing left unknown.
    assert report["plan"]["installation"]["missing_permissions"] == []
    assert report["cluster"]["feature_use"]["summary"] == ["1 ContainerRecreateRequest"]
    failure = [e for e in runner.events if e["event"] == "runner_on_failed"]
    assert len(failure) == 1
    message = failure[0]["event_data"]["res"]["msg"]
    assert f"cannot run kruise-daemon {report['target']['kruise_version']}" in message
    assert f"Recommendation: {MIGRATE_TITLE}" in message
    output = json.dumps(list(runner.events))
    assert token not in output


def test_awx_assess_leaves_its_report_in_the_cluster(awx_assess, lab_cluster) -> None:
    """The job's container is gone; report.json and report.md stay in the ConfigMap."""
    _runner, report_dir, _token = awx_assess
    namespace, name = REPORT_CONFIGMAP.split("/")
    published = client_for(lab_cluster.kubeconfig).get(
        f"/api/v1/namespaces/{namespace}/configmaps/{name}"
    )
    assert published["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kruise-cri"
    assert published["data"]["report.json"] == (report_dir / "report.json").read_text()
    assert published["data"]["report.md"] == (report_dir / "report.md").read_text()
    assert json.loads(published["data"]["report.json"])["cluster"]["installed"] is True


def test_awx_workflow_reads_the_verdict_and_the_next_job_from_the_artifacts(
    awx_assess, renamed_inventory
) -> None:
    runner, report_dir, _token = awx_assess
    stats = next(e for e in runner.events if e["event"] == "playbook_on_stats")
    artifacts = stats["event_data"]["artifact_data"]
    summary = artifacts["kruise_cri"]
    report = read_report(report_dir)
    assert summary["verdict"] == report["summary"]["verdict"]
    assert summary["incompatible"] == report["summary"]["incompatible"] > 0
    assert summary["recommendation"]["path"] == "migrate_runtime"
    assert summary["report_paths"]["json"] == str(report_dir / "report.json")
    assert summary["report_configmap"] == REPORT_CONFIGMAP
    assert artifacts["kruise_cri_next_job"] == {
        "path": "migrate_runtime",
        "playbook": "kruise_cri.remediation.migrate_runtime",
        "limit": ["ctd-1-4", *DOCKER_NODES],
        "extra_vars": {"kruise_cri_containerd_archive": "CONTAINERD_ARCHIVE"},
    }
