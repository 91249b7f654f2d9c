"""The kruise_helm_release module: read, upgrade with merged values, or roll back OpenKruise's Helm
release with the helm binary. Chart references, manifest comparison, a small wrapper of the helm
command line (:class:`HelmCli`), and :func:`run_module`, what the module does with them.

:class:`HelmCli` only builds argument vectors and parses helm's JSON; it runs commands through a
callable the module gives it (``AnsibleModule.run_command``), so it is tested with a fake.

Values are never left to helm's reuse rules: an upgrade passes the release's *complete* user values
(``helm get values``) deep-merged with the change, in a values file, with ``--reset-values``. The
result is the chart's defaults plus exactly the user's values plus the change, whatever helm's
``--reuse-values`` defaults are (the trap of kubernetes.core.helm's ``reset_values: true``, which
drops every value not passed again). Merging is :mod:`.values`'s, the chart's ``kubeVersion``
check :mod:`.semver`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import Access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeAccessError,
    KubeClient,
    KubeRequestError,
    options_with_environment,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_wait import (
    read_needs as health_check_needs,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.semver import (
    ConstraintError,
    satisfies,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import (
    deep_merge,
    mask_values,
    masked_values_diff,
    yaml,
)

if TYPE_CHECKING:
    from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
        ClusterModule,
    )

DEFAULT_CHART_REF = "openkruise/kruise"
DEFAULT_CHART_REPO_URL = "https://openkruise.github.io/charts/"
DEPLOYED = "deployed"


class HelmError(Exception):
    """helm failed; the message has the command (without secrets) and helm's own words."""


# --------------------------------------------------------------------------------------------
# Chart references


@dataclass(frozen=True)
class ChartSource:
    """How to get a chart: a local path used as is, or ``helm pull`` arguments."""

    local_path: str | None
    pull_args: tuple[str, ...] = ()

    @property
    def describe(self) -> str:
        return self.local_path or " ".join(self.pull_args)


def chart_source(
    chart_ref: str,
    chart_repo_url: str | None,
    chart_version: str | None,
    is_local: Callable[[str], bool],
) -> ChartSource:
    """A local chart (directory or .tgz) is used as is; ``oci://`` and ``http(s)://`` references
    are pulled; ``repo/name`` is pulled from ``chart_repo_url`` with ``--repo`` (no ``helm repo
    add``, so the user's repository list is not touched), or from the user's own helm
    repositories when ``chart_repo_url`` is empty."""
    ref = chart_ref.strip()
    if not ref:
        raise ValueError("chart_ref is empty")
    if is_local(ref):
        return ChartSource(local_path=ref)
    version = ("--version", str(chart_version)) if chart_version else ()
    if ref.startswith(("oci://", "http://", "https://")) or not chart_repo_url:
        return ChartSource(local_path=None, pull_args=(ref, *version))
    name = ref.rstrip("/").rsplit("/", 1)[-1]
    return ChartSource(local_path=None, pull_args=(name, "--repo", chart_repo_url, *version))


# --------------------------------------------------------------------------------------------
# Manifests


def manifest_objects(text: str | None) -> dict[str, dict[str, Any]]:
    """``Kind namespace/name`` -> object, for every document of a rendered manifest."""
    objects: dict[str, dict[str, Any]] = {}
    for document in yaml.safe_load_all(text or ""):
        if not isinstance(document, dict) or "kind" not in document:
            continue
        metadata = document.get("metadata") or {}
        namespace = metadata.get("namespace")
        name = metadata.get("name")
        key = f"{document['kind']} {namespace + '/' if namespace else ''}{name}"
        objects[key] = document
    return objects


def manifest_changes(before: str | None, after: str | None) -> dict[str, list[str]]:
    """Which objects an upgrade adds, removes and changes."""
    old = manifest_objects(before)
    new = manifest_objects(after)
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(key for key in set(old) & set(new) if old[key] != new[key]),
    }


# --------------------------------------------------------------------------------------------
# Permissions: what helm sends, as helm 3 sends it (seen in the API server's audit log)
#
# The release's storage: every command lists the release's secrets (labels owner=helm,name=...);
# an upgrade or rollback creates the new revision's secret and updates it and the previous one;
# a rollback also gets the target revision's secret by name; a new revision beyond
# --history-max (HELM_MAX_HISTORY, 10 by default) deletes the oldest. Objects: an upgrade or
# rollback gets every object of the new manifest, creates the new ones, patches those whose
# rendering changed, and gets then deletes those the new manifest lacks.

