"""Documentation of the cri_report action plugin; nothing here runs on a node."""

DOCUMENTATION = r"""
---
module: cri_report
short_description: Write the kruise-daemon CRI assessment report of a fleet
version_added: 0.1.0
description:
  - Aggregates the C(kruise_cri) facts gathered by M(kruise_cri.remediation.cri_facts) on every
    node into one report and writes it as JSON, Markdown and a self-contained HTML page.
  - Groups nodes by verdict for the target kruise-daemon line, counts how many nodes each line
    (1.4 to 1.8) works on, and states from the node data alone which way out fits
    (migrate Docker nodes to containerd, pin OpenKruise 1.5.5, disable kruise-daemon) and what
    each costs.
  - With O(plan) (from M(kruise_cri.remediation.remediation_plan)) the report opens with the
    recommendation - its title, summary, reasons, the exact C(ansible-playbook) commands and
    its risk - and compares every path the planner weighed (feasible, features lost, nodes
    drained, Helm changes, risk) instead of the node-only statement.
  - With O(cluster) (from M(kruise_cri.remediation.kruise_info)) the report has a cluster
    section - the OpenKruise version and how it was installed, the feature gates,
    kruise-daemon's desired and ready pods with the crash-looping ones (node and last
    message), and the use of the daemon's features.
  - Runs on the controller only; no module is sent to any host.
  - Files are written atomically (temporary file in I(report_dir), then rename) with mode C(0640).
    The task reports C(changed) only when the report content differs from the files on disk;
    the C(generated_at) timestamp alone never counts as a change.
author:
  - kruise-cri maintainers (!UNKNOWN)
options:
  facts:
    description:
      - Inventory hostname to that host's C(ansible_facts.kruise_cri) (schema 1).
      - A host's whole C(ansible_facts) is accepted too; its C(kruise_cri) key is used.
      - C(null), or C(ansible_facts) without C(kruise_cri), marks a host without facts; it is
        reported as unknown.
    type: dict
    required: true
  report_dir:
    description:
      - Directory for C(report.json), C(report.md) and C(report.html).
      - Created with mode C(0750) when missing. A relative path is taken from the directory
        C(ansible-playbook) runs in (not the playbook's, which may be inside the collection).
    type: path
    required: true
  kruise_version:
    description:
      - The OpenKruise version to assess against, C(X.Y) or C(X.Y.Z), optionally with a leading
        C(v). Its C(X.Y) line selects the verdict in each host's facts.
    type: str
    default: "1.6.0"
  unreachable:
    description:
      - Hosts that could not be reached in this run, hostname to message. Reported as unknown;
        they win over any facts given for the same host.
    type: dict
    default: {}
  failed:
    description:
      - Hosts whose fact gathering failed, hostname to message (or to the failed result, whose
        C(msg) is used). Reported as unknown.
    type: dict
    default: {}
  cluster:
    description:
      - The cluster facts that M(kruise_cri.remediation.kruise_info) returns as C(kruise)
        (schema 1); its whole registered result is accepted too.
      - The report keeps a trimmed view - API server, OpenKruise version and install (Helm
        release, chart, revision, status; of the release's values only C(featureGates) and
        C(daemon.socketLocation)/C(daemon.socketFile)), feature gates, kruise-daemon with its
        crash-looping pods, node counts per runtime, feature use, findings and the request
        count. The values' other keys and the seconds the reading took are left out.
      - Omit it when no cluster was read; C(cluster) is then C(null) in the report.
    type: dict
  plan:
    description:
      - The plan that M(kruise_cri.remediation.remediation_plan) returns as C(plan)
        (schema 1), kept in the report as is; its whole registered result is accepted too.
      - Omit it for a node-only report; C(plan) is then C(null) in the report.
    type: dict
  formats:
    description: Which files to write.
    type: list
    elements: str
    choices: [json, markdown, html]
    default: [json, markdown, html]
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Computes the report and whether the files would change; writes nothing.
  diff_mode:
    support: full
    details: Shows the difference in C(report.md) (or the first format written).
  platform:
    platforms: all
    details: Runs on the controller.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
seealso:
  - module: kruise_cri.remediation.cri_facts
notes:
  - Everything taken from node facts, cluster facts and the plan is treated as untrusted text
    - escaped in the HTML and Markdown output, control characters stripped from the text
    table - and commands are shown on one line without control characters.
"""

