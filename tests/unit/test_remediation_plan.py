"""Remediation planner: which path it recommends for which cluster, and why."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (
    STOPS_WORKING as DAEMON_FEATURES,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_gate import (
    daemon_gate_plan,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.commands import (
    playbook_command,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.feature_gates import (
    merged_feature_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.inputs import (
    parse_target_version,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.node_from_facts import (
    node_from_facts,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.remediation_plan.plan import (
    build_plan,
)

LINES = ("1.4", "1.5", "1.6", "1.7", "1.8")
ALL_PLAYBOOKS = ("assess", "migrate_runtime", "pin_kruise", "disable_kruise_daemon")
CONTAINERD_SOCK = "/run/containerd/containerd.sock"
DOCKERSHIM_SOCK = "/run/dockershim.sock"


# ---------------------------------------------------------------------------------------------
# Node facts (docs/facts.md), only the fields the planner reads


def node_facts(
    *,
    runtime: str,
    socket: str,
    runtime_version: str,
    apis: tuple[str, ...],
    lines: set[str],
    kubelet_version: str = "v1.27.3",
    docker: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "schema": 1,
        "endpoints": [
            {
                "socket": socket,
                "aliases": [f"/var{socket}"],
                "kind": "dockershim" if runtime == "docker" else runtime,
                "runtime_name": runtime,
                "runtime_version": runtime_version,
                "cri_api_versions": list(apis),
                "error": None,
            }
        ],
        "docker": docker,
        "kubelet": {
            "runtime": runtime,
            "runtime_endpoint": f"unix://{socket}",
            "version": kubelet_version,
        },
        "kruise_daemon": {
            line: {
                "compatible": line in lines,
                "starts": line in lines,
                "reason": f"{runtime} {runtime_version} at {socket}: kruise-daemon {line} "
                + ("works" if line in lines else "fails"),
            }
            for line in LINES
        },
        "findings": [],
    }


def containerd(version: str) -> dict[str, Any]:
    """containerd as the kubelet's runtime; the API versions it serves follow its version."""
    major_minor = tuple(int(part) for part in version.lstrip("v").split(".")[:2])
    if major_minor >= (2, 0):
        apis, lines = ("v1",), {"1.5", "1.6", "1.7", "1.8"}
    elif major_minor >= (1, 6):
        apis, lines = ("v1", "v1alpha2"), set(LINES)
    else:
        apis, lines = ("v1alpha2",), {"1.4", "1.5"}
    return node_facts(
        runtime="containerd",
        socket=CONTAINERD_SOCK,
        runtime_version=version,
        apis=apis,
        lines=lines,
    )


def old_crio() -> dict[str, Any]:
    """CRI-O 1.19: CRI v1alpha2 only, and not a runtime migrate_runtime changes: only a bridge
    (1.5.5) or disabling helps it."""
    return node_facts(
        runtime="cri-o",
        socket="/run/crio/crio.sock",
        runtime_version="1.19.0",
        apis=("v1alpha2",),
        lines={"1.4", "1.5"},
        kubelet_version="v1.19.16",
    )


def docker_behind_cri_dockerd() -> dict[str, Any]:
    """Docker 20.10 served to the kubelet by cri-dockerd (CRI v1alpha2), its containerd's CRI
    off: no kruise-daemon line starts there (the lab's docker-cri-off node, measured)."""
    facts = node_facts(
        runtime="docker",
        socket="/run/cri-dockerd.sock",
        runtime_version="20.10.24",
        apis=("v1alpha2",),
        lines=set(),
        kubelet_version="v1.23.17",
        docker={
            "version": "20.10.24",
            "daemon_json": {"registry_mirrors": [], "insecure_registries": []},
        },
    )
    facts["endpoints"][0]["kind"] = "cri-dockerd"
    return facts


def docker(mirrors: tuple[str, ...] = ()) -> dict[str, Any]:
    """Docker 20.10 through the kubelet's dockershim (kubelet 1.23): CRI v1alpha2 only."""
    return node_facts(
        runtime="docker",
        socket=DOCKERSHIM_SOCK,
        runtime_version="20.10.24",
        apis=("v1alpha2",),
        lines={"1.4", "1.5"},
        kubelet_version="v1.23.17",
        docker={
            "version": "20.10.24",
            "daemon_json": {"registry_mirrors": list(mirrors), "insecure_registries": []},
        },
    )


# ---------------------------------------------------------------------------------------------
# Cluster facts (docs/cluster-facts.md)


def cluster_node(name: str, runtime_version: str, kubelet_version: str) -> dict[str, Any]:
    runtime, _unused, version = runtime_version.partition("://")
    return {
        "name": name,
        "container_runtime_version": runtime_version,
        "runtime": runtime,
        "runtime_version": version,
        "kubelet_version": kubelet_version,
        "ready": True,
        "unschedulable": False,
        "daemon_pod": None,
        "daemon_pod_state": "none",
    }


