"""`qnet dashboard`: a live web page of a running network (topology, memories, links, key pools, runs).

    qnet up && qnet dashboard                       # the network `qnet up` started (metrics included)
    qnet dashboard -t compose-topology.yaml --metrics-port 9100   # nodes at the topology's addresses

The page is served by this process (standard library HTTP server) from files in the package: no
build step and nothing fetched from the internet. Stop it with Ctrl-C; the network keeps running.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from qemu_net.cli.common import add_topology_args

if TYPE_CHECKING:
    from qemu_net.network.topology import Topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_topology_args(p)
    add_dashboard_args(p, prefix="")
    p.add_argument("--metrics", action="append", default=[], metavar="NODE=HOST:PORT",
                   help="where a node serves Prometheus /metrics (repeatable)")
    p.add_argument("--metrics-port", type=int,
                   help="every node serves /metrics on this port of its address's host (Compose/Kubernetes "
                        "nodes started with QNET_METRICS_PORT)")
    p.set_defaults(func=run)


def add_dashboard_args(p: argparse.ArgumentParser, *, prefix: str) -> None:
    p.add_argument(f"--{prefix}host", dest="dashboard_host", default="127.0.0.1",
                   help="address the dashboard listens on (default 127.0.0.1)")
    p.add_argument(f"--{prefix}port", dest="dashboard_port", type=int, default=8765,
                   help="port of the dashboard (default 8765; 0: any free port)")
    p.add_argument(f"--{prefix}probe-timeout-s", dest="dashboard_probe_timeout_s", type=_positive_seconds,
                   default=2.0, metavar="S",
                   help="deadline of each read from a node; a node that does not answer in time is shown as "
                        "down (default 2 s; raise it on a heavily loaded host)")


def _positive_seconds(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


def _metrics_map(topology: Topology, items: list[str], port: int | None, known: dict[str, str]) -> dict[str, str]:
    from qemu_net.errors import InvalidOperation

    out = dict(known)
    if port:
        for node in topology.nodes:
            if node.address:
                out[node.name] = f"{node.address.rsplit(':', 1)[0]}:{port}"
    for item in items:
        name, sep, addr = item.partition("=")
        if not sep or not addr or name not in topology.node_names:
            raise InvalidOperation(f"--metrics {item!r}: expected NODE=HOST:PORT with NODE one of "
                                   f"{', '.join(topology.node_names)}")
        out[name] = addr
    return out


def resolve(args: argparse.Namespace) -> tuple[Topology, dict[str, str]]:
    """The topology with addresses, and the known metrics addresses, of the network to show."""
    from qemu_net.cli.common import load, read_state, supervisor_running
    from qemu_net.errors import QnetError
    from qemu_net.network.topology import parse_topology

    topology = load(args)
    if all(n.address for n in topology.nodes):
        return topology, {}
    state = read_state(topology.name)
    if state is None or not supervisor_running(state):
        raise QnetError(f"network {topology.name!r} is not running: start it with `qnet up`, or give a topology "
                        "whose nodes have addresses (Compose, Kubernetes)")
    running = parse_topology(state["topology"])
    if state.get("tls_dir"):  # the SDK connects to these addresses with the network's client certificate
        from qemu_net.client.credentials import remember

        remember([n.address for n in running.nodes], state["tls_dir"])
    metrics = {k: v["metrics_address"] for k, v in state.get("nodes", {}).items() if v.get("metrics_address")}
    return running, metrics


def serve(topology: Topology, metrics: dict[str, str], host: str, port: int, *, probe_timeout_s: float = 2.0,
          out: TextIO = sys.stdout) -> int:
    """Serve the dashboard in the foreground until Ctrl-C."""
    import signal

    from qemu_net.client import Network
    from qemu_net.dashboard import Dashboard

    def on_stop(signum: int, frame: object) -> None:  # SIGTERM stops the page the way Ctrl-C does
        raise KeyboardInterrupt

    # Both installed explicitly: a process started in the background of a non-interactive shell inherits
    # SIGINT ignored, and Python then never turns Ctrl-C into KeyboardInterrupt.
    previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    with Network.connect(topology, timeout_s=30) as net:
        dash = Dashboard(net, topology, metrics=metrics, host=host, port=port, probe_timeout_s=probe_timeout_s)
        print(f"dashboard of {topology.name!r} ({len(topology.nodes)} nodes): {dash.url}  (Ctrl-C to stop)",
              file=out, flush=True)
        try:
            dash.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            dash.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 0


def run(args: argparse.Namespace) -> int:
    topology, known = resolve(args)
    metrics = _metrics_map(topology, args.metrics, args.metrics_port, known)
    return serve(topology, metrics, args.dashboard_host, args.dashboard_port,
                 probe_timeout_s=args.dashboard_probe_timeout_s)
