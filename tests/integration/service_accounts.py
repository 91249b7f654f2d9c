"""Users with exactly the permissions a test grants: service accounts bound by RBAC to one rule per
permission, and kubeconfigs with their tokens, against a real control plane (the API server's own
RBAC authorizer decides). Shared by the partial-permission and least-privilege tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
)

from kruise_cri.lab.cluster_objects import create_all, ensure_namespace
from kruise_cri.lab.controlplane import ControlPlane
from kruise_cri.lab.waiting import wait_until

RBAC = "rbac.authorization.k8s.io"
TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class Permission:
    """``verb`` on ``resource`` (``pods``, ``pods/eviction``) of API ``group``, in ``namespace``
    (a Role there) or, with None, in every namespace and for cluster-scoped resources (a
    ClusterRole); only the objects ``names`` when given."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    names: tuple[str, ...] = ()

    @property
    def named(self) -> str:
        """``verb resource.group``: how a message names the permission."""
        resource, _unused, subresource = self.resource.partition("/")
        what = resource + (f".{self.group}" if self.group else "")
        return f"{self.verb} {what}" + (f"/{subresource}" if subresource else "")

    @property
    def label(self) -> str:
        """A test id: the permission with its namespace and names."""
        where = f" in {self.namespace}" if self.namespace else ""
        return self.named + where + (f" ({','.join(self.names)})" if self.names else "")

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "apiGroups": [self.group],
            "resources": [self.resource],
            "verbs": [self.verb],
        }
        if self.names:
            rule["resourceNames"] = list(self.names)
        return rule

    def attributes(self) -> dict[str, str]:
        """The SubjectAccessReview attributes of one request this permission allows."""
        resource, _unused, subresource = self.resource.partition("/")
        attributes = {"verb": self.verb, "resource": resource, "group": self.group}
        if subresource:
            attributes["subresource"] = subresource
        if self.namespace:
            attributes["namespace"] = self.namespace
        if self.names:
            attributes["name"] = self.names[0]
        return attributes


def rbac_permissions(
    path: Path, *, not_served: Iterable[tuple[str, str, str]] = ()
) -> list[Permission]:
    """The permissions the Roles and ClusterRoles of an ``rbac/`` file grant, one per verb,
    resource and namespace, in the file's order; those of ``not_served`` ((verb, resource,
    group): kinds the lab's API server does not serve, so that nothing there reads them) left
    out."""
    skipped = set(not_served)
    permissions: list[Permission] = []
    for document in yaml.safe_load_all(path.read_text()):
        if document["kind"] not in ("Role", "ClusterRole"):
            continue
        namespace = document["metadata"].get("namespace") if document["kind"] == "Role" else None
        for rule in document["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        if (verb, resource, group) in skipped:
                            continue
                        permissions.append(
                            Permission(
                                verb,
                                resource,
                                group,
                                namespace,
                                tuple(rule.get("resourceNames") or ()),
                            )
                        )
    return permissions


@dataclass(frozen=True)
class Account:
    name: str
    user: str
    token: str
    kubeconfig: Path


def allowed(kube: KubeClient, user: str, attributes: Mapping[str, str]) -> bool:
    """Whether RBAC, as the API server sees it now, allows ``user`` this request."""
    review = kube.post(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "resourceAttributes": dict(attributes),
            },
        },
    )
    return bool((review.get("status") or {}).get("allowed"))


def _binding(kind: str, name: str, namespace: str | None, subject: dict[str, str]) -> dict:
    role_kind = "ClusterRole" if kind == "ClusterRoleBinding" else "Role"
    metadata: dict[str, str] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": name},
        "subjects": [subject],
    }


