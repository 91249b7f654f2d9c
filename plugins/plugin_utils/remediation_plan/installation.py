"""The current OpenKruise install as the cluster facts (kruise_info) describe it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_gate import (
    unchecked_feature_use,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.fact_values import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
    as_text,
)

DEFAULT_NAMESPACE = "kruise-system"


@dataclass(frozen=True)
class Installation:
    """What the cluster facts say about the current OpenKruise install (None: not known)."""

    known: bool
    installed: bool | None
    version: str | None
    line: str | None
    method: str | None
    namespace: str
    release: str | None
    chart_version: str | None
    feature_gates: str | None
    daemon_enabled: bool | None
    features_in_use: bool | None
    features_summary: tuple[str, ...]
    manager_name: str | None
    manager_ready: int | None
    socket_location: str | None
    # What kruise_info could not read: the install (a refused Deployment or Helm release read)
    # and the daemon's feature use (each kind or list, with its error), and the permissions
    # (``verb resource.group``) the API server refused.
    install_error: str | None = None
    use_unchecked: tuple[str, ...] = ()
    missing_permissions: tuple[str, ...] = ()
    # Other facts kruise_info could not read (``nodes``, ``daemon``, ``daemon_pods``), each
    # with its error and the permission missing: (fact, "HTTP 403 ...; missing permission: ...").
    unread: tuple[tuple[str, str], ...] = ()

    @property
    def nodes_unread(self) -> str | None:
        """Why the cluster's nodes are unknown, when they could not be listed."""
        return dict(self.unread).get("nodes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "known": self.known,
            "installed": self.installed,
            "version": self.version,
            "line": self.line,
            "method": self.method,
            "namespace": self.namespace if self.installed else None,
            "helm_release": self.release,
            "chart_version": self.chart_version,
            "feature_gates": self.feature_gates,
            "daemon_enabled": self.daemon_enabled,
            "features_in_use": self.features_in_use,
            "features_summary": list(self.features_summary),
            "error": self.install_error,
            "features_unchecked": list(self.use_unchecked),
            "missing_permissions": list(self.missing_permissions),
            "unread": dict(self.unread),
        }


UNKNOWN_INSTALLATION = Installation(
    known=False,
    installed=None,
    version=None,
    line=None,
    method=None,
    namespace=DEFAULT_NAMESPACE,
    release=None,
    chart_version=None,
    feature_gates=None,
    daemon_enabled=None,
    features_in_use=None,
    features_summary=(),
    manager_name=None,
    manager_ready=None,
    socket_location=None,
)


def installation_from(cluster: Mapping[str, Any] | None) -> Installation:
    """The install described by kruise_info's ``kruise`` dict; unknown without one."""
    if cluster is None:
        return UNKNOWN_INSTALLATION
    installed = as_bool(cluster.get("installed"))
    install = as_mapping(cluster.get("install"))
    helm = as_mapping(install.get("helm"))
    gates = as_mapping(cluster.get("feature_gates"))
    values_gates = as_mapping(helm.get("values")).get("featureGates")
    feature_gates = as_text(gates.get("argument")) or as_text(values_gates)
    use = as_mapping(cluster.get("feature_use"))
    manager = as_mapping(cluster.get("manager"))
    if installed is False:
        in_use: bool | None = False
        daemon_enabled: bool | None = None
    else:
        in_use = as_bool(use.get("in_use"))
        daemon_enabled = as_bool(gates.get("daemon_enabled"))
    unchecked = tuple(unchecked_feature_use(use))
    if unchecked and in_use is not True:
        # A kind that could not be listed is not a kind nobody uses.
        in_use = None
    return Installation(
        known=True,
        installed=installed,
        version=as_text(cluster.get("version")),
        line=as_text(cluster.get("line")),
        method=as_text(install.get("method")),
        namespace=as_text(cluster.get("namespace")) or DEFAULT_NAMESPACE,
        release=as_text(helm.get("release")),
        chart_version=as_text(helm.get("chart_version")),
        feature_gates=feature_gates,
        daemon_enabled=daemon_enabled,
        features_in_use=in_use,
        features_summary=tuple(str(item) for item in as_list(use.get("summary"))),
        manager_name=as_text(manager.get("name")),
        manager_ready=as_int(manager.get("ready_replicas")),
        socket_location=as_text(as_mapping(cluster.get("daemon")).get("socket_location")),
        install_error=as_text(install.get("error")),
        use_unchecked=unchecked,
        missing_permissions=tuple(
            str(item) for item in as_list(cluster.get("missing_permissions")) if item
        ),
        unread=tuple(
            (str(fact), unread_reason(as_mapping(entry)))
            for fact, entry in sorted(as_mapping(cluster.get("unread")).items())
        ),
    )


def unread_reason(entry: Mapping[str, Any]) -> str:
    """``HTTP 403 ...; missing permission: list nodes`` for an entry of kruise_info's unread."""
    error = as_text(entry.get("error")) or "not read"
    missing = as_text(entry.get("missing_permission"))
    return f"{error}; missing permission: {missing}" if missing else error


def features_in_use_reason(install: Installation) -> str:
    summary = ", ".join(install.features_summary) or "see kruise_info's feature_use"
    return f"the daemon's features are in use: {summary}"


def features_use_unknown_reason(install: Installation) -> str:
    if not install.known:
        return "whether the daemon's features are in use is unknown (no cluster facts)"
    if install.use_unchecked:
        return (
            "whether the daemon's features are in use is unknown: kruise_info could not read "
            + "; ".join(install.use_unchecked)
            + permissions_fix(install)
        )
    return "whether the daemon's features are in use is unknown"


def permissions_fix(install: Installation) -> str:
    """What to do when the API server refused reads (each named where it is reported)."""
    if not install.missing_permissions:
        return ""
    return (
        "; grant the missing "
        + ("permission" if len(install.missing_permissions) == 1 else "permissions")
        + " to the user kruise_info runs as, then assess again"
    )


def features_unused_reason(install: Installation) -> str:
    if install.installed is False:
        return "OpenKruise is not installed, so nothing uses the daemon's features yet"
    return "kruise_info found none of the daemon's features in use"
