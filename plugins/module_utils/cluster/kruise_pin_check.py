"""Plan pinning OpenKruise to a 1.5.x release: what changes, what would be lost, and the record
for the way back. Pure except :func:`read_kruise_crds`, which lists the CRDs through a KubeClient.

Why 1.5 and nothing else: kruise-daemon 1.5 is the only line that speaks both CRI v1alpha2
(Docker through dockershim, containerd <= 1.5) and CRI v1 (containerd 2.x); 1.6 and newer speak
only v1 and crash-loop on v1alpha2-only nodes; 1.4 and older fail on v1-only runtimes.

What the pre-flight checks, because each of these exists only in OpenKruise 1.6 or newer and a
pin to 1.5 would silently lose it or break:

- feature gates 1.5 does not know: kruise-manager 1.5 exits on an unknown gate, so they must leave
  the string; one that is *enabled* is a feature in use that 1.5 does not have (blocks), one that
  is disabled is dropped without loss (a note);
- objects of kinds, or stored in API versions, that 1.5's CRDs lack: nothing in 1.5 manages or
  can read them, the API server refuses a CRD update that drops a version still in
  ``status.storedVersions``, and a Helm downgrade deletes a CRD the newer chart installed (with
  every object of it) (blocks);
- Helm values only charts after 1.5 read (``webhookConfiguration.timeoutSeconds``,
  ``externalCerts``, ``daemon.credentialProvider``, ``helmHooks``, ``manager.loggingFormat``):
  chart 1.5 ignores them, so the setting silently goes away (blocks when set to something).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import Access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    permission_for,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import (
    dig,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    FeatureGatesError,
    chart_renders_daemon,
    daemon_enabled,
    gates_unknown_to_line,
    normalize_feature_gates,
    without_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    BRIDGE_LINE,
    BRIDGE_RELEASE,
    line_of,
    parse_version,
    version_from_image,
)

if TYPE_CHECKING:
    from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
        ClusterModule,
    )

TARGET_LINE = BRIDGE_LINE
DEFAULT_TARGET_VERSION = BRIDGE_RELEASE
KRUISE_GROUPS = ("apps.kruise.io", "policy.kruise.io")
# The CRDs chart kruise 1.5.5 installs (openkruise/charts versions/kruise/1.5.5/templates):
# (group, kind) -> the versions it serves. Charts 1.6.x to 1.8.x install the same set;
# 1.9 adds EphemeralJob and v1beta1 (the storage version) for several kinds.
KINDS_1_5: Mapping[tuple[str, str], frozenset[str]] = {
    ("apps.kruise.io", kind): frozenset({"v1alpha1"})
    for kind in (
        "AdvancedCronJob",
        "BroadcastJob",
        "CloneSet",
        "ContainerRecreateRequest",
        "DaemonSet",
        "ImageListPullJob",
        "ImagePullJob",
        "NodeImage",
        "NodePodProbe",
        "PersistentPodState",
        "PodProbeMarker",
        "ResourceDistribution",
        "SidecarSet",
        "UnitedDeployment",
        "WorkloadSpread",
    )
} | {
    ("apps.kruise.io", "StatefulSet"): frozenset({"v1alpha1", "v1beta1"}),
    ("policy.kruise.io", "PodUnavailableBudget"): frozenset({"v1alpha1"}),
}
# Values the templates of charts after 1.5.5 read and chart 1.5.5's never do.
VALUES_AFTER_1_5: Mapping[str, str] = {
    "webhookConfiguration.timeoutSeconds": (
        "the webhooks' timeout (chart 1.6+); with 1.5 Kubernetes' default of 10 s applies"
    ),
    "externalCerts": "webhook certificates managed outside OpenKruise (chart 1.7+)",
    "daemon.credentialProvider": "kruise-daemon's image credential provider (chart 1.7+)",
    "helmHooks": "the image of the chart's pre-delete hook job (chart 1.7.3+)",
    "manager.loggingFormat": "the manager's log format (chart 1.7+)",
}


class PinError(ValueError):
    """Bad input: a target outside 1.5.x, no OpenKruise, facts of the wrong shape."""


def parse_target_version(text: Any) -> str:
    """``"v1.5.5"`` -> ``"1.5.5"``; PinError for anything but a 1.5.x version."""
    parsed = parse_version(str(text if text is not None else "").strip())
    if parsed is None or parsed.patch is None or parsed.suffix:
        raise PinError(
            f"target version {text!r} is not a version: give X.Y.Z, e.g. {DEFAULT_TARGET_VERSION}"
        )
    version = parsed.release
    if line_of(version) != TARGET_LINE:
        raise PinError(
            f"OpenKruise {version} is refused: only 1.5.x can be pinned. kruise-daemon 1.5 is "
            "the only line that speaks both CRI v1alpha2 (Docker through dockershim, "
            "containerd <= 1.5) and CRI v1 (containerd 2.x); 1.6 and newer speak only v1 and "
            "crash-loop on v1alpha2-only nodes, 1.4 and older fail on v1-only runtimes. "
            f"Give a 1.5.x version (default {DEFAULT_TARGET_VERSION})"
        )
    return version


def image_repository(image: str | None) -> str | None:
    """``reg:5000/openkruise/kruise-manager:v1.6.3`` -> ``reg:5000/openkruise/kruise-manager``."""
    if not image:
        return None
    name = image.split("@", 1)[0]
    head, _slash, last = name.rpartition("/")
    if ":" in last:
        last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def _tag_version(tag: Any) -> str | None:
    return version_from_image(f"image:{tag}") if tag else None


def _in_use(path: str, value: Any) -> bool:
    if path == "daemon.credentialProvider":
        return isinstance(value, Mapping) and bool(value.get("enable"))
    if isinstance(value, Mapping):
        return any(_in_use("", item) for item in value.values())
    if isinstance(value, list):
        return bool(value)
    return value not in (None, False, "", 0)


def _gate_plan(text: str | None, where: str) -> tuple[str | None, list[str], list[str]]:
    """(the new string, or None when unchanged; blockers; notes) for a featureGates value."""
    unknown = gates_unknown_to_line(text, TARGET_LINE)
    if not unknown:
        return None, [], []
    gates = normalize_feature_gates(text)
    enabled = [name for name in unknown if gates[name]]
    disabled = [name for name in unknown if not gates[name]]
    blockers = [
        f"feature gate {name}=true in {where}: OpenKruise 1.5 does not have this feature "
        "(kruise-manager 1.5 exits on gates it does not know, so it is removed)"
        for name in enabled
    ]
    notes = (
        [
            f"{', '.join(disabled)} removed from {where}: 1.5 does not know "
            + ("it" if len(disabled) == 1 else "them")
            + " (disabled, so nothing is lost)"
        ]
        if disabled
        else []
    )
    return without_gates(text, unknown), blockers, notes


def _crd_findings(crds: Iterable[Mapping[str, Any]], helm: bool) -> tuple[list[str], list[str]]:
    blockers: list[str] = []
    notes: list[str] = []
    for crd in crds:
        group, kind = str(crd.get("group")), str(crd.get("kind"))
        served = [str(v) for v in crd.get("served_versions") or []]
        stored = [str(v) for v in crd.get("stored_versions") or []]
        count = crd.get("count")
        known = KINDS_1_5.get((group, kind))
        if known is None:
            if count is None:
                missing = crd.get("missing_permission")
                blockers.append(
                    f"{kind} ({group}) is not in OpenKruise 1.5 and its objects could not be "
                    f"counted: {crd.get('error') or 'unknown error'}"
                    + (f" (missing permission: {missing})" if missing else "")
                )
            elif count:
                blockers.append(
                    f"{count} {kind} object{'s' if count != 1 else ''} ({group}): OpenKruise "
                    f"1.5 has no {kind}, nothing would manage "
                    + ("it" if count == 1 else "them")
                    + (
                        "; a Helm downgrade deletes the CRD, with every object, if the newer "
                        "chart installed it"
                        if helm
                        else ""
                    )
                )
            else:
                notes.append(
                    f"CRD {crd.get('name')} ({kind}) is not in OpenKruise 1.5; it has no objects"
                )
            continue
        newer = [version for version in stored if version not in known]
        if newer:
            blockers.append(
                f"{kind} objects have been stored as {', '.join(f'{group}/{v}' for v in newer)}"
                f" (status.storedVersions), which 1.5's CRD does not serve: the API server "
                "refuses the 1.5 CRD and kruise-manager 1.5 cannot read them"
            )
        served_only = [v for v in served if v not in known and v not in newer]
        if served_only:
            notes.append(
                f"{kind}: {', '.join(served_only)} is served now but not by 1.5's CRD; "
                "clients that use it break"
            )
    return blockers, notes


def pin_plan(
    target_version: Any,
    kruise: Mapping[str, Any],
    *,
    force: bool = False,
    helm: Mapping[str, Any] | None = None,
    chart: Mapping[str, Any] | None = None,
    crds: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The pin plan. ``helm`` is the release (``kruise_helm_release`` info ``release``) and
    ``chart`` the target chart (its ``chart``) for a Helm install; both None for manifests."""
    version = parse_target_version(target_version)
    if not isinstance(kruise, Mapping) or "installed" not in kruise:
        raise PinError("kruise must be the 'kruise' facts of kruise_info")
    install = kruise.get("install") or {}
    if kruise.get("installed") is None or (install.get("error") and not kruise.get("manager")):
        raise PinError(
            (
                install.get("error")
                or "whether OpenKruise is installed is unknown (see kruise_info's findings and "
                "missing_permissions)"
            )
            + "; nothing was changed"
        )
    if not kruise.get("installed") or not kruise.get("manager"):
        raise PinError(
            "OpenKruise is not installed in this cluster (no kruise-manager): nothing to pin"
        )
    if not helm and install.get("method") == "helm":
        # Patching a Helm release's Deployment and DaemonSet directly is undone by its next
        # `helm upgrade` or `helm rollback`: a Helm install is pinned through Helm or not at all.
        raise PinError(
            (install.get("error") or "OpenKruise is installed by Helm")
            + "; pinning must go through the Helm release (kruise_helm_release), not the "
            "manifests, or the next helm upgrade or rollback undoes the pin. Nothing was changed"
        )
    method = "helm" if helm else "manifests"
    unread_daemon = (kruise.get("unread") or {}).get("daemon")
    if method == "manifests" and unread_daemon:
        # The daemon's image is patched only when its DaemonSet is known to exist.
        raise PinError(
            "whether the kruise-daemon DaemonSet exists could not be read ("
            + str(unread_daemon.get("error"))
            + (
                f"; missing permission: {unread_daemon['missing_permission']}"
                if unread_daemon.get("missing_permission")
                else ""
            )
            + "): grant it, then run again. Nothing was changed"
        )
    if method == "helm" and not chart:
        raise PinError("a Helm install needs the target chart (kruise_helm_release chart)")
    blockers, notes = _crd_findings(crds, method == "helm")
    changes: list[str] = []
    plan: dict[str, Any] = {
        "target_version": version,
        "target_line": TARGET_LINE,
        "method": method,
        "namespace": kruise.get("namespace"),
        "current_version": kruise.get("version"),
    }
    if kruise.get("version") is None:
        notes.append("the running version is unknown (the manager image has no version tag)")
    if method == "helm":
        _plan_helm(plan, version, helm or {}, chart or {}, blockers, notes, changes)
    else:
        _plan_manifests(plan, version, kruise, blockers, notes, changes)
    plan["blockers"] = blockers
    plan["refused"] = [] if force or not blockers else blockers
    if force and blockers:
        notes.append("forced past: " + " | ".join(blockers))
    plan["notes"] = notes
    plan["changes"] = changes
    plan["changed"] = bool(changes)
    return plan