def rbac_objects(
    name: str, permissions: Iterable[Permission], accounts_namespace: str
) -> list[dict[str, Any]]:
    """The ServiceAccount ``name``, a ClusterRole for the permissions without a namespace and a
    Role in each namespace for the others, one rule per permission, and their bindings."""
    subject = {"kind": "ServiceAccount", "name": name, "namespace": accounts_namespace}
    by_namespace: dict[str | None, list[Permission]] = {}
    for permission in permissions:
        by_namespace.setdefault(permission.namespace, []).append(permission)
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": accounts_namespace},
        }
    ]
    for namespace, granted in by_namespace.items():
        kind = "Role" if namespace else "ClusterRole"
        metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
        objects.append(
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": kind,
                "metadata": metadata,
                "rules": [permission.rule() for permission in granted],
            }
        )
        objects.append(_binding(f"{kind}Binding", name, namespace, subject))
    return objects


def token_kubeconfig(plane: ControlPlane, path: Path, name: str, token: str) -> Path:
    """A kubeconfig (0600) for ``plane`` whose user is the bearer ``token``."""
    return user_kubeconfig(plane, path, name, {"token": token})


def user_kubeconfig(plane: ControlPlane, path: Path, name: str, user: dict[str, Any]) -> Path:
    """A kubeconfig (0600) for ``plane`` (its CA trusted) whose user ``name`` is ``user``: a
    token, an exec plugin, ..."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "lab",
                        "cluster": {
                            "server": plane.server,
                            "certificate-authority": str(
                                plane.kubeconfig.parent / "pki" / "ca.crt"
                            ),
                        },
                    }
                ],
                "users": [{"name": name, "user": user}],
                "contexts": [{"name": name, "context": {"cluster": "lab", "user": name}}],
                "current-context": name,
            }
        )
    )
    path.chmod(0o600)
    return path


def grant_accounts(
    plane: ControlPlane,
    kube: KubeClient,
    directory: Path,
    accounts: Mapping[str, Sequence[Permission]],
    *,
    accounts_namespace: str,
) -> dict[str, Account]:
    """One service account per entry of ``accounts``, granted exactly its permissions, with a
    kubeconfig in ``directory``. Returns once the API server's authorizer sees every binding
    (each role's first permission is allowed)."""
    ensure_namespace(kube, accounts_namespace)
    for namespace in {p.namespace for granted in accounts.values() for p in granted} - {None}:
        ensure_namespace(kube, namespace)
    objects = [
        obj
        for name, granted in accounts.items()
        for obj in rbac_objects(name, granted, accounts_namespace)
    ]
    # Accounts first: a binding may name an account that does not exist yet, but not usefully.
    create_all(kube, [o for o in objects if o["kind"] == "ServiceAccount"])
    create_all(kube, [o for o in objects if o["kind"] != "ServiceAccount"])

    def user(name: str) -> str:
        return f"system:serviceaccount:{accounts_namespace}:{name}"

    probes = [
        (user(name), first.attributes())
        for name, granted in accounts.items()
        for first in {p.namespace: p for p in reversed(granted)}.values()
    ]
    wait_until(
        f"the API server's authorizer to see the roles of {len(accounts)} service accounts",
        lambda: all(allowed(kube, who, attributes) for who, attributes in probes),
        timeout=30,
    )
    granted_accounts = {}
    for name in accounts:
        token = request_token(kube, accounts_namespace, name)
        path = token_kubeconfig(plane, directory / f"{name}.kubeconfig", name, token)
        granted_accounts[name] = Account(name, user(name), token, path)
    return granted_accounts


def request_token(kube: KubeClient, namespace: str, account: str) -> str:
    """A token of the service account (TokenRequest), valid for TOKEN_SECONDS."""
    return kube.post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": TOKEN_SECONDS},
        },
    )["status"]["token"]


def grant_account(
    plane: ControlPlane,
    kube: KubeClient,
    directory: Path,
    name: str,
    permissions: Sequence[Permission],
    *,
    accounts_namespace: str,
) -> Account:
    """:func:`grant_accounts` for one account."""
    accounts = {name: permissions}
    return grant_accounts(plane, kube, directory, accounts, accounts_namespace=accounts_namespace)[
        name
    ]
