"""The cluster_record module: files and values kept in a ConfigMap or Secret of the cluster, so
that they outlive the job that made them (an AWX job's container, a CI runner).

A record is kruise-cri's own: it carries the label ``app.kubernetes.io/managed-by: kruise-cri``
and an object of that name without it is never overwritten or deleted. Keys are written in the
order given while they fit under ``max_bytes`` (ConfigMaps and Secrets hold at most 1 MiB);
one that does not fit is left out, named in the result and in an annotation, so that a report
too large for the cluster still publishes what fits. Updates carry the ``resourceVersion`` read,
and a lost race (409) reads again.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import (
    Access,
    denied,
    refusal,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.ansible_module import (
    ClusterModule,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)

MANAGED_BY = {"app.kubernetes.io/managed-by": "kruise-cri"}
OMITTED_ANNOTATION = "kruise-cri.openkruise.io/omitted"
# Under the API server's 1 MiB limit for the whole object, with room for its metadata.
DEFAULT_MAX_BYTES = 900 * 1024
KEY_PATTERN = re.compile(r"^[-._a-zA-Z0-9]+$")
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
RESOURCES = {"ConfigMap": "configmaps", "Secret": "secrets"}
MAX_RACES = 5


class RecordError(Exception):
    """A record that cannot be written as asked; the message names the input and the fix."""


@dataclass(frozen=True)
class Contents:
    """What goes into the record: the keys that fit, in order, and those left out."""

    data: dict[str, str]
    omitted: list[str]

    @property
    def size(self) -> int:
        return sum(len(value.encode()) for value in self.data.values())


def fit(items: Sequence[tuple[str, str]], max_bytes: int) -> Contents:
    """The keys of ``items`` that fit under ``max_bytes`` together, in order; each one that
    does not is left out (``key (N bytes)``) and the next ones still tried."""
    data: dict[str, str] = {}
    omitted: list[str] = []
    used = 0
    for key, value in items:
        size = len(value.encode())
        if used + size > max_bytes:
            omitted.append(f"{key} ({size} bytes)")
            continue
        data[key] = value
        used += size
    return Contents(data, omitted)


def check_inputs(params: Mapping[str, Any]) -> None:
    """Raise RecordError for a name, key or cap the API server or this module would refuse."""
    if not NAME_PATTERN.match(params["name"]) or len(params["name"]) > 253:
        raise RecordError(
            f"name={params['name']!r} is not a valid object name: lower-case letters, digits, "
            "'-' and '.', starting and ending with a letter or digit"
        )
    keys = list(params.get("data") or {}) + list(params.get("files") or {})
    bad = [key for key in keys if not KEY_PATTERN.match(key)]
    if bad:
        raise RecordError(
            f"keys {bad} are not valid ConfigMap/Secret keys: use letters, digits, '-', '_' and '.'"
        )
    duplicated = sorted(set(params.get("data") or {}) & set(params.get("files") or {}))
    if duplicated:
        raise RecordError(f"keys {duplicated} are given in both data and files: give each once")
    if params["max_bytes"] < 1:
        raise RecordError(f"max_bytes={params['max_bytes']} must be 1 or more")


def read_items(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``data``'s values, then ``files``' contents (text, on the host that runs the module)."""
    items = [(key, str(value)) for key, value in (params.get("data") or {}).items()]
    for key, path in (params.get("files") or {}).items():
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as stream:
                items.append((key, stream.read()))
        except (OSError, UnicodeDecodeError) as error:
            raise RecordError(f"files.{key}: cannot read {path}: {error}") from error
    return items


def object_path(kind: str, namespace: str, name: str = "") -> str:
    base = f"/api/v1/namespaces/{namespace}/{RESOURCES[kind]}"
    return f"{base}/{name}" if name else base


def needed_access(kind: str, namespace: str, state: str) -> list[Access]:
    verbs = ("get", "create", "update") if state == "present" else ("get", "delete")
    return [Access(verb, RESOURCES[kind], namespace=namespace) for verb in verbs]


def stored_data(kind: str, found: Mapping[str, Any] | None) -> dict[str, str]:
    """The record's data as text (a Secret's decoded)."""
    if not found:
        return {}
    data = found.get("data") or {}
    if kind == "Secret":
        return {
            key: base64.b64decode(value).decode("utf-8", "replace") for key, value in data.items()
        }
    return dict(data)