def _plan_helm(
    plan: dict[str, Any],
    version: str,
    release: Mapping[str, Any],
    chart: Mapping[str, Any],
    blockers: list[str],
    notes: list[str],
    changes: list[str],
) -> None:
    status = release.get("status")
    if status and status != "deployed":
        raise PinError(
            f"Helm release {release.get('release')} is {status!r}, not deployed: finish or roll "
            "back that operation first (helm history shows it); nothing was changed"
        )
    user = dict(release.get("values") or {})
    defaults = dict(chart.get("default_values") or {})
    overrides: dict[str, Any] = {}
    if str(chart.get("version") or "").lstrip("v") != version:
        raise PinError(f"the target chart is {chart.get('version')}, not {version}")
    if str(release.get("chart_version") or "").lstrip("v") != version:
        changes.append(f"chart {release.get('chart_version')} -> {version}")

    user_gates = user.get("featureGates")
    gates_after = user_gates if user_gates is not None else defaults.get("featureGates")
    gates_after = None if gates_after is None else str(gates_after)
    new_gates, gate_blockers, gate_notes = _gate_plan(gates_after, "featureGates")
    blockers += gate_blockers
    notes += gate_notes
    if new_gates is not None:
        overrides["featureGates"] = new_gates
        changes.append(f"featureGates {gates_after!r} -> {new_gates!r}")
        gates_after = new_gates

    # The image tag: the user's tag when it is a 1.5.x one, else the chart's default when that
    # is; otherwise set it. Set only when needed: a tag in the values outlives the pin (a later
    # `helm upgrade --reuse-values` to 1.6 would keep running 1.5).
    user_tag = dig(user, "manager.image.tag")
    default_tag = dig(defaults, "manager.image.tag")
    effective_tag = user_tag if user_tag else default_tag
    if line_of(_tag_version(effective_tag)) != "1.5":
        overrides["manager"] = {"image": {"tag": f"v{version}"}}
        if user_tag:
            changes.append(f"manager.image.tag {user_tag} -> v{version}")
            notes.append(
                f"your manager.image.tag {user_tag} is replaced by v{version}, or the pin would "
                "not take effect (the daemon runs the same image); set your own tag again when "
                "you leave 1.5"
            )
        else:
            changes.append(f"manager.image.tag set to v{version}")
            notes.append(
                f"chart {chart.get('version')}'s default manager.image.tag is "
                f"{default_tag or 'unset'}, not a 1.5.x tag: v{version} is set in the values "
                "(remove it when you leave 1.5)"
            )
    elif user_tag:
        notes.append(f"manager.image.tag stays {user_tag} (a 1.5.x tag already in the values)")

    for path, meaning in VALUES_AFTER_1_5.items():
        value = dig(user, path)
        if value is not None and _in_use(path, value):
            blockers.append(
                f"value {path} is set: {meaning}; chart {version} ignores it, so the setting "
                "would be lost"
            )
    plan["values"] = overrides
    plan["expected"] = {
        "version_line": TARGET_LINE,
        "feature_gates": gates_after,
        "daemon": "present"
        if daemon_enabled(gates_after) and chart_renders_daemon(gates_after)
        else "absent",
    }
    plan["record"] = {
        "method": "helm",
        "kruise_version": plan["current_version"],
        "helm": {
            key: release.get(key)
            for key in (
                "release",
                "namespace",
                "revision",
                "chart_version",
                "app_version",
                "values",
            )
        },
    }


