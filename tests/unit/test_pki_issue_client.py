"""Client certificates issued after the plane's PKI was written (a node's kubelet, kube-proxy)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kruise_cri.lab.pki import ClientIdentity, issue_client, write_pki

KUBELET = ClientIdentity("node-a", "system:node:a", ("system:nodes",))


def test_an_issued_client_is_signed_by_the_plane_ca_with_its_user_and_groups(
    tmp_path: Path,
) -> None:
    pki = write_pki(tmp_path, (), server_names=("127.0.0.1",))
    credentials = issue_client(pki, KUBELET)
    certificate = x509.load_pem_x509_certificate(credentials.certificate.read_bytes())
    ca = x509.load_pem_x509_certificate(pki.ca_certificate.read_bytes())
    certificate.verify_directly_issued_by(ca)
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:a"
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:nodes"
    ]
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert oct(credentials.key.stat().st_mode & 0o777) == "0o600"


def test_an_identity_is_issued_once(tmp_path: Path) -> None:
    pki = write_pki(tmp_path, (), server_names=("127.0.0.1",))
    first = issue_client(pki, KUBELET).certificate.read_bytes()
    with pytest.raises(FileExistsError, match="node-a"):
        issue_client(pki, KUBELET)
    assert (tmp_path / "node-a.crt").read_bytes() == first
