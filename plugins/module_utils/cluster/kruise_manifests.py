"""Edits of a manifest-installed OpenKruise: the manager's and daemon's images and
``--feature-gates``, and the kruise-daemon DaemonSet removed (saved first) or restored.

The functions that decide what to patch are pure; :func:`apply_edits` sends the requests through a
:class:`KubeClient` (with ``dryRun=All`` in check mode, so the API server validates every change
and stores none). Removing the DaemonSet first saves it, with the manager's ``--feature-gates`` as
it was, in the ConfigMap :data:`RECORD_CONFIGMAP` of the kruise namespace; restoring it recreates it
from there and then deletes the record.

Before its reads, and again before its first change (in check mode too), it asks the API server
whether the credentials may make every request: the reads (:func:`read_needs`), the change, its
way back and the health check that follows it (:func:`change_needs`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import (
    Access,
    AccessCheck,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_info import (
    flag_value,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_gate import (
    RECORD_DAEMONSET,
    RECORD_FEATURE_GATES,
    RECORD_FEATURE_GATES_SET,
)

if TYPE_CHECKING:
    from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
        ClusterModule,
    )

RECORD_CONFIGMAP = "kruise-cri-daemon-gate"
MANAGED_BY = {"app.kubernetes.io/managed-by": "kruise-cri"}
FEATURE_GATES_FLAG = "--feature-gates"
DAEMON_STATES = ("present", "absent")
# Metadata the API server owns: dropped from a saved object so it can be created again.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_SERVER_ANNOTATIONS = ("deprecated.daemonset.template.generation",)


class ManifestError(Exception):
    """The objects are not what the edit needs (a missing Deployment, no saved DaemonSet)."""


def container_index(workload: Mapping[str, Any], preferred: str, image_hint: str) -> int:
    """The index of the container named ``preferred``, else of the first whose image contains
    ``image_hint``, else 0. Raises ManifestError when there is no container."""
    containers = _containers(workload)
    if not containers:
        raise ManifestError(f"{_describe(workload)} has no containers")
    for index, container in enumerate(containers):
        if container.get("name") == preferred:
            return index
    for index, container in enumerate(containers):
        if image_hint in str(container.get("image") or ""):
            return index
    return 0


def _containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    return list(spec.get("containers") or [])


def _describe(workload: Mapping[str, Any]) -> str:
    metadata = workload.get("metadata") or {}
    return f"{workload.get('kind', 'object')} {metadata.get('namespace')}/{metadata.get('name')}"


def container_gates(container: Mapping[str, Any]) -> str | None:
    args = [str(a) for a in (container.get("command") or [])] + [
        str(a) for a in (container.get("args") or [])
    ]
    return flag_value(args, FEATURE_GATES_FLAG)


def with_flag(items: list[str], flag: str, value: str) -> tuple[list[str], bool]:
    """``items`` with ``flag``'s value set (``--flag=value`` or ``--flag value`` replaced in
    place); whether the flag was there."""
    result = list(items)
    found = False
    index = 0
    while index < len(result):
        item = result[index]
        if item.startswith(f"{flag}="):
            result[index] = f"{flag}={value}"
            found = True
        elif item == flag and index + 1 < len(result):
            result[index + 1] = value
            found = True
            index += 1
        index += 1
    return result, found


def container_edit(
    container: Mapping[str, Any], *, image: str | None, feature_gates: str | None
) -> dict[str, Any]:
    """The container fields to patch (name plus changed ``image``/``args``/``command``); only
    ``name`` when nothing changes. ``feature_gates`` of ``""`` and an absent flag are equal."""
    edit: dict[str, Any] = {"name": container.get("name")}
    if image is not None and container.get("image") != image:
        edit["image"] = image
    if feature_gates is not None and (container_gates(container) or "") != feature_gates:
        args = [str(a) for a in container.get("args") or []]
        command = [str(a) for a in container.get("command") or []]
        new_args, in_args = with_flag(args, FEATURE_GATES_FLAG, feature_gates)
        new_command, in_command = with_flag(command, FEATURE_GATES_FLAG, feature_gates)
        if in_args:
            edit["args"] = new_args
        if in_command:
            edit["command"] = new_command
        if not in_args and not in_command:
            edit["args"] = [*args, f"{FEATURE_GATES_FLAG}={feature_gates}"]
    return edit


def template_patch(edit: Mapping[str, Any]) -> dict[str, Any] | None:
    """A strategic merge patch of one container of a pod template; None when ``edit`` holds only
    the container's name. Containers merge by name; a list given (args) replaces the old one."""
    if len(edit) <= 1:
        return None
    return {"spec": {"template": {"spec": {"containers": [dict(edit)]}}}}


