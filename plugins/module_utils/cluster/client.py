"""A small, fast reader of the Kubernetes API for the cluster modules.

Connection settings come from the ``kubernetes`` Python client's kubeconfig loader (contexts,
exec and auth-provider plugins, in-cluster config), so they behave as kubectl's do; requests go
through one ``urllib3`` pool and return raw JSON, because building the client's model objects for
50,000 pods costs far more than the request itself. Every LIST is paginated (``limit`` +
``continue``); :attr:`KubeClient.requests` counts what was sent, per resource.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

try:
    import urllib3
    from kubernetes import config as kube_config
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR: str | None = None
except ImportError as error:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = str(error)

DEFAULT_PAGE_SIZE = 500
REQUEST_TIMEOUT = 60.0
DEFAULT_USER_AGENT = "kruise-cri"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class KubeAccessError(Exception):
    """The API server cannot be used at all: unreachable, untrusted, or the credentials are
    rejected. The message names the server and the fix."""


class KubeRequestError(Exception):
    """One request failed (for example 403 or 404 on one resource); reading can go on."""

    def __init__(self, status: int, path: str, message: str, body: bytes = b"") -> None:
        super().__init__(f"{path}: HTTP {status}: {message}")
        self.status = status
        self.path = path
        self.message = message
        # The raw response (a Status object): its details.causes name, e.g., the blocking PDB.
        self.body = body


@dataclass(frozen=True)
class ConnectionSettings:
    host: str
    verify: bool
    ca_cert: str | None
    client_cert: str | None
    client_key: str | None
    authorization: str | None  # the Authorization header's value
    proxy: str | None
    tls_server_name: str | None


def load_settings(options: Mapping[str, Any]) -> ConnectionSettings:
    """Resolve the module's connection options the way kubernetes.core does: explicit ``host`` /
    ``api_key`` / certificates win over the kubeconfig, which defaults to ``$KUBECONFIG`` or
    ``~/.kube/config``, then the in-cluster service account."""
    if not HAS_KUBERNETES:
        raise KubeAccessError(
            "the kubernetes Python library is needed on the host that runs this module "
            f"(pip install kubernetes): {KUBERNETES_IMPORT_ERROR}"
        )
    configuration = Configuration()
    kubeconfig = options.get("kubeconfig")
    context = options.get("context")
    if not options.get("host") or kubeconfig or context:
        try:
            if kubeconfig or context or not _in_cluster_available():
                kube_config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
            else:
                kube_config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError, TypeError, ValueError) as error:
            where = kubeconfig or "$KUBECONFIG or ~/.kube/config"
            raise KubeAccessError(
                f"cannot load the kubeconfig {where}"
                + (f" (context {context})" if context else "")
                + f": {error}. Give kubeconfig= (and context=) or host= with api_key="
            ) from error
    host = options.get("host") or configuration.host
    api_key = options.get("api_key")
    authorization = f"Bearer {api_key}" if api_key else _authorization(configuration)
    validate = options.get("validate_certs")
    verify = bool(configuration.verify_ssl) if validate is None else bool(validate)
    return ConnectionSettings(
        host=str(host).rstrip("/"),
        verify=verify,
        ca_cert=options.get("ca_cert") or configuration.ssl_ca_cert,
        client_cert=options.get("client_cert") or configuration.cert_file,
        client_key=options.get("client_key") or configuration.key_file,
        authorization=authorization,
        proxy=options.get("proxy") or configuration.proxy,
        tls_server_name=getattr(configuration, "tls_server_name", None),
    )


def _in_cluster_available() -> bool:
    import os

    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )


def _authorization(configuration: Any) -> str | None:
    refresh = getattr(configuration, "refresh_api_key_hook", None)
    if refresh is not None:
        refresh(configuration)
    api_key = getattr(configuration, "api_key", None) or {}
    token = api_key.get("authorization") or api_key.get("BearerToken")
    if not token:
        return None
    prefixes = getattr(configuration, "api_key_prefix", None) or {}
    prefix = prefixes.get("authorization") or prefixes.get("BearerToken")
    if prefix and not token.startswith(prefix):
        return f"{prefix} {token}"
    return token


class KubeClient:
    """Requests and paginated LISTs against one API server, with JSON in and out."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_connections: int = 16,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size {page_size} must be 1 or more")
        self.settings = settings
        self.page_size = page_size
        self.requests: Counter[str] = Counter()
        self._requests_lock = threading.Lock()
        self.started = time.monotonic()
        pool_options: dict[str, Any] = {
            "num_pools": 2,
            # Connections kept per server: as many as requests a caller sends at once.
            "maxsize": max_connections,
            "timeout": urllib3.Timeout(connect=10.0, read=REQUEST_TIMEOUT),
            "retries": False,
        }
        if settings.verify:
            pool_options["cert_reqs"] = "CERT_REQUIRED"
            if settings.ca_cert:
                pool_options["ca_certs"] = settings.ca_cert
            if settings.tls_server_name:
                pool_options["server_hostname"] = settings.tls_server_name
        else:
            pool_options["cert_reqs"] = "CERT_NONE"
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if settings.client_cert:
            pool_options["cert_file"] = settings.client_cert
            pool_options["key_file"] = settings.client_key
        if settings.proxy:
            self.pool: Any = urllib3.ProxyManager(settings.proxy, **pool_options)
        else:
            self.pool = urllib3.PoolManager(**pool_options)
        # Sent with every request; a module's names the module (cluster/ansible_module.py).
        self.headers = {"Accept": "application/json", "User-Agent": user_agent}
        if settings.authorization:
            self.headers["Authorization"] = settings.authorization

    def request_summary(self) -> dict[str, Any]:
        return {
            "count": sum(self.requests.values()),
            "by_resource": dict(sorted(self.requests.items())),
            "seconds": round(time.monotonic() - self.started, 3),
        }

    def get_raw(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: str | None = None,
        counted_as: str | None = None,
    ) -> bytes:
        return self.send("GET", path, params, accept=accept, counted_as=counted_as)

    def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: Any = None,
        content_type: str = "application/json",
        accept: str | None = None,
        counted_as: str | None = None,
    ) -> bytes:
        """One request; the raw response body. 401 and transport failures raise
        KubeAccessError, any other status >= 400 KubeRequestError."""
        url = self.settings.host + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})
        headers = dict(self.headers)
        if accept:
            headers["Accept"] = accept
        encoded = None
        if body is not None:
            encoded = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        with self._requests_lock:
            self.requests[counted_as or path] += 1
        try:
            response = self.pool.request(
                method, url, headers=headers, body=encoded, preload_content=True
            )
        except urllib3.exceptions.SSLError as error:
            raise KubeAccessError(
                f"the certificate of the API server {self.settings.host} is not trusted: "
                f"{_reason(error)}. Give ca_cert= (the cluster's CA) or fix the kubeconfig's "
                "certificate-authority; validate_certs=false only for a throwaway cluster"
            ) from error
        except urllib3.exceptions.HTTPError as error:
            raise KubeAccessError(
                f"cannot reach the API server {self.settings.host}: {_reason(error)}. "
                "Check that it runs and that the kubeconfig (or host=) names it"
            ) from error
        if response.status == 401:
            raise KubeAccessError(
                f"the API server {self.settings.host} rejected the credentials (HTTP 401): "
                "the token or client certificate is wrong or expired. Give a valid kubeconfig "
                "user (or api_key=)"
            )
        if response.status >= 400:
            raise KubeRequestError(
                response.status, path, _status_message(response.data), bytes(response.data)
            )
        return bytes(response.data)

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        return json.loads(self.get_raw(path, params, **kwargs))

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return json.loads(self.send("POST", path, body=body, **kwargs) or b"null")

    def patch(self, path: str, body: Any, *, merge: bool = True, **kwargs: Any) -> Any:
        content_type = (
            "application/merge-patch+json" if merge else "application/strategic-merge-patch+json"
        )
        return json.loads(
            self.send("PATCH", path, body=body, content_type=content_type, **kwargs) or b"null"
        )

    def delete(self, path: str, **kwargs: Any) -> Any:
        return json.loads(self.send("DELETE", path, **kwargs) or b"null")

    def list_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        metadata_only: bool = False,
        page_size: int | None = None,
        counted_as: str | None = None,
        accept: str | None = None,
    ) -> Iterator[bytes]:
        """The raw JSON of every page of a LIST, in order."""
        query = dict(params or {})
        query["limit"] = page_size or self.page_size
        if metadata_only:
            accept = METADATA_ONLY
        while True:
            raw = self.get_raw(path, query, accept=accept, counted_as=counted_as or path)
            yield raw
            token = continue_token(raw)
            if not token:
                return
            query["continue"] = token

    def list_items(
        self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        for raw in self.list_pages(path, params, **kwargs):
            yield from json.loads(raw).get("items") or []

    def count(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> int:
        """How many objects a LIST would return: one request of ``limit=1`` when the server
        reports ``remainingItemCount``, else every page, metadata only."""
        first = json.loads(
            next(self.list_pages(path, params, metadata_only=True, page_size=1, **kwargs))
        )
        metadata = first.get("metadata") or {}
        items = len(first.get("items") or [])
        if not metadata.get("continue"):
            return items
        remaining = metadata.get("remainingItemCount")
        if isinstance(remaining, int):
            return items + remaining
        return sum(
            len(json.loads(raw).get("items") or [])
            for raw in self.list_pages(path, params, metadata_only=True, **kwargs)
        )


def continue_token(raw: bytes) -> str | None:
    """The ``metadata.continue`` of a raw list page, found without parsing the page: a list of a
    built-in kind is written ``metadata`` first, a list of custom resources (keys sorted)
    ``metadata`` last, after ``items``. Reading just that part spares parsing pages nobody
    needs."""
    items_at = raw.find(b'"items":')
    metadata_at = raw.find(b'"metadata":')
    if items_at < 0 or 0 <= metadata_at < items_at:
        section = raw[:items_at] if items_at > 0 else raw
    else:
        section = raw[raw.rfind(b'"metadata":') :]
    marker = section.find(b'"continue":"')
    if marker < 0:
        return None
    start = marker + len(b'"continue":"')
    end = section.find(b'"', start)
    return section[start:end].decode() or None if end > start else None


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error)


def _status_message(data: bytes) -> str:
    try:
        status = json.loads(data)
    except ValueError:
        return data[:200].decode(errors="replace")
    return str(status.get("message") or status.get("reason") or "")[:500]
