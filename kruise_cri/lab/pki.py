"""Certificates and keys for the lab's control plane, made with ``cryptography`` (an ansible-core
dependency). One CA signs the API server's serving certificate and a client certificate per
identity; the service-account key pair signs service-account tokens. ECDSA P-256 throughout:
a key takes microseconds, where RSA 2048 takes tens of milliseconds. Private keys are 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: the user (CN) and groups (O) the API server sees."""

    file_stem: str
    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientCredentials:
    certificate: Path
    key: Path


@dataclass(frozen=True)
class ControlPlanePki:
    ca_certificate: Path
    ca_key: Path
    serving_certificate: Path
    serving_key: Path
    service_account_public_key: Path
    service_account_private_key: Path
    clients: dict[str, ClientCredentials]


def write_pki(
    directory: Path, identities: tuple[ClientIdentity, ...], *, server_names: tuple[str, ...]
) -> ControlPlanePki:
    """Write the CA, the serving certificate for ``server_names`` (DNS names and IP addresses)
    and one client certificate per identity into ``directory``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kruise-cri-lab-ca")])
    ca_certificate = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    def issue(
        subject: x509.Name, usage: x509.ObjectIdentifier, names: tuple[str, ...] = ()
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(subject, ca_name, key.public_key(), now).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(name) for name in names]),
                critical=False,
            )
        return builder.sign(ca_key, hashes.SHA256()), key

    serving, serving_key = issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
        ExtendedKeyUsageOID.SERVER_AUTH,
        server_names,
    )
    clients: dict[str, ClientCredentials] = {}
    for identity in identities:
        certificate, key = issue(client_subject(identity), ExtendedKeyUsageOID.CLIENT_AUTH)
        clients[identity.file_stem] = ClientCredentials(
            _write_certificate(directory / f"{identity.file_stem}.crt", certificate),
            _write_key(directory / f"{identity.file_stem}.key", key),
        )

    service_account_key = ec.generate_private_key(ec.SECP256R1())
    public_path = directory / "service-account.pub"
    public_path.write_bytes(
        service_account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ControlPlanePki(
        ca_certificate=_write_certificate(directory / "ca.crt", ca_certificate),
        ca_key=_write_key(directory / "ca.key", ca_key),
        serving_certificate=_write_certificate(directory / "apiserver.crt", serving),
        serving_key=_write_key(directory / "apiserver.key", serving_key),
        service_account_public_key=public_path,
        service_account_private_key=_write_key(
            directory / "service-account.key", service_account_key
        ),
        clients=clients,
    )


def client_subject(identity: ClientIdentity) -> x509.Name:
    """The groups as organisations, the user as common name: what the API server reads."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in identity.groups]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, identity.user))
    return x509.Name(attributes)


def issue_client(pki: ControlPlanePki, identity: ClientIdentity) -> ClientCredentials:
    """A client certificate for ``identity`` from the plane's CA, written beside the others (a
    kubelet's ``system:node:<name>`` in ``system:nodes``, issued when its node joins)."""
    directory = pki.ca_certificate.parent
    if (directory / f"{identity.file_stem}.crt").exists():
        raise FileExistsError(f"a certificate for {identity.file_stem!r} exists in {directory}")
    ca_certificate = x509.load_pem_x509_certificate(pki.ca_certificate.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{pki.ca_key} is not the lab CA's ECDSA key")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    certificate = (
        _builder(client_subject(identity), ca_certificate.subject, key.public_key(), now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ClientCredentials(
        _write_certificate(directory / f"{identity.file_stem}.crt", certificate),
        _write_key(directory / f"{identity.file_stem}.key", key),
    )


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_certificate(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(pem)
    return path
