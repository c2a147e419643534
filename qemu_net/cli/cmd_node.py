"""`qnet node`: run one node process (what containers and Kubernetes pods run)."""

from __future__ import annotations

import argparse
import os
import re
import socket


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="run one node process", description=__doc__)
    p.add_argument("--topology", "-t", metavar="FILE",
                   help="topology file (default: $QNET_TOPOLOGY, a path or YAML text)")
    p.add_argument("--name", help="node name (default: $QNET_NODE_NAME, else the StatefulSet ordinal of the hostname)")
    p.add_argument("--listen", help="host:port for the public service (default: 0.0.0.0 and the port of the node's address)")
    p.add_argument("--peer-listen", help="host:port for the node-to-node service (default: from peer_address)")
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


def fault_plan(args: argparse.Namespace, environ: dict[str, str] | None = None):
    """The node's fault plan: $QNET_FAULTS with any --fault-* flag replacing its key; None if nothing is set."""
    from qemu_net.node.faults import FaultPlan, plan_from_env

    given = {field: getattr(args, flag[2:].replace("-", "_")) for field, flag in FAULT_FLAGS.items()}
    base = plan_from_env(environ)
    if all(v is None for v in given.values()):
        return base
    return (base or FaultPlan()).with_overrides(source="qnet node", names=FAULT_FLAGS, **given)


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
    spec = topology.node(name)
    listen = args.listen
    if not listen:
        port = _port(spec.address, "address")
        if not port:
            raise TopologyError(f"nodes[{topology.node_names.index(name)}].address: no port; give --listen HOST:PORT")
        listen = f"0.0.0.0:{port}"
    peer_listen = args.peer_listen
    if not peer_listen and spec.peer_address and spec.peer_address != spec.address:
        peer_listen = f"0.0.0.0:{_port(spec.peer_address, 'peer_address')}"
    server = NodeServer(topology, name, listen=listen, peer_listen=peer_listen, allow_inspect=args.allow_inspect,
                        seed=args.seed, faults=fault_plan(args))
    server.install_signal_handlers()
    ports = server.start()
    server.mark_serving()
    logging.getLogger("qemu_net.node").info("node %s serving on port %d (peer port %d)", name, ports.port,
                                            ports.peer_port)
    if args.metrics_port:
        from qemu_net.node.metrics import serve_metrics

        port = serve_metrics(server.core, args.metrics_port)
        logging.getLogger("qemu_net.node").info("node %s: Prometheus metrics on port %d", name, port)
    server.wait()
    return 0