def cluster(
    *,
    installed: bool = True,
    version: str = "1.6.0",
    method: str = "helm",
    gates: str = "ImagePullJobGate=true",
    daemon_enabled: bool = True,
    in_use: bool = False,
    summary: tuple[str, ...] = (),
    nodes: tuple[dict[str, Any], ...] = (),
    ready_replicas: int = 2,
) -> dict[str, Any]:
    if not installed:
        return {
            "schema": 1,
            "installed": False,
            "version": None,
            "line": None,
            "namespace": None,
            "manager": None,
            "install": {"method": None, "helm": None},
            "feature_gates": {"argument": None, "gates": {}, "daemon_enabled": True},
            "daemon": None,
            "nodes": list(nodes),
            "feature_use": {"in_use": False, "summary": []},
            "findings": [],
        }
    helm = (
        {
            "release": "kruise",
            "namespace": "kruise-system",
            "chart": "kruise",
            "chart_version": version,
            "app_version": version,
            "values": {"featureGates": gates},
        }
        if method == "helm"
        else None
    )
    return {
        "schema": 1,
        "installed": True,
        "version": version,
        "line": ".".join(version.split(".")[:2]),
        "namespace": "kruise-system",
        "manager": {
            "name": "kruise-controller-manager",
            "replicas": 2,
            "ready_replicas": ready_replicas,
        },
        "install": {"method": method, "helm": helm},
        "feature_gates": {
            "argument": gates,
            "gates": {},
            "daemon_enabled": daemon_enabled,
        },
        "daemon": {"socket_location": "/var/run", "crash_looping": []},
        "nodes": list(nodes),
        "feature_use": {"in_use": in_use, "summary": list(summary)},
        "findings": [],
    }


CRR_IN_USE = {"in_use": True, "summary": ("3 ContainerRecreateRequests",)}


def plan_for(
    facts: dict[str, Any],
    cluster_facts: dict[str, Any] | None,
    target: str = "1.6.0",
    **kwargs: Any,
) -> dict[str, Any]:
    return build_plan(facts, cluster_facts, target_version=target, **kwargs)


def path(plan: dict[str, Any], path_id: str) -> dict[str, Any]:
    return next(entry for entry in plan["paths"] if entry["id"] == path_id)


def node(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in plan["nodes"] if entry["name"] == name)


def told(plan: dict[str, Any]) -> str:
    recommendation = plan["recommendation"]
    return "\n".join([recommendation["summary"], *recommendation["reasons"]])


# ---------------------------------------------------------------------------------------------
# The table


@dataclass
class Scenario:
    facts: dict[str, Any]
    cluster: dict[str, Any] | None
    path: str
    texts: tuple[str, ...]
    target: str = "1.6.0"
    drained: tuple[str, ...] | None = None
    commands: tuple[str, ...] | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


MIGRATE_CMD = "ansible-playbook kruise_cri.remediation.migrate_runtime -i INVENTORY --limit {}"
UPGRADE_CMD = MIGRATE_CMD + " -e kruise_cri_containerd_archive=CONTAINERD_ARCHIVE"
PIN_CMD = (
    "ansible-playbook kruise_cri.remediation.pin_kruise -i INVENTORY "
    "-e kruise_cri_target_version=1.5.5"
)
DISABLE_CMD = "ansible-playbook kruise_cri.remediation.disable_kruise_daemon -i INVENTORY"

