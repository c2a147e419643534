"""A tiny gRPC health probe for containers and scripts.

``python -m qemu_net.deploy.healthcheck HOST:PORT [SERVICE]``
    Exit 0 when the node at HOST:PORT answers the standard ``grpc.health.v1.Health/Check`` with SERVING
    for SERVICE (default: the overall server, ``""``); 1 otherwise (NOT_SERVING, unreachable, timeout).
    Used by the Dockerfile's HEALTHCHECK and the rendered compose file (no grpc_health_probe binary).

``python -m qemu_net.deploy.healthcheck --topology FILE --wait-s 300 [--service qemu_net.ready]``
    Wait until every node of the topology (at its ``address``) is SERVING; exit 1 if that has not
    happened within the bound. ``--service qemu_net.ready`` waits for readiness (every linked peer
    reachable, `qemu_net.node.readiness`) instead of liveness. Used by the Kubernetes client Job and the
    container/netns scripts.

With ``--tls-dir DIR`` (default ``$QNET_TLS_DIR``) it connects with the network's ``client``
certificate (mutual TLS); without one it speaks plaintext, which a node answers only on its probe port
(``qnet node --probe-port``).

Imports only grpc, yaml and cryptography (about 0.3 s), never Cirq.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc

# A short first reconnect backoff for start-up waits. NOT grpc.min_reconnect_backoff_ms: gRPC core also
# uses it as the minimum *connect timeout*, so a low value aborts TCP handshakes whose SYN was lost
# ("tcp handshaker shutdown" after 0.2 s at 5-20 % packet loss; measured in tests/netns).
_FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


#: address -> node name, for the addresses of a topology: TLS then checks the certificate names that node.
_NAMES: dict[str, str] = {}


def _channel(address: str, tls_dir: str | None) -> grpc.Channel:
    import grpc

    if not tls_dir:
        return grpc.insecure_channel(address, options=_FAST_RECONNECT)
    from qemu_net.security.tls import channel_credentials, load_credentials, target_name_options

    options = _FAST_RECONNECT + target_name_options(_NAMES.get(address))
    return grpc.secure_channel(address, channel_credentials(load_credentials(tls_dir)), options=options)


def check(address: str, service: str = "", *, timeout_s: float = 3.0, tls_dir: str | None = None) -> tuple[bool, str]:
    """Ask `address` for the health of `service` once; return (serving, status name or error)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with _channel(address, tls_dir) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    return resp.status == health_pb2.HealthCheckResponse.SERVING, status


def wait_all(addresses: list[str], *, wait_s: float, service: str = "", log: Callable[[str], object] = print,
             tls_dir: str | None = None) -> bool:
    """Poll each address (at most every second, bounded by `wait_s` overall) until all are SERVING."""
    deadline = time.monotonic() + wait_s
    pending = list(addresses)
    last: dict[str, str] = {}
    while pending:
        for addr in list(pending):
            remaining = deadline - time.monotonic()
            ok, status = check(addr, service, timeout_s=max(0.5, min(3.0, remaining)), tls_dir=tls_dir)
            last[addr] = status
            if ok:
                pending.remove(addr)
                log(f"{addr}: SERVING")
        if not pending:
            return True
        if time.monotonic() >= deadline:
            for addr in pending:
                log(f"{addr}: not serving after {wait_s:.0f} s ({last.get(addr)})")
            return False
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    return True


def _topology_addresses(source: str) -> list[str]:
    import os

    from qemu_net.network.topology import load_topology, parse_topology

    if os.path.exists(source):
        topo = load_topology(source)
    else:  # YAML text, as QNET_TOPOLOGY may hold
        import yaml

        topo = parse_topology(yaml.safe_load(source), source="--topology")
    missing = [n.name for n in topo.nodes if not n.address]
    if missing:
        raise SystemExit(f"healthcheck: nodes without an address in the topology: {', '.join(missing)}")
    _NAMES.update({n.address: n.name for n in topo.nodes})
    return [n.address for n in topo.nodes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qemu_net.deploy.healthcheck", description="Check nodes' gRPC health service."
    )
    parser.add_argument("address", nargs="?", help="HOST:PORT of one node's gRPC server")
    parser.add_argument("service", nargs="?", default="", help="service name to check (default: overall)")
    parser.add_argument("--topology", help="check every node of this topology (file path or YAML text)")
    parser.add_argument("--service", dest="service_opt", metavar="SERVICE",
                        help="service name to check (e.g. qemu_net.ready: readiness); same as SERVICE")
    parser.add_argument("--wait-s", type=float, default=0.0, help="keep trying up to this long (default: once)")
    parser.add_argument("--timeout-s", type=float, default=3.0, help="deadline of one Check call")
    parser.add_argument("--tls-dir", default=None,
                        help="certificate directory (mutual TLS with its client certificate; default $QNET_TLS_DIR)")
    args = parser.parse_args(argv)
    import os

    tls_dir = args.tls_dir or os.environ.get("QNET_TLS_DIR") or None
    if bool(args.address) == bool(args.topology):
        parser.error("give either ADDRESS or --topology")
    if args.service_opt is not None:
        args.service = args.service_opt
    addresses = _topology_addresses(args.topology) if args.topology else [args.address]
    if args.wait_s > 0:
        return 0 if wait_all(addresses, wait_s=args.wait_s, service=args.service, tls_dir=tls_dir) else 1
    rc = 0
    for addr in addresses:
        ok, status = check(addr, args.service, timeout_s=args.timeout_s, tls_dir=tls_dir)
        print(f"{addr} {args.service or '(overall)'}: {status}")
        rc |= 0 if ok else 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
