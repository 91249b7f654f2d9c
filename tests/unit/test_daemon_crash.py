"""crash_cause: why kruise-daemon keeps exiting, from the exit code and any message kept."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_crash import (
    crash_cause,
)

# Lines the real kruise-daemon 1.6.0 printed last (test_real_kruise_daemon.py measures them).
DOCKERSHIM_FATAL = (
    "F1203 14:54:37.008046   11082 main.go:69] Failed to new daemon: failed to new runtime "
    'factory: validate service connection: CRI v1 runtime API is not implemented for endpoint "'
    'unix:///hostvarrun/dockershim.sock": rpc error: code = Unimplemented desc = unknown service '
    "runtime.v1.RuntimeService"
)
CONTAINERD_1_4_PANIC_TAIL = (
    'E1203 14:53:15.453754    8019 cri.go:61] "Failed to determine CRI image API version" '
    'err="unable to determine image API version: rpc error: code = Unimplemented desc = unknown '
    'service runtime.v1.ImageService"\n'
    "panic: runtime error: invalid memory address or nil pointer dereference"
)


@pytest.mark.parametrize(
    ("exit_code", "message", "expected"),
    [
        (255, DOCKERSHIM_FATAL, "serves only CRI v1alpha2"),
        (2, CONTAINERD_1_4_PANIC_TAIL, "has no CRI v1 image service"),
        (255, "failed to new runtime factory: not found container runtime sock", "no runtime"),
        # The kubelet keeps only "Error" with the upstream chart: the exit code decides.
        (2, "Error", "panicked (exit 2)"),
        (255, "Error", "fatal error (exit 255)"),
        (255, None, "CRI v1 runtime API is not implemented"),
        # A message wins over the exit code.
        (1, DOCKERSHIM_FATAL, "serves only CRI v1alpha2"),
    ],
)
def test_cause_from_message_or_exit_code(
    exit_code: int, message: str | None, expected: str
) -> None:
    cause = crash_cause(exit_code, message)
    assert cause is not None and expected in cause, cause


@pytest.mark.parametrize(("exit_code", "message"), [(1, "Error"), (None, None), (137, "OOMKilled")])
def test_unknown_crashes_have_no_cause(exit_code: int | None, message: str | None) -> None:
    assert crash_cause(exit_code, message) is None
