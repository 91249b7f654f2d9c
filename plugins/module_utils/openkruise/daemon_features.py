"""What kruise-daemon does, and so what turning it off (``KruiseDaemon=false``) costs.

Read from OpenKruise's pkg/features/kruise_features.go (SetDefaultFeatureGates forces these gates
off when KruiseDaemon is false), the controllers kruise-manager then does not start, and the
webhooks that reject new objects of these kinds. The report, the planner and the disable role all
show this one list.
"""

from __future__ import annotations

STOPS_WORKING = (
    "Container restart: ContainerRecreateRequest (its controller is not started; the webhook "
    "rejects new ones with 'feature-gate KruiseDaemon is not enabled'; existing ones never "
    "complete)",
    "Image pre-download: ImagePullJob, ImageListPullJob and NodeImage (controllers not started, "
    "new jobs rejected; ImagePullJobGate is forced off)",
    "Image pre-download before in-place and Advanced DaemonSet updates "
    "(PreDownloadImageForInPlaceUpdate, PreDownloadImageForDaemonSetUpdate forced off; the "
    "apps.kruise.io/image-predownload-* annotations do nothing)",
    "Custom probes: PodProbeMarker and NodePodProbe (PodProbeMarkerGate forced off; new "
    "PodProbeMarkers rejected)",
    "Sidecar terminator for Job pods (SidecarTerminator forced off; "
    "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT is ignored)",
    "In-place update of env from labels/annotations (InPlaceUpdateEnvFromMetadata forced off) and "
    "the daemon's pod watching (DaemonWatchingPod)",
    "Enhanced liveness probes (EnhancedLivenessProbe, OpenKruise 1.7 and newer)",
)
