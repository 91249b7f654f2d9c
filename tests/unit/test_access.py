"""Access: the requests a change needs, asked of the API server (SelfSubjectAccessReview) before
the change, and the refusal that names each missing one."""

from __future__ import annotations

import threading
from typing import Any

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import Access
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)


class ReviewingServer:
    """Answers SelfSubjectAccessReviews: allowed unless the attributes are in ``refused``;
    ``failing`` answers 403 to the review itself, ``errors`` an evaluationError."""

    def __init__(self, refused=(), *, failing=False, errors=()):
        self.refused = [dict(a) for a in refused]
        self.failing = failing
        self.errors = [dict(a) for a in errors]
        self.reviews: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        assert path == access.REVIEWS_PATH
        assert kwargs["idempotent"] is True
        attributes = body["spec"]["resourceAttributes"]
        with self.lock:
            self.reviews.append(attributes)
        if self.failing:
            raise KubeRequestError(403, path, "selfsubjectaccessreviews is forbidden")
        if attributes in self.errors:
            return {"status": {"allowed": False, "evaluationError": "webhook timed out"}}
        return {"status": {"allowed": attributes not in self.refused}}


def test_describe_names_verb_resource_group_subresource_name_and_namespace():
    assert Access("list", "pods").describe() == "list pods"
    assert Access("patch", "nodes", name="n1").describe() == "patch nodes n1"
    assert (
        Access("create", "pods", namespace="shop", subresource="eviction").describe()
        == "create pods/eviction in namespace shop"
    )
    assert (
        Access("update", "leases", "coordination.k8s.io", "kruise-system").describe()
        == "update leases.coordination.k8s.io in namespace kruise-system"
    )


def test_the_review_carries_only_the_attributes_given():
    assert Access("get", "deployments", "apps", "ns", name="m").review()["spec"] == {
        "resourceAttributes": {
            "verb": "get",
            "resource": "deployments",
            "group": "apps",
            "namespace": "ns",
            "name": "m",
        }
    }
    assert Access("list", "nodes").review()["spec"]["resourceAttributes"] == {
        "verb": "list",
        "resource": "nodes",
        "group": "",
    }


def test_why_does_not_make_two_requests_different():
    assert Access("get", "secrets", namespace="d") == Access(
        "get", "secrets", namespace="d", why="x"
    )
    assert len({Access("list", "pods"), Access("list", "pods", why="the health check")}) == 1


def test_denied_lists_the_refused_requests_in_order_each_once():
    needs = [
        Access("get", "nodes", name="n1"),
        Access("patch", "nodes", name="n1"),
        Access("list", "pods"),
        Access("patch", "nodes", name="n1", why="uncordon after a failure"),
        Access("create", "pods", namespace="a", subresource="eviction"),
    ]
    server = ReviewingServer(
        [
            needs[4].review()["spec"]["resourceAttributes"],
            needs[1].review()["spec"]["resourceAttributes"],
        ]
    )
    assert access.denied(server, needs) == [needs[1], needs[4]]  # type: ignore[arg-type]
    assert len(server.reviews) == 4
    assert access.denied(server, []) == []  # type: ignore[arg-type]


def test_a_review_that_cannot_be_answered_counts_as_allowed():
    need = Access("delete", "daemonsets", "apps", "kruise-system", name="kruise-daemon")
    assert access.denied(ReviewingServer(failing=True), [need]) == []  # type: ignore[arg-type]
    errors = [need.review()["spec"]["resourceAttributes"]]
    assert access.denied(ReviewingServer(errors=errors), [need]) == []  # type: ignore[arg-type]


def test_the_refusal_names_each_permission_what_it_is_for_and_the_fix():
    refused = [
        Access("create", "daemonsets", "apps", "kruise-system", why="to roll back"),
        Access("list", "pods", namespace="kruise-system"),
    ]
    message = access.refusal(refused, "upgrade Helm release kruise in namespace default")
    assert message == (
        "the credentials may not upgrade Helm release kruise in namespace default: they lack "
        "create daemonsets.apps in namespace kruise-system (to roll back); list pods in namespace "
        "kruise-system. Grant them (the permissions each playbook needs are in "
        "docs/permissions.md) or use other credentials. Nothing was changed."
    )
    assert "Grant it " in access.refusal(refused[1:], "x")


def test_refusal_if_denied():
    need = Access("patch", "nodes", name="n1")
    assert access.refusal_if_denied(None, [need], "cordon node n1") is None
    assert access.refusal_if_denied(lambda needs: [], [need], "cordon node n1") is None
    refused = access.refusal_if_denied(list, [need], "cordon node n1")
    assert refused is not None
    assert refused.startswith("the credentials may not cordon node n1: they lack patch nodes n1.")
