"""The cluster modules' shared AnsibleModule: argument spec, the client with the module's
User-Agent, and access errors turned into the task's failure. Requests go to a small HTTP(S)
server on loopback that records what it received."""

from __future__ import annotations

import contextlib
import importlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from ansible.module_utils import basic
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (
    ansible_module as am,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import client as kc
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeRequestError,
)

from kruise_cri.lab.pki import write_pki
from tests.conftest import REPO_ROOT

TOKEN = "s3cr3t-token-value"
UA = "kruise-cri/{} kruise_cri.remediation.{}"


class Recorder(BaseHTTPRequestHandler):
    """Answers like an API server: ``/version``, a one-page pod list, 401 under
    ``/unauthorized``, 403 under ``/forbidden``, and echoes POST and PATCH bodies."""

    seen: list[tuple[str, str, dict[str, str]]]

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, dict(self.headers)))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/unauthorized"):
            status, answer = 401, {"kind": "Status", "message": "Unauthorized"}
        elif self.path.startswith("/forbidden"):
            status, answer = 403, {"kind": "Status", "message": 'nodes is forbidden: User "x"'}
        elif self.path.startswith("/version"):
            status, answer = 200, {"gitVersion": "v1.37.0"}
        elif self.path.startswith("/api/v1/pods"):
            status, answer = 200, {"metadata": {}, "items": [{"metadata": {"name": "p"}}]}
        else:
            status, answer = 200, json.loads(body or b"{}")
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(context: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[Any]]]:
    seen: list[tuple[str, str, dict[str, str]]] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api() -> Iterator[tuple[str, list[Any]]]:
    with serving() as served:
        yield served


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, list[Any], Path]]:
    pki = write_pki(tmp_path / "pki", (), server_names=("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.serving_certificate, pki.serving_key)
    with serving(context) as (host, seen):
        yield host, seen, pki.ca_certificate


@contextlib.contextmanager
def module_args(args: dict[str, Any]) -> Iterator[None]:
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core before 2.19
        encoded = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", encoded):
            yield
        return
    with patch_module_args(args):
        yield


def run_module(
    capsys: pytest.CaptureFixture[str],
    args: dict[str, Any],
    work: Callable[[am.ClusterModule], dict[str, Any]],
    *,
    name: str = "kruise_info",
    **run_options: Any,
) -> dict[str, Any]:
    """Run a cluster module whose logic is ``work``: what it printed, with ``rc``."""
    with module_args(args), pytest.raises(SystemExit) as exited:
        module = am.ClusterModule(name, {"page_size": {"type": "int", "default": 500}})
        module.exit_json(**module.run(work, **run_options))
    output = capsys.readouterr().out
    assert TOKEN not in output
    return {**json.loads(output), "rc": exited.value.code}


def read_version(module: am.ClusterModule) -> dict[str, Any]:
    client = module.client()
    return {"changed": False, "version": client.get("/version")["gitVersion"]}


# ---------------------------------------------------------------------------- spec and name


def test_user_agent_names_the_collection_version_and_the_module():
    assert am.user_agent("node_drain") == UA.format(am.COLLECTION_VERSION, "node_drain")
    assert am.user_agent("node_drain").split("/", 1)[0] == "kruise-cri"  # the field manager


def test_collection_version_is_galaxy_yml_s():
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    assert galaxy["version"] == am.COLLECTION_VERSION
    assert f"{galaxy['namespace']}.{galaxy['name']}" == am.COLLECTION


def test_argument_spec_is_kube_auth_plus_the_module_s_own():
    spec = am.with_auth_options({"name": {"type": "str", "required": True}})
    assert list(spec) == [*am.AUTH_ARGUMENT_SPEC, "name"]
    assert spec["api_key"]["no_log"] is True
    assert spec["validate_certs"]["aliases"] == ["verify_ssl"]
    with pytest.raises(ValueError, match="kube_auth"):
        am.with_auth_options({"host": {"type": "str"}})


def test_kube_auth_doc_fragment_documents_every_option():
    from ansible_collections.kruise_cri.remediation.plugins.doc_fragments.kube_auth import (
        ModuleDocFragment,
    )

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(am.AUTH_ARGUMENT_SPEC)
    for name, option in am.AUTH_ARGUMENT_SPEC.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("aliases", []) == option.get("aliases", []), name


def test_options_that_can_hold_secrets_are_never_logged_and_say_so():
    from ansible_collections.kruise_cri.remediation.plugins.doc_fragments.kube_auth import (
        ModuleDocFragment,
    )

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    secret = {name for name, option in am.AUTH_ARGUMENT_SPEC.items() if option.get("no_log")}
    # A proxy URL may carry user:password@ (issue item 14).
    assert secret == {"api_key", "proxy"}
    for name, option in documented.items():
        says = "Never logged." in " ".join(option["description"])
        assert says == (name in secret), name


CLUSTER_MODULES = (
    "kruise_helm_release",
    "kruise_info",
    "kruise_manifests",
    "kruise_pin_check",
    "kruise_wait",
    "kruise_lock",
    "node_drain",
)


@pytest.mark.parametrize("name", CLUSTER_MODULES)
def test_each_cluster_module_s_documentation_matches_its_argument_spec(name):
    from ansible_collections.kruise_cri.remediation.plugins.doc_fragments.kube_auth import (
        ModuleDocFragment,
    )

    module = importlib.import_module(
        f"ansible_collections.kruise_cri.remediation.plugins.modules.{name}"
    )
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert documentation["extends_documentation_fragment"] == ["kruise_cri.remediation.kube_auth"]
    documented = {
        **yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"],
        **documentation["options"],
    }
    spec = am.with_auth_options(module.ARGUMENT_SPEC)
    assert set(documented) == set(spec)
    for option, wanted in spec.items():
        doc = documented[option]
        assert doc["type"] == wanted["type"], option
        assert doc.get("default") == wanted.get("default"), option
        assert doc.get("choices") == wanted.get("choices"), option
        assert bool(doc.get("required")) == bool(wanted.get("required")), option
        assert doc.get("aliases", []) == wanted.get("aliases", []), option


# ---------------------------------------------------------------------------- User-Agent


def test_every_request_of_the_built_client_carries_the_module_s_user_agent(api, capsys):
    host, seen = api

    def work(module: am.ClusterModule) -> dict[str, Any]:
        client = module.client(page_size=7)
        assert client.page_size == 7
        client.get("/version")
        list(client.list_items("/api/v1/pods"))
        client.post("/api/v1/namespaces/x/pods/p/eviction", {"kind": "Eviction"})
        client.patch("/api/v1/nodes/n1", {"spec": {"unschedulable": True}})
        return {"changed": False}

    result = run_module(capsys, {"host": host, "api_key": TOKEN}, work, name="node_drain")
    assert result["rc"] == 0, result
    assert [(method, path.split("?")[0]) for method, path, _unused in seen] == [
        ("GET", "/version"),
        ("GET", "/api/v1/pods"),
        ("POST", "/api/v1/namespaces/x/pods/p/eviction"),
        ("PATCH", "/api/v1/nodes/n1"),
    ]
    wanted = UA.format(am.COLLECTION_VERSION, "node_drain")
    assert {headers["User-Agent"] for _unused, _unused, headers in seen} == {wanted}
    assert {headers["Authorization"] for _unused, _unused, headers in seen} == {f"Bearer {TOKEN}"}


def test_the_user_agent_travels_over_tls_with_the_kubeconfig_s_settings(tls_api, tmp_path):
    host, seen, ca = tls_api
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": host, "certificate-authority": str(ca)}}
                ],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    client = am.new_client({"kubeconfig": str(kubeconfig)}, "kruise_wait")
    assert client.get("/version")["gitVersion"] == "v1.37.0"
    assert seen[0][2]["User-Agent"] == UA.format(am.COLLECTION_VERSION, "kruise_wait")


def test_a_client_built_outside_a_module_says_only_kruise_cri(api):
    host, seen = api
    kc.KubeClient(kc.load_settings({"host": host})).get("/version")
    assert seen[0][2]["User-Agent"] == "kruise-cri"


# ---------------------------------------------------------------------------- access errors


def test_success_exits_with_the_result(api, capsys):
    host, _unused = api
    result = run_module(capsys, {"host": host}, read_version)
    assert result["rc"] == 0 and result["version"] == "v1.37.0"


def test_a_kubeconfig_that_cannot_be_loaded_fails_naming_it(capsys, tmp_path):
    missing = tmp_path / "nowhere"
    result = run_module(capsys, {"kubeconfig": str(missing), "context": "ctx"}, read_version)
    assert result["rc"] == 1 and result["failed"] is True
    assert result["msg"].startswith(f"cannot load the kubeconfig {missing} (context ctx): ")
    assert result["msg"].endswith(
        "Give kubeconfig= (and context=) or host= with api_key=, or set K8S_AUTH_KUBECONFIG "
        "(or K8S_AUTH_HOST with K8S_AUTH_API_KEY)"
    )


def test_an_unreachable_server_fails_naming_it(capsys):
    def work(module: am.ClusterModule) -> dict[str, Any]:
        # Retried for 30 s (kc.RETRY_WINDOW) by default: long enough for a restart.
        client = module.client(retry_window=0.6)
        return {"changed": False, "version": client.get("/version")["gitVersion"]}

    result = run_module(capsys, {"host": "http://127.0.0.1:1", "api_key": TOKEN}, work)
    assert result["failed"] is True
    assert result["msg"].startswith("cannot reach the API server http://127.0.0.1:1: ")
    assert "(still failing after " in result["msg"]
    assert "Check that it runs and that the kubeconfig (or host=) names it" in result["msg"]


def test_an_untrusted_certificate_fails_saying_how_to_trust_it(tls_api, capsys):
    host, seen, ca = tls_api
    result = run_module(capsys, {"host": host, "api_key": TOKEN}, read_version)
    assert result["failed"] is True
    assert result["msg"].startswith(f"the certificate of the API server {host} is not trusted: ")
    assert "Give ca_cert= (the cluster's CA)" in result["msg"]
    assert seen == []
    trusted = run_module(capsys, {"host": host, "api_key": TOKEN, "ca_cert": str(ca)}, read_version)
    assert trusted["rc"] == 0, trusted
    assert seen[0][2]["User-Agent"] == UA.format(am.COLLECTION_VERSION, "kruise_info")


def test_rejected_credentials_fail_without_showing_them(api, capsys):
    host, _unused = api

    def work(module: am.ClusterModule) -> dict[str, Any]:
        module.client().get("/unauthorized")
        return {}

    result = run_module(capsys, {"host": host, "api_key": TOKEN}, work)
    assert result["failed"] is True
    assert result["msg"] == (
        f"the API server {host} rejected the credentials (HTTP 401): the token or client "
        "certificate is wrong or expired. Give a valid kubeconfig user (or api_key=, or "
        "K8S_AUTH_API_KEY)"
    )


def test_a_refused_request_fails_with_the_module_s_words(api, capsys):
    host, _unused = api

    def work(module: am.ClusterModule) -> dict[str, Any]:
        module.client().get("/forbidden/crds")
        return {}

    result = run_module(capsys, {"host": host}, work, request_error="cannot list the CRDs")
    assert result["failed"] is True
    assert result["msg"] == (
        'cannot list the CRDs: /forbidden/crds: HTTP 403: nodes is forbidden: User "x"'
    )


def test_a_refused_request_is_the_module_s_to_handle_without_request_error(api, capsys):
    host, _unused = api

    def work(module: am.ClusterModule) -> dict[str, Any]:
        module.client().get("/forbidden/crds")
        return {}

    with module_args({"host": host}):
        module = am.ClusterModule("kruise_info", {})
        with pytest.raises(KubeRequestError) as raised:
            module.run(work)
    assert raised.value.status == 403


def test_without_the_kubernetes_library_the_task_says_what_to_install(capsys, monkeypatch):
    monkeypatch.setattr(kc, "HAS_KUBERNETES", False)
    monkeypatch.setattr(kc, "KUBERNETES_IMPORT_ERROR", "No module named 'kubernetes'")
    result = run_module(capsys, {"host": "https://127.0.0.1:6443"}, read_version)
    assert result["failed"] is True
    assert "pip install kubernetes" in result["msg"]
