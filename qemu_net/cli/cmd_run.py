"""`qnet run PROTOCOL`: run a protocol on a network and report what it measured."""

from __future__ import annotations

import argparse
import json

from qemu_net.cli.common import add_physics_args, add_topology_args

PROTOCOLS = ("teleport", "epr", "qkd")
#: The protocol suite (qemu_net.client.protocol_experiments); --to defaults per protocol there.
SUITE = ("swap", "chain", "purify", "entangle", "ghz", "superdense", "nonlocal-cnot", "circuit")
PROTOCOLS += SUITE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a protocol and report the result", description=__doc__)
    p.add_argument("protocol", choices=PROTOCOLS, help="which protocol to run")
    add_topology_args(p)
    p.add_argument("--from", dest="src", help="first node (default: the topology's first node)")
    p.add_argument("--to", dest="dst", help="second node (default: a neighbour of the first)")
    p.add_argument("--shots", type=int, default=200, help="repetitions (pairs for epr)")
    p.add_argument("--seed", type=int, default=0, help="seed for the experiment's random choices")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_physics_args(p)
    q = p.add_argument_group("qkd", "options of `qnet run qkd` (distance sweep: python bench/qkd_sweep.py OUTDIR)")
    q.add_argument("--protocol-variant", choices=("bb84", "e91"), default="bb84",
                   help="decoy-state BB84 (default) or E91/BBM92")
    q.add_argument("--pulses", type=int, default=1_000_000, help="pulses (pairs for e91) in the session")
    q.add_argument("--eve-fraction", type=float, default=0.0,
                   help="fraction of pulses an intercept-resend eavesdropper attacks (1.0: all)")
    s = p.add_argument_group("protocol suite", "options of `qnet run entangle`")
    s.add_argument("--fidelity", type=float, default=0.9, help="target fidelity of the entanglement service")
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
    from qemu_net.cli.common import load, network, overridden
    from qemu_net.client.experiments import EXPERIMENTS

    topology = load(args)
    if args.protocol in SUITE:
        return _run_suite(args, topology)
    src, dst = _endpoints(topology, args.src, args.dst)
    if args.protocol == "qkd":
        return _run_qkd(args, topology, src, dst)
    from qemu_net.cli.progress import spinner

    fn, _ = EXPERIMENTS[args.protocol]
    with network(topology, use_running=not overridden(args)) as net, \
            spinner(f"{args.protocol} {src} -> {dst}, {args.shots} shots"):
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


def _run_qkd(args: argparse.Namespace, topology, src: str, dst: str) -> int:
    import sys

    from qemu_net.cli.common import network
    from qemu_net.client.experiments import EXPERIMENTS
    from qemu_net.errors import NotConnected

    link = topology.link(src, dst)
    if link is None:
        raise NotConnected(f"{src} and {dst} share no quantum link: QKD needs a fiber between them")
    from qemu_net.cli.common import overridden

    use_running = not overridden(args)
    fn, _ = EXPERIMENTS["qkd"]
    from qemu_net.cli.progress import spinner

    with network(topology, use_running=use_running) as net, \
            spinner(f"QKD {args.protocol_variant} {src} -> {dst}, {args.pulses:,} pulses"):
        result = fn(net, src, dst, protocol=args.protocol_variant, pulses=args.pulses, eve_fraction=args.eve_fraction)
    s = result.extra
    if args.json:
        top = ("raw_bits", "sifted_bits", "final_bits", "qber", "key_rate_per_pulse", "key_rate_per_virtual_s",
               "secret_bits_per_wall_s", "aborted")
        print(json.dumps({**result.to_dict(), **{k: s[k] for k in top}, "length_km": link.length_km}))
    else:
        print(f"qkd {s['protocol']} {src} -> {dst} ({link.length_km:g} km, {s['n_pulses']:,} pulses): "
              f"raw {s['raw_bits']:,}, sifted {s['sifted_bits']:,}, final {s['final_bits']:,} bits; "
              f"QBER {s['qber'] if s['qber'] is not None else float('nan'):.4f}; "
              f"secret key rate {s['key_rate_per_pulse']:.3e}/pulse, {s['key_rate_per_virtual_s']:,.0f} bits/virtual s, "
              f"{s['secret_bits_per_wall_s']:,.0f} bits/wall s")
    if s["aborted"]:
        print(f"qnet run qkd: session aborted: {s['aborted']}", file=sys.stderr)
        return 1
    return 0


def _run_suite(args: argparse.Namespace, topology) -> int:
    from qemu_net.cli.common import network, overridden
    from qemu_net.client.experiments import EXPERIMENTS

    fn, _ = EXPERIMENTS[args.protocol]
    kw = {"min_fidelity": args.fidelity} if args.protocol == "entangle" else {}
    from qemu_net.cli.progress import spinner

    with network(topology, use_running=not overridden(args)) as net, spinner(f"{args.protocol}, {args.shots} shots"):
        result = fn(net, args.src, args.dst, shots=args.shots, seed=args.seed, **kw)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        extra = ", ".join(f"{k}={v}" for k, v in result.extra.items() if k != "terms")
        print(f"{result.protocol}: {result.figure} = {result.value:.4f} ± {result.stderr:.4f} ({result.shots} shots, "
              f"{result.wall_time_s:.2f} s wall, {result.rate_per_s:.0f}/s) {extra}")
    return 0
