"""The pure readers of cluster objects behind kruise_info."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    kruise_info as kc,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    continue_token,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.feature_gates import (
    parse_feature_gates,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (
    version_from_image,
)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (None, {}),
        ("", {}),
        ("ImagePullJobGate=true", {"ImagePullJobGate": True}),
        ("A=true,KruiseDaemon=false", {"A": True, "KruiseDaemon": False}),
        (" A=true , KruiseDaemon=False ", {"A": True, "KruiseDaemon": False}),
        ("A=1,B=0,C=t,D=F", {"A": True, "B": False, "C": True, "D": False}),
        ("A=maybe,B,=true", {}),
    ],
)
def test_feature_gates_parse_like_the_binaries(argument, expected):
    assert parse_feature_gates(argument) == expected


def test_daemon_is_enabled_unless_the_gate_says_false():
    assert kc.feature_gates_entry([])["daemon_enabled"] is True
    entry = kc.feature_gates_entry(
        ["--enable-leader-election", "--feature-gates=KruiseDaemon=false"]
    )
    assert entry == {
        "argument": "KruiseDaemon=false",
        "gates": {"KruiseDaemon": False},
        "daemon_enabled": False,
    }


def test_flag_value_takes_both_spellings_and_the_last_one():
    args = ["--socket-file", "a.sock", "--x", "--socket-file=b.sock"]
    assert kc.flag_value(args, "--socket-file") == "b.sock"
    assert kc.flag_value(["--socket-file", "c.sock"], "--socket-file") == "c.sock"
    assert kc.flag_value(["--socket-file"], "--socket-file") is None


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("openkruise/kruise-manager:v1.6.3", "1.6.3"),
        ("registry.local:5000/openkruise/kruise-manager:1.5.5", "1.5.5"),
        ("openkruise/kruise-manager:v1.7.0-rc.1", "1.7.0"),
        ("openkruise/kruise-manager@sha256:" + "a" * 64, None),
        ("registry.local:5000/kruise-manager", None),
        ("openkruise/kruise-manager:latest", None),
        (None, None),
    ],
)
def test_version_comes_from_the_manager_image_tag(image, version):
    assert version_from_image(image) == version


def _helm_secret_value(release: dict) -> str:
    once = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return base64.b64encode(once).decode()


def test_helm_release_decodes_from_a_secret_and_a_configmap():
    release = {
        "name": "kruise",
        "namespace": "kruise-system",
        "version": 3,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "kruise", "version": "1.6.3", "appVersion": "1.6.3"}},
        "config": {"featureGates": "ImagePullJobGate=true"},
    }
    from_secret = kc.decode_helm_release(_helm_secret_value(release))
    from_configmap = kc.decode_helm_release(
        base64.b64encode(gzip.compress(json.dumps(release).encode())).decode()
    )
    assert from_secret == from_configmap == release
    assert kc.helm_release_summary(release) == {
        "release": "kruise",
        "namespace": "kruise-system",
        "revision": 3,
        "status": "deployed",
        "chart": "kruise",
        "chart_version": "1.6.3",
        "app_version": "1.6.3",
        "values": {"featureGates": "ImagePullJobGate=true"},
    }


def test_a_broken_helm_release_is_a_value_error():
    with pytest.raises(ValueError):
        kc.decode_helm_release(base64.b64encode(b"[1, 2]").decode())


def _daemon_pod(**status) -> dict:
    return {
        "metadata": {"name": "kruise-daemon-x"},
        "spec": {"nodeName": "node-1"},
        "status": status,
    }


def test_daemon_pod_in_back_off_is_crash_looping_with_its_last_message():
    pod = _daemon_pod(
        phase="Running",
        containerStatuses=[
            {
                "ready": False,
                "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {
                    "terminated": {
                        "exitCode": 1,
                        "message": "CRI v1 runtime API is not implemented",
                    }
                },
            }
        ],
    )
    state = kc.daemon_pod_state(pod)
    assert state["state"] == "crash-looping"
    assert state["restarts"] == 7
    assert state["last_exit_code"] == 1
    assert state["last_message"] == "CRI v1 runtime API is not implemented"


def test_daemon_pod_restarting_between_back_offs_is_still_crash_looping():
    pod = _daemon_pod(
        phase="Running",
        containerStatuses=[
            {
                "ready": False,
                "restartCount": 4,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}},
            }
        ],
    )
    assert kc.daemon_pod_state(pod)["state"] == "crash-looping"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (
            {"phase": "Running", "containerStatuses": [{"ready": True, "restartCount": 1}]},
            "running",
        ),
        ({"phase": "Pending"}, "pending"),
        ({"phase": "Failed"}, "failed"),
    ],
)
def test_other_daemon_pod_states(status, state):
    assert kc.daemon_pod_state(_daemon_pod(**status))["state"] == state


def test_node_entry_splits_the_runtime_version():
    node = {
        "metadata": {"name": "n1"},
        "spec": {"unschedulable": True},
        "status": {
            "nodeInfo": {
                "containerRuntimeVersion": "docker://20.10.24",
                "kubeletVersion": "v1.23.17",
            },
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    entry = kc.node_entry(node)
    assert entry["runtime"] == "docker"
    assert entry["runtime_version"] == "20.10.24"
    assert entry["kubelet_version"] == "v1.23.17"
    assert entry["ready"] is True
    assert entry["unschedulable"] is True
    blank = kc.node_entry({"metadata": {"name": "n2"}, "status": {}})
    assert (blank["runtime"], blank["runtime_version"], blank["ready"]) == (None, None, False)


def _job_pod(name: str, *envs: dict, restart_policy: str = "Never", init: bool = False) -> dict:
    containers = [{"name": "main"}, {"name": "sidecar", "env": list(envs)}]
    spec: dict = {"restartPolicy": restart_policy, "containers": containers[:1]}
    spec["initContainers" if init else "containers"] = containers[1:] if init else containers
    return {"metadata": {"namespace": "jobs", "name": name}, "spec": spec}


def test_sidecar_terminator_pods_are_found_as_kruise_manager_finds_them():
    """isSidecar/isInterestingPod of pkg/controller/sidecarterminator: containers (not init
    containers) of pods not restarted always, env true or with-image set."""
    flag = {"name": "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT", "value": "True"}
    with_image = {"name": "KRUISE_TERMINATE_SIDECAR_WHEN_JOB_EXIT_WITH_IMAGE", "value": "busybox"}
    page = {
        "items": [
            _job_pod("flag", flag),
            _job_pod("with-image", with_image, restart_policy="OnFailure"),
            _job_pod("flag-false", {**flag, "value": "false"}),
            _job_pod("image-empty", {**with_image, "value": ""}),
            _job_pod("always", flag, restart_policy="Always"),
            _job_pod("init-container", flag, init=True),
            {"metadata": {"namespace": "jobs", "name": "bare"}, "spec": {"containers": [{}]}},
        ]
    }
    assert kc.pods_with_sidecar_terminator(page) == ["jobs/flag", "jobs/with-image"]


def test_feature_use_summary_counts_only_what_needs_the_daemon():
    kinds = {
        "ContainerRecreateRequest": {"crd": True, "count": 3},
        "ImagePullJob": {"crd": True, "count": 2, "active": 1},
        "ImageListPullJob": {"crd": True, "count": 1, "active": 0},
        "NodeImage": {"crd": True, "count": 6, "with_images": 0},
        "PodProbeMarker": {"crd": False, "count": 0},
    }
    assert kc.feature_use_summary(kinds, predownload=1, sidecar=0) == [
        "3 ContainerRecreateRequests",
        "1 active ImagePullJob",
        "1 workload with image pre-download annotations",
    ]


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        (
            b'{"kind":"PodList","metadata":{"resourceVersion":"9","continue":"eyJ2"},"items":[]}',
            "eyJ2",
        ),
        (b'{"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[{"continue":"x"}]}', None),
        (b'{"metadata":{"continue":""},"items":[]}', None),
        (
            b'{"apiVersion":"apps.kruise.io/v1alpha1","items":[{"metadata":{"name":"n",'
            b'"annotations":{"continue":"no"}}}],"kind":"NodeImageList",'
            b'"metadata":{"continue":"eyJ2","resourceVersion":"9"}}',
            "eyJ2",
        ),
        (
            b'{"apiVersion":"apps.kruise.io/v1alpha1","items":[{"metadata":{"name":"n"}}],'
            b'"kind":"NodeImageList","metadata":{"resourceVersion":"9"}}',
            None,
        ),
    ],
    ids=["built-in", "built-in-last-page", "empty-token", "custom-resources", "cr-last-page"],
)
def test_continue_token_is_found_where_the_server_writes_metadata(raw, token):
    assert continue_token(raw) == token


NODE_TABLE_COLUMNS = [
    "Name",
    "Status",
    "Roles",
    "Age",
    "Version",
    "Internal-IP",
    "External-IP",
    "OS-Image",
    "Kernel-Version",
    "Container-Runtime",
]


def test_node_entry_from_the_servers_node_table():
    cells = [
        "n1",
        "Ready,SchedulingDisabled",
        "<none>",
        "5m",
        "v1.23.17",
        "10.0.0.1",
        "<none>",
        "Debian",
        "6.1",
        "docker://20.10.24",
    ]
    entry = kc.node_entry_from_row(NODE_TABLE_COLUMNS, cells)
    assert entry == {
        **kc.node_entry(
            {
                "metadata": {"name": "n1"},
                "spec": {"unschedulable": True},
                "status": {
                    "nodeInfo": {
                        "containerRuntimeVersion": "docker://20.10.24",
                        "kubeletVersion": "v1.23.17",
                    },
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )
    }
    not_ready = kc.node_entry_from_row(NODE_TABLE_COLUMNS, ["n2", "NotReady", *cells[2:]])
    assert not_ready is not None
    assert (not_ready["ready"], not_ready["unschedulable"]) == (False, False)


def test_a_node_table_without_the_needed_columns_gives_no_entry():
    assert kc.node_entry_from_row(["Name", "Status"], ["n1", "Ready"]) is None
    assert kc.node_entry_from_row(NODE_TABLE_COLUMNS, ["n1"]) is None


# ---------------------------------------------------------------------------------------------
# What a refused read leaves: unknown, with the permission it lacked


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("/apis/apps/v1/deployments", "list deployments.apps"),
        ("/api/v1/namespaces/default/secrets", "list secrets in default"),
        ("/api/v1/pods", "list pods"),
        (
            "/apis/apps.kruise.io/v1alpha1/containerrecreaterequests",
            "list containerrecreaterequests.apps.kruise.io",
        ),
        (
            "/apis/apps/v1/namespaces/kruise-system/daemonsets",
            "list daemonsets.apps in kruise-system",
        ),
    ],
)
def test_the_permission_a_request_needs(path, permission):
    assert kc.permission_for(path) == permission


def test_helm_ownership_comes_from_what_helm_writes_on_its_objects():
    annotated = {
        "metadata": {
            "namespace": "kruise-system",
            "annotations": {
                "meta.helm.sh/release-name": "kruise",
                "meta.helm.sh/release-namespace": "default",
            },
        }
    }
    labelled = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    plain = {"metadata": {"namespace": "kruise-system", "labels": {"app": "kruise"}}}
    assert kc.helm_owner(annotated) == (True, "kruise", "default")
    assert kc.helm_owner(plain, annotated) == (True, "kruise", "default")
    assert kc.helm_owner(labelled, None) == (True, None, None)
    assert kc.helm_owner(plain, None) == (False, None, None)


class FakeReader:
    """Answers like an API server whose RBAC refuses every path in ``forbidden`` (403)."""

    def __init__(
        self, objects: dict[str, list[dict]], forbidden: set[str], *, crds: bool = True
    ) -> None:
        self.objects = objects
        self.forbidden = forbidden
        self.crds = crds
        self.settings = type("Settings", (), {"host": "https://127.0.0.1:6443"})()

    def _check(self, path: str) -> None:
        if path in self.forbidden:
            raise kc.KubeRequestError(403, path, f"{path} is forbidden")

    def get(self, path, params=None, **kwargs):
        self._check(path)
        if path == "/version":
            return {"gitVersion": "v1.37.0"}
        if path == "/apis/apps.kruise.io/v1alpha1" and self.crds:
            return {"resources": [{"name": plural} for plural, _unused in kc.DAEMON_KINDS.values()]}
        raise kc.KubeRequestError(404, path, "not found")

    def list_items(self, path, params=None, **kwargs):
        self._check(path)
        yield from self.objects.get(path, [])

    def list_pages(self, path, params=None, **kwargs):
        self._check(path)
        if path == "/api/v1/nodes":
            yield json.dumps({"columnDefinitions": [], "rows": []}).encode()
            return
        yield json.dumps({"items": self.objects.get(path, [])}).encode()

    def count(self, path, params=None, **kwargs):
        self._check(path)
        return len(self.objects.get(path, []))

    def request_summary(self):
        return {"count": 0, "by_resource": {}, "seconds": 0}


KRUISE = "/apis/apps.kruise.io/v1alpha1/"
HELM_MANAGER = {
    "metadata": {
        "name": "kruise-controller-manager",
        "namespace": "kruise-system",
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {
            "meta.helm.sh/release-name": "kruise",
            "meta.helm.sh/release-namespace": "default",
        },
    },
    "spec": {
        "template": {
            "spec": {
                "containers": [{"name": "manager", "image": "openkruise/kruise-manager:v1.6.3"}]
            }
        }
    },
}


def test_refused_feature_use_lists_are_unknown_not_zero():
    forbidden = {KRUISE + plural for plural, _unused in kc.DAEMON_KINDS.values()}
    facts = kc.collect_cluster_facts(FakeReader({}, forbidden))
    use = facts["feature_use"]
    assert use["in_use"] is None
    crr = use["kinds"]["ContainerRecreateRequest"]
    assert crr["count"] is None
    assert crr["missing_permission"] == "list containerrecreaterequests.apps.kruise.io"
    assert "HTTP 403" in crr["error"]
    assert use["kinds"]["ImagePullJob"]["active"] is None
    assert use["kinds"]["NodeImage"]["with_images"] is None
    assert "list nodeimages.apps.kruise.io" in facts["missing_permissions"]


def test_found_use_is_in_use_even_when_another_kind_is_refused():
    objects = {KRUISE + "containerrecreaterequests": [{"metadata": {"name": "r"}}]}
    facts = kc.collect_cluster_facts(FakeReader(objects, {KRUISE + "imagepulljobs"}))
    assert facts["feature_use"]["in_use"] is True
    assert facts["feature_use"]["kinds"]["ImagePullJob"]["count"] is None


def test_refused_deployments_leave_the_install_unknown():
    reader = FakeReader({}, {"/apis/apps/v1/deployments"}, crds=False)
    facts = kc.collect_cluster_facts(reader)
    assert facts["installed"] is None
    assert facts["install"]["method"] is None
    assert "missing permission: list deployments.apps" in facts["install"]["error"]
    assert facts["missing_permissions"] == ["list deployments.apps"]


def test_a_helm_release_behind_refused_secrets_is_still_helm():
    objects = {"/apis/apps/v1/deployments": [HELM_MANAGER]}
    forbidden = {"/api/v1/namespaces/default/secrets", "/api/v1/namespaces/default/configmaps"}
    facts = kc.collect_cluster_facts(FakeReader(objects, forbidden))
    install = facts["install"]
    assert install["method"] == "helm"
    assert install["helm"]["release"] == "kruise"
    assert install["helm"]["namespace"] == "default"
    assert "get/list secrets in default" in install["error"]


def test_a_readable_helm_release_has_no_error():
    release = {
        "name": "kruise",
        "namespace": "default",
        "version": 1,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "kruise", "version": "1.6.3", "appVersion": "1.6.3"}},
        "config": {},
    }
    secret = {"metadata": {"name": "sh.helm.release.v1.kruise.v1"}}
    secret["data"] = {"release": _helm_secret_value(release)}
    objects = {
        "/apis/apps/v1/deployments": [HELM_MANAGER],
        "/api/v1/namespaces/default/secrets": [secret],
    }
    facts = kc.collect_cluster_facts(FakeReader(objects, set()))
    assert facts["install"]["error"] is None
    assert facts["install"]["helm"]["revision"] == 1
    assert facts["missing_permissions"] == []
    assert facts["feature_use"]["in_use"] is False


DAEMONSET = {
    "metadata": {"name": "kruise-daemon", "namespace": "kruise-system"},
    "spec": {"template": {"spec": {"containers": [{"name": "daemon", "image": "k:v1.6.3"}]}}},
    "status": {},
}


def test_refused_nodes_are_unknown_not_none():
    facts = kc.collect_cluster_facts(FakeReader({}, {"/api/v1/nodes"}))
    assert facts["nodes"] is None
    assert facts["unread"]["nodes"]["missing_permission"] == "list nodes"
    assert facts["missing_permissions"] == ["list nodes"]


def test_a_refused_daemonset_list_leaves_the_daemon_unknown_not_absent():
    objects = {"/apis/apps/v1/deployments": [HELM_MANAGER]}
    forbidden = {"/apis/apps/v1/namespaces/kruise-system/daemonsets"}
    facts = kc.collect_cluster_facts(FakeReader(objects, forbidden))
    assert facts["daemon"] is None
    assert facts["unread"]["daemon"] == {
        "error": "HTTP 403 /apis/apps/v1/namespaces/kruise-system/daemonsets is forbidden",
        "missing_permission": "list daemonsets.apps in kruise-system",
    }


def test_refused_daemon_pods_leave_crash_loops_unknown():
    objects = {
        "/apis/apps/v1/deployments": [HELM_MANAGER],
        "/apis/apps/v1/namespaces/kruise-system/daemonsets": [DAEMONSET],
    }
    forbidden = {"/api/v1/namespaces/kruise-system/pods"}
    facts = kc.collect_cluster_facts(FakeReader(objects, forbidden))
    assert facts["daemon"]["name"] == "kruise-daemon"
    assert facts["daemon"]["crash_looping"] is None
    assert facts["unread"]["daemon_pods"]["missing_permission"] == "list pods in kruise-system"


def test_everything_read_leaves_nothing_unread():
    objects = {
        "/apis/apps/v1/deployments": [HELM_MANAGER],
        "/apis/apps/v1/namespaces/kruise-system/daemonsets": [DAEMONSET],
    }
    facts = kc.collect_cluster_facts(FakeReader(objects, set()))
    assert facts["unread"] == {}
    assert facts["nodes"] == []
    assert facts["daemon"]["crash_looping"] == []


class RecordingReader(FakeReader):
    """FakeReader that remembers the permission each list needed (kruise_info's spelling)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.listed: set[str] = set()

    def list_items(self, path, params=None, **kwargs):
        self.listed.add(kc.permission_for(path))
        yield from super().list_items(path, params, **kwargs)

    def list_pages(self, path, params=None, **kwargs):
        self.listed.add(kc.permission_for(path))
        yield from super().list_pages(path, params, **kwargs)

    def count(self, path, params=None, **kwargs):
        self.listed.add(kc.permission_for(path))
        return super().count(path, params, **kwargs)


def test_read_needs_are_what_kruise_info_lists():
    release = {
        "name": "kruise",
        "namespace": "default",
        "version": 1,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "kruise", "version": "1.6.3"}},
        "config": {},
    }
    secret = {"metadata": {"name": "sh.helm.release.v1.kruise.v1"}}
    secret["data"] = {"release": _helm_secret_value(release)}
    reader = RecordingReader(
        {
            "/apis/apps/v1/deployments": [HELM_MANAGER],
            "/apis/apps/v1/namespaces/kruise-system/daemonsets": [DAEMONSET],
            "/api/v1/namespaces/default/secrets": [secret],
        },
        set(),
    )
    # Discovery serves every kind kruise_info may list, as OpenKruise 1.6 does.
    served = [plural for plural, _unused in kc.DAEMON_KINDS.values()] + ["clonesets", "daemonsets"]
    reader.get = lambda path, params=None, **kwargs: (  # type: ignore[method-assign]
        {"gitVersion": "v1.37.0"}
        if path == "/version"
        else {
            "resources": [{"name": p} for p in (served if "v1alpha1" in path else ["statefulsets"])]
        }
    )
    kc.collect_cluster_facts(reader)

    def spelled(need) -> str:
        what = need.resource + (f".{need.group}" if need.group else "")
        return f"{need.verb} {what}" + (f" in {need.namespace}" if need.namespace else "")

    needed = {spelled(need) for need in kc.read_needs("kruise-system", "default")}
    # One cluster-wide list of pods covers the daemon's, listed in its namespace.
    assert reader.listed - {"list pods in kruise-system"} == needed
