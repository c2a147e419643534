"""`qnet run PROTOCOL`: run a protocol on a network and report what it measured."""

from __future__ import annotations

import argparse
import json

from qemu_net.cli.common import add_topology_args

PROTOCOLS = ("teleport", "epr")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a protocol and report the result", description=__doc__)
    p.add_argument("protocol", choices=PROTOCOLS, help="which protocol to run")
    add_topology_args(p)
    p.add_argument("--from", dest="src", help="first node (default: the topology's first node)")
    p.add_argument("--to", dest="dst", help="second node (default: a neighbour of the first)")
    p.add_argument("--shots", type=int, default=200, help="repetitions (pairs for epr)")
    p.add_argument("--seed", type=int, default=0, help="seed for the experiment's random choices")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _endpoints(topology, src: str | None, dst: str | None) -> tuple[str, str]:
    from qemu_net.errors import InvalidOperation

    src = src or topology.node_names[0]
    if dst is None:
        neigh = [n for n in topology.neighbours(src) if topology.link(src, n)]
        if not neigh:
            raise InvalidOperation(f"node {src!r} has no quantum link")
        dst = neigh[0]
    for n in (src, dst):
        if n not in topology.node_names:
            raise InvalidOperation(f"unknown node {n!r}; nodes: {', '.join(topology.node_names)}")
    return src, dst


def run(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import load, network
    from qemu_net.client.experiments import EXPERIMENTS

    topology = load(args)
    src, dst = _endpoints(topology, args.src, args.dst)
    fn, _ = EXPERIMENTS[args.protocol]
    with network(topology) as net:
        if args.protocol == "epr":
            result = fn(net, src, dst, pairs=args.shots, seed=args.seed)
        else:
            result = fn(net, src, dst, shots=args.shots, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"{result.protocol} {src} -> {dst}: {result.figure} = {result.value:.4f} ± {result.stderr:.4f} "
              f"({result.shots} shots, {result.wall_time_s:.2f} s wall, {result.rate_per_s:.0f}/s, "
              f"{result.virtual_time_ns / 1e6:.3f} ms virtual)")
    return 0
