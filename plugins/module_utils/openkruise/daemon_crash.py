"""Why a kruise-daemon container keeps exiting, from what the kubelet kept of its last run.

Measured with the real daemons (1.5.5 and 1.6.0, built from their Go module) against real
runtimes (the lab's integration test ``test_real_kruise_daemon.py`` repeats it):

- A runtime that serves CRI v1 images but not the v1 runtime service (dockershim), or any runtime
  whose failure the factory keeps: ``klog.Fatal`` "Failed to new daemon: failed to new runtime
  factory: validate service connection: CRI v1 runtime API is not implemented ...", exit 255.
- From 1.6, a runtime that answers ``unknown service runtime.v1.ImageService`` (containerd 1.5
  and older, or a containerd whose CRI plugin is off) with nothing else usable: the factory comes
  back empty without an error and the daemon panics on it (nil pointer dereference), exit 2.
- No socket under ``daemon.socketLocation``: "not found container runtime sock", exit 255.

The upstream chart sets no ``terminationMessagePolicy``, so the kubelet keeps no message, only
the exit code and ``reason: Error``: the exit code alone must already say what it means. When a
message is there (``FallbackToLogsOnError``, or the text of ``kubectl logs --previous``), it
decides.
"""

from __future__ import annotations

FATAL_EXIT_CODE = 255
PANIC_EXIT_CODE = 2

_BY_MESSAGE = (
    (
        ("CRI v1 runtime API is not implemented", "unknown service runtime.v1.RuntimeService"),
        "its runtime serves only CRI v1alpha2 (dockershim, containerd 1.5 or older, cri-dockerd "
        "0.2 or older) and this kruise-daemon speaks only CRI v1",
    ),
    (
        ("unknown service runtime.v1.ImageService", "unable to determine image API version"),
        "its runtime has no CRI v1 image service (containerd 1.5 or older, or a containerd "
        "whose CRI plugin is disabled) and this kruise-daemon speaks only CRI v1",
    ),
    (
        ("not found container runtime sock",),
        "no runtime socket under daemon.socketLocation (or none at daemon.socketFile)",
    ),
)


def crash_cause(exit_code: int | None, message: str | None) -> str | None:
    """A sentence on why the daemon exits, or None when neither the message nor the exit code
    says anything kruise-cri knows."""
    text = message or ""
    for needles, cause in _BY_MESSAGE:
        if any(needle in text for needle in needles):
            return cause
    if exit_code == PANIC_EXIT_CODE:
        return (
            "it panicked (exit 2): from OpenKruise 1.6 that is how kruise-daemon ends when no "
            "runtime under daemon.socketLocation has a CRI v1 image service (containerd 1.5 or "
            "older, or a containerd whose CRI plugin is disabled)"
        )
    if exit_code == FATAL_EXIT_CODE:
        return (
            "it stopped on a fatal error (exit 255): when it cannot use the node's runtime the "
            "log ends with 'failed to new runtime factory' (kubectl logs --previous shows it); "
            "on Docker through dockershim that is 'CRI v1 runtime API is not implemented'"
        )
    return None
