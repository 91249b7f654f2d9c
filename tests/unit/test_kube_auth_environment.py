"""The cluster modules' connection options, then the K8S_AUTH_* variables AWX's Kubernetes
credential injects (kubernetes.core's names), options first."""

from __future__ import annotations

import pytest
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    ENVIRONMENT_OPTIONS,
    KubeAccessError,
    connection_given,
    options_with_environment,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_helm_release import (
    connection_args,
)

AWX_CREDENTIAL = {
    "K8S_AUTH_HOST": "https://10.0.0.1:6443",
    "K8S_AUTH_API_KEY": "awx-token",
    "K8S_AUTH_VERIFY_SSL": "True",
    "K8S_AUTH_SSL_CA_CERT": "/runner/env/ca.crt",
}


def test_the_awx_credential_fills_the_unset_options() -> None:
    merged = options_with_environment({"kubeconfig": None, "host": None}, AWX_CREDENTIAL)
    assert merged["host"] == "https://10.0.0.1:6443"
    assert merged["api_key"] == "awx-token"
    assert merged["validate_certs"] is True
    assert merged["ca_cert"] == "/runner/env/ca.crt"
    assert merged["kubeconfig"] is None


def test_options_win_over_the_environment() -> None:
    merged = options_with_environment(
        {"host": "https://option:6443", "validate_certs": False}, AWX_CREDENTIAL
    )
    assert merged["host"] == "https://option:6443"
    assert merged["validate_certs"] is False
    assert merged["api_key"] == "awx-token"  # unset as an option: the environment's


@pytest.mark.parametrize(
    ("word", "expected"), [("false", False), ("no", False), ("0", False), ("YES", True)]
)
def test_verify_ssl_reads_the_usual_booleans(word: str, expected: bool) -> None:
    merged = options_with_environment({}, {"K8S_AUTH_VERIFY_SSL": word})
    assert merged["validate_certs"] is expected


def test_a_verify_ssl_that_is_no_boolean_is_named() -> None:
    with pytest.raises(KubeAccessError, match="K8S_AUTH_VERIFY_SSL='maybe' is not a boolean"):
        options_with_environment({}, {"K8S_AUTH_VERIFY_SSL": "maybe"})


def test_empty_variables_are_unset() -> None:
    assert options_with_environment({}, {"K8S_AUTH_HOST": ""}) == {}
    assert not connection_given({}, {"K8S_AUTH_HOST": "", "KUBECONFIG": "/somewhere"})


def test_any_connection_setting_counts_as_given() -> None:
    for option, variable in ENVIRONMENT_OPTIONS.items():
        assert connection_given({}, {variable: "x" if option != "validate_certs" else "true"})
    assert connection_given({"context": "prod"}, {})


def test_helm_gets_the_credential_as_flags_and_the_token_in_its_environment() -> None:
    args, env = connection_args(options_with_environment({}, AWX_CREDENTIAL))
    assert args == [
        "--kube-apiserver",
        "https://10.0.0.1:6443",
        "--kube-ca-file",
        "/runner/env/ca.crt",
    ]
    assert env == {"HELM_KUBETOKEN": "awx-token"}
    assert "awx-token" not in " ".join(args)
