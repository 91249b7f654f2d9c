from __future__ import annotations

from ansible_collections.kruise_cri.remediation.plugins.filter.node_outcomes import node_outcomes


def test_sorts_assessed_failed_and_unreachable() -> None:
    hostvars = {
        "ok": {"_kruise_cri_node_result": {"ansible_facts": {"kruise_cri": {"schema": 1}}}},
        # facts cached from an earlier run must not stand in for this run's failure
        "stale": {
            "ansible_facts": {"kruise_cri": {"schema": 1}},
            "_kruise_cri_node_result": {"failed": True, "msg": "timeout"},
        },
        "bad": {"_kruise_cri_node_result": {"failed": True, "msg": "host_root /x is not a dir"}},
        "gone": {"_kruise_cri_node_result": {"unreachable": True, "msg": "ssh: refused"}},
        "silent": {},
    }
    outcomes = node_outcomes(["ok", "stale", "bad", "gone", "silent", "absent"], hostvars)
    assert outcomes["facts"] == {"ok": {"schema": 1}}
    assert outcomes["failed"] == {"stale": "timeout", "bad": "host_root /x is not a dir"}
    assert outcomes["unreachable"]["gone"] == "ssh: refused"
    assert set(outcomes["unreachable"]) == {"gone", "silent", "absent"}