HELM_MAX_HISTORY = 10
RELEASE_DRIVERS = {"": "secrets", "secret": "secrets", "secrets": "secrets"}
RELEASE_DRIVERS.update({"configmap": "configmaps", "configmaps": "configmaps"})
ROLLBACK_WHY = "to roll back if the change fails"

# (apiVersion, kind) -> (group, resource, namespaced); None when the API server does not serve it.
ResourceLookup = Callable[[str, str], tuple[str, str, bool] | None]  # pylint: disable=unsupported-binary-operation


def storage_needs(
    namespace: str, operation: str, *, resource: str | None = "secrets", prunes: bool = False
) -> list[Access]:
    """The requests on the release's storage (``resource``: secrets, configmaps, None for
    helm's memory or SQL drivers) of ``operation``: ``read`` (status, get, history), ``upgrade``
    or ``rollback``; ``prunes`` when the new revision makes helm delete the oldest."""
    if resource is None:
        return []
    verbs = ["list"]
    if operation == "rollback":
        verbs.append("get")
    if operation in ("upgrade", "rollback"):
        verbs += ["create", "update"]
        if prunes:
            verbs.append("delete")
    return [Access(verb, resource, namespace=namespace) for verb in verbs]


def release_storage(driver: str | None) -> str | None:
    """The resource helm keeps releases in for ``HELM_DRIVER``; None when not in the cluster."""
    return RELEASE_DRIVERS.get((driver or "").strip().lower())


def prunes_history(revision: int, max_history: int = HELM_MAX_HISTORY) -> bool:
    """Whether a new revision may make helm delete the oldest: the revisions kept can only reach
    ``max_history`` (0: no limit) once the release has had that many."""
    return max_history > 0 and revision >= max_history


def _guessed_resource(api_version: str, kind: str, has_namespace: bool) -> tuple[str, str, bool]:
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return group, kind.lower() + ("es" if kind.endswith("s") else "s"), has_namespace


def object_needs(
    before: str | None,
    after: str | None,
    resource_of: ResourceLookup,
    release_namespace: str,
    *,
    why: str = "",
) -> list[Access]:
    """What going from manifest ``before`` to manifest ``after`` sends for the objects (an
    upgrade, or a rollback with the two swapped): get on every object of ``after``, create for
    the new ones, patch for those whose rendering changed, get and delete for those ``after``
    lacks. Objects whose rendering is the same are only read: one edited by hand since would be
    patched back too. ``resource_of`` maps a kind to its resource (the API server's discovery);
    a kind it does not know is taken as its lower-case plural."""
    old = manifest_objects(before)
    new = manifest_objects(after)
    needs: list[Access] = []

    def of(document: Mapping[str, Any], verb: str, *, named: bool = True) -> Access:
        metadata = document.get("metadata") or {}
        api_version, kind = str(document.get("apiVersion") or ""), str(document["kind"])
        found = resource_of(api_version, kind) or _guessed_resource(
            api_version, kind, bool(metadata.get("namespace"))
        )
        group, resource, namespaced = found
        namespace = (metadata.get("namespace") or release_namespace) if namespaced else None
        name = str(metadata.get("name") or "") if named else ""
        return Access(verb, resource, group, namespace, name=name, why=why)

    for key, document in new.items():
        needs.append(of(document, "get"))
        if key not in old:
            # A create's name is not known to the authorizer: RBAC grants it per resource.
            needs.append(of(document, "create", named=False))
        elif old[key] != document:
            needs.append(of(document, "patch"))
    for key, document in old.items():
        if key not in new:
            needs += [of(document, "get"), of(document, "delete")]
    return needs


def workload_health_needs(*manifests: str | None, release_namespace: str) -> list[Access]:
    """kruise_wait's reads (the health check after a change) for each Deployment of the
    manifests, with the DaemonSet of its namespace."""
    deployments: dict[str, str] = {}
    daemonsets: dict[str, str] = {}
    for manifest in manifests:
        for document in manifest_objects(manifest).values():
            metadata = document.get("metadata") or {}
            namespace = str(metadata.get("namespace") or release_namespace)
            if document["kind"] == "Deployment":
                deployments.setdefault(namespace, str(metadata.get("name")))
            elif document["kind"] == "DaemonSet":
                daemonsets.setdefault(namespace, str(metadata.get("name")))
    needs: list[Access] = []
    for namespace, manager in sorted(deployments.items()):
        needs += health_check_needs(namespace, manager, daemonsets.get(namespace, "kruise-daemon"))
    return needs