def apply_edit_to_object(workload: Mapping[str, Any], index: int, edit: Mapping[str, Any]) -> dict:
    """A copy of ``workload`` with ``edit`` applied to its container ``index``."""
    changed = copy.deepcopy(dict(workload))
    container = changed["spec"]["template"]["spec"]["containers"][index]
    container.update({k: v for k, v in edit.items() if k != "name"})
    return changed


def saved_object(workload: Mapping[str, Any]) -> dict[str, Any]:
    """``workload`` without status and the metadata the API server owns: what can be created
    again."""
    saved = copy.deepcopy(dict(workload))
    saved.pop("status", None)
    metadata = saved.setdefault("metadata", {})
    for key in _SERVER_METADATA:
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    for key in _SERVER_ANNOTATIONS:
        annotations.pop(key, None)
    if "annotations" in metadata and not annotations:
        metadata.pop("annotations")
    saved.setdefault("apiVersion", "apps/v1")
    saved.setdefault("kind", "DaemonSet")
    return saved


def summary(
    deployment: Mapping[str, Any] | None,
    daemonset: Mapping[str, Any] | None,
    manager_index: int,
    daemon_index: int | None,
) -> dict[str, Any]:
    def part(workload: Mapping[str, Any] | None, index: int | None) -> dict[str, Any] | None:
        if workload is None or index is None:
            return None
        container = _containers(workload)[index]
        return {
            "name": (workload.get("metadata") or {}).get("name"),
            "image": container.get("image"),
            "feature_gates": container_gates(container),
        }

    return {"manager": part(deployment, manager_index), "daemon": part(daemonset, daemon_index)}


def read_needs(namespace: str, manager_name: str, daemon_name: str) -> list[Access]:
    """What every call reads: the manager Deployment, the DaemonSet and the saved record."""
    return [
        Access("get", "deployments", "apps", namespace, name=manager_name),
        Access("get", "daemonsets", "apps", namespace, name=daemon_name),
        Access("get", "configmaps", namespace=namespace, name=RECORD_CONFIGMAP),
    ]


def change_needs(
    namespace: str,
    manager_name: str,
    daemon_name: str,
    *,
    manager_patched: bool,
    daemon_change: str | None,
    record_change: str | None,
) -> list[Access]:
    """What a change needs: the Deployment patched or not; ``daemon_change`` the DaemonSet's
    (``patch``, ``delete``, ``create`` or None); ``record_change`` the ConfigMap's (``create``,
    ``update``, ``delete`` or None). With it, its way back (the roles put the images and gates
    back, recreate a deleted DaemonSet from the record, delete a created one after saving it
    again) and the reads of the health check that follows (kruise_wait's ``read_needs``): a
    change those credentials could not check or undo is not begun. Nothing: no change."""
    if not manager_patched and daemon_change is None and record_change is None:
        return []
    back = "to restore the state before if the change fails"
    needs: list[Access] = []
    if manager_patched:
        needs.append(Access("patch", "deployments", "apps", namespace, name=manager_name))
    if record_change == "create":
        needs.append(Access("create", "configmaps", namespace=namespace))
    elif record_change == "update":
        needs.append(Access("update", "configmaps", namespace=namespace, name=RECORD_CONFIGMAP))
    if daemon_change == "patch":
        needs.append(Access("patch", "daemonsets", "apps", namespace, name=daemon_name))
    elif daemon_change == "delete":
        needs += [
            Access("delete", "daemonsets", "apps", namespace, name=daemon_name),
            Access("create", "daemonsets", "apps", namespace, why=back),
            Access("delete", "configmaps", namespace=namespace, name=RECORD_CONFIGMAP, why=back),
        ]
    elif daemon_change == "create":
        needs += [
            Access("create", "daemonsets", "apps", namespace),
            Access("create", "configmaps", namespace=namespace, why=back),
            Access("delete", "daemonsets", "apps", namespace, name=daemon_name, why=back),
        ]
    if record_change == "delete":
        needs.append(Access("delete", "configmaps", namespace=namespace, name=RECORD_CONFIGMAP))
    # kruise_wait's reads (module_utils/cluster/kruise_wait.py read_needs, which imports this
    # module): the two gets are the reads above; its pods, listed in the namespace.
    needs.append(
        Access("list", "pods", namespace=namespace, why="the health check after the change")
    )
    return needs