EXAMPLES = r"""
- name: Gather kruise_cri facts on every node
  kruise_cri.remediation.cri_facts:

- name: Write the fleet report
  kruise_cri.remediation.cri_report:
    facts: >-
      {{ dict(ansible_play_hosts_all
         | zip(ansible_play_hosts_all | map('extract', hostvars, 'ansible_facts'))) }}
    report_dir: "{{ playbook_dir }}/kruise-report"
    kruise_version: "1.6.0"
  run_once: true
  delegate_to: localhost
  register: kruise_report

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ kruise_report.summary_table.splitlines() }}"
  run_once: true

- name: Read the cluster
  kruise_cri.remediation.kruise_info:
    kubeconfig: ~/.kube/config
  delegate_to: localhost
  run_once: true
  register: cluster

- name: Plan the way out
  kruise_cri.remediation.remediation_plan:
    target_version: "1.6.0"
    cluster: "{{ cluster.kruise }}"
  run_once: true
  delegate_to: localhost
  register: plan

- name: Write the report with the cluster and the recommendation
  kruise_cri.remediation.cri_report:
    facts: >-
      {{ dict(ansible_play_hosts_all
         | zip(ansible_play_hosts_all | map('extract', hostvars, 'ansible_facts'))) }}
    cluster: "{{ cluster.kruise }}"
    plan: "{{ plan.plan }}"
    report_dir: "{{ playbook_dir }}/kruise-report"
  run_once: true
  delegate_to: localhost
  register: kruise_report

- name: Say what to do
  ansible.builtin.debug:
    msg: "{{ kruise_report.recommendation.title }}: {{ kruise_report.recommendation.command }}"
  run_once: true

- name: Keep the verdict in the play's stats
  ansible.builtin.set_stats:
    data:
      kruise_cri_assessment: "{{ kruise_report.stats }}"
  run_once: true
"""

RETURN = r"""
report:
  description:
    - The report as written to C(report.json) - C(schema), C(generated_at),
      C(target) (C(kruise_version), C(line)), C(summary) (C(nodes), C(compatible),
      C(incompatible), C(unknown), C(by_runtime), C(verdict)), C(per_line), C(groups)
      (C(incompatible), C(unknown), C(compatible), each a list of nodes), C(paths) (what the
      node facts alone say about each way out), C(cluster) (the trimmed cluster facts, or
      C(null)) and C(plan) (the plan as given, or C(null)).
  returned: success
  type: dict
recommendation:
  description:
    - The plan's recommendation as given (C(path), C(title), C(summary), C(reasons), C(steps),
      C(command), C(commands), C(not_shipped), C(manual_steps), C(manual_steps_doc), C(risk));
      C(null) without O(plan).
  returned: success
  type: dict
  sample:
    path: pin_1_5
    title: Pin OpenKruise 1.5.5
    command: ansible-playbook kruise_cri.remediation.pin_kruise -i hosts.yml -e kruise_cri_target_version=1.5.5
paths:
  description: Format to the path of its file.
  returned: success
  type: dict
  sample:
    json: /srv/reports/report.json
    markdown: /srv/reports/report.md
    html: /srv/reports/report.html
summary_table:
  description: Fixed-width text table, one line per node, incompatible nodes first.
  returned: success
  type: str
stats:
  description:
    - Small summary for M(ansible.builtin.set_stats) - C(kruise_version), C(line), C(verdict),
      C(nodes), C(compatible), C(incompatible), C(unknown), C(incompatible_hosts) (at most 50),
      C(incompatible_hosts_truncated), C(recommendation) (C(path), C(title), C(command),
      C(commands), C(risk); C(null) without O(plan)) and C(paths).
  returned: success
  type: dict
"""