def helm_wait_needs(*manifests: str | None, release_namespace: str) -> list[Access]:
    """What ``helm --wait`` reads beyond getting the objects again: the ReplicaSets of the
    namespaces that hold Deployments (to find each Deployment's new one)."""
    namespaces = sorted(
        {
            str((document.get("metadata") or {}).get("namespace") or release_namespace)
            for manifest in manifests
            for document in manifest_objects(manifest).values()
            if document["kind"] == "Deployment"
        }
    )
    return [
        Access("list", "replicasets", "apps", namespace, why="helm --wait")
        for namespace in namespaces
    ]


def upgrade_needs(
    release_namespace: str,
    before: str | None,
    after: str | None,
    resource_of: ResourceLookup,
    *,
    storage: str | None = "secrets",
    prunes: bool = False,
    wait: bool = False,
) -> list[Access]:
    """Everything an upgrade from manifest ``before`` to ``after`` needs: the release's storage,
    the objects, the way back (a rollback to the revision before, which the roles run when the
    health check fails: it recreates what the upgrade deletes and deletes what it creates) and
    the health check's reads."""
    needs = storage_needs(release_namespace, "upgrade", resource=storage, prunes=prunes)
    needs += object_needs(before, after, resource_of, release_namespace)
    if storage:
        needs.append(Access("get", storage, namespace=release_namespace, why=ROLLBACK_WHY))
    needs += object_needs(after, before, resource_of, release_namespace, why=ROLLBACK_WHY)
    needs += workload_health_needs(before, after, release_namespace=release_namespace)
    if wait:
        needs += helm_wait_needs(before, after, release_namespace=release_namespace)
    return needs


def rollback_needs(
    release_namespace: str,
    current: str | None,
    target: str | None,
    resource_of: ResourceLookup,
    *,
    storage: str | None = "secrets",
    prunes: bool = False,
    wait: bool = False,
) -> list[Access]:
    """Everything a rollback from manifest ``current`` to the target revision's needs."""
    needs = storage_needs(release_namespace, "rollback", resource=storage, prunes=prunes)
    needs += object_needs(current, target, resource_of, release_namespace)
    if wait:
        needs += helm_wait_needs(current, target, release_namespace=release_namespace)
    return needs


def discovery_lookup(client: KubeClient) -> ResourceLookup:
    """:data:`ResourceLookup` through the API server's discovery (any authenticated user may
    read it), one request per API group version."""
    served: dict[str, dict[str, tuple[str, bool]] | None] = {}

    def resource_of(api_version: str, kind: str) -> tuple[str, str, bool] | None:
        if api_version not in served:
            path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            try:
                listed = client.get(path, counted_as="discovery").get("resources") or []
            except KubeRequestError:
                listed = None
            served[api_version] = (
                None
                if listed is None
                else {
                    str(r.get("kind")): (str(r.get("name")), bool(r.get("namespaced")))
                    for r in listed
                    if "/" not in str(r.get("name"))
                }
            )
        found = (served[api_version] or {}).get(kind)
        if found is None:
            return None
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        return group, found[0], found[1]

    return resource_of


# --------------------------------------------------------------------------------------------
# The helm command line

RunCommand = Callable[[list[str], Mapping[str, str]], tuple[int, str, str]]


