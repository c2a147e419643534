"""`qnet node`: run one node process (what containers and Kubernetes pods run)."""

from __future__ import annotations

import argparse
import os
import re
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qemu_net.node.faults import FaultPlan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("node", description=__doc__)
    p.add_argument("--topology", "-t", metavar="FILE",
                   help="topology file (default: $QNET_TOPOLOGY, a path or YAML text)")
    p.add_argument("--name", help="node name (default: $QNET_NODE_NAME, else the StatefulSet ordinal of the hostname)")
    p.add_argument("--bind", default=os.environ.get("QNET_BIND", "127.0.0.1"), metavar="ADDR",
                   help="interface to listen on (default: $QNET_BIND, else 127.0.0.1 (loopback only); "
                        "containers pass 0.0.0.0)")
    p.add_argument("--listen",
                   help="host:port for the public service (default: --bind and the port of the node's address)")
    p.add_argument("--peer-listen", help="host:port for the node-to-node service (default: --bind and the port of "
                                         "peer_address, else the public port + 1)")
    p.add_argument("--probe-port", type=int, default=int(os.environ.get("QNET_PROBE_PORT", "0") or 0) or None,
                   metavar="N", help="also serve only the health service, plaintext, on this port (for Kubernetes' "
                                     "gRPC probes; 0: any free port, logged; default: $QNET_PROBE_PORT; off if unset)")
    t = p.add_mutually_exclusive_group()
    t.add_argument("--tls-dir", default=os.environ.get("QNET_TLS_DIR") or None, metavar="DIR",
                   help="the network's certificate directory from `qnet certs` (default: $QNET_TLS_DIR): mutual "
                        "TLS on both ports. A node refuses to start without either this or --insecure")
    t.add_argument("--insecure", action="store_true", default=os.environ.get("QNET_INSECURE") == "1",
                   help="plaintext, nobody authenticated: anyone who reaches the ports controls the node "
                        "(default: $QNET_INSECURE=1)")
    p.add_argument("--allow-inspect", action="store_true", help="allow the state-inspection RPC (debugging only)")
    p.add_argument("--seed", type=int, help="override the topology's seed")
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("QNET_METRICS_PORT", "0") or 0) or None,
                   help="serve Prometheus metrics on this port (default: $QNET_METRICS_PORT; off if unset)")
    p.add_argument("--log-level", default=os.environ.get("QNET_LOG_LEVEL", "INFO"))
    p.add_argument("--log-format", choices=("text", "json"), default=os.environ.get("QNET_LOG_FORMAT", "text"),
                   help="json: one object per line with node, session and trace ids (default: $QNET_LOG_FORMAT)")
    f = p.add_argument_group("fault injection (off by default; flags override $QNET_FAULTS, see qemu_net.node.faults)")
    f.add_argument("--fault-delay-ms", type=float, metavar="MS",
                   help="delay each outgoing peer call by a random 0..MS milliseconds (reorders concurrent calls)")
    f.add_argument("--fault-stall-ms", type=float, metavar="MS", help="a stalled handler waits MS milliseconds first")
    f.add_argument("--fault-stall-p", type=float, metavar="P",
                   help="probability that a NodeService/PeerService handler is stalled")
    f.add_argument("--fault-seed", type=int, metavar="N", help="seed of the node's fault generators (default 0)")
    p.set_defaults(func=run)


def _port(address: str, what: str) -> str:
    if not address or ":" not in address:
        return ""
    return address.rsplit(":", 1)[1]


def resolve_name(names: tuple[str, ...], given: str | None) -> str:
    from qemu_net.errors import TopologyError

    name = given or os.environ.get("QNET_NODE_NAME")
    if name:
        if name not in names:
            raise TopologyError(f"node {name!r} is not in the topology (nodes: {', '.join(names)})")
        return name
    host = socket.gethostname()
    m = re.search(r"-(\d+)$", host)
    if not m or int(m.group(1)) >= len(names):
        raise TopologyError(f"no node name given and hostname {host!r} has no StatefulSet ordinal within the topology")
    return names[int(m.group(1))]