def desired_object(
    kind: str,
    params: Mapping[str, Any],
    contents: Contents,
    found: Mapping[str, Any] | None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": params["name"],
        "namespace": params["namespace"],
        "labels": {
            **((found or {}).get("metadata", {}).get("labels") or {}),
            **(params.get("labels") or {}),
            **MANAGED_BY,
        },
    }
    annotations = dict((found or {}).get("metadata", {}).get("annotations") or {})
    annotations.pop(OMITTED_ANNOTATION, None)
    if contents.omitted:
        annotations[OMITTED_ANNOTATION] = (
            f"{', '.join(contents.omitted)}: over max_bytes {params['max_bytes']}"
        )
    if annotations:
        metadata["annotations"] = annotations
    if found:
        metadata["resourceVersion"] = found["metadata"]["resourceVersion"]
    body: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
    if kind == "Secret":
        body["type"] = "Opaque"
        body["data"] = {
            key: base64.b64encode(value.encode()).decode() for key, value in contents.data.items()
        }
    else:
        body["data"] = contents.data
    return body


def _get(client: KubeClient, path: str) -> dict[str, Any] | None:
    try:
        return client.get(path)
    except KubeRequestError as error:
        if error.status == 404:
            return None
        raise


def _foreign(found: Mapping[str, Any] | None) -> bool:
    labels = (found or {}).get("metadata", {}).get("labels") or {}
    return found is not None and labels.get("app.kubernetes.io/managed-by") != "kruise-cri"


def present(
    client: KubeClient,
    params: Mapping[str, Any],
    contents: Contents,
    *,
    check_mode: bool,
    diff: bool,
) -> dict[str, Any]:
    kind, namespace, name = params["kind"], params["namespace"], params["name"]
    where = f"{kind} {namespace}/{name}"
    for _race in range(MAX_RACES):
        found = _get(client, object_path(kind, namespace, name))
        if _foreign(found):
            raise RecordError(
                f"{where} exists and is not kruise-cri's (no label app.kubernetes.io/managed-by="
                "kruise-cri): name another, or delete it first"
            )
        before = stored_data(kind, found)
        body = desired_object(kind, params, contents, found)
        unchanged = (
            found is not None
            and before == contents.data
            and (
                (found["metadata"].get("annotations") or {}).get(OMITTED_ANNOTATION)
                == (body["metadata"].get("annotations") or {}).get(OMITTED_ANNOTATION)
            )
            and all(
                (found["metadata"].get("labels") or {}).get(key) == value
                for key, value in body["metadata"]["labels"].items()
            )
        )
        result: dict[str, Any] = {
            "changed": not unchanged,
            "created": found is None,
            "object": f"{namespace}/{name}",
            "keys": list(contents.data),
            "bytes": contents.size,
            "omitted": contents.omitted,
        }
        if diff and not unchanged:
            result["diff"] = record_diff(kind, where, before, contents.data)
        if unchanged or check_mode:
            return result
        try:
            if found is None:
                client.post(object_path(kind, namespace), body)
            else:
                client.send("PUT", object_path(kind, namespace, name), body=body)
            return result
        except KubeRequestError as error:
            if error.status == 409:  # created or updated by someone else since: read again
                continue
            if error.status == 404 and found is None:
                raise RecordError(
                    f"namespace {namespace} does not exist: create it, or give another namespace "
                    f"for {where}"
                ) from error
            raise
    raise RecordError(f"{where} kept changing under this run ({MAX_RACES} tries): try again")


def absent(client: KubeClient, params: Mapping[str, Any], *, check_mode: bool) -> dict[str, Any]:
    kind, namespace, name = params["kind"], params["namespace"], params["name"]
    found = _get(client, object_path(kind, namespace, name))
    result = {"changed": found is not None, "created": False, "object": f"{namespace}/{name}"}
    if found is None:
        return result
    if _foreign(found):
        raise RecordError(
            f"{kind} {namespace}/{name} is not kruise-cri's (no label app.kubernetes.io/managed-by="
            "kruise-cri): it is left alone"
        )
    if not check_mode:
        body = {"preconditions": {"uid": found["metadata"]["uid"]}}
        try:
            client.send("DELETE", object_path(kind, namespace, name), body=body)
        except KubeRequestError as error:
            if error.status not in (404, 409):
                raise
    return result