def connection_args(options: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """helm's global flags and environment for the kube_auth options. The token goes in the
    environment (``HELM_KUBETOKEN``), never on the command line."""
    args: list[str] = []
    env: dict[str, str] = {}
    if options.get("kubeconfig"):
        args += ["--kubeconfig", str(options["kubeconfig"])]
    if options.get("context"):
        args += ["--kube-context", str(options["context"])]
    if options.get("host"):
        args += ["--kube-apiserver", str(options["host"])]
    if options.get("api_key"):
        env["HELM_KUBETOKEN"] = str(options["api_key"])
    if options.get("ca_cert"):
        args += ["--kube-ca-file", str(options["ca_cert"])]
    if options.get("validate_certs") is False:
        args.append("--kube-insecure-skip-tls-verify")
    if (options.get("client_cert") or options.get("client_key")) and not options.get("kubeconfig"):
        raise ValueError(
            "helm takes client certificates only from a kubeconfig: give kubeconfig= "
            "(with the certificate in it) instead of client_cert=/client_key="
        )
    if options.get("proxy"):
        env["HTTPS_PROXY"] = env["https_proxy"] = str(options["proxy"])
    return args, env


@dataclass(frozen=True)
class ReleaseState:
    name: str
    namespace: str
    revision: int
    status: str
    chart: str | None
    chart_version: str | None
    app_version: str | None
    values: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "namespace": self.namespace,
            "revision": self.revision,
            "status": self.status,
            "chart": self.chart,
            "chart_version": self.chart_version,
            "app_version": self.app_version,
            "values": self.values,
        }


@dataclass
class HelmCli:
    binary: str
    global_args: Sequence[str]
    env: Mapping[str, str]
    run: RunCommand
    commands: list[list[str]] = field(default_factory=list)

    def call(self, *args: str, allow_missing: bool = False) -> str | None:
        argv = [self.binary, *self.global_args, *args]
        self.commands.append(argv)
        rc, out, err = self.run(argv, self.env)
        if rc != 0:
            message = (err or out or "").strip()
            if allow_missing and "not found" in message:
                return None
            raise HelmError(f"helm {' '.join(args)} failed (rc {rc}): {message}")
        return out

    def json(self, *args: str, allow_missing: bool = False) -> Any:
        out = self.call(*args, "-o", "json", allow_missing=allow_missing)
        if out is None:
            return None
        try:
            return json.loads(out) if out.strip() else None
        except ValueError as error:
            raise HelmError(f"helm {' '.join(args)} printed no JSON: {out[:300]!r}") from error

    def release(self, name: str, namespace: str) -> ReleaseState | None:
        status = self.json("status", name, "-n", namespace, allow_missing=True)
        if status is None:
            return None
        metadata = self.json("get", "metadata", name, "-n", namespace) or {}
        return ReleaseState(
            name=name,
            namespace=namespace,
            revision=int(status.get("version") or metadata.get("revision") or 0),
            status=str((status.get("info") or {}).get("status") or metadata.get("status")),
            chart=metadata.get("chart"),
            chart_version=metadata.get("version"),
            app_version=metadata.get("appVersion"),
            values=dict(status.get("config") or {}),
        )

    def values(
        self, name: str, namespace: str, *, computed: bool = False, revision: int | None = None
    ) -> dict[str, Any]:
        args = ["get", "values", name, "-n", namespace]
        if computed:
            args.append("--all")
        if revision is not None:
            args += ["--revision", str(revision)]
        return dict(self.json(*args) or {})

    def manifest(self, name: str, namespace: str, revision: int | None = None) -> str:
        args = ["get", "manifest", name, "-n", namespace]
        if revision is not None:
            args += ["--revision", str(revision)]
        return self.call(*args) or ""

    def history(self, name: str, namespace: str, depth: int | None) -> list[dict[str, Any]]:
        """The last ``depth`` revisions (helm's default maximum for None), newest first."""
        depth_args = ("--max", str(depth)) if depth else ()
        entries = self.json("history", name, "-n", namespace, *depth_args) or []
        return sorted(entries, key=lambda entry: -int(entry.get("revision") or 0))

    def show_chart(self, chart: str) -> dict[str, Any]:
        return dict(yaml.safe_load(self.call("show", "chart", chart) or "") or {})

    def show_values(self, chart: str) -> dict[str, Any]:
        return dict(yaml.safe_load(self.call("show", "values", chart) or "") or {})

    def pull(self, source: ChartSource, directory: str) -> None:
        self.call("pull", *source.pull_args, "--destination", directory)


# --------------------------------------------------------------------------------------------
# The module


