"""Render a Docker Compose file from a topology.

One service per node, named after the node; the topology (with each node's ``address`` rewritten to
its service's DNS name, ``NAME:50051``) is written next to the compose file and mounted read-only at
``/etc/qnet/topology.yaml``. Each node serves its ETSI 014 key manager on 8443 once its certificates
are bind-mounted at /etc/qnet-kme (ca.pem, NAME.pem, NAME.key, saes.json), and keeps its key pools in
/var/lib/qnet/keys (a tmpfs unless a host directory is mounted there). Each node has a health check that
asks the standard gRPC health service (``python -m qemu_net.deploy.healthcheck``), and a ``client``
service (profile ``client``) runs a protocol once every node is healthy.

Mutual TLS is on by default: each node gets the network CA and its own certificate and key, the client
the ``client`` certificate, as compose secrets read from ``qnet-tls/`` beside the compose file (write it
with ``qnet certs``; the key files must be readable by the image's user, uid 10001). The health check
asks the node's plaintext health-only probe port (50053)::

    qnet deploy compose --topology net.yaml -o deploy-out/compose.yaml
    qnet certs --topology deploy-out/qnet-topology.yaml --out deploy-out/qnet-tls
    docker compose -f deploy-out/compose.yaml up -d
    docker compose -f deploy-out/compose.yaml --profile client run --rm client
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qemu_net.deploy import _yaml
from qemu_net.deploy.k8s import (
    DEFAULT_CLIENT_ARGS,
    DEFAULT_IMAGE,
    KEY_STORE_MOUNT,
    KME_CERT_MOUNT,
    KME_PORT,
    NODE_PORT,
    PEER_PORT,
    PROBE_PORT,
    TLS_MOUNT,
    TOPOLOGY_PATH,
)
from qemu_net.network.topology import Topology

TOPOLOGY_FILE = "qnet-topology.yaml"


@dataclass(frozen=True)
class ComposeOptions:
    image: str = DEFAULT_IMAGE
    #: Name of the topology file written beside the compose file (mounted into every container).
    topology_file: str = TOPOLOGY_FILE
    client_args: tuple[str, ...] = DEFAULT_CLIENT_ARGS
    #: Publish node i's gRPC port on the host at base_host_port + i; 0 publishes nothing.
    base_host_port: int = 0
    #: Publish node i's KME (ETSI 014, HTTPS) port on the host at base_kme_host_port + i; 0: nothing.
    base_kme_host_port: int = 0
    #: Mutual TLS with certificates from `tls_dir` (beside the compose file); False: --insecure.
    tls: bool = True
    tls_dir: str = "qnet-tls"


def compose_topology(topology: Topology) -> Topology:
    """The topology with every node reachable at its compose service name on the standard port."""
    nodes = tuple(
        n.model_copy(update={"address": f"{n.name}:{NODE_PORT}", "peer_address": ""}) for n in topology.nodes
    )
    return topology.model_copy(update={"nodes": nodes})


def render_compose(topology: Topology, opts: ComposeOptions | None = None) -> tuple[dict[str, Any], Topology]:
    """The compose document and the topology it mounts (write both; see `write_compose`)."""
    opts = opts or ComposeOptions()
    topo = compose_topology(topology)
    mount = {"type": "bind", "source": f"./{opts.topology_file}", "target": TOPOLOGY_PATH, "read_only": True}
    healthcheck = {
        "test": ["CMD", "python", "-m", "qemu_net.deploy.healthcheck", f"127.0.0.1:{PROBE_PORT}"],
        "interval": "5s",
        "timeout": "5s",
        "retries": 5,
        "start_period": "60s",
    }
    services: dict[str, Any] = {}
    for i, node in enumerate(topo.nodes):
        svc: dict[str, Any] = {
            "image": opts.image,
            "command": ["--topology", TOPOLOGY_PATH, *_node_security_args(opts), "--name", node.name],
            "hostname": node.name,
            # The KME starts when KME_CERT_MOUNT holds certificates (bind-mount them there); the key
            # pools go to KEY_STORE_MOUNT (bind-mount a host directory there to keep them).
            "environment": {"QNET_NODE_NAME": node.name, "QNET_TOPOLOGY": TOPOLOGY_PATH,
                            "QNET_KME_CERT_DIR": KME_CERT_MOUNT, "QNET_KME_SAES": f"{KME_CERT_MOUNT}/saes.json",
                            "QNET_KME_HOST": "0.0.0.0", "QNET_KME_PORT": str(KME_PORT),
                            "QNET_KEY_STORE_DIR": KEY_STORE_MOUNT},
            "volumes": [mount],
            "expose": [str(NODE_PORT), str(PEER_PORT), str(KME_PORT)],
            "healthcheck": healthcheck,
            "stop_signal": "SIGTERM",
            "stop_grace_period": "15s",
            "read_only": True,
            "tmpfs": ["/tmp", KEY_STORE_MOUNT],
            "restart": "unless-stopped",
            "labels": {"io.qemu-net.node": node.name, "io.qemu-net.topology": topo.name},
        }
        ports = []
        if opts.base_host_port:
            ports.append(f"127.0.0.1:{opts.base_host_port + i}:{NODE_PORT}")
        if opts.base_kme_host_port:
            ports.append(f"127.0.0.1:{opts.base_kme_host_port + i}:{KME_PORT}")
        if ports:
            svc["ports"] = ports
        if opts.tls:
            svc["secrets"] = _tls_secret_refs(["ca", f"{node.name}-cert", f"{node.name}-key"],
                                              ["ca.pem", f"nodes/{node.name}.pem", f"nodes/{node.name}.key"])
        services[node.name] = svc
    services["client"] = {
        "image": opts.image,
        "profiles": ["client"],
        "entrypoint": ["qnet"],
        "command": list(opts.client_args),
        "volumes": [mount],
        "read_only": True,
        "tmpfs": ["/tmp"],
        "depends_on": {n.name: {"condition": "service_healthy"} for n in topo.nodes},
        "labels": {"io.qemu-net.topology": topo.name},
    }
    doc: dict[str, Any] = {"name": f"qnet-{topo.name}", "services": services}
    if opts.tls:
        services["client"]["environment"] = {"QNET_TLS_DIR": TLS_MOUNT}
        services["client"]["secrets"] = _tls_secret_refs(["ca", "client-cert", "client-key"],
                                                         ["ca.pem", "apps/client.pem", "apps/client.key"])
        doc["secrets"] = _tls_secret_files(topo, opts)
    return doc, topo


def _node_security_args(opts: ComposeOptions) -> list[str]:
    tls = ["--tls-dir", TLS_MOUNT] if opts.tls else ["--insecure"]
    return ["--bind", "0.0.0.0", "--probe-port", str(PROBE_PORT), *tls]


def _tls_secret_refs(names: list[str], paths: list[str]) -> list[dict[str, str]]:
    return [{"source": n, "target": f"{TLS_MOUNT}/{p}"} for n, p in zip(names, paths, strict=True)]


def _tls_secret_files(topo: Topology, opts: ComposeOptions) -> dict[str, dict[str, str]]:
    """Top-level compose secrets: files of the `qnet certs` directory beside the compose file."""
    d = f"./{opts.tls_dir}"
    out = {"ca": {"file": f"{d}/ca.pem"}, "client-cert": {"file": f"{d}/apps/client.pem"},
           "client-key": {"file": f"{d}/apps/client.key"}}
    for n in topo.nodes:
        out[f"{n.name}-cert"] = {"file": f"{d}/nodes/{n.name}.pem"}
        out[f"{n.name}-key"] = {"file": f"{d}/nodes/{n.name}.key"}
    return out


def write_compose(topology: Topology, out: str | Path, opts: ComposeOptions | None = None) -> list[Path]:
    """Write the compose file to `out` and the mounted topology beside it; return both paths."""
    opts = opts or ComposeOptions()
    doc, topo = render_compose(topology, opts)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    topo_path = out.parent / opts.topology_file
    out.write_text("# Rendered by `qnet deploy compose`; regenerate instead of editing.\n" + dump_compose(doc))
    topo_path.write_text(_yaml.topology_yaml(topo))
    return [out, topo_path]


def dump_compose(doc: dict[str, Any]) -> str:
    return _yaml.dump(doc)


__all__ = ["ComposeOptions", "compose_topology", "dump_compose", "render_compose", "write_compose"]