def apply_edits(
    client: KubeClient,
    namespace: str,
    *,
    manager_name: str,
    daemon_name: str,
    manager_image: str | None = None,
    daemon_image: str | None = None,
    feature_gates: str | None = None,
    daemon: str | None = None,
    daemonset: Mapping[str, Any] | None = None,
    check_mode: bool = False,
    access_check: AccessCheck | None = None,
) -> dict[str, Any]:
    """Make the edits; returns changed, before, after, record and actions. Raises
    ManifestError (also when ``access_check``, :func:`.access.checker`, finds a request
    denied), KubeRequestError or KubeAccessError."""
    if daemon not in (None, *DAEMON_STATES):
        raise ManifestError(f"daemon must be one of {', '.join(DAEMON_STATES)}")
    doing = f"edit OpenKruise's manifests in namespace {namespace}"
    refusal = access.refusal_if_denied(
        access_check, read_needs(namespace, manager_name, daemon_name), doing
    )
    if refusal:
        raise ManifestError(refusal)
    dry = {"dryRun": "All"} if check_mode else None
    base = f"/apis/apps/v1/namespaces/{namespace}"
    deployment = _get(client, f"{base}/deployments/{manager_name}")
    if deployment is None:
        raise ManifestError(
            f"no Deployment {manager_name} in namespace {namespace}: is OpenKruise installed there?"
        )
    current_ds = _get(client, f"{base}/daemonsets/{daemon_name}")
    record_path = f"/api/v1/namespaces/{namespace}/configmaps/{RECORD_CONFIGMAP}"
    record_object = _get(client, record_path)
    record = dict((record_object or {}).get("data") or {})

    manager_index = container_index(deployment, "manager", "kruise-manager")
    daemon_index = container_index(current_ds, "daemon", "kruise") if current_ds else None
    before = summary(deployment, current_ds, manager_index, daemon_index)
    actions: list[str] = []

    manager_edit = container_edit(
        _containers(deployment)[manager_index], image=manager_image, feature_gates=feature_gates
    )
    manager_patch = template_patch(manager_edit)
    after_deployment = apply_edit_to_object(deployment, manager_index, manager_edit)
    after_ds: dict[str, Any] | None = dict(current_ds) if current_ds else None
    after_daemon_index = daemon_index

    # What changes, decided before anything is sent.
    daemon_change: str | None = None
    record_change: str | None = None
    saved: dict[str, str] | None = None
    created: dict[str, Any] | None = None
    daemon_edit: dict[str, Any] = {}
    daemon_patch = None
    if daemon == "absent" and current_ds is not None:
        daemon_change = "delete"
        record_change = "create" if record_object is None else "update"
        manager_gates = container_gates(_containers(deployment)[manager_index])
        saved = {
            RECORD_FEATURE_GATES: manager_gates or "",
            RECORD_FEATURE_GATES_SET: "true" if manager_gates is not None else "false",
            RECORD_DAEMONSET: json.dumps(saved_object(current_ds), sort_keys=True),
        }
    elif daemon == "present" and current_ds is None:
        source = daemonset or _saved_daemonset(record)
        if source is None:
            raise ManifestError(
                f"DaemonSet {namespace}/{daemon_name} is gone and ConfigMap {RECORD_CONFIGMAP} "
                "holds no saved copy: re-apply your kruise manifests' DaemonSet (or give "
                "daemonset=)"
            )
        created = saved_object(source)
        created["metadata"]["namespace"] = namespace
        created["metadata"]["name"] = daemon_name
        created_index = container_index(created, "daemon", "kruise")
        edit = container_edit(
            _containers(created)[created_index], image=daemon_image, feature_gates=feature_gates
        )
        created = apply_edit_to_object(created, created_index, edit)
        after_daemon_index = created_index
        daemon_change = "create"
        record_change = "delete" if record_object is not None else None
    elif current_ds is not None and daemon_index is not None:
        daemon_edit = container_edit(
            _containers(current_ds)[daemon_index], image=daemon_image, feature_gates=feature_gates
        )
        daemon_patch = template_patch(daemon_edit)
        daemon_change = "patch" if daemon_patch else None

    refusal = access.refusal_if_denied(
        access_check,
        change_needs(
            namespace,
            manager_name,
            daemon_name,
            manager_patched=manager_patch is not None,
            daemon_change=daemon_change,
            record_change=record_change,
        ),
        doing,
    )
    if refusal:
        raise ManifestError(refusal)

    # 0. Saved before anything changes: the DaemonSet to delete and the manager's gates.
    if saved is not None:
        record = saved
        if not check_mode:
            _write_record(client, namespace, record_path, record_object, record)

    # 1. The manager: image and --feature-gates.
    if manager_patch:
        client.patch(
            f"{base}/deployments/{manager_name}",
            manager_patch,
            merge=False,
            params=dry,
            counted_as="deployments",
        )
        actions.append(f"patched Deployment {namespace}/{manager_name}: {_fields(manager_edit)}")

    # 2. The daemon: removed (saved first), restored, or edited in place.
    if daemon_change == "delete":
        client.delete(
            f"{base}/daemonsets/{daemon_name}",
            params={**(dry or {}), "propagationPolicy": "Background"},
            counted_as="daemonsets",
        )
        actions.append(
            f"saved DaemonSet {namespace}/{daemon_name} in ConfigMap {RECORD_CONFIGMAP}, "
            "then deleted it"
        )
        after_ds = None
        after_daemon_index = None
    elif daemon_change == "create" and created is not None:
        client.post(f"{base}/daemonsets", created, params=dry, counted_as="daemonsets")
        actions.append(f"created DaemonSet {namespace}/{daemon_name} from the saved copy")
        if not check_mode and record_object is not None:
            client.delete(record_path, counted_as="configmaps")
            record = {}
        after_ds = created
    elif daemon_change == "patch" and current_ds is not None:
        client.patch(
            f"{base}/daemonsets/{daemon_name}",
            daemon_patch,
            merge=False,
            params=dry,
            counted_as="daemonsets",
        )
        actions.append(f"patched DaemonSet {namespace}/{daemon_name}: {_fields(daemon_edit)}")
        after_ds = apply_edit_to_object(current_ds, daemon_index or 0, daemon_edit)

    after = summary(after_deployment, after_ds, manager_index, after_daemon_index)
    return {
        "changed": bool(actions),
        "before": before,
        "after": after,
        "record": record,
        "actions": actions,
    }


