"""Documentation of the remediation_plan action plugin; nothing here runs on a node."""

DOCUMENTATION = r"""
---
module: remediation_plan
short_description: Say which way out of kruise-daemon's CRI v1 breakage fits a cluster
version_added: 0.2.0
description:
  - Takes every node's C(kruise_cri) facts (from M(kruise_cri.remediation.cri_facts)) and,
    optionally, the cluster's C(kruise) facts (from M(kruise_cri.remediation.kruise_info)), and
    plans for a target OpenKruise version.
  - Per node and per path - migrate to a CRI v1 containerd, pin OpenKruise 1.5.5, disable
    kruise-daemon, nothing to do - says whether the path fits and why, what it costs (daemon
    features lost, nodes drained, Helm changes) and how risky it is.
  - Recommends one path with the exact C(ansible-playbook) command lines. When that path's
    playbook is not shipped in the collection yet, the plan says so and gives the manual steps.
  - Nodes in the cluster without facts get a verdict inferred from
    C(status.nodeInfo.containerRuntimeVersion) and the kubelet version (C(source=cluster),
    C(confidence=inferred), or C(assumed) for CRI-O).
  - Runs on the controller only and never changes anything; C(changed) is always false.
  - The decision rules and the plan's schema are in C(docs/planner.md).
author:
  - kruise-cri maintainers (!UNKNOWN)
options:
  target_version:
    description:
      - The OpenKruise version you run or want, C(X.Y) or C(X.Y.Z), optionally with a leading
        C(v); its line must be one of 1.4 to 1.8.
    type: str
    required: true
  node_facts:
    description:
      - Inventory hostname to that host's C(kruise_cri) facts (schema 1); a host's whole
        C(ansible_facts) is accepted too. C(null) marks a host without facts (unknown).
      - When omitted, the facts are read from C(hostvars) - the play's hosts, those without
        facts counted as unknown; or, when no host of the play has facts (a later play on
        C(localhost)), every inventory host that has them.
    type: dict
  cluster:
    description:
      - The C(kruise) dict that M(kruise_cri.remediation.kruise_info) returns; its registered
        result is accepted too.
      - When omitted, the plan uses the node facts alone and says what is unknown (installed
        version, install method, feature gates, whether the daemon's features are in use).
    type: dict
  node_names:
    description:
      - Inventory hostname to Kubernetes node name, for hosts whose names differ.
    type: dict
    default: {}
  inventory_hint:
    description:
      - The inventory to write into the commands' C(-i); the placeholder C(INVENTORY) when
        omitted.
    type: str
  daemon_features_wanted:
    description:
      - You want kruise-daemon's features (container restart, image pre-download, probes,
        sidecar terminator) even if the cluster does not use them yet; the plan then never
        recommends disabling the daemon when a fix that keeps it exists.
    type: bool
    default: false
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Never changes anything; the plan is the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: all
    details: Runs on the controller.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
seealso:
  - module: kruise_cri.remediation.cri_facts
  - module: kruise_cri.remediation.cri_report
"""

EXAMPLES = r"""
- name: Gather kruise_cri facts on every node
  kruise_cri.remediation.cri_facts:

- name: Read the cluster
  kruise_cri.remediation.kruise_info:
    kubeconfig: ~/.kube/config
  run_once: true
  delegate_to: localhost
  register: cluster

- name: Plan the way out for OpenKruise 1.6.0
  kruise_cri.remediation.remediation_plan:
    target_version: "1.6.0"
    cluster: "{{ cluster.kruise }}"
    inventory_hint: inventories/prod/hosts.yml
  run_once: true
  delegate_to: localhost
  register: plan

- name: Show the recommendation
  ansible.builtin.debug:
    msg:
      - "{{ plan.plan.recommendation.summary }}"
      - "{{ plan.plan.recommendation.commands }}"
  run_once: true
"""

RETURN = r"""
plan:
  description:
    - The plan - C(schema), C(target_version), C(target_line), C(cluster_known),
      C(installation) (what the cluster facts say about the current install),
      C(recommendation) (C(path), C(title), C(summary), C(reasons), C(steps), C(command),
      C(commands), C(launches) (per command C(path), C(playbook), C(limit), C(extra_vars)),
      C(not_shipped), C(manual_steps), C(manual_steps_doc), C(risk)),
      C(paths) (per path C(id), C(title), C(feasible), C(reasons), C(cost), C(risk), C(nodes)),
      C(nodes) (per node C(name), C(host), C(source), C(confidence), C(runtime),
      C(runtime_version), C(kubelet_version), C(cri_api_versions), C(target_compatible),
      C(bridge_compatible), C(reason), C(paths)) and C(findings).
  returned: success
  type: dict
  sample:
    schema: 1
    target_version: 1.6.0
    target_line: "1.6"
    cluster_known: true
    recommendation:
      path: migrate_runtime
      title: Migrate to a containerd that serves CRI v1
      command: ansible-playbook kruise_cri.remediation.migrate_runtime -i INVENTORY --limit node-3
"""