def _plan_manifests(
    plan: dict[str, Any],
    version: str,
    kruise: Mapping[str, Any],
    blockers: list[str],
    notes: list[str],
    changes: list[str],
) -> None:
    manager = kruise.get("manager") or {}
    daemon = kruise.get("daemon")
    gates = (kruise.get("feature_gates") or {}).get("argument")
    tag = f"v{version}"

    def target_image(image: str | None) -> str | None:
        repository = image_repository(image) or "openkruise/kruise-manager"
        return f"{repository}:{tag}"

    manager_image = target_image(manager.get("image"))
    if manager_image != manager.get("image"):
        changes.append(f"manager image {manager.get('image')} -> {manager_image}")
    daemon_image = None
    if daemon is not None:
        daemon_image = target_image(daemon.get("image"))
        if daemon_image != daemon.get("image"):
            changes.append(f"daemon image {daemon.get('image')} -> {daemon_image}")
    new_gates, gate_blockers, gate_notes = _gate_plan(gates, "--feature-gates")
    blockers += gate_blockers
    notes += gate_notes
    if new_gates is not None:
        changes.append(f"--feature-gates {gates!r} -> {new_gates!r}")
    notes.append(
        "the CRDs are left as they are (1.6 to 1.8 CRDs are a superset of 1.5's): only the "
        "images change"
    )
    final_gates = new_gates if new_gates is not None else gates
    plan["values"] = {}
    plan["manager_image"] = manager_image
    plan["daemon_image"] = daemon_image
    plan["feature_gates"] = new_gates
    plan["expected"] = {
        "version_line": TARGET_LINE,
        "feature_gates": final_gates,
        "daemon": "present" if daemon is not None else "absent",
    }
    plan["record"] = {
        "method": "manifests",
        "kruise_version": plan["current_version"],
        "manifests": {
            "namespace": kruise.get("namespace"),
            "manager_image": manager.get("image"),
            "daemon_image": daemon.get("image") if daemon else None,
            "feature_gates": gates,
        },
    }


