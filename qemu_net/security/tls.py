"""Mutual TLS for a network: the certificate directory of a topology and gRPC credentials built from it.

One directory holds everything a network needs (``qnet certs`` writes it, ``qnet up`` makes one in its
run directory)::

    DIR/ca.pem                 the network CA certificate (every party trusts it)
    DIR/ca.key                 the CA's private key (0600; only needed to issue more certificates)
    DIR/nodes/<node>.pem|.key  one per topology node: SAN DNS:<node>, localhost, 127.0.0.1 and the hosts
                               of its address / peer_address (TLS server and client)
    DIR/apps/<name>.pem|.key   clients and applications: SAN DNS:<name> (TLS client only); ``client`` is
                               the default identity of the SDK and the CLI

A node serves both its ports with `server_credentials` (a client certificate signed by the CA is
required and verified) and calls its peers with its own certificate (`channel_credentials`), checking
that the peer's certificate names the node it meant to reach (`target_name_options`). Private keys are
written 0600 and never logged.

    write_network_certs(topology, Path("certs"), apps=["sae-alice"])
    creds = load_credentials(Path("certs"), node="alice")          # or app="client"
    server.add_secure_port("127.0.0.1:0", server_credentials(creds))
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from qemu_net.errors import InvalidOperation
from qemu_net.security.pki import DEFAULT_VALIDITY_DAYS, NetworkCA

if TYPE_CHECKING:
    from qemu_net.network.topology import Topology

#: The SDK's and CLI's identity when no other is asked for.
DEFAULT_CLIENT = "client"
#: Environment variable naming a certificate directory (node and SDK).
TLS_DIR_ENV = "QNET_TLS_DIR"
#: Environment variable naming the SDK's application identity in that directory.
TLS_IDENTITY_ENV = "QNET_TLS_IDENTITY"


@dataclass(frozen=True)
class TlsCredentials:
    """The PEM bytes one party needs: the network CA, its certificate and its key (not in the repr)."""

    name: str
    ca_pem: bytes = field(repr=False)
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    source: str = ""


def _hosts(address: str) -> str:
    if not address:
        return ""
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return host.strip("[]")


def _split_hosts(hosts: Iterable[str]) -> tuple[list[str], list[str]]:
    dns: list[str] = []
    ips: list[str] = []
    for h in hosts:
        if not h or h in ("0.0.0.0", "::"):
            continue
        try:
            ipaddress.ip_address(h)
        except ValueError:
            if h not in dns:
                dns.append(h)
        else:
            if h not in ips:
                ips.append(h)
    return dns, ips


def node_hosts(topology: Topology, node: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a node's certificate names besides the node itself."""
    spec = topology.node(node)
    return _split_hosts(["localhost", "127.0.0.1", _hosts(spec.address), _hosts(spec.peer_address)])


def write_network_certs(
    topology: Topology,
    out: Path,
    *,
    apps: Iterable[str] = (),
    reuse_ca: bool = True,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    extra_dns: Iterable[str] = (),
    node_dns: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, list[str]]:
    """Write the CA (kept if `out` already has one and `reuse_ca`), one certificate per node of `topology`
    and one per application (always including `DEFAULT_CLIENT`). Returns {"nodes": [...], "apps": [...]}.

    Re-running it with the same CA re-issues every leaf certificate (rotation); with ``reuse_ca=False``
    it makes a new CA too (every party must then get the new ``ca.pem``). `extra_dns` goes on every
    node certificate, `node_dns[node]` on that node's only (e.g. its Kubernetes pod name)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    if reuse_ca and (out / "ca.pem").exists() and (out / "ca.key").exists():
        ca = NetworkCA.load(out / "ca.pem", out / "ca.key")
    else:
        ca = NetworkCA.create(topology.name)
        ca.write(out, include_key=True)
    extra = list(extra_dns)
    for n in topology.nodes:
        dns, ips = node_hosts(topology, n.name)
        more = [*extra, *((node_dns or {}).get(n.name, ()))]
        ca.issue_node(n.name, extra_dns=dns + [d for d in dict.fromkeys(more) if d not in dns], ips=ips,
                      validity_days=validity_days).write(out / "nodes", n.name)
    names = [DEFAULT_CLIENT, *[a for a in apps if a != DEFAULT_CLIENT]]
    for a in names:
        if a in topology.node_names:
            raise InvalidOperation(f"application identity {a!r} is also a node name: choose another")
        ca.issue_application(a, validity_days=validity_days).write(out / "apps", a)
    return {"nodes": list(topology.node_names), "apps": names}


def load_credentials(tls_dir: Path | str, *, node: str | None = None, app: str | None = None) -> TlsCredentials:
    """A node's (``node=``) or an application's (``app=``, default `DEFAULT_CLIENT`) credentials."""
    d = Path(tls_dir)
    if node is not None:
        stem, name = d / "nodes" / node, node
    else:
        name = app or DEFAULT_CLIENT
        stem = d / "apps" / name
    try:
        return TlsCredentials(name, (d / "ca.pem").read_bytes(), stem.with_suffix(".pem").read_bytes(),
                              stem.with_suffix(".key").read_bytes(), source=str(d))
    except OSError as exc:
        what = f"node {node!r}" if node is not None else f"application {name!r}"
        raise InvalidOperation(f"TLS directory {d}: no credentials for {what} ({exc.strerror}: {exc.filename}); "
                               f"create them with `qnet certs --out {d}`") from None


def server_credentials(creds: TlsCredentials) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate signed by the network CA and verify it."""
    return grpc.ssl_server_credentials([(creds.key_pem, creds.cert_pem)], root_certificates=creds.ca_pem,
                                       require_client_auth=True)


def channel_credentials(creds: TlsCredentials) -> grpc.ChannelCredentials:
    """Channel credentials presenting `creds`' certificate and trusting only the network CA."""
    return grpc.ssl_channel_credentials(root_certificates=creds.ca_pem, private_key=creds.key_pem,
                                        certificate_chain=creds.cert_pem)


def target_name_options(node: str | None) -> list[tuple[str, str]]:
    """Channel options that make TLS check the server's certificate names `node` (whatever address it
    is reached at); none when the node is unknown (then the address's host must be in its SAN)."""
    return [("grpc.ssl_target_name_override", node)] if node else []


__all__ = ["DEFAULT_CLIENT", "TLS_DIR_ENV", "TLS_IDENTITY_ENV", "TlsCredentials", "channel_credentials",
           "load_credentials", "node_hosts", "server_credentials", "target_name_options", "write_network_certs"]
