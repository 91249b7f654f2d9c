"""A small, fast reader of the Kubernetes API for the cluster modules.

Connection settings come from the module's options, then the ``K8S_AUTH_*`` environment variables
(as kubernetes.core reads them; AWX's Kubernetes credential injects them), then the ``kubernetes``
Python client's kubeconfig loader (contexts, exec and auth-provider plugins, in-cluster config),
so they behave as kubectl's do. A token from an exec or auth-provider plugin that the API server
rejects (HTTP 401) is fetched again once and the request repeated. Requests go
through one ``urllib3`` pool and return raw JSON, because building the client's model objects for
50,000 pods costs far more than the request itself. Every LIST is paginated (``limit`` +
``continue``); :attr:`KubeClient.requests` counts what was sent, per resource.

Transient failures are retried here, in :meth:`KubeClient.send`, for every request the cluster
modules make (see :func:`classify_transport_error` and :data:`TRANSIENT_STATUSES`): with a
jittered exponential backoff until the caller's deadline (the client's :attr:`KubeClient.deadline`
or a request's ``deadline=``), else for :data:`RETRY_WINDOW` seconds. A request that may have
reached the server already is sent again only when sending it twice is harmless: GET, PATCH (the
modules send merge patches, which set fields), DELETE (a 404 after such a retry means the first
attempt deleted it) and requests marked ``idempotent=True`` (an eviction, whose UID precondition
makes a second one a no-op). Another POST is sent again only when the server surely did not act
on it: no connection, 429 or 503.
"""

from __future__ import annotations

import base64
import json
import os
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

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
# How long a failing request is retried when the caller gives no deadline (an API server restart
# takes some seconds; a kubeconfig naming the wrong server fails after this long).
RETRY_WINDOW = 30.0
# The backoff between attempts: doubled per failure from RETRY_INITIAL up to RETRY_CAP seconds,
# each delay jittered to 50-100 %, so that many callers do not come back at the same instant.
RETRY_INITIAL = 0.2
RETRY_CAP = 2.0
# An attempt's connect and read timeouts shrink to what is left of the deadline, but not below.
MIN_ATTEMPT_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
# Answers that say "try again": throttled (API Priority and Fairness) or the server (or a load
# balancer in front of it) failing for now. 501 and 505 will not change and are not retried.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Of those, the answers given before the server acted on the request: safe for any POST.
NOT_PROCESSED_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class KubeAccessError(Exception):
    """The API server cannot be used at all: unreachable, untrusted, or the credentials are
    rejected. The message names the server and the fix."""


class KubeRequestError(Exception):
    """One request failed (for example 403 or 404 on one resource); reading can go on."""

    def __init__(
        self, status: int, path: str, message: str, body: bytes = b"", *, retried: str = ""
    ) -> None:
        super().__init__(f"{path}: HTTP {status}: {message}{retried}")
        self.status = status
        self.path = path
        self.message = message
        # The raw response (a Status object): its details.causes name, e.g., the blocking PDB.
        self.body = body


# The environment variable of each connection option, as kubernetes.core names them. AWX's
# "OpenShift or Kubernetes API Bearer Token" credential sets HOST, API_KEY, VERIFY_SSL and
# SSL_CA_CERT.
ENVIRONMENT_OPTIONS: dict[str, str] = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "proxy": "K8S_AUTH_PROXY",
}
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f"})


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
    # Fetches the Authorization header again (an exec or auth-provider plugin's token), for a
    # token the API server no longer accepts; None when the token is given or static.
    reauthorize: Callable[[], str | None] | None = field(default=None, compare=False, repr=False)