class Failure(Exception):
    """The task fails with this message (and the helm commands run so far, and ``details``)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def run_module(module: ClusterModule) -> dict[str, Any]:
    """The kruise_helm_release module's result; helm's failures fail the task with the commands
    run so far."""
    workdir = tempfile.mkdtemp(prefix="kruise-cri-helm-")
    cli = None
    try:
        cli = _cli(module)
        result = _run(module, cli, workdir)
    except (Failure, HelmError, ValueError) as error:
        details = getattr(error, "details", {})
        if details and not module.params.get("show_values"):
            details = mask_result(details)
        module.fail_json(msg=str(error), commands=cli.commands if cli else [], **details)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["commands"] = cli.commands
    return result if module.params.get("show_values") else mask_result(result)


def mask_result(result: dict[str, Any]) -> dict[str, Any]:
    """The result with every user value masked (:func:`.values.mask_values`) but the ones
    kruise-cri reads and shows (feature gates, the manager's image, the daemon's socket): the
    release's values before and after, the computed values and those of the history."""
    masked = dict(result)
    for key in ("before", "release"):
        if isinstance(masked.get(key), dict) and "values" in masked[key]:
            masked[key] = {**masked[key], "values": mask_values(masked[key]["values"])}
    if "computed_values" in masked:
        masked["computed_values"] = mask_values(masked["computed_values"])
    if isinstance(masked.get("history"), list):
        masked["history"] = [
            {
                **entry,
                "values": mask_values(entry.get("values")),
                "computed_values": mask_values(entry.get("computed_values")),
            }
            for entry in masked["history"]
        ]
    return masked


def _cli(module: ClusterModule) -> HelmCli:
    params = module.params
    binary = params["helm_binary"]
    if os.sep not in binary:
        found = module.get_bin_path(binary)
        if not found:
            raise Failure(
                f"helm binary {binary!r} not found in PATH: install helm or set helm_binary"
            )
        binary = found
    elif not os.access(binary, os.X_OK):
        raise Failure(f"helm binary {binary} does not exist or is not executable")
    # helm reads no K8S_AUTH_* variable: the settings they give become its flags.
    args, env = connection_args(options_with_environment(params))

    def run(argv, extra_env):
        return module.run_command(argv, environ_update=dict(extra_env), check_rc=False)

    return HelmCli(binary=binary, global_args=args, env=env, run=run)


def _server_version(module: ClusterModule) -> str:
    try:
        client = module.client()
        return str(client.get("/version", counted_as="version").get("gitVersion") or "")
    except KubeAccessError as error:
        raise Failure(str(error)) from error
    except KubeRequestError as error:
        raise Failure(f"cannot read the API server's version: {error}") from error


def _refuse_unless_allowed(
    module: ClusterModule, needs: Callable[[ResourceLookup], list[Access]], doing: str
) -> None:
    """Fail (a Failure) before the change when the credentials may not make a request of
    ``needs`` (given the discovery lookup), in check mode too."""
    try:
        client = module.client()
        refusal = access.refusal_if_denied(
            access.checker(client), needs(discovery_lookup(client)), doing
        )
    except KubeAccessError as error:
        raise Failure(str(error)) from error
    if refusal:
        raise Failure(refusal)


def _history_settings() -> tuple[str | None, int]:
    """Where helm keeps releases (HELM_DRIVER) and how many revisions (HELM_MAX_HISTORY), as
    the helm this module runs reads them from the environment."""
    try:
        max_history = int(os.environ.get("HELM_MAX_HISTORY") or HELM_MAX_HISTORY)
    except ValueError:
        max_history = HELM_MAX_HISTORY
    return release_storage(os.environ.get("HELM_DRIVER")), max_history


def _run(module: ClusterModule, cli: HelmCli, workdir: str) -> dict:
    params = module.params
    server_version = _server_version(module)
    name, namespace = params["release"], params["namespace"]
    storage = _history_settings()[0]
    _refuse_unless_allowed(
        module,
        lambda _: storage_needs(namespace, "read", resource=storage),
        f"read Helm release {name} in namespace {namespace}",
    )
    release = cli.release(name, namespace)
    if release is None:
        raise Failure(
            f"Helm release {name!r} not found in namespace {namespace!r} "
            f"(helm list -n {namespace} shows the releases there); nothing was changed"
        )
    result = {"changed": False, "server_version": server_version, "before": release.summary()}
    state = params["state"]
    if state == "info":
        result["release"] = release.summary()
        result["computed_values"] = cli.values(name, namespace, computed=True)
        if params["chart_version"]:
            chart = _chart(module, cli, workdir, params["chart_version"], server_version)
            result["chart"] = {k: v for k, v in chart.items() if k != "path"}
        if params["history"] > 0:
            result["history"] = _history(cli, name, namespace, params["history"])
        return result
    if state == "rolled_back":
        return _rollback(module, cli, release, result)
    return _upgrade(module, cli, release, result, workdir, server_version)


