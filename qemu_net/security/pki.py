"""A small PKI for a qemu_net network: one network CA, node and application (SAE) certificates.

Built on `cryptography` (X.509, ECDSA P-256, SHA-256). Every certificate carries its holder's name in
the subject alternative name, which is what peers check:

- a **node** certificate: ``DNS:<node>`` (plus any extra DNS names or IP addresses it is reached at,
  e.g. ``localhost``/``127.0.0.1`` or a StatefulSet's DNS name), usable for TLS server and client
  authentication (a node serves its KME and, later, mutual-TLS gRPC, and calls its peers);
- an **application** (SAE) certificate: ``DNS:<sae_id>``, client authentication only.

`identity_from_peercert` reads the name back from what `ssl.SSLSocket.getpeercert()` returns.
`server_context` / `client_context` make standard-library TLS contexts that require and verify the
peer's certificate against the network CA (mutual TLS).

    ca = NetworkCA.create("qnet-lab")
    ca.issue_node("alice", extra_dns=["localhost"], ips=["127.0.0.1"]).write(Path("certs"), "alice")
    ca.issue_application("sae-alice").write(Path("certs"), "sae-alice")
    ca.write(Path("certs"))                       # certs/ca.pem (and ca.key with include_key=True)

Private keys are written with mode 0600 and never logged.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qemu_net.errors import InvalidOperation

_NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$")
DEFAULT_VALIDITY_DAYS = 365


def _check_name(name: str, what: str) -> None:
    """A DNS-style name: labels of letters, digits and '-' (each <= 63 characters), <= 253 in all."""
    ok = isinstance(name, str) and 0 < len(name) <= 253 and all(_NAME_RE.match(label) for label in name.split("."))
    if not ok:
        raise InvalidOperation(f"{what} {name!r} is not a valid DNS-style name (letters, digits, '.', '-')")


@dataclass(frozen=True)
class Credential:
    """A certificate and its private key (PEM). The key is not in the repr."""

    name: str
    cert_pem: bytes
    key_pem: bytes = field(repr=False)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def write(self, directory: Path, stem: str | None = None) -> tuple[Path, Path]:
        """Write ``<stem>.pem`` and ``<stem>.key`` (mode 0600) into `directory`; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = stem or self.name
        cert, key = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert.write_bytes(self.cert_pem)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem)
        return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class NetworkCA:
    """The certificate authority of one network."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self._key = key

    def __repr__(self) -> str:
        return f"NetworkCA(subject={self.cert.subject.rfc4514_string()!r})"

    @classmethod
    def create(cls, network: str, *, validity_days: int = 3650) -> NetworkCA:
        _check_name(network, "network name")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{network} network CA"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qemu_net")])
        now = _dt.datetime.now(_dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=5))
                .not_valid_after(now + _dt.timedelta(days=validity_days))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> NetworkCA:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidOperation(f"{key_path}: not an EC private key")
        return cls(cert, key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, directory: Path, *, include_key: bool = False) -> Path:
        """Write ``ca.pem`` (and ``ca.key``, mode 0600, only if asked) into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(self.cert_pem)
        if include_key:
            fd = os.open(directory / "ca.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(_key_pem(self._key))
        return directory / "ca.pem"

    def _issue(self, name: str, *, server: bool, dns: list[str], ips: list[str], validity_days: int,
               role: str) -> Credential:
        _check_name(name, f"{role} name")
        key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.timezone.utc)
        sans: list[x509.GeneralName] = [x509.DNSName(name)]
        for d in dns:
            _check_name(d, "DNS name")
            if d != name:
                sans.append(x509.DNSName(d))
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role)]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - _dt.timedelta(minutes=5))
                .not_valid_after(now + _dt.timedelta(days=validity_days))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                               critical=False)
                .sign(self._key, hashes.SHA256()))
        return Credential(name, cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue_node(self, node: str, *, extra_dns: list[str] | None = None, ips: list[str] | None = None,
                   validity_days: int = DEFAULT_VALIDITY_DAYS) -> Credential:
        """A node certificate (TLS server and client): SAN DNS:<node> plus the names it is reached at."""
        return self._issue(node, server=True, dns=list(extra_dns or []), ips=list(ips or []),
                           validity_days=validity_days, role="node")

    def issue_application(self, sae_id: str, *, validity_days: int = DEFAULT_VALIDITY_DAYS) -> Credential:
        """An application (SAE) certificate (TLS client): SAN DNS:<sae_id>."""
        return self._issue(sae_id, server=False, dns=[], ips=[], validity_days=validity_days, role="application")


def identity_from_peercert(peercert: dict[str, Any] | None) -> list[str]:
    """The DNS names in a verified peer certificate as `ssl.SSLSocket.getpeercert()` returns it."""
    if not peercert:
        return []
    return [v for k, v in peercert.get("subjectAltName", ()) if k == "DNS"]


def server_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """TLS server context that requires a client certificate signed by the network CA (TLS >= 1.2)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    ctx.load_verify_locations(str(ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """TLS client context presenting `cert` and verifying the server against the network CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    ctx.load_verify_locations(str(ca))
    return ctx


__all__ = ["Credential", "NetworkCA", "client_context", "identity_from_peercert", "server_context"]