def read_kruise_crds(client: KubeClient) -> list[dict[str, Any]]:
    """Every CRD of OpenKruise's groups with its versions; objects are counted only where 1.5
    lacks the kind (what the plan needs)."""
    found = []
    for crd in client.list_items(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        counted_as="customresourcedefinitions",
    ):
        spec = crd.get("spec") or {}
        group = spec.get("group")
        if group not in KRUISE_GROUPS:
            continue
        names = spec.get("names") or {}
        versions = spec.get("versions") or []
        entry: dict[str, Any] = {
            "name": (crd.get("metadata") or {}).get("name"),
            "group": group,
            "kind": names.get("kind"),
            "plural": names.get("plural"),
            "served_versions": [v.get("name") for v in versions if v.get("served")],
            "stored_versions": list((crd.get("status") or {}).get("storedVersions") or []),
            "count": None,
        }
        if (group, names.get("kind")) not in KINDS_1_5:  # 1.5 serves the others: no count
            storage = next(
                (v.get("name") for v in versions if v.get("storage")),
                entry["served_versions"][0] if entry["served_versions"] else None,
            )
            try:
                entry["count"] = client.count(
                    f"/apis/{group}/{storage}/{names.get('plural')}", counted_as="count"
                )
            except KubeRequestError as error:
                entry["error"] = f"HTTP {error.status} {error.message}"
                if error.status == 403:
                    entry["missing_permission"] = permission_for(error.path)
        found.append(entry)
    return sorted(found, key=lambda e: (str(e["group"]), str(e["kind"])))