def _chart(module, cli, workdir, version, server_version) -> dict:
    params = module.params
    source = chart_source(params["chart_ref"], params["chart_repo_url"], version, os.path.exists)
    path = source.local_path
    if path is None:
        pulled = os.path.join(workdir, "chart")
        os.mkdir(pulled, 0o700)
        cli.pull(source, pulled)
        archives = sorted(os.listdir(pulled))
        if len(archives) != 1:
            raise Failure(f"helm pull {source.describe} left {archives!r}, not one chart archive")
        path = os.path.join(pulled, archives[0])
    metadata = cli.show_chart(path)
    chart_version = str(metadata.get("version") or "")
    if chart_version.lstrip("v") != str(version).lstrip("v"):
        raise Failure(
            f"the chart at {params['chart_ref']} is version {chart_version or 'unknown'}, not "
            f"{version}; point chart_ref at chart {version}"
        )
    kube_version = metadata.get("kubeVersion")
    kube_version_ok = True
    if kube_version:
        try:
            kube_version_ok = satisfies(server_version, str(kube_version))
        except (ConstraintError, ValueError) as error:
            raise Failure(
                f"cannot check chart {chart_version}'s kubeVersion {kube_version!r} against the "
                f"API server's {server_version}: {error}"
            ) from error
        if not kube_version_ok:
            raise Failure(
                f"chart {metadata.get('name')} {chart_version} requires Kubernetes "
                f"{kube_version}; the API server is {server_version}. Nothing was changed"
            )
    return {
        "name": metadata.get("name"),
        "version": chart_version,
        "app_version": metadata.get("appVersion"),
        "kube_version": kube_version,
        "kube_version_ok": kube_version_ok,
        "default_values": cli.show_values(path),
        "source": params["chart_ref"],
        "path": path,
    }


def _history(cli: HelmCli, name: str, namespace: str, depth: int) -> list:
    entries = []
    for entry in cli.history(name, namespace, depth):
        revision = int(entry.get("revision") or 0)
        entries.append(
            {
                "revision": revision,
                "status": entry.get("status"),
                "chart": entry.get("chart"),
                "app_version": entry.get("app_version"),
                "description": entry.get("description"),
                "updated": entry.get("updated"),
                "values": cli.values(name, namespace, revision=revision),
                "computed_values": cli.values(name, namespace, computed=True, revision=revision),
            }
        )
    return entries


def _write_values(workdir: str, values: dict) -> str:
    path = os.path.join(workdir, "values.yaml")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)  # JSON is YAML; no YAML quirks with strings like "on"
    return path


def _upgrade(module, cli, release, result, workdir, server_version) -> dict:
    params = module.params
    version = params["chart_version"] or release.chart_version
    if not version:
        raise Failure("the release's chart version is unknown: give chart_version")
    if release.status != DEPLOYED:
        raise Failure(
            f"release {release.name} is {release.status!r}, not deployed: finish or roll back "
            f"that operation first (helm history {release.name} -n {release.namespace})"
        )
    chart = _chart(module, cli, workdir, version, server_version)
    result["chart"] = {k: v for k, v in chart.items() if k not in ("default_values", "path")}
    if release.chart and chart["name"] and chart["name"] != release.chart:
        raise Failure(
            f"the chart at {params['chart_ref']} is {chart['name']!r}; release {release.name} "
            f"runs chart {release.chart!r}"
        )
    desired = deep_merge(release.values, params["values"])
    same_chart = str(release.chart_version).lstrip("v") == str(chart["version"]).lstrip("v")
    if same_chart and desired == release.values:
        result["release"] = release.summary()
        return result
    result["changed"] = True
    if module._diff:
        result["diff"] = masked_values_diff(
            release.values,
            desired,
            f"{release.name} values (revision {release.revision}, chart {release.chart_version})",
            f"{release.name} values (chart {chart['version']})",
            show_values=params["show_values"],
        )
    values_file = _write_values(workdir, desired)
    argv = [
        "upgrade",
        release.name,
        chart["path"],
        "--namespace",
        release.namespace,
        "--values",
        values_file,
        "--reset-values",
        "--timeout",
        f"{params['timeout']}s",
        "--description",
        params["description"] or f"kruise-cri: chart {chart['version']}",
    ]
    if params["wait"]:
        argv.append("--wait")
    before_manifest = cli.manifest(release.name, release.namespace)
    # Rendered first, in a real run too: what it changes says what it needs.
    rendered = cli.json(*argv, "--dry-run=server") or {}
    storage, max_history = _history_settings()
    _refuse_unless_allowed(
        module,
        lambda resource_of: upgrade_needs(
            release.namespace,
            before_manifest,
            rendered.get("manifest"),
            resource_of,
            storage=storage,
            prunes=prunes_history(release.revision, max_history),
            wait=bool(params["wait"]),
        ),
        f"upgrade Helm release {release.name} in namespace {release.namespace}",
    )
    if module.check_mode:
        result["manifest_changes"] = manifest_changes(before_manifest, rendered.get("manifest"))
        result["release"] = {
            **release.summary(),
            "chart_version": chart["version"],
            "app_version": chart["app_version"],
            "values": desired,
        }
        return result
    try:
        upgraded = cli.json(*argv) or {}
    except HelmError as error:
        # helm may have made a revision (status failed) before failing: say which, so that the
        # caller can roll back what this upgrade did, and only that.
        after = cli.release(release.name, release.namespace)
        made = after is not None and after.revision > release.revision
        raise Failure(
            str(error)
            + (f" (helm left revision {after.revision}, {after.status})" if made else ""),
            release=after.summary() if after else None,
            revision_made=after.revision if made else None,
        ) from error
    result["manifest_changes"] = manifest_changes(before_manifest, upgraded.get("manifest"))
    after = cli.release(release.name, release.namespace)
    result["release"] = after.summary() if after else None
    return result