def record_diff(
    kind: str, where: str, before: Mapping[str, str], after: Mapping[str, str]
) -> dict[str, str]:
    """Each key's text for a ConfigMap; for a Secret, only which keys change and their sizes."""
    if kind == "Secret":

        def shown(data: Mapping[str, str]) -> str:
            return "".join(
                f"{key}: ({len(value.encode())} bytes)\n" for key, value in sorted(data.items())
            )

    else:

        def shown(data: Mapping[str, str]) -> str:
            return "".join(f"--- {key}\n{value}\n" for key, value in sorted(data.items()))

    return {
        "before_header": where,
        "after_header": where,
        "before": shown(before),
        "after": shown(after),
    }


def run_module(module: ClusterModule) -> dict[str, Any]:
    params = module.params
    try:
        check_inputs(params)
        contents = (
            fit(read_items(params), params["max_bytes"]) if params["state"] == "present" else None
        )
    except RecordError as error:
        module.fail_json(msg=f"{error}. Nothing was changed")
    client = module.client()
    where = f"{params['kind']} {params['namespace']}/{params['name']}"
    refused = denied(client, needed_access(params["kind"], params["namespace"], params["state"]))
    if refused:
        doing = "write" if params["state"] == "present" else "delete"
        module.fail_json(msg=refusal(refused, f"{doing} the record {where}"))
    try:
        if params["state"] == "present":
            if contents is None:
                raise ValueError("state=present needs the record's contents")
            result = present(
                client, params, contents, check_mode=module.check_mode, diff=module._diff
            )
            if contents.omitted:
                module.warn(
                    f"{where}: left out {', '.join(contents.omitted)}, over max_bytes "
                    f"{params['max_bytes']}"
                )
            return result
        return absent(client, params, check_mode=module.check_mode)
    except RecordError as error:
        module.fail_json(msg=f"{error}. Nothing was changed")
    except KubeRequestError as error:
        module.fail_json(msg=f"the record {where}: {error}")
    raise AssertionError("fail_json returned")  # pragma: no cover


def list_records(
    client: KubeClient, kind: str, namespace: str, labels: Mapping[str, str], key: str
) -> list[dict[str, Any]]:
    """kruise-cri's records of ``kind`` in ``namespace`` carrying ``labels``, newest first (by
    creation), each with ``content``: its ``key``, base64-encoded (as ``ansible.builtin.slurp``
    gives a file), and ``source``: ``Kind namespace/name``."""
    selector = ",".join(f"{name}={value}" for name, value in {**MANAGED_BY, **labels}.items())
    found = client.get(object_path(kind, namespace), {"labelSelector": selector})
    records = []
    for item in found.get("items") or []:
        metadata = item.get("metadata") or {}
        value = (item.get("data") or {}).get(key)
        if value is None:
            continue
        content = value if kind == "Secret" else base64.b64encode(value.encode()).decode()
        records.append(
            {
                "name": metadata.get("name"),
                "source": f"{kind} {namespace}/{metadata.get('name')}",
                "created": metadata.get("creationTimestamp"),
                "labels": metadata.get("labels") or {},
                "content": content,
            }
        )
    return sorted(
        records, key=lambda record: (record["created"] or "", record["name"]), reverse=True
    )


def run_info_module(module: ClusterModule) -> dict[str, Any]:
    params = module.params
    client = module.client()
    try:
        records = list_records(
            client, params["kind"], params["namespace"], params["labels"], params["key"]
        )
    except KubeRequestError as error:
        if error.status == 403:
            module.fail_json(
                msg=f"the credentials may not list {RESOURCES[params['kind']]} in namespace "
                f"{params['namespace']} (kruise-cri's records): grant it (docs/permissions.md), "
                f"or use other credentials. Nothing was changed. ({error})"
            )
        if error.status == 404:  # no such namespace: no records
            return {"changed": False, "records": []}
        raise
    return {"changed": False, "records": records}