#: Exit code of a node whose name (or pod ordinal) is not in the topology (sysexits EX_CONFIG).
EXIT_NOT_IN_TOPOLOGY = 78

#: FaultPlan field -> the flag that sets it (errors name the flag).
FAULT_FLAGS = {"delay_ms": "--fault-delay-ms", "stall_ms": "--fault-stall-ms", "stall_p": "--fault-stall-p",
               "seed": "--fault-seed"}


def fault_plan(args: argparse.Namespace, environ: dict[str, str] | None = None) -> FaultPlan | None:
    """The node's fault plan: $QNET_FAULTS with any --fault-* flag replacing its key; None if nothing is set."""
    from qemu_net.node.faults import FaultPlan, plan_from_env

    given = {field: getattr(args, flag[2:].replace("-", "_")) for field, flag in FAULT_FLAGS.items()}
    base = plan_from_env(environ)
    if all(v is None for v in given.values()):
        return base
    return (base or FaultPlan.model_validate({})).with_overrides(source="qnet node", names=FAULT_FLAGS, **given)


def run(args: argparse.Namespace) -> int:
    import logging

    from qemu_net.errors import TopologyError
    from qemu_net.network.topology import load_topology, topology_from_env

    topology = load_topology(args.topology) if args.topology else topology_from_env()
    try:
        name = resolve_name(topology.node_names, args.name)
    except TopologyError as exc:  # e.g. a pod scaled beyond the topology: exit at once, with its own code
        import sys

        print(f"qnet node: {exc}. This node is not in the topology ({len(topology.node_names)} nodes); grow the "
              "network by re-rendering the deployment from a larger topology, not by scaling.", file=sys.stderr)
        return EXIT_NOT_IN_TOPOLOGY
    # Cirq and gRPC: only once the node is known to exist.
    from qemu_net.node.server import NodeServer
    from qemu_net.observability.logs import configure

    configure(node=name, level=args.log_level, fmt=args.log_format)
    # `kill -USR1 <pid>` writes every thread's stack to stderr (the pod's log): what a stuck node is doing.
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1, all_threads=True)
    spec = topology.node(name)
    listen = args.listen
    if not listen:
        port = _port(spec.address, "address")
        if not port:
            raise TopologyError(f"nodes[{topology.node_names.index(name)}].address: no port; give --listen HOST:PORT")
        listen = f"{args.bind}:{port}"
    peer_listen = args.peer_listen
    if not peer_listen:
        if spec.peer_address and spec.peer_address != spec.address:
            peer_listen = f"{args.bind}:{_port(spec.peer_address, 'peer_address')}"
        else:
            peer_listen = f"{args.bind}:{int(listen.rsplit(':', 1)[1]) + 1}"
    log = logging.getLogger("qemu_net.node")
    tls = None
    if args.tls_dir and not args.insecure:
        from qemu_net.security.tls import load_credentials

        tls = load_credentials(args.tls_dir, node=name)
    elif args.insecure:
        log.warning("node %s runs WITHOUT TLS (--insecure): anyone who reaches its ports controls it, reads its "
                    "keys and forges peer messages", name)
    else:
        raise TopologyError(f"node {name}: give --tls-dir DIR (certificates from `qnet certs`) or --insecure "
                            "(plaintext, unauthenticated)")
    probe = f"{args.bind}:{args.probe_port}" if args.probe_port is not None else None
    server = NodeServer(topology, name, listen=listen, peer_listen=peer_listen, allow_inspect=args.allow_inspect,
                        seed=args.seed, faults=fault_plan(args), tls=tls, probe_listen=probe)
    server.install_signal_handlers()
    ports = server.start()
    server.mark_serving()
    log.info("node %s serving on port %d (peer port %d%s, %s)", name, ports.port, ports.peer_port,
             f", probe port {ports.probe_port}" if ports.probe_port else "", "mutual TLS" if tls else "PLAINTEXT")
    if args.metrics_port:
        from qemu_net.node.metrics import serve_metrics

        metrics_port = serve_metrics(server.core, args.metrics_port, args.bind)
        logging.getLogger("qemu_net.node").info("node %s: Prometheus metrics on port %d", name, metrics_port)
    server.wait()
    return 0