def _rollback(module, cli, release, result) -> dict:
    params = module.params
    revision = params["revision"]
    if revision < 1:
        raise Failure(f"revision {revision} must be 1 or more")
    target_values = cli.values(release.name, release.namespace, revision=revision)
    history = {
        int(entry.get("revision") or 0): entry
        for entry in cli.history(release.name, release.namespace, None)
    }
    target = history.get(revision)
    if target is None:
        raise Failure(
            f"release {release.name} has no revision {revision} (helm history shows "
            f"{sorted(history)})"
        )
    only_from = params.get("only_from_revision")
    if only_from is not None and release.revision != only_from:
        # Not the revision the caller made: someone else has changed the release since.
        latest = history.get(release.revision) or {}
        result["release"] = release.summary()
        result["left_alone"] = (
            f"revision {release.revision} ({release.status}, chart {release.chart_version}"
            f", {latest.get('description') or 'no description'!r}) is not revision {only_from}, "
            f"the one to roll back from: it was not rolled back"
        )
        return result
    target_chart = str(target.get("chart") or "")
    current_chart = f"{release.chart}-{release.chart_version}"
    if (
        release.revision == revision
        or (target_chart == current_chart and target_values == release.values)
    ) and release.status == DEPLOYED:
        result["release"] = release.summary()
        return result
    result["changed"] = True
    if module._diff:
        result["diff"] = masked_values_diff(
            release.values,
            target_values,
            f"{release.name} values (revision {release.revision}, chart {release.chart_version})",
            f"{release.name} values (revision {revision}, {target_chart})",
            show_values=params["show_values"],
        )
    _refuse_unless_allowed_to_roll_back(module, cli, release, revision)
    if module.check_mode:
        result["release"] = release.summary()
        return result
    argv = ["rollback", release.name, str(revision), "--namespace", release.namespace]
    argv += ["--timeout", f"{params['timeout']}s"]
    if params["wait"]:
        argv.append("--wait")
    cli.call(*argv)
    after = cli.release(release.name, release.namespace)
    result["release"] = after.summary() if after else None
    return result


def _refuse_unless_allowed_to_roll_back(
    module: ClusterModule, cli: HelmCli, release: ReleaseState, revision: int
) -> None:
    current = cli.manifest(release.name, release.namespace)
    target = cli.manifest(release.name, release.namespace, revision)
    storage, max_history = _history_settings()
    _refuse_unless_allowed(
        module,
        lambda resource_of: rollback_needs(
            release.namespace,
            current,
            target,
            resource_of,
            storage=storage,
            prunes=prunes_history(release.revision, max_history),
            wait=bool(module.params["wait"]),
        ),
        f"roll back Helm release {release.name} in namespace {release.namespace} to revision "
        f"{revision}",
    )