def _fields(edit: Mapping[str, Any]) -> str:
    parts = []
    if "image" in edit:
        parts.append(f"image {edit['image']}")
    for key in ("args", "command"):
        if key in edit:
            gates = flag_value(edit[key], FEATURE_GATES_FLAG)
            parts.append(f"{FEATURE_GATES_FLAG}={gates}")
    return ", ".join(parts)


def _saved_daemonset(record: Mapping[str, Any]) -> dict[str, Any] | None:
    text = record.get(RECORD_DAEMONSET)
    if not text:
        return None
    try:
        saved = json.loads(text)
    except ValueError as error:
        raise ManifestError(
            f"ConfigMap {RECORD_CONFIGMAP} holds no valid DaemonSet: {error}"
        ) from error
    return saved if isinstance(saved, dict) else None


def _write_record(
    client: KubeClient,
    namespace: str,
    path: str,
    existing: Mapping[str, Any] | None,
    data: Mapping[str, str],
) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": RECORD_CONFIGMAP, "namespace": namespace, "labels": MANAGED_BY},
        "data": dict(data),
    }
    if existing is None:
        client.post(f"/api/v1/namespaces/{namespace}/configmaps", body, counted_as="configmaps")
    else:
        client.send("PUT", path, body=body, counted_as="configmaps")


def _get(client: KubeClient, path: str) -> dict[str, Any] | None:
    try:
        return client.get(path, counted_as=path.rsplit("/", 2)[-2])
    except KubeRequestError as error:
        if error.status == 404:
            return None
        raise


def run_module(module: ClusterModule) -> dict[str, Any]:
    """The kruise_manifests module's result, with the diff in diff mode."""
    params = module.params
    client = module.client()
    try:
        result = apply_edits(
            client,
            params["namespace"],
            manager_name=params["manager_name"],
            daemon_name=params["daemon_name"],
            manager_image=params["manager_image"],
            daemon_image=params["daemon_image"],
            feature_gates=params["feature_gates"],
            daemon=params["daemon"],
            daemonset=params["daemonset"],
            check_mode=module.check_mode,
            access_check=access.checker(client),
        )
    except ManifestError as error:
        module.fail_json(msg=str(error))
    if module._diff and result["changed"]:
        result["diff"] = {
            "before": yaml.safe_dump(result["before"], sort_keys=True),
            "after": yaml.safe_dump(result["after"], sort_keys=True),
            "before_header": f"OpenKruise in {params['namespace']} (before)",
            "after_header": f"OpenKruise in {params['namespace']} (after)",
        }
    return result
