"""What a change needs the credentials to be allowed, asked of the API server before the change.

A module that changes the cluster lists every request it will make (:class:`Access`) and asks the
API server, one SelfSubjectAccessReview each, whether the credentials may make it. Anything
refused stops the module before its first change, with a message naming each verb and resource
(:func:`refusal`), so that a token missing one permission never leaves half a change behind.

Every authenticated user may create SelfSubjectAccessReviews (the built-in ``system:basic-user``
role). Where a cluster refuses even that, or the review cannot be answered, the request counts as
allowed: the change itself then fails on the first refused request, whose 403 names it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeClient,
    KubeRequestError,
)

REVIEWS_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
PERMISSIONS_DOC = "docs/permissions.md"
# Reviews sent at once: a change of a whole Helm release asks about forty.
REVIEWS_IN_FLIGHT = 8


@dataclass(frozen=True)
class Access:
    """One kind of request: ``verb`` on ``resource`` (``pods``, ``deployments``) of API ``group``
    (``""`` for the core group), optionally its ``subresource`` (``eviction``), one object
    ``name``, and ``namespace`` (None: cluster-scoped, or every namespace). ``why`` says what the
    request is for when that is not obvious (the way back, the check after the change); it
    does not make two requests different."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    subresource: str = ""
    name: str = ""
    why: str = field(default="", compare=False)

    def describe(self) -> str:
        """``create pods/eviction in namespace shop``, ``patch nodes node-3``, ``list pods``,
        ``update leases.coordination.k8s.io in namespace kruise-system``."""
        what = self.resource + (f".{self.group}" if self.group else "")
        if self.subresource:
            what += f"/{self.subresource}"
        if self.name:
            what += f" {self.name}"
        if self.namespace:
            what += f" in namespace {self.namespace}"
        return f"{self.verb} {what}"

    def review(self) -> dict[str, Any]:
        attributes = {"verb": self.verb, "resource": self.resource, "group": self.group}
        for key in ("namespace", "subresource", "name"):
            value = getattr(self, key)
            if value:
                attributes[key] = value
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        }


# The requests of ``needs`` the credentials may not make: :func:`denied` bound to a client, or a
# stand-in in tests.
AccessCheck = Callable[[Iterable[Access]], list[Access]]


def denied(client: KubeClient, needs: Iterable[Access]) -> list[Access]:
    """The requests of ``needs`` the API server says the client's credentials may not make, in
    order, each once. A review the server refuses or cannot answer counts as allowed."""
    unique = list(dict.fromkeys(needs))

    def refused(need: Access) -> bool:
        try:
            answer = client.post(
                REVIEWS_PATH,
                need.review(),
                counted_as="selfsubjectaccessreviews",
                # A review changes nothing: sending it again is harmless.
                idempotent=True,
            )
        except KubeRequestError:
            return False
        status = (answer or {}).get("status") or {}
        return not status.get("allowed") and not status.get("evaluationError")

    if not unique:
        return []
    with ThreadPoolExecutor(max_workers=min(REVIEWS_IN_FLIGHT, len(unique))) as pool:
        answers = list(pool.map(refused, unique))
    return [need for need, is_refused in zip(unique, answers, strict=True) if is_refused]


def checker(client: KubeClient) -> AccessCheck:
    """:func:`denied` for ``client``."""
    return lambda needs: denied(client, needs)


def refusal(refused: Sequence[Access], doing: str) -> str:
    """The message of a change refused before it began: what it would do, each missing
    permission (with what it is for, when that is not obvious), the fix."""
    listed = "; ".join(
        access.describe() + (f" ({access.why})" if access.why else "") for access in refused
    )
    return (
        f"the credentials may not {doing}: they lack {listed}. Grant "
        f"{'it' if len(refused) == 1 else 'them'} (the permissions each playbook needs are in "
        f"{PERMISSIONS_DOC}) or use other credentials. Nothing was changed."
    )


def refusal_if_denied(check: AccessCheck | None, needs: Iterable[Access], doing: str) -> str | None:
    """The refusal when ``check`` finds a request of ``needs`` denied; None when all are
    allowed, or when there is no ``check``."""
    if check is None:
        return None
    refused = check(needs)
    return refusal(refused, doing) if refused else None
