"""Kubelet runtime configuration: every generation, every place a flag can live."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_facts.kubelet_config import (
    parse_env_file,
    parse_kubelet,
    parse_kubelet_version,
    parse_unit,
    runtime_family,
)

FLAGS_ENV = "/var/lib/kubelet/kubeadm-flags.env"
DEFAULT_KUBELET = "/etc/default/kubelet"
SYSCONFIG_KUBELET = "/etc/sysconfig/kubelet"
CONFIG_YAML = "/var/lib/kubelet/config.yaml"
BASE_UNIT = "/lib/systemd/system/kubelet.service"
KUBEADM_DROPIN = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
CONTAINERD = "unix:///run/containerd/containerd.sock"

BASE_UNIT_TEXT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN_TEXT = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS \\
  $KUBELET_EXTRA_ARGS
"""

CONFIG_SYSTEMD = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
"""


def files_of(**contents: str | None) -> dict[str, dict[str, Any]]:
    """Evidence ``files`` from keyword names; None marks a file the module found missing."""
    names = {
        "flags_env": FLAGS_ENV,
        "default": DEFAULT_KUBELET,
        "sysconfig": SYSCONFIG_KUBELET,
        "config": CONFIG_YAML,
        "unit": BASE_UNIT,
        "dropin": KUBEADM_DROPIN,
    }
    files: dict[str, dict[str, Any]] = {}
    for key, content in contents.items():
        path = names.get(key, key)
        files[path] = (
            {"content": None, "error": "missing"}
            if content is None
            else {"content": content, "error": None}
        )
    return files


def kubeadm_node(flags: str, *, extra: str | None = None, config: str = CONFIG_SYSTEMD) -> dict:
    return files_of(
        unit=BASE_UNIT_TEXT,
        dropin=KUBEADM_DROPIN_TEXT,
        flags_env=f'KUBELET_KUBEADM_ARGS="{flags}"\n',
        default=extra,
        config=config,
    )


def binary(version: str) -> dict[str, Any]:
    return {"path": "/usr/bin/kubelet", "version_output": f"Kubernetes {version}", "error": None}


# (name, files, processes, version, expected facts subset)
GENERATIONS: list[tuple[str, dict, list[list[str]], str | None, dict[str, Any]]] = [
    (
        "dockershim by default (1.23, no runtime flags)",
        kubeadm_node("--network-plugin=cni --pod-infra-container-image=k8s.gcr.io/pause:3.6"),
        [],
        "v1.23.17",
        {
            "runtime": "docker",
            "runtime_endpoint": "unix:///var/run/dockershim.sock",
            "source": "default",
            "generation": "dockershim",
            "container_runtime_flag": None,
            "cgroup_driver": "systemd",
            "config_file": CONFIG_YAML,
        },
    ),
    (
        "dockershim by flag (1.21)",
        kubeadm_node("--container-runtime=docker --network-plugin=cni"),
        [],
        "v1.21.14",
        {
            "runtime": "docker",
            "runtime_endpoint": "unix:///var/run/dockershim.sock",
            "generation": "dockershim",
            "container_runtime_flag": "docker",
        },
    ),
    (
        "remote + endpoint on 1.23",
        kubeadm_node(f"--container-runtime=remote --container-runtime-endpoint={CONTAINERD}"),
        [],
        "v1.23.17",
        {
            "runtime": "containerd",
            "runtime_endpoint": CONTAINERD,
            "source": FLAGS_ENV,
            "generation": "remote-flag",
            "container_runtime_flag": "remote",
            "file_source": FLAGS_ENV,
        },
    ),
    (
        "remote + quoted endpoint on 1.25",
        files_of(
            unit=BASE_UNIT_TEXT,
            dropin=KUBEADM_DROPIN_TEXT,
            flags_env="KUBELET_KUBEADM_ARGS='--container-runtime=remote "
            '--container-runtime-endpoint="unix:///run/containerd/containerd.sock"\'\n',
            config=CONFIG_SYSTEMD,
        ),
        [],
        "v1.25.16",
        {"runtime": "containerd", "runtime_endpoint": CONTAINERD, "generation": "remote-flag"},
    ),
    (
        "endpoint flag alone, space-separated value (1.27)",
        kubeadm_node(f"--container-runtime-endpoint {CONTAINERD} --pod-infra-container-image=x"),
        [],
        "v1.27.3",
        {
            "runtime": "containerd",
            "runtime_endpoint": CONTAINERD,
            "generation": "endpoint-flag",
            "container_runtime_flag": None,
        },
    ),
    (
        "config-file endpoint (1.29)",
        kubeadm_node(
            "--node-ip=10.0.0.5",
            config=CONFIG_SYSTEMD + "containerRuntimeEndpoint: unix:///var/run/crio/crio.sock\n",
        ),
        [],
        "v1.29.4",
        {
            "runtime": "crio",
            "runtime_endpoint": "unix:///var/run/crio/crio.sock",
            "source": CONFIG_YAML,
            "generation": "config-file",
            "cgroup_driver": "systemd",
        },
    ),
    (
        "nothing set on 1.29: containerd's default socket",
        kubeadm_node("--node-ip=10.0.0.5"),
        [],
        "v1.29.4",
        {
            "runtime": "containerd",
            "runtime_endpoint": CONTAINERD,
            "source": "default",
            "generation": "default",
        },
    ),
    (
        "config-file endpoint ignored before 1.27",
        kubeadm_node(
            "--node-ip=10.0.0.5",
            config=CONFIG_SYSTEMD + "containerRuntimeEndpoint: unix:///var/run/crio/crio.sock\n",
        ),
        [],
        "v1.26.15",
        {"runtime": "containerd", "runtime_endpoint": CONTAINERD, "generation": "default"},
    ),
    (
        "flag beats the config file",
        kubeadm_node(
            f"--container-runtime-endpoint={CONTAINERD}",
            config="containerRuntimeEndpoint: unix:///var/run/crio/crio.sock\ncgroupDriver: x\n",
        ),
        [],
        "v1.28.9",
        {"runtime": "containerd", "source": FLAGS_ENV, "cgroup_driver": "x"},
    ),
    (
        "KUBELET_EXTRA_ARGS of /etc/default/kubelet comes last and wins",
        kubeadm_node(
            f"--container-runtime-endpoint={CONTAINERD}",
            extra="KUBELET_EXTRA_ARGS=--container-runtime-endpoint=unix:///run/cri-dockerd.sock "
            "--cgroup-driver=cgroupfs\n",
        ),
        [],
        "v1.28.9",
        {
            "runtime": "docker",
            "runtime_endpoint": "unix:///run/cri-dockerd.sock",
            "source": DEFAULT_KUBELET,
            "cgroup_driver": "cgroupfs",
        },
    ),
    (
        "no unit at all: kubeadm order from the env files (sysconfig)",
        files_of(
            flags_env=f"KUBELET_KUBEADM_ARGS=--container-runtime-endpoint={CONTAINERD}\n",
            sysconfig='KUBELET_EXTRA_ARGS="--container-runtime-endpoint '
            'unix:///var/run/crio/crio.sock"\n',
        ),
        [],
        "v1.30.1",
        {"runtime": "crio", "source": SYSCONFIG_KUBELET, "cgroup_driver": "cgroupfs"},
    ),
    (
        "a running kubelet wins over its files",
        kubeadm_node("--container-runtime-endpoint=unix:///run/cri-dockerd.sock"),
        [["/usr/bin/kubelet", f"--container-runtime-endpoint={CONTAINERD}", "--v=2"]],
        "v1.28.9",
        {
            "runtime": "containerd",
            "runtime_endpoint": CONTAINERD,
            "source": "process",
            "file_source": FLAGS_ENV,
            "config_file": None,
            "cgroup_driver": "cgroupfs",
        },
    ),
    (
        "a running kubelet's --config is read",
        files_of(config="containerRuntimeEndpoint: unix:///run/k3s/containerd/containerd.sock\n"),
        [["kubelet", "--config", CONFIG_YAML]],
        "v1.30.1",
        {"runtime": "containerd", "source": CONFIG_YAML, "config_file": CONFIG_YAML},
    ),
    (
        "k3s: the embedded kubelet uses k3s's containerd",
        {},
        [["/usr/local/bin/k3s", "server"]],
        None,
        {
            "runtime": "containerd",
            "runtime_endpoint": "unix:///run/k3s/containerd/containerd.sock",
            "source": "process",
            "generation": "k3s",
        },
    ),
    (
        "k3s --docker: cri-dockerd under /run/k3s",
        {},
        [["/usr/local/bin/k3s", "agent", "--docker"]],
        None,
        {"runtime": "docker", "runtime_endpoint": "unix:///run/k3s/cri-dockerd/cri-dockerd.sock"},
    ),
    (
        "k3s --container-runtime-endpoint",
        {},
        [["/usr/local/bin/k3s", "agent", "--container-runtime-endpoint", "/run/crio/crio.sock"]],
        None,
        {"runtime": "crio", "runtime_endpoint": "unix:///run/crio/crio.sock"},
    ),
    (
        "underscores in flag names read as dashes",
        files_of(flags_env=f"KUBELET_KUBEADM_ARGS=--container_runtime_endpoint={CONTAINERD}\n"),
        [],
        "v1.27.3",
        {"runtime": "containerd", "runtime_endpoint": CONTAINERD},
    ),
]


@pytest.mark.parametrize(
    ("name", "files", "processes", "version", "expected"),
    GENERATIONS,
    ids=[case[0] for case in GENERATIONS],
)
def test_generations(
    name: str, files: dict, processes: list[list[str]], version: str | None, expected: dict
) -> None:
    facts, findings = parse_kubelet(files, processes, binary(version) if version else None)
    assert {key: facts[key] for key in expected} == expected, findings
    if version:
        assert facts["version"] == version


def test_later_dropins_override_earlier_ones() -> None:
    files = files_of(
        unit=BASE_UNIT_TEXT,
        dropin=KUBEADM_DROPIN_TEXT,
        flags_env=f"KUBELET_KUBEADM_ARGS=--container-runtime-endpoint={CONTAINERD}\n",
        **{
            "/etc/systemd/system/kubelet.service.d/99-crio.conf": (
                "[Service]\nExecStart=\n"
                "ExecStart=/usr/bin/kubelet --container-runtime-endpoint "
                "unix:///var/run/crio/crio.sock\n"
            ),
            "/etc/systemd/system/kubelet.service.d/05-early.conf": (
                "[Service]\nExecStart=\nExecStart=/usr/bin/kubelet --cgroup-driver=systemd\n"
            ),
        },
    )
    facts, _unused = parse_kubelet(files, [], binary("v1.28.9"))
    assert facts["runtime"] == "crio"
    assert facts["source"] == "/etc/systemd/system/kubelet.service.d/99-crio.conf"
    assert facts["cgroup_driver"] == "cgroupfs"  # 05-early's ExecStart was replaced


def test_dropin_in_etc_hides_the_same_name_in_usr_lib() -> None:
    override = (
        '[Service]\nEnvironment="KUBELET_KUBEADM_ARGS=--container-runtime-endpoint='
        'unix:///run/cri-dockerd.sock"\nExecStart=\nExecStart=/usr/bin/kubelet '
        "$KUBELET_KUBEADM_ARGS\n"
    )
    files = files_of(
        unit=BASE_UNIT_TEXT,
        dropin=KUBEADM_DROPIN_TEXT,
        flags_env=f"KUBELET_KUBEADM_ARGS=--container-runtime-endpoint={CONTAINERD}\n",
        **{"/etc/systemd/system/kubelet.service.d/10-kubeadm.conf": override},
    )
    facts, _unused = parse_kubelet(files, [], binary("v1.28.9"))
    assert facts["runtime_endpoint"] == "unix:///run/cri-dockerd.sock"
    assert facts["source"] == "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"


@pytest.mark.parametrize(
    ("default_file", "endpoint", "source"),
    [
        # EnvironmentFile= beats Environment=, even with an empty assignment.
        ("KUBELET_EXTRA_ARGS=\n", CONTAINERD, FLAGS_ENV),
        (None, "unix:///run/cri-dockerd.sock", "/etc/systemd/system/kubelet.service.d/20-x.conf"),
    ],
)
def test_environment_files_override_environment_assignments(
    default_file: str | None, endpoint: str, source: str
) -> None:
    files = kubeadm_node(f"--container-runtime-endpoint={CONTAINERD}", extra=default_file)
    files["/etc/systemd/system/kubelet.service.d/20-x.conf"] = {
        "content": '[Service]\nEnvironment="KUBELET_EXTRA_ARGS=--container-runtime-endpoint='
        'unix:///run/cri-dockerd.sock"\n',
        "error": None,
    }
    facts, _unused = parse_kubelet(files, [], binary("v1.28.9"))
    assert (facts["runtime_endpoint"], facts["source"]) == (endpoint, source)


def test_etc_unit_is_preferred_over_lib_unit() -> None:
    files = files_of(
        unit="[Service]\nExecStart=/usr/bin/kubelet --container-runtime-endpoint=/run/x.sock\n",
        **{
            "/etc/systemd/system/kubelet.service": (
                "[Service]\nExecStart=/usr/bin/kubelet --container-runtime-endpoint="
                "unix:///run/containerd/containerd.sock\n"
            )
        },
    )
    facts, _unused = parse_kubelet(files, [], binary("v1.28.9"))
    assert facts["source"] == "/etc/systemd/system/kubelet.service"
    assert facts["runtime"] == "containerd"


def test_unknown_endpoint_takes_the_probed_runtime_name() -> None:
    files = files_of(flags_env="KUBELET_KUBEADM_ARGS=--container-runtime-endpoint=/run/r/cri.sock")
    facts, findings = parse_kubelet(
        files, [], binary("v1.28.9"), socket_runtime_names={"/run/r/cri.sock": "cri-o"}
    )
    assert facts["runtime"] == "crio"
    facts, findings = parse_kubelet(files, [], binary("v1.28.9"))
    assert facts["runtime"] is None
    assert any("cannot tell which runtime serves /run/r/cri.sock" in f["message"] for f in findings)


def messages(findings: list[dict[str, str]]) -> list[str]:
    return [f"{f['severity']}|{f['source']}|{f['message']}" for f in findings]


@pytest.mark.parametrize(
    ("files", "processes", "version", "expected_finding"),
    [
        (
            kubeadm_node("--container-runtime=remote --container-runtime-endpoint=" + CONTAINERD),
            [],
            "v1.27.3",
            f"error|{FLAGS_ENV}|--container-runtime=remote is set, but kubelet v1.27.3 no "
            "longer has this flag",
        ),
        (
            kubeadm_node("--container-runtime=docker"),
            [],
            "v1.24.17",
            "error|/var/lib/kubelet/kubeadm-flags.env|--container-runtime=docker: dockershim was "
            "removed in kubelet 1.24",
        ),
        (
            kubeadm_node("--container-runtime-endpoint=" + CONTAINERD),
            [],
            "v1.22.17",
            f"warning|{FLAGS_ENV}|--container-runtime-endpoint={CONTAINERD} without "
            "--container-runtime=remote: kubelet v1.22.17 runs Docker through dockershim",
        ),
        (
            kubeadm_node("--node-ip=1.2.3.4", config="kind: KubeletConfiguration\n  bad: [\n"),
            [],
            "v1.28.9",
            f"error|{CONFIG_YAML}|not valid YAML at line 2",
        ),
        (
            files_of(
                unit=BASE_UNIT_TEXT,
                dropin=KUBEADM_DROPIN_TEXT,
                flags_env="KUBELET_KUBEADM_ARGS=",
                config=None,
            ),
            [],
            "v1.28.9",
            f"error|{CONFIG_YAML}|kubelet --config file {CONFIG_YAML}: missing; the kubelet "
            "refuses to start without it",
        ),
        (
            kubeadm_node("--node-ip=1.2.3.4", config="- just\n- a list\n"),
            [],
            "v1.28.9",
            f"error|{CONFIG_YAML}|a KubeletConfiguration must be a mapping, not list",
        ),
        (
            files_of(flags_env="KUBELET_KUBEADM_ARGS=--config"),
            [],
            "v1.28.9",
            f"error|{FLAGS_ENV}|--config has no value",
        ),
        (
            files_of(
                unit="[Service]\nEnvironmentFile=/etc/kubelet.env\nExecStart=/usr/bin/kubelet\n",
                **{"/etc/kubelet.env": None},
            ),
            [],
            "v1.28.9",
            "error|/lib/systemd/system/kubelet.service|EnvironmentFile=/etc/kubelet.env does not "
            "exist and is not optional",
        ),
        (
            files_of(
                unit="[Service]\nEnvironmentFile=-/etc/kubelet.env\nExecStart=/usr/bin/kubelet\n",
                **{"/etc/kubelet.env": "this is not an assignment\nA=1\n"},
            ),
            [],
            "v1.28.9",
            "warning|/etc/kubelet.env|line 1 is not KEY=value",
        ),
        (
            files_of(
                unit="[Service]\nExecStart=/usr/bin/kubelet\n",
                **{
                    "/etc/systemd/system/kubelet.service.d/1.conf": (
                        "[Service]\nExecStart=/usr/bin/kubelet --v=2\n"
                    )
                },
            ),
            [],
            "v1.28.9",
            "error|/etc/systemd/system/kubelet.service.d/1.conf|kubelet.service ends up with "
            "more than one ExecStart=",
        ),
        (
            kubeadm_node("--node-ip=1.2.3.4"),
            [["/usr/bin/kubelet", "--v=2"], ["/usr/bin/kubelet", "--v=4"]],
            "v1.28.9",
            "warning|process|2 kubelet processes run; using the first",
        ),
        (
            kubeadm_node(f"--container-runtime-endpoint={CONTAINERD}"),
            [["/usr/bin/kubelet", "--container-runtime-endpoint=unix:///run/cri-dockerd.sock"]],
            "v1.28.9",
            f"warning|{FLAGS_ENV}|the running kubelet has --container-runtime-endpoint="
            f"unix:///run/cri-dockerd.sock, its configuration files say {CONTAINERD}",
        ),
        (
            kubeadm_node("--node-ip=1.2.3.4"),
            [],
            None,
            "warning|kubelet|no container runtime endpoint is configured and the kubelet "
            "version is unknown",
        ),
        (
            {},
            [],
            None,
            "info|kubelet|no kubelet found",
        ),
        (
            files_of(flags_env="KUBELET_KUBEADM_ARGS=--config=/etc/kubelet/config.yaml"),
            [],
            "v1.28.9",
            "warning|/etc/kubelet/config.yaml|kubelet --config file /etc/kubelet/config.yaml: "
            "not read by the node module",
        ),
    ],
)
def test_findings(
    files: dict, processes: list[list[str]], version: str | None, expected_finding: str
) -> None:
    _unused, findings = parse_kubelet(files, processes, binary(version) if version else None)
    assert any(m.startswith(expected_finding) for m in messages(findings)), messages(findings)


def test_version_without_binary_is_unknown_and_binary_errors_are_findings() -> None:
    facts, findings = parse_kubelet(
        {}, [], {"path": "/usr/bin/kubelet", "version_output": None, "error": "exec format error"}
    )
    assert facts["version"] is None
    assert "warning|/usr/bin/kubelet|kubelet --version failed: exec format error" in messages(
        findings
    )
    _unused, findings = parse_kubelet(
        {}, [], {"path": "/usr/bin/kubelet", "version_output": "garbage", "error": None}
    )
    assert any("cannot read a version in 'garbage'" in m for m in messages(findings))


@pytest.mark.parametrize(
    ("bad_input"),
    [None, {"x": "not an entry"}, {FLAGS_ENV: {"content": 42}}, {FLAGS_ENV: "raw string"}],
)
def test_malformed_evidence_never_raises(bad_input: Any) -> None:
    facts, _unused = parse_kubelet(bad_input, [None, [], "argv"], {"version_output": 17})  # type: ignore[list-item]
    assert facts["runtime"] is None


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Kubernetes v1.27.3", "v1.27.3"),
        ("Kubernetes v1.30.4+k3s1", "v1.30.4+k3s1"),
        ("Kubernetes v1.29.0-rc.1", "v1.29.0-rc.1"),
        ("", None),
        (None, None),
        ("no version here", None),
    ],
)
def test_parse_kubelet_version(output: str | None, version: str | None) -> None:
    assert parse_kubelet_version(output) == version


@pytest.mark.parametrize(
    ("endpoint", "family"),
    [
        ("unix:///run/containerd/containerd.sock", "containerd"),
        ("unix:///run/k3s/containerd/containerd.sock", "containerd"),
        ("/var/run/dockershim.sock", "docker"),
        ("unix:///var/run/cri-dockerd.sock", "docker"),
        ('"unix:///var/run/crio/crio.sock"', "crio"),
        ("unix:///var/run/pouchcri.sock", "pouch"),
        ("tcp://10.0.0.1:1234", None),
        ("relative.sock", None),
        (None, None),
    ],
)
def test_runtime_family(endpoint: str | None, family: str | None) -> None:
    assert runtime_family(endpoint) == family


def test_env_file_quoting_and_continuations() -> None:
    variables, findings = parse_env_file(
        "# comment\n; other comment\n"
        "KUBELET_KUBEADM_ARGS=\"--a=1 --b='two words'\"\n"
        "export KUBELET_EXTRA_ARGS=--c=3 \\\n  --d=4\n"
        "EMPTY=\n"
        'BROKEN="unterminated\n'
    )
    assert variables["KUBELET_KUBEADM_ARGS"] == "--a=1 --b='two words'"
    assert variables["KUBELET_EXTRA_ARGS"] == "--c=3 --d=4"
    assert variables["EMPTY"] == ""
    assert variables["BROKEN"] == '"unterminated'
    assert any("No closing quotation" in f["message"] for f in findings)


def test_unit_parser_keeps_resets_and_service_section_only() -> None:
    service = parse_unit(
        '[Unit]\nExecStart=/not/this\n[Service]\nEnvironment="A=1" B=2\nEnvironment=\n'
        "EnvironmentFile=-/x\nExecStart=\nExecStart=/usr/bin/kubelet $A\n"
    )
    assert service.environment == [("A", "1"), ("B", "2"), None]
    assert service.environment_files == ["-/x"]
    assert service.exec_start == [None, "/usr/bin/kubelet $A"]


def test_dockershim_inferred_when_no_endpoint_and_no_version() -> None:
    files = {
        "/var/lib/kubelet/kubeadm-flags.env": {
            "content": 'KUBELET_KUBEADM_ARGS="--network-plugin=cni"\n',
            "error": None,
        }
    }
    facts, findings = parse_kubelet(
        files, [], None, socket_runtime_names={"/var/run/dockershim.sock": "docker"}
    )
    assert facts["runtime"] == "docker"
    assert facts["runtime_endpoint"] == "unix:///var/run/dockershim.sock"
    assert facts["source"] == "inferred"
    assert any("dockershim's socket answers" in finding["message"] for finding in findings)

    facts, _unused = parse_kubelet(files, [], None, socket_runtime_names={})
    assert facts["runtime"] is None
