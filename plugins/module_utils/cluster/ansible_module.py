"""What every cluster module shares: the AnsibleModule with the kube_auth options, the API client
that module sends its requests with, and how failures to reach the API server become
``fail_json``.

A cluster module is its documentation, the argument spec of its own options and::

    module = ClusterModule("kruise_info", ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**module.run(run_module))

where ``run_module(module)`` (in the module_utils file named after the module) reads the options,
calls :meth:`ClusterModule.client` and returns the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    KubeAccessError,
    KubeClient,
    KubeRequestError,
    load_settings,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.values import (
    YAML_IMPORT_ERROR,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.python_floor import (
    exit_module_when_python_too_old,
)

# Every cluster module imports this file before its own module_utils file (kruise_lock's needs
# datetime.UTC): on an older Python the module ends here, naming the Python found and the one
# needed, instead of with an ImportError.
exit_module_when_python_too_old()

COLLECTION = "kruise_cri.remediation"
# The collection's version, as galaxy.yml gives it (a module cannot read galaxy.yml where it runs;
# a unit test keeps the two equal).
COLLECTION_VERSION = "0.3.0"

# The options of the doc fragment kruise_cri.remediation.kube_auth, as an AnsibleModule spec.
AUTH_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"]},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"]},
    "client_cert": {"type": "path", "aliases": ["cert_file"]},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False},
    # A proxy URL may carry credentials (http://user:password@proxy:3128).
    "proxy": {"type": "str", "no_log": True},
}


def user_agent(module_name: str) -> str:
    """The User-Agent of a module's requests: ``kruise-cri/0.2.0 kruise_cri.remediation.node_drain``.
    The API server's audit log shows it, and the part before the first ``/`` (``kruise-cri``) is
    the field manager of what a module changes."""
    return f"kruise-cri/{COLLECTION_VERSION} {COLLECTION}.{module_name}"


def with_auth_options(options: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A module's argument spec: the kube_auth options with the module's own."""
    overlap = set(AUTH_ARGUMENT_SPEC) & set(options)
    if overlap:
        raise ValueError(f"options {sorted(overlap)} are kube_auth's")
    return {**AUTH_ARGUMENT_SPEC, **options}


def new_client(params: Mapping[str, Any], module_name: str, **options: Any) -> KubeClient:
    """A client of the API server the kube_auth options in ``params`` name, whose every request
    carries the module's User-Agent. Raises KubeAccessError (no kubernetes library, a kubeconfig
    that cannot be loaded)."""
    return KubeClient(load_settings(params), user_agent=user_agent(module_name), **options)


class ClusterModule(AnsibleModule):
    """The AnsibleModule of the cluster module ``name``: the kube_auth options plus
    ``argument_spec``; other keyword arguments go to AnsibleModule."""

    def __init__(self, name: str, argument_spec: Mapping[str, dict[str, Any]], **kwargs: Any):
        super().__init__(argument_spec=with_auth_options(argument_spec), **kwargs)
        self.module_name = name
        if YAML_IMPORT_ERROR is not None:
            self.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)

    def client(self, **options: Any) -> KubeClient:
        """The API client (``page_size``, ``max_connections`` as KubeClient takes them). Raises
        KubeAccessError, which :meth:`run` turns into the task's failure."""
        return new_client(self.params, self.module_name, **options)

    def run(
        self,
        work: Callable[[ClusterModule], dict[str, Any]],
        *,
        request_error: str | None = None,
    ) -> dict[str, Any]:
        """``work(self)``, the module's result. The API server unusable (unreachable, an
        untrusted certificate, credentials rejected, no kubeconfig, no kubernetes library) fails
        the task with the client's message, which names the server and the fix. A refused
        request (403, 404, ...) fails it as ``"{request_error}: {error}"`` when
        ``request_error`` is given; otherwise ``work`` handles those itself."""
        try:
            return work(self)
        except KubeAccessError as error:
            self.fail_json(msg=str(error))
        except KubeRequestError as error:
            if request_error is None:
                raise
            self.fail_json(msg=f"{request_error}: {error}")
        raise AssertionError("fail_json returned")  # pragma: no cover
