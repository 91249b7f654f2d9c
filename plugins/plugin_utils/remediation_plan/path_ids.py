"""The four ways out the planner weighs: their ids, titles, and the words of their verdicts."""

from __future__ import annotations

from typing import Literal

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_RELEASE,
)

MIGRATE = "migrate_runtime"
PIN = "pin_1_5"
DISABLE = "disable_daemon"
NOTHING = "nothing_to_do"
PATH_IDS = (MIGRATE, PIN, DISABLE, NOTHING)
PATH_TITLES = {
    MIGRATE: "Migrate to a containerd that serves CRI v1",
    PIN: f"Pin OpenKruise {BRIDGE_RELEASE}",
    DISABLE: "Disable kruise-daemon",
    NOTHING: "Nothing to do",
}

Feasible = Literal["yes", "partly", "no", "not needed"]
NodeFeasible = Literal["yes", "no", "not needed", "unknown"]