def options_with_environment(
    options: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The connection options, each unset one taken from its ``K8S_AUTH_*`` variable (options
    first, as kubernetes.core). Raises KubeAccessError for a K8S_AUTH_VERIFY_SSL that is not a
    boolean."""
    environ = os.environ if environ is None else environ
    merged = dict(options)
    for option, variable in ENVIRONMENT_OPTIONS.items():
        value = environ.get(variable, "")
        if merged.get(option) not in (None, "") or not value:
            continue
        if option == "validate_certs":
            word = value.strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                raise KubeAccessError(
                    f"{variable}={value!r} is not a boolean: set it to true or false (or give "
                    "validate_certs=)"
                )
            merged[option] = word in TRUE_WORDS
        else:
            merged[option] = value
    return merged


def connection_given(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> bool:
    """Whether any connection setting is given, as an option or a ``K8S_AUTH_*`` variable."""
    merged = options_with_environment(options, environ)
    return any(merged.get(option) not in (None, "") for option in ENVIRONMENT_OPTIONS)


def load_settings(options: Mapping[str, Any]) -> ConnectionSettings:
    """Resolve the module's connection options the way kubernetes.core does: the options, then
    the ``K8S_AUTH_*`` environment variables; an explicit ``host`` / ``api_key`` / certificates
    win over the kubeconfig, which defaults to ``$KUBECONFIG`` or ``~/.kube/config``, then the
    in-cluster service account."""
    if not HAS_KUBERNETES:
        raise KubeAccessError(
            "the kubernetes Python library is needed on the host that runs this module "
            f"(pip install kubernetes): {KUBERNETES_IMPORT_ERROR}"
        )
    options = options_with_environment(options)
    configuration = Configuration()
    kubeconfig = options.get("kubeconfig")
    context = options.get("context")
    loads_kubeconfig = not options.get("host") or kubeconfig or context
    if loads_kubeconfig:
        _load_configuration(configuration, kubeconfig, context)
    host = options.get("host") or configuration.host
    api_key = options.get("api_key")
    authorization = f"Bearer {api_key}" if api_key else _authorization(configuration)
    reauthorize = None
    if not api_key and loads_kubeconfig and _plugin_token(configuration):

        def reauthorize() -> str | None:
            fresh = Configuration()
            _load_configuration(fresh, kubeconfig, context)
            return _authorization(fresh)

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
        reauthorize=reauthorize,
    )


def _load_configuration(configuration: Any, kubeconfig: str | None, context: str | None) -> None:
    """Fill ``configuration`` from the kubeconfig (running its exec or auth-provider plugin) or
    the in-cluster service account. Raises KubeAccessError naming the kubeconfig."""
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
            + f": {error}. Give kubeconfig= (and context=) or host= with api_key=, or set "
            "K8S_AUTH_KUBECONFIG (or K8S_AUTH_HOST with K8S_AUTH_API_KEY)"
        ) from error


def _plugin_token(configuration: Any) -> bool:
    """Whether the token comes from a plugin (exec, auth-provider, the in-cluster account's
    file) and may be fetched again, rather than a fixed string in the kubeconfig."""
    return getattr(configuration, "refresh_api_key_hook", None) is not None


def split_proxy_credentials(proxy: str) -> tuple[str, str | None]:
    """The proxy URL without its ``user:password@`` and, when it had them, the
    ``Proxy-Authorization`` header's value (HTTP Basic), which urllib3 does not derive itself."""
    parts = urlsplit(proxy)
    if parts.username is None and parts.password is None:
        return proxy, None
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    stripped = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return stripped, f"Basic {token}"


@dataclass(frozen=True)
class TransportFailure:
    """What one request's failure to get an answer means for trying it again."""

    transient: bool  # worth another attempt
    unsent: bool  # the server surely never saw the request (no connection was made)


def classify_transport_error(error: Exception) -> TransportFailure:
    """Whether a urllib3 error is worth retrying: connection refused, reset or timed out, and a
    TLS handshake cut short (a server going down or coming up) are; an unknown host name, an
    untrusted or rejected certificate and malformed URLs are not."""
    if isinstance(error, urllib3.exceptions.ProxyError):
        original = getattr(error, "original_error", None)
        if isinstance(original, Exception) and original is not error:
            return classify_transport_error(original)
        return TransportFailure(transient=True, unsent=True)
    if isinstance(error, urllib3.exceptions.NameResolutionError):
        return TransportFailure(transient=False, unsent=True)
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError too
        return TransportFailure(transient=True, unsent=True)
    if isinstance(error, urllib3.exceptions.SSLError):
        cause = error.args[0] if error.args else None
        cut_short = isinstance(cause, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) or (
            "EOF" in str(cause) and not isinstance(cause, ssl.SSLCertVerificationError)
        )
        return TransportFailure(transient=cut_short, unsent=cut_short)
    if isinstance(error, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError)):
        # The request may have been processed; only a request safe to repeat is sent again.
        return TransportFailure(transient=True, unsent=False)
    return TransportFailure(transient=False, unsent=False)


def exponential_backoff(
    step: int,
    random_fraction: float,
    *,
    initial: float,
    cap: float,
    jitter_low: float,
    jitter_spread: float,
) -> float:
    """``initial`` doubled per failure so far (``step`` >= 1), at most ``cap``, scaled by a
    factor in [jitter_low, jitter_low + jitter_spread) chosen by ``random_fraction`` in [0, 1),
    and never over ``cap``. The one backoff schedule of the cluster modules; callers choose the
    numbers."""
    base = min(cap, initial * 2 ** max(0, step - 1))
    return min(cap, base * (jitter_low + jitter_spread * random_fraction))