def read_needs() -> list[Access]:
    """What the module reads itself (the CRDs; the objects of kinds 1.5 lacks are counted as far
    as the credentials allow, and a kind that cannot be counted blocks the pin)."""
    return [Access("list", "customresourcedefinitions", "apiextensions.k8s.io")]


def run_module(module: ClusterModule) -> dict[str, Any]:
    """The kruise_pin_check module's result; a refused pin fails the task with the plan."""
    params = module.params
    try:
        parse_target_version(params["target_version"])
        client = module.client()
        refusal = access.refusal_if_denied(
            access.checker(client), read_needs(), "read what the pin would lose"
        )
        if refusal:
            raise PinError(refusal)
        crds = read_kruise_crds(client)
        plan = pin_plan(
            params["target_version"],
            params["kruise"],
            force=params["force"],
            helm=params["helm_release"],
            chart=params["chart"],
            crds=crds,
        )
    except (PinError, FeatureGatesError) as error:
        module.fail_json(msg=str(error))
    if plan["refused"]:
        module.fail_json(
            msg="pinning OpenKruise "
            + plan["target_version"]
            + " is refused, because something in use exists only in OpenKruise 1.6 or newer: "
            + "; ".join(plan["refused"])
            + ". Nothing was changed. Set force: true (kruise_cri_force=true) to pin anyway",
            plan=plan,
            crds=crds,
        )
    return {"changed": False, "plan": plan, "crds": crds}