SCENARIOS = {
    "all-containerd-1.7-target-1.6": Scenario(
        facts={f"node-{i}": containerd("v1.7.24") for i in range(3)},
        cluster=cluster(),
        path="nothing_to_do",
        texts=("Every node can run kruise-daemon 1.6", "every node (3) can run"),
        commands=(),
    ),
    "all-docker-crr-in-use": Scenario(
        facts={"node-1": docker(), "node-2": docker()},
        cluster=cluster(**CRR_IN_USE),
        path="migrate_runtime",
        texts=(
            "Migrate 2 Docker nodes",
            "3 ContainerRecreateRequests",
            "run the kubelet on Docker",
        ),
        drained=("node-1", "node-2"),
        commands=(MIGRATE_CMD.format("node-1,node-2"),),
    ),
    "mixed-docker-and-containerd-1.7-crr-in-use": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.7.24"), "node-3": containerd("1.6.20")},
        cluster=cluster(**CRR_IN_USE),
        path="migrate_runtime",
        texts=("Migrate 1 Docker node", "the other 2 nodes keep running"),
        drained=("node-1",),
        commands=(MIGRATE_CMD.format("node-1"),),
    ),
    "docker-features-unused": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.7.24")},
        cluster=cluster(in_use=False),
        path="disable_daemon",
        texts=("Disable kruise-daemon", "none of the daemon's features in use", "no drain"),
        drained=(),
        commands=(DISABLE_CMD,),
    ),
    "docker-features-unused-but-wanted": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.7.24")},
        cluster=cluster(in_use=False),
        path="migrate_runtime",
        texts=("you want the daemon's features",),
        drained=("node-1",),
        kwargs={"daemon_features_wanted": True},
    ),
    "docker-and-containerd-1.4-crr-in-use": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.4.13"), "node-3": containerd("2.1.9")},
        cluster=cluster(**CRR_IN_USE),
        path="migrate_runtime",
        texts=(
            "Migrate 1 Docker node to containerd (node-1) and upgrade containerd on 1 node "
            "(node-2): kruise-daemon 1.6 then works everywhere",
            "node-1 runs the kubelet on Docker, node-2 containerd 1.5 or older",
            "replace CONTAINERD_ARCHIVE with its path",
        ),
        drained=("node-1", "node-2"),
        commands=(UPGRADE_CMD.format("node-1,node-2"),),
    ),
    "containerd-1.4-only": Scenario(
        facts={"node-1": containerd("v1.4.13"), "node-2": containerd("v1.7.24")},
        cluster=cluster(**CRR_IN_USE),
        path="migrate_runtime",
        texts=(
            "Upgrade containerd on 1 node (node-1)",
            "it runs containerd 1.5 or older, which a containerd 1.6 or newer replaces in place",
        ),
        drained=("node-1",),
        commands=(UPGRADE_CMD.format("node-1"),),
    ),
    "docker-and-old-cri-o-crr-in-use": Scenario(
        facts={"node-1": docker(), "node-2": old_crio(), "node-3": containerd("2.1.9")},
        cluster=cluster(**CRR_IN_USE),
        path="pin_1_5",
        texts=(
            "Pin OpenKruise 1.5.5 now as a bridge; migrate 1 Docker node to containerd and fix "
            "the other nodes before moving to 1.6.0",
            "node-2: not a Docker node (cri-o)",
            "then migrate 1 Docker node to containerd (node-1), and upgrade to 1.6.0",
        ),
        commands=(PIN_CMD, MIGRATE_CMD.format("node-1")),
    ),
    "docker-the-bridge-cannot-serve-and-old-cri-o": Scenario(
        facts={
            "node-1": docker_behind_cri_dockerd(),
            "node-2": old_crio(),
            "node-3": containerd("2.1.9"),
        },
        cluster=cluster(**CRR_IN_USE),
        path="pin_1_5",
        texts=(
            "Migrate 1 Docker node to containerd first (1.5.5 cannot serve node-1 either), then "
            "pin OpenKruise 1.5.5 as a bridge",
            "kruise-daemon 1.5 fails on node-1 too",
            "the pin would be rolled back",
        ),
        commands=(MIGRATE_CMD.format("node-1"), PIN_CMD),
    ),
    "installed-1.5.5-docker-and-old-cri-o": Scenario(
        facts={"node-1": docker(), "node-2": old_crio()},
        cluster=cluster(version="1.5.5", **CRR_IN_USE),
        path="pin_1_5",
        texts=("Stay on OpenKruise 1.5.5 now as a bridge",),
        commands=(PIN_CMD, MIGRATE_CMD.format("node-1")),
    ),
    "target-1.5.5-v1alpha2-only-and-v1-only": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.4.13"), "node-3": containerd("2.1.9")},
        cluster=cluster(version="1.5.5", **CRR_IN_USE),
        target="1.5.5",
        path="nothing_to_do",
        texts=("Every node can run kruise-daemon 1.5: nothing to change",),
        commands=(),
    ),
    "target-1.4-with-containerd-2": Scenario(
        facts={"node-1": containerd("v1.4.13"), "node-2": containerd("2.1.9")},
        cluster=cluster(version="1.4.2", **CRR_IN_USE),
        target="1.4.2",
        path="pin_1_5",
        texts=("Run OpenKruise 1.5.5 instead of 1.4.2", "cannot serve 1 node (node-2)"),
        commands=(PIN_CMD,),
    ),
    "daemon-already-disabled": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.7.24")},
        cluster=cluster(gates="ImagePullJobGate=true,KruiseDaemon=false", daemon_enabled=False),
        path="nothing_to_do",
        texts=(
            "Nothing breaks: kruise-daemon is disabled",
            "Container restart: ContainerRecreateRequest",
            "fix it before kruise-daemon is enabled again",
        ),
        commands=(),
    ),
    "daemon-disabled-every-node-compatible": Scenario(
        facts={"node-1": containerd("v1.7.24")},
        cluster=cluster(daemon_enabled=False),
        path="nothing_to_do",
        texts=("removing KruiseDaemon=false from featureGates brings the features back",),
    ),
    "not-installed-docker-nodes": Scenario(
        facts={"node-1": docker()},
        cluster=cluster(installed=False),
        path="disable_daemon",
        texts=(
            "Install OpenKruise 1.6.0 with KruiseDaemon=false",
            "OpenKruise is not installed",
            "does not apply",
        ),
        commands=(),
    ),
    "not-installed-all-compatible": Scenario(
        facts={"node-1": containerd("v1.7.24")},
        cluster=cluster(installed=False),
        path="nothing_to_do",
        texts=("install OpenKruise 1.6.0 as planned",),
    ),
    "manifests-install-features-unused": Scenario(
        facts={"node-1": docker()},
        cluster=cluster(method="manifests"),
        path="disable_daemon",
        texts=("kruise_info found none of the daemon's features in use",),
        commands=("ansible-playbook kruise_cri.remediation.disable_kruise_daemon -i INVENTORY",),
    ),
    "no-cluster-facts-docker": Scenario(
        facts={"node-1": docker(), "node-2": containerd("v1.7.24")},
        cluster=None,
        path="migrate_runtime",
        texts=("unknown (no cluster facts)", "disabling kruise-daemon is quicker"),
        drained=("node-1",),
    ),
    "no-cluster-facts-docker-and-unreachable": Scenario(
        facts={"node-1": docker(), "node-2": None},
        cluster=None,
        path="pin_1_5",
        texts=("node-2: the node's runtime is unknown", "assess node-2"),
        commands=(PIN_CMD, MIGRATE_CMD.format("node-1")),
    ),
    "only-unknown-nodes-block": Scenario(
        facts={"node-1": containerd("v1.7.24"), "node-2": None},
        cluster=None,
        path="nothing_to_do",
        texts=("assess node-2 before relying on it",),
        commands=(),
    ),
    "cluster-only-nodes-inferred": Scenario(
        facts={"node-1": containerd("v1.7.24")},
        cluster=cluster(
            nodes=(
                cluster_node("node-1", "containerd://1.7.24", "v1.28.5"),
                cluster_node("node-docker", "docker://20.10.24", "v1.23.17"),
                cluster_node("node-ctd14", "containerd://1.4.13", "v1.22.17"),
                cluster_node("node-ctd2", "containerd://2.1.9", "v1.31.0"),
                cluster_node("node-crio", "cri-o://1.28.1", "v1.28.5"),
            ),
            **CRR_IN_USE,
        ),
        path="migrate_runtime",
        texts=(
            "Migrate 1 Docker node to containerd (node-docker) and upgrade containerd on 1 node "
            "(node-ctd14)",
        ),
        commands=(UPGRADE_CMD.format("node-ctd14,node-docker"),),
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_recommendation(scenario: Scenario) -> None:
    plan = plan_for(
        scenario.facts,
        scenario.cluster,
        scenario.target,
        shipped_playbooks=ALL_PLAYBOOKS,
        **scenario.kwargs,
    )
    recommendation = plan["recommendation"]
    assert recommendation["path"] == scenario.path, told(plan)
    for text in scenario.texts:
        assert text in told(plan), f"{text!r} not in:\n{told(plan)}"
    if scenario.drained is not None:
        cost = path(plan, recommendation["path"])["cost"]
        assert cost["drained_nodes"] == list(scenario.drained)
        assert cost["nodes_drained"] == len(scenario.drained)
    if scenario.commands is not None:
        assert recommendation["commands"] == list(scenario.commands)
        assert recommendation["command"] == (scenario.commands[0] if scenario.commands else None)
    assert json.loads(json.dumps(plan)) == plan


# ---------------------------------------------------------------------------------------------
# Paths, costs and risks


def test_disable_merges_feature_gates_into_the_helm_change() -> None:
    plan = plan_for({"node-1": docker()}, cluster(gates="ImagePullJobGate=true"))
    disable = path(plan, "disable_daemon")
    assert disable["feasible"] == "yes"
    assert disable["cost"]["helm_changes"][0] == (
        'featureGates: "ImagePullJobGate=true" -> "ImagePullJobGate=true,KruiseDaemon=false"'
    )
    assert disable["cost"]["features_lost"] == list(DAEMON_FEATURES)
    assert disable["risk"]["level"] == "low"
    # The plan shows the string the disable playbook writes: the gate set in place, normalised.
    assert merged_feature_gates("A=true, KruiseDaemon=true,B=False") == (
        "A=true,KruiseDaemon=false,B=false"
    )
    assert merged_feature_gates(None) == "KruiseDaemon=false"
    # A string the playbooks would refuse is still described.
    assert merged_feature_gates("A=maybe") == "A=maybe,KruiseDaemon=false"


def test_disable_is_high_risk_when_features_are_in_use() -> None:
    plan = plan_for({"node-1": docker()}, cluster(**CRR_IN_USE))
    risk = path(plan, "disable_daemon")["risk"]
    assert risk["level"] == "high"
    assert "3 ContainerRecreateRequests" in risk["reasons"][0]


@pytest.mark.parametrize(
    ("installed", "level", "text"),
    [
        ("1.6.0", "medium", "downgrade across minor versions (1.6.0 -> 1.5.5)"),
        ("1.8.1", "high", "downgrade across minor versions (1.8.1 -> 1.5.5)"),
        ("1.5.2", "low", None),
    ],
    ids=["from-1.6", "from-1.8", "within-1.5"],
)
def test_pin_risk_follows_the_installed_version(installed: str, level: str, text: str) -> None:
    plan = plan_for({"node-1": containerd("v1.4.13")}, cluster(version=installed, **CRR_IN_USE))
    pin = path(plan, "pin_1_5")
    assert pin["feasible"] == "yes"
    assert pin["risk"]["level"] == level
    if text:
        assert text in pin["risk"]["reasons"][0]
        assert f"chart version {installed} -> 1.5.5" in pin["cost"]["helm_changes"][0]
        assert "CRDs re-applied" in pin["cost"]["helm_changes"][1]


def test_pin_drops_feature_gates_that_1_5_5_does_not_know() -> None:
    gates = "ImagePullJobGate=true,EnhancedLivenessProbe=true"
    plan = plan_for(
        {"node-1": containerd("v1.4.13")}, cluster(version="1.7.4", gates=gates, **CRR_IN_USE)
    )
    pin = path(plan, "pin_1_5")
    assert pin["risk"]["level"] == "high"
    assert any("(EnhancedLivenessProbe)" in reason for reason in pin["risk"]["reasons"])
    assert pin["cost"]["helm_changes"][2] == (
        f'featureGates: "{gates}" -> "ImagePullJobGate=true" '
        "(1.5.5 does not know EnhancedLivenessProbe)"
    )


def test_migrate_costs_and_risks() -> None:
    facts = {
        "node-1": docker(mirrors=("https://mirror.example",)),
        "node-2": containerd("1.4.13"),
        "node-3": old_crio(),
    }
    plan = plan_for(facts, cluster(ready_replicas=1, **CRR_IN_USE))
    migrate = path(plan, "migrate_runtime")
    assert migrate["feasible"] == "partly"
    assert migrate["cost"]["features_lost"] == []
    assert migrate["cost"]["drained_nodes"] == ["node-1", "node-2"]
    assert migrate["risk"]["level"] == "high"
    reasons = "\n".join(migrate["risk"]["reasons"])
    assert "images pulled by Docker are not visible to containerd" in reasons
    assert "daemon.json on node-1 must be carried over" in reasons
    assert "failurePolicy: Fail" in reasons
    assert "1 ready replica" in reasons
    assert "upgrading containerd to 1.6 or newer fixes it" in migrate["reasons"][1]
    assert migrate["reasons"][2].startswith("node-3: not a Docker node (cri-o)")
    assert any("kruise_cri_containerd_archive" in note for note in migrate["cost"]["notes"])


def test_a_containerd_upgrade_alone_keeps_its_images() -> None:
    plan = plan_for({"node-1": containerd("1.5.18"), "node-2": containerd("1.7.24")}, cluster())
    migrate = path(plan, "migrate_runtime")
    assert migrate["feasible"] == "yes"
    assert "images pulled by Docker" not in json.dumps(migrate)
    assert "containerd.io" not in json.dumps(migrate)
    verdict = next(node for node in plan["nodes"] if node["name"] == "node-1")
    assert verdict["paths"]["migrate_runtime"]["feasible"] == "yes"
    assert (
        "containerd 1.5.18 serves only CRI v1alpha2" in (verdict["paths"]["migrate_runtime"]["why"])
    )


def test_manifests_install_turns_helm_changes_into_manifest_edits() -> None:
    plan = plan_for({"node-1": docker()}, cluster(method="manifests"))
    assert path(plan, "disable_daemon")["cost"]["helm_changes"][0].startswith(
        "manifest edits (OpenKruise was installed from manifests, not Helm)"
    )
    assert path(plan, "pin_1_5")["cost"]["helm_changes"][0].startswith("manifest edits")
    steps = plan["recommendation"]["manual_steps"]
    assert steps[0] == (
        "kubectl -n kruise-system edit deployment kruise-controller-manager: set "
        "--feature-gates=ImagePullJobGate=true,KruiseDaemon=false"
    )
    assert steps[1] == "kubectl -n kruise-system delete daemonset kruise-daemon"


def test_manifests_install_bridge_pins_with_the_playbook_too() -> None:
    """pin_kruise sets a manifest install's images as it upgrades a Helm release."""
    facts = {"node-1": docker(), "node-2": old_crio()}
    plan = plan_for(facts, cluster(method="manifests", **CRR_IN_USE))
    recommendation = plan["recommendation"]
    assert recommendation["steps"] == ["pin_1_5", "migrate_runtime"]
    assert recommendation["command"] == (
        "ansible-playbook kruise_cri.remediation.pin_kruise -i INVENTORY"
        " -e kruise_cri_target_version=1.5.5"
    )
    assert recommendation["commands"][1] == MIGRATE_CMD.format("node-1")


def test_not_installed_plans_the_install() -> None:
    plan = plan_for({"node-1": docker()}, cluster(installed=False))
    assert plan["installation"]["installed"] is False
    assert any("not installed" in item["message"] for item in plan["findings"])
    assert plan["recommendation"]["manual_steps"][-1] == (
        "helm install kruise openkruise/kruise -n kruise-system --create-namespace --version "
        "1.6.0 --set 'featureGates=ImagePullJobGate=true\\,KruiseDaemon=false'"
    )


def test_daemon_disabled_paths() -> None:
    plan = plan_for({"node-1": docker()}, cluster(daemon_enabled=False))
    assert path(plan, "disable_daemon")["feasible"] == "not needed"
    nothing = path(plan, "nothing_to_do")
    assert nothing["feasible"] == "yes"
    assert nothing["cost"]["features_lost"]


def test_without_cluster_facts_says_what_is_unknown() -> None:
    plan = plan_for({"node-1": docker()}, None)
    assert plan["cluster_known"] is False
    assert plan["installation"]["known"] is False
    assert "installed OpenKruise version" in plan["findings"][0]["message"]
    assert path(plan, "disable_daemon")["cost"]["helm_changes"][0] == (
        'featureGates: "<current gates>" -> "<current gates>,KruiseDaemon=false"'
    )
    assert path(plan, "disable_daemon")["risk"]["level"] == "medium"
    assert "downgrade" in path(plan, "pin_1_5")["risk"]["reasons"][0]


def test_unknown_nodes_put_a_risk_note_on_the_recommendation() -> None:
    plan = plan_for({"node-1": docker(), "node-2": None}, None)
    risk = plan["recommendation"]["risk"]
    assert risk["level"] in ("medium", "high")
    assert any("1 node of unknown compatibility (node-2)" in reason for reason in risk["reasons"])
    unknown = node(plan, "node-2")
    assert (unknown["source"], unknown["confidence"]) == ("none", "unknown")
    assert unknown["target_compatible"] is None
    assert unknown["paths"]["migrate_runtime"]["feasible"] == "unknown"


# ---------------------------------------------------------------------------------------------
# Nodes


@pytest.mark.parametrize(
    ("runtime_version", "kubelet", "confidence", "apis", "target", "bridge", "why"),
    [
        ("docker://20.10.24", "v1.23.17", "inferred", ["v1alpha2"], False, True, "dockershim"),
        ("docker://24.0.7", "v1.26.3", "inferred", None, None, None, "cri-dockerd"),
        ("containerd://1.4.13", "v1.22.17", "inferred", ["v1alpha2"], False, True, "only CRI"),
        ("containerd://1.7.24", "v1.28.5", "inferred", ["v1", "v1alpha2"], True, True, "v1 and"),
        ("containerd://2.1.9", "v1.31.0", "inferred", ["v1"], True, True, "only CRI v1"),
        ("cri-o://1.28.1", "v1.28.5", "assumed", ["v1"], True, True, "assumed"),
    ],
    ids=["docker-dockershim", "docker-cri-dockerd", "ctd-1.4", "ctd-1.7", "ctd-2.1", "cri-o-1.28"],
)
def test_cluster_only_node_is_inferred(
    runtime_version: str,
    kubelet: str,
    confidence: str,
    apis: list[str] | None,
    target: bool | None,
    bridge: bool | None,
    why: str,
) -> None:
    plan = plan_for({}, cluster(nodes=(cluster_node("node-x", runtime_version, kubelet),)))
    inferred = node(plan, "node-x")
    assert inferred["host"] is None
    assert inferred["source"] == "cluster"
    assert inferred["confidence"] == confidence
    assert inferred["cri_api_versions"] == apis
    assert inferred["target_compatible"] is target
    assert inferred["bridge_compatible"] is bridge
    assert why in inferred["reason"]
    assert inferred["reason"].startswith(f"inferred from the cluster ({runtime_version})")


def test_k3s_node_needs_the_k3s_socket_location() -> None:
    k3s = cluster_node("node-k", "containerd://1.7.11-k3s2", "v1.28.5+k3s1")
    plan = plan_for({}, cluster(nodes=(k3s,)))
    inferred = node(plan, "node-k")
    assert (inferred["target_compatible"], inferred["bridge_compatible"]) == (False, False)
    assert "daemon.socketLocation=/run/k3s (it is /var/run)" in inferred["reason"]
    assert inferred["paths"]["migrate_runtime"]["feasible"] == "no"


def test_facts_node_is_probed_and_matched_to_its_cluster_node() -> None:
    plan = plan_for(
        {"n1": docker()},
        cluster(
            nodes=(cluster_node("ip-10-0-0-1", "docker://20.10.24", "v1.23.17"),), **CRR_IN_USE
        ),
        node_names={"n1": "ip-10-0-0-1"},
    )
    assert [entry["name"] for entry in plan["nodes"]] == ["ip-10-0-0-1"]
    probed = plan["nodes"][0]
    assert (probed["host"], probed["source"], probed["confidence"]) == ("n1", "facts", "probed")
    assert probed["runtime"] == "docker"
    assert probed["runtime_version"] == "20.10.24"
    assert probed["cri_api_versions"] == ["v1alpha2"]
    assert plan["recommendation"]["command"] == MIGRATE_CMD.format("n1")
    assert path(plan, "migrate_runtime")["cost"]["drained_nodes"] == ["ip-10-0-0-1"]


def test_cluster_only_docker_node_is_flagged_for_the_inventory() -> None:
    plan = plan_for(
        {},
        cluster(nodes=(cluster_node("node-d", "docker://20.10.24", "v1.23.17"),), **CRR_IN_USE),
    )
    assert plan["recommendation"]["command"] == MIGRATE_CMD.format("node-d")
    assert any(
        item["source"] == "node-d" and "not in the inventory" in item["message"]
        for item in plan["findings"]
    )


def test_runtime_mismatch_between_facts_and_cluster_is_a_finding() -> None:
    plan = plan_for(
        {"node-1": docker()},
        cluster(nodes=(cluster_node("node-1", "containerd://1.7.24", "v1.28.5"),)),
    )
    assert any("gather facts again" in item["message"] for item in plan["findings"])


# ---------------------------------------------------------------------------------------------
# Commands


def test_commands_quote_and_say_when_playbooks_are_not_shipped() -> None:
    facts = {"node 1": docker(), "node-2": old_crio()}
    plan = plan_for(facts, cluster(**CRR_IN_USE), inventory_hint="inv dir/hosts.yml")
    recommendation = plan["recommendation"]
    assert recommendation["commands"] == [
        "ansible-playbook kruise_cri.remediation.pin_kruise -i 'inv dir/hosts.yml' "
        "-e kruise_cri_target_version=1.5.5",
        "ansible-playbook kruise_cri.remediation.migrate_runtime -i 'inv dir/hosts.yml' "
        "--limit 'node 1'",
    ]
    assert recommendation["not_shipped"] == [
        "kruise_cri.remediation.pin_kruise",
        "kruise_cri.remediation.migrate_runtime",
    ]
    assert any("not shipped in this collection yet" in reason for reason in told(plan).split("\n"))
    assert recommendation["manual_steps_doc"] == "docs/planner.md#doing-it-by-hand"
    assert recommendation["manual_steps"][0] == (
        "helm upgrade kruise openkruise/kruise -n kruise-system --version 1.5.5"
        " --reset-then-reuse-values"
    )

    shipped = plan_for(facts, cluster(**CRR_IN_USE), shipped_playbooks=ALL_PLAYBOOKS)
    assert shipped["recommendation"]["not_shipped"] == []
    assert shipped["recommendation"]["manual_steps"] == []


def test_playbook_command_table() -> None:
    facts = {"a": docker(), "b": docker(), "c": containerd("1.4.13")}
    nodes = {name: node_from_facts(name, name, facts[name], None, "1.6") for name in facts}
    assert playbook_command("migrate_runtime", "INVENTORY", [nodes["a"], nodes["b"]]) == (
        MIGRATE_CMD.format("a,b")
    )
    assert playbook_command("migrate_runtime", "INVENTORY", [nodes["a"], nodes["c"]]) == (
        UPGRADE_CMD.format("a,c")
    )
    assert playbook_command("pin_1_5", "INVENTORY") == PIN_CMD
    assert playbook_command("disable_daemon", "INVENTORY", [nodes["a"]]) == DISABLE_CMD


# ---------------------------------------------------------------------------------------------
# Inputs


@pytest.mark.parametrize(
    ("facts", "cluster_facts", "kwargs", "message"),
    [
        ({}, None, {"target_version": "latest"}, "target_version 'latest' is not a version"),
        ({}, None, {"target_version": 1.6}, "give the OpenKruise version"),
        ({}, None, {"target_version": "1.9.0"}, "line 1.9, which the node facts hold no verdict"),
        (["node-1"], None, {}, "node_facts must map each inventory host"),
        ({"node-1": "docker"}, None, {}, "node_facts['node-1'] must be that host's kruise_cri"),
        ({}, "kruise", {}, "cluster must be the kruise dict"),
        ({}, {"kruise": {"schema": 1}}, {}, "pass its kruise key (result.kruise)"),
        (
            {"a": None, "b": None},
            None,
            {"node_names": {"a": "n", "b": "n"}},
            "hosts 'a' and 'b' both map to node 'n'",
        ),
        ({}, None, {"node_names": ["a"]}, "node_names must map inventory host"),
        ({}, None, {"shipped_playbooks": "assess"}, "shipped_playbooks must be a collection"),
        ({}, None, {"inventory_hint": 3}, "inventory_hint must be the inventory path"),
    ],
    ids=[
        "target-word",
        "target-number",
        "target-unmodelled-line",
        "facts-list",
        "facts-value-string",
        "cluster-string",
        "cluster-registered-result",
        "node-names-duplicate",
        "node-names-list",
        "shipped-string",
        "inventory-number",
    ],
)
def test_bad_input_names_the_input_and_the_fix(
    facts: Any, cluster_facts: Any, kwargs: dict[str, Any], message: str
) -> None:
    arguments = {"target_version": "1.6.0", **kwargs}
    with pytest.raises(ValueError, match=r".") as raised:
        build_plan(facts, cluster_facts, **arguments)
    assert message in str(raised.value)


def test_target_version_forms() -> None:
    assert parse_target_version("v1.6") == ("1.6", "1.6")
    assert parse_target_version(" 1.5.5 ") == ("1.5.5", "1.5")


def test_same_input_same_plan_whatever_the_order() -> None:
    facts = {
        "node-10": docker(),
        "node-2": containerd("v1.4.13"),
        "node-1": containerd("v1.7.24"),
        "node-3": None,
    }
    nodes = (
        cluster_node("node-9", "docker://20.10.24", "v1.23.17"),
        cluster_node("node-1", "containerd://1.7.24", "v1.28.5"),
    )
    first = plan_for(facts, cluster(nodes=nodes, **CRR_IN_USE))
    again = plan_for(
        dict(reversed(facts.items())), cluster(nodes=tuple(reversed(nodes)), **CRR_IN_USE)
    )
    assert json.dumps(first, sort_keys=False) == json.dumps(again, sort_keys=False)
    assert [entry["name"] for entry in first["nodes"]] == [
        "node-1",
        "node-2",
        "node-3",
        "node-9",
        "node-10",
    ]
    assert [entry["id"] for entry in first["paths"]] == [
        "migrate_runtime",
        "pin_1_5",
        "disable_daemon",
        "nothing_to_do",
    ]


@pytest.mark.parametrize(
    "gates", ["ImagePullJobGate=true", "KruiseDaemon=true, PodWebhook = False", "A=1,B=0"]
)
@pytest.mark.parametrize("method", ["helm", "manifests"])
def test_the_plan_shows_the_feature_gates_the_disable_playbook_writes(gates, method) -> None:
    facts = cluster(gates=gates, method=method)
    plan = plan_for({"node-1": docker()}, facts)
    change = path(plan, "disable_daemon")["cost"]["helm_changes"][0]
    helm = {"release": facts["install"]["helm"]} if method == "helm" else None
    written = daemon_gate_plan(facts, "disable", helm=helm)["feature_gates_after"]
    assert f"{written}" in change and change.count("KruiseDaemon=false") == 1


# ---------------------------------------------------------------------------------------------
# Facts kruise_info could not read (403): unknown, never "none" or "not installed"

CRR_FORBIDDEN = {
    "crd": True,
    "count": None,
    "error": "HTTP 403 containerrecreaterequests.apps.kruise.io is forbidden",
    "missing_permission": "list containerrecreaterequests.apps.kruise.io",
}


def forbidden_feature_use(in_use: bool | None) -> dict[str, Any]:
    facts = cluster()
    facts["feature_use"] = {
        "in_use": in_use,
        "summary": [],
        "kinds": {"ContainerRecreateRequest": dict(CRR_FORBIDDEN)},
    }
    facts["missing_permissions"] = ["list containerrecreaterequests.apps.kruise.io"]
    return facts


@pytest.mark.parametrize("in_use", [None, False])
def test_unreadable_feature_use_is_unknown_and_names_the_permission(in_use) -> None:
    """Even facts that say in_use: false are unknown while a kind carries an error."""
    plan = plan_for(
        {"node-1": docker(), "node-2": containerd("v1.7.24")}, forbidden_feature_use(in_use)
    )
    assert plan["installation"]["features_in_use"] is None
    assert plan["installation"]["missing_permissions"] == [
        "list containerrecreaterequests.apps.kruise.io"
    ]
    assert plan["recommendation"]["path"] == "migrate_runtime"
    assert "list containerrecreaterequests.apps.kruise.io" in told(plan)
    disable = path(plan, "disable_daemon")
    assert disable["risk"]["level"] == "medium"
    assert "nothing uses" not in json.dumps(disable)
    assert "none of the daemon's features in use" not in json.dumps(disable)
    assert any(
        "missing permission: list containerrecreaterequests.apps.kruise.io" in f["message"]
        and "grant the missing permission" in f["message"]
        for f in plan["findings"]
    )


def test_an_unreadable_install_is_not_planned_as_an_install() -> None:
    facts = cluster(installed=False)
    facts["installed"] = None
    facts["install"] = {
        "method": None,
        "helm": None,
        "error": "the Deployments could not be listed, so whether and how OpenKruise is "
        "installed is unknown (HTTP 403 forbidden; missing permission: list deployments.apps): "
        "grant it to the user kruise_info runs as, then run again",
    }
    facts["missing_permissions"] = ["list deployments.apps"]
    plan = plan_for({"node-1": docker()}, facts)
    assert plan["installation"]["installed"] is None
    text = json.dumps(plan)
    assert "helm install" not in text
    assert "install OpenKruise" not in text.replace("installed", "")
    assert "not installed" not in text
    messages = [f["message"] for f in plan["findings"]]
    assert any(
        "missing permission: list deployments.apps" in m and "nor takes it for absent" in m
        for m in messages
    )


def test_a_helm_release_that_cannot_be_read_is_said_in_the_plan() -> None:
    facts = cluster(**CRR_IN_USE)
    facts["install"] = {
        "method": "helm",
        "helm": {"release": "kruise", "namespace": "default"},
        "error": "OpenKruise is installed by Helm release kruise (namespace default), but the "
        "release cannot be read: HTTP 403 forbidden. Missing permission: get/list secrets in "
        "default (helm and kruise_info read the release there): grant it, then run again",
    }
    plan = plan_for({"node-1": old_crio()}, facts)
    assert plan["recommendation"]["path"] == "pin_1_5"
    assert "get/list secrets in default" in " ".join(plan["recommendation"]["reasons"])
    assert any("get/list secrets in default" in f["message"] for f in plan["findings"])


def unread(missing_permission: str) -> dict[str, Any]:
    return {"error": "HTTP 403 forbidden", "missing_permission": missing_permission}


def test_unlisted_nodes_never_read_as_every_node_works() -> None:
    facts = cluster(nodes=())
    facts["nodes"] = None
    facts["unread"] = {"nodes": unread("list nodes")}
    plan = plan_for({"node-1": containerd("v1.7.24")}, facts)
    summary = plan["recommendation"]["summary"]
    assert not summary.startswith("Every node")
    assert "the cluster's nodes could not be listed" in summary
    assert "list nodes" in json.dumps(plan["recommendation"]["reasons"])
    assert plan["installation"]["unread"] == {
        "nodes": "HTTP 403 forbidden; missing permission: list nodes"
    }
    assert any(
        f["source"] == "nodes" and "missing permission: list nodes" in f["message"]
        for f in plan["findings"]
    )


def test_an_unread_daemonset_and_its_pods_are_findings_naming_the_permission() -> None:
    facts = cluster(nodes=(cluster_node("node-1", "containerd://1.7.24", "v1.28.15"),))
    facts["daemon"] = None
    facts["unread"] = {
        "daemon": unread("list daemonsets.apps in kruise-system"),
        "daemon_pods": unread("list pods in kruise-system"),
    }
    messages = {f["source"]: f["message"] for f in plan_for({}, facts)["findings"]}
    assert messages["daemon"].startswith(
        "whether kruise-daemon's DaemonSet exists could not be read, so its health is unknown"
    )
    assert "missing permission: list daemonsets.apps in kruise-system" in messages["daemon"]
    assert "missing permission: list pods in kruise-system" in messages["daemon_pods"]