def backoff_delay(failures: int, random_fraction: float) -> float:
    """Seconds before attempt ``failures + 1``: RETRY_INITIAL doubled per failure so far, at
    most RETRY_CAP, jittered to 50-100 % by ``random_fraction`` in [0, 1)."""
    return exponential_backoff(
        failures,
        random_fraction,
        initial=RETRY_INITIAL,
        cap=RETRY_CAP,
        jitter_low=0.5,
        jitter_spread=0.5,
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
    """Requests and paginated LISTs against one API server, with JSON in and out. Transient
    failures are retried until :attr:`deadline` (a ``time.monotonic()`` instant, settable by the
    caller; None: :attr:`retry_window` seconds from a request's first attempt), or a request's
    own ``deadline=``."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_connections: int = 16,
        user_agent: str = DEFAULT_USER_AGENT,
        retry_window: float = RETRY_WINDOW,
        deadline: float | None = None,
        rng: Callable[[], float] = random.random,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size {page_size} must be 1 or more")
        if retry_window < 0:
            raise ValueError(f"retry_window {retry_window} must be 0 or more")
        self.settings = settings
        self.page_size = page_size
        self.retry_window = retry_window
        self.deadline = deadline
        self._rng = rng
        self._sleep = sleep
        # Every attempt sent (a retried request counts once per attempt), and the retries alone.
        self.requests: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.reauthorizations = 0  # tokens fetched again after a 401
        self._requests_lock = threading.Lock()
        self.started = time.monotonic()
        pool_options: dict[str, Any] = {
            "num_pools": 2,
            # Connections kept per server: as many as requests a caller sends at once.
            "maxsize": max_connections,
            "timeout": urllib3.Timeout(connect=CONNECT_TIMEOUT, read=REQUEST_TIMEOUT),
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
            proxy, proxy_authorization = split_proxy_credentials(settings.proxy)
            proxy_headers = (
                {"Proxy-Authorization": proxy_authorization} if proxy_authorization else None
            )
            self.pool: Any = urllib3.ProxyManager(
                proxy, proxy_headers=proxy_headers, **pool_options
            )
        else:
            self.pool = urllib3.PoolManager(**pool_options)
        # Sent with every request; a module's names the module (cluster/ansible_module.py).
        self.headers = {"Accept": "application/json", "User-Agent": user_agent}
        if settings.authorization:
            self.headers["Authorization"] = settings.authorization

    def request_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "count": sum(self.requests.values()),
            "by_resource": dict(sorted(self.requests.items())),
            "seconds": round(time.monotonic() - self.started, 3),
        }
        if self.retries:
            summary["retries"] = sum(self.retries.values())
            summary["retries_by_resource"] = dict(sorted(self.retries.items()))
        return summary

    def get_raw(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        accept: str | None = None,
        counted_as: str | None = None,
        deadline: float | None = None,
    ) -> bytes:
        return self.send(
            "GET", path, params, accept=accept, counted_as=counted_as, deadline=deadline
        )

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
        deadline: float | None = None,
        idempotent: bool | None = None,
        retry_statuses: Collection[int] = TRANSIENT_STATUSES,
    ) -> bytes:
        """One request; the raw response body. A transient failure (no connection, a reset or
        timeout, an answer in ``retry_statuses``) is retried with backoff until ``deadline``
        (default: :attr:`deadline`, else :attr:`retry_window` from now) when it is safe: always
        when the server cannot have acted on it, otherwise only when the request is
        ``idempotent`` (by default GET, PATCH, DELETE and the like; POST not). Give
        ``retry_statuses=()`` to get every answer, e.g. for an eviction whose 429 and 5xx the
        caller interprets itself. Then 401 and transport failures raise KubeAccessError, any
        other status >= 400 KubeRequestError."""
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
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT_METHODS
        counter = counted_as or path
        first = time.monotonic()
        if deadline is None:
            deadline = self.deadline if self.deadline is not None else first + self.retry_window
        attempts = 0
        maybe_processed = False  # an earlier attempt may have reached the server
        reauthorized = False  # the token was fetched again after a 401
        while True:
            attempts += 1
            with self._requests_lock:
                self.requests[counter] += 1
                if attempts > 1:
                    self.retries[counter] += 1
            left = deadline - time.monotonic()
            try:
                response = self.pool.request(
                    method,
                    url,
                    headers=headers,
                    body=encoded,
                    preload_content=True,
                    timeout=_attempt_timeout(left),
                )
            except urllib3.exceptions.HTTPError as error:
                failure = classify_transport_error(error)
                if failure.transient and (idempotent or failure.unsent):
                    maybe_processed = maybe_processed or not failure.unsent
                    if self._wait_before_retry(attempts, deadline, None):
                        continue
                raise self._access_error(error, failure, attempts, first) from error
            status = response.status
            if status in retry_statuses and (idempotent or status in NOT_PROCESSED_STATUSES):
                maybe_processed = maybe_processed or status not in NOT_PROCESSED_STATUSES
                if self._wait_before_retry(attempts, deadline, response.headers.get("Retry-After")):
                    continue
            if status == 401 and not reauthorized and self._reauthorized(headers):
                reauthorized = True
                continue
            if status == 401:
                raise KubeAccessError(
                    f"the API server {self.settings.host} rejected the credentials (HTTP 401): "
                    "the token or client certificate is wrong or expired. Give a valid kubeconfig "
                    "user (or api_key=, or K8S_AUTH_API_KEY)"
                )
            if status == 404 and method.upper() == "DELETE" and maybe_processed:
                # An earlier attempt whose answer was lost deleted it.
                return b""
            if status >= 400:
                raise KubeRequestError(
                    status,
                    path,
                    _status_message(response.data),
                    bytes(response.data),
                    retried=_retried(attempts, first),
                )
            return bytes(response.data)

    def _reauthorized(self, headers: dict[str, str]) -> bool:
        """After a 401: fetch the plugin's token again; when it differs from the one ``headers``
        sent, put it there and in every later request's headers."""
        if self.settings.reauthorize is None:
            return False
        sent = headers.get("Authorization")
        with self._requests_lock:
            current = self.headers.get("Authorization")
            if current == sent:
                current = self.settings.reauthorize()
                if current:
                    self.headers["Authorization"] = current
                self.reauthorizations += 1
        if not current or current == sent:
            return False
        headers["Authorization"] = current
        return True

    def _wait_before_retry(self, failures: int, deadline: float, retry_after: str | None) -> bool:
        """Sleep before the next attempt; False when the deadline leaves no time for one."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        delay = backoff_delay(failures, self._rng())
        if retry_after and retry_after.strip().isdigit():
            # The server's own hint (API Priority and Fairness says 1 s), within our cap.
            delay = max(delay, min(float(retry_after), RETRY_CAP))
        self._sleep(min(delay, left))
        return True

    def _access_error(
        self, error: Exception, failure: TransportFailure, attempts: int, first: float
    ) -> KubeAccessError:
        retried = _retried(attempts, first)
        if isinstance(error, urllib3.exceptions.SSLError) and not failure.transient:
            return KubeAccessError(
                f"the certificate of the API server {self.settings.host} is not trusted: "
                f"{_reason(error)}. Give ca_cert= (the cluster's CA) or fix the kubeconfig's "
                "certificate-authority; validate_certs=false only for a throwaway cluster"
            )
        return KubeAccessError(
            f"cannot reach the API server {self.settings.host}: {_reason(error)}{retried}. "
            "Check that it runs and that the kubeconfig (or host=) names it"
        )

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
        deadline: float | None = None,
    ) -> Iterator[bytes]:
        """The raw JSON of every page of a LIST, in order. A page that fails transiently is
        asked for again with the same ``continue`` token (see :meth:`send`)."""
        query = dict(params or {})
        query["limit"] = page_size or self.page_size
        if metadata_only:
            accept = METADATA_ONLY
        while True:
            raw = self.get_raw(
                path, query, accept=accept, counted_as=counted_as or path, deadline=deadline
            )
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


def _attempt_timeout(left: float) -> Any:
    """One attempt's timeouts: the usual ones, shortened to what is left of the deadline."""
    room = max(MIN_ATTEMPT_TIMEOUT, left)
    return urllib3.Timeout(connect=min(CONNECT_TIMEOUT, room), read=min(REQUEST_TIMEOUT, room))


def _retried(attempts: int, first: float) -> str:
    if attempts < 2:
        return ""
    return f" (still failing after {attempts} attempts in {time.monotonic() - first:.1f} s)"


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error)


def _status_message(data: bytes) -> str:
    try:
        status = json.loads(data)
    except ValueError:
        return data[:200].decode(errors="replace")
    return str(status.get("message") or status.get("reason") or "")[:500]
