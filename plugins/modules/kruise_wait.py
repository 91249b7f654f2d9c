#!/usr/bin/python
"""Wait until kruise-manager and kruise-daemon are as expected, within a deadline."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_wait
short_description: Wait until kruise-manager is Ready and kruise-daemon is Ready on every node (or gone)
description:
  - Polls the API until, for O(stable_seconds) in a row, the kruise-manager Deployment is rolled
    out with every replica Ready and available, and the kruise-daemon DaemonSet is rolled out
    with a Ready, updated pod on every node it is scheduled to (O(daemon=present)), or the
    DaemonSet and its pods are gone (O(daemon=absent)).
  - Optionally the images must be of the OpenKruise line O(version_line) and the manager's
    C(--feature-gates) must equal O(feature_gates) (compared normalised).
  - A crash-looping kruise-daemon is Running, even Ready, for a moment between restarts; the
    stability window keeps such a moment from passing as healthy.
  - Fails when the deadline passes, naming what is not ready (for a crash-looping pod, its node,
    its restarts and its last termination message).
version_added: 0.2.0
author: kruise-cri maintainers
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  namespace:
    description: Namespace of the manager Deployment and the DaemonSet.
    type: str
    required: true
  manager_name:
    description: Name of the manager Deployment.
    type: str
    default: kruise-controller-manager
  daemon_name:
    description: Name of the kruise-daemon DaemonSet.
    type: str
    default: kruise-daemon
  daemon_selector:
    description: Label selector of the daemon's pods, used when the DaemonSet is gone.
    type: str
    default: control-plane=daemon
  daemon:
    description: Whether kruise-daemon must be running everywhere, gone, or is not checked.
    type: str
    choices: [present, absent, any]
    default: present
  version_line:
    description: The OpenKruise line (C(X.Y)) the manager and daemon images must be of.
    type: str
  feature_gates:
    description: The manager's expected C(--feature-gates) value.
    type: str
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 300
  stable_seconds:
    description: Seconds the state must hold in a row.
    type: int
    default: 10
  interval:
    description: Seconds between two looks.
    type: float
    default: 2.0
attributes:
  check_mode:
    support: full
    description: Only reads; check mode waits the same way.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Wait for OpenKruise 1.5 to be healthy
  kruise_cri.remediation.kruise_wait:
    namespace: kruise-system
    version_line: "1.5"
    timeout: 600
"""

RETURN = r"""
ready:
  description: Whether everything was as expected for O(stable_seconds) in a row.
  returned: always
  type: bool
problems:
  description: What was not as expected at the last look.
  returned: always
  type: list
  elements: str
crash_looping_nodes:
  description: Nodes whose kruise-daemon pod was crash-looping at the last look.
  returned: always
  type: list
  elements: str
waited:
  description: Seconds waited.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    AUTH_ARGUMENT_SPEC,
    KubeAccessError,
    KubeClient,
    KubeRequestError,
    load_settings,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_wait import (
    DAEMON_EXPECTATIONS,
    Expectation,
    Snapshot,
    describe_problems,
    wait_until_ready,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **AUTH_ARGUMENT_SPEC,
            "namespace": {"type": "str", "required": True},
            "manager_name": {"type": "str", "default": "kruise-controller-manager"},
            "daemon_name": {"type": "str", "default": "kruise-daemon"},
            "daemon_selector": {"type": "str", "default": "control-plane=daemon"},
            "daemon": {"type": "str", "choices": list(DAEMON_EXPECTATIONS), "default": "present"},
            "version_line": {"type": "str"},
            "feature_gates": {"type": "str"},
            "timeout": {"type": "int", "default": 300},
            "stable_seconds": {"type": "int", "default": 10},
            "interval": {"type": "float", "default": 2.0},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] < 0 or params["stable_seconds"] < 0 or params["interval"] <= 0:
        module.fail_json(msg="timeout and stable_seconds must be 0 or more, interval above 0")
    if params["stable_seconds"] > params["timeout"]:
        module.fail_json(
            msg=f"stable_seconds {params['stable_seconds']} is longer than timeout "
            f"{params['timeout']}: the wait could never succeed"
        )
    namespace = params["namespace"]
    base = f"/apis/apps/v1/namespaces/{namespace}"

    try:
        client = KubeClient(load_settings(params))
    except KubeAccessError as error:
        module.fail_json(msg=str(error))

    def get(path: str, resource: str):
        try:
            return client.get(path, counted_as=resource)
        except KubeRequestError as error:
            if error.status == 404:
                return None
            raise

    def read() -> Snapshot:
        daemonset = get(f"{base}/daemonsets/{params['daemon_name']}", "daemonsets")
        selector = params["daemon_selector"]
        if daemonset is not None:
            labels = ((daemonset.get("spec") or {}).get("selector") or {}).get("matchLabels")
            if labels:
                selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        pods = list(
            client.list_items(
                f"/api/v1/namespaces/{namespace}/pods",
                {"labelSelector": selector},
                counted_as="pods",
            )
        )
        deployment = get(f"{base}/deployments/{params['manager_name']}", "deployments")
        manager_pods = []
        labels = ((deployment or {}).get("spec") or {}).get("selector", {}).get("matchLabels")
        if labels:
            manager_pods = list(
                client.list_items(
                    f"/api/v1/namespaces/{namespace}/pods",
                    {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))},
                    counted_as="pods",
                )
            )
        return Snapshot(
            deployment=deployment,
            daemonset=daemonset,
            daemon_pods=pods,
            manager_pods=manager_pods,
        )

    expect = Expectation(
        version_line=params["version_line"],
        feature_gates=params["feature_gates"],
        daemon=params["daemon"],
    )
    try:
        result = wait_until_ready(
            read,
            expect,
            timeout=params["timeout"],
            stable_seconds=params["stable_seconds"],
            interval=params["interval"],
        )
    except (KubeAccessError, KubeRequestError) as error:
        module.fail_json(msg=f"cannot read OpenKruise's state: {error}")
    if not result["ready"]:
        module.fail_json(
            msg=f"OpenKruise in {namespace} is not as expected after {result['waited']} s: "
            + describe_problems(result["problems"]),
            **result,
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
