"""`qnet run PROTOCOL`: run a protocol on a network and report what it measured."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from qemu_net.cli.common import add_physics_args, add_topology_args

if TYPE_CHECKING:
    from collections.abc import Callable

    from qemu_net.client.experiments import ExperimentResult
    from qemu_net.network.topology import Topology

PROTOCOLS: tuple[str, ...] = ("teleport", "epr", "qkd")
#: Default bound on one `qnet run qkd` session, s.
QKD_TIMEOUT_S = 300.0
#: The protocol suite (qemu_net.client.protocol_experiments); --to defaults per protocol there.
SUITE = ("swap", "chain", "purify", "entangle", "ghz", "superdense", "nonlocal-cnot", "circuit")
PROTOCOLS += (*SUITE, "sensing", "memory", "clock-sync")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", description=__doc__)
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
    q.add_argument("--mu", type=float, help="BB84 signal mean photon number (default 0.5)")
    q.add_argument("--nu", type=float, help="BB84 weak-decoy mean photon number (default 0.1)")
    q.add_argument("--p-signal", type=float, help="probability of a signal pulse (default 0.7)")
    q.add_argument("--p-decoy", type=float, help="probability of a weak decoy pulse (default 0.2)")
    q.add_argument("--p-vacuum", type=float, help="probability of a vacuum decoy pulse (default 0.1)")
    q.add_argument("--p-z", type=float, help="probability of the Z (key) basis (default 0.5)")
    q.add_argument("--f-ec", type=float, help="error-correction inefficiency f of the reported asymptotic rate "
                                            "(default 1.16; GYS/Ma et al.: 1.22)")
    q.add_argument("--visibility", type=float, help="E91 source visibility (default: from the link fidelity)")
    q.add_argument("--qber-threshold", type=float, help="abort above this QBER (default 0.11)")
    q.add_argument("--single-photon", action="store_true", help="BB84 with an ideal single-photon source (no decoys)")
    q.add_argument("--timeout-s", type=float, default=QKD_TIMEOUT_S,
                   help=f"bound on the whole session, s (default {QKD_TIMEOUT_S:g}: a 10^8-pulse block on a busy "
                        "machine)")
    s = p.add_argument_group("protocol suite", "options of `qnet run entangle`, `purify`, `ghz`, `sensing`")
    s.add_argument("--fidelity", type=float, default=0.9, help="target fidelity of the entanglement service")
    s.add_argument("--method", choices=("dejmps", "bbpssw"), default="dejmps", help="purification method")
    s.add_argument("--rounds", type=int, default=1, help="nested purification rounds (2^rounds pairs each)")
    s.add_argument("--ghz-depolarize", type=float, default=0.0,
                   help="depolarising probability applied to each node's GHZ qubit (noise knob)")
    z = p.add_argument_group("sensing", "options of `qnet run sensing` (its own line of sensor nodes)")
    z.add_argument("--sensors", type=int, default=8, help="largest number of sensors k (runs k = 1..K)")
    z.add_argument("--sensing-link-fidelity", type=float, default=1.0, help="Werner fidelity of the sensor links")
    z.add_argument("--interrogation-over-t2", type=float, default=0.0,
                   help="interrogation time / memory T2 (coherence e^(-t/T2) per qubit)")
    z.add_argument("--plot", metavar="FILE", help="write a PNG of uncertainty vs k")
    m = p.add_argument_group("memory", "options of `qnet run memory` (a stored pair, time passing by classical "
                                       "round trips)")
    m.add_argument("--waits-s", default="0,1e-4,3e-4,1e-3",
                   help="comma-separated storage times, s (rounded up to whole round trips)")
    c = p.add_argument_group("circuit", "options of `qnet run circuit` (default: a GHZ circuit along --from .. --to)")
    c.add_argument("--qasm", metavar="FILE", help="an OpenQASM 2.0/3.0 program to run distributed over the nodes")
    c.add_argument("--place", metavar="SPEC", help="node of each qubit: q[0]=alice,q[1]=alice,q[2:3]=bob,r=carol")
    c.add_argument("--verify", action="store_true",
                   help="also run once keeping the final state, gather it at one node (--gather) and report its "
                        "fidelity with Cirq's simulation of the whole circuit (starts nodes with --allow-inspect)")
    c.add_argument("--gather", metavar="NODE",
                   help="node the final state is gathered at for --verify (default: a placed node with a quantum "
                        "link to every other placed node)")
    p.set_defaults(func=run)


def _endpoints(topology: Topology, src: str | None, dst: str | None) -> tuple[str, str]:
    from qemu_net.errors import InvalidOperation

    src = src or topology.node_names[0]
    if dst is None:
        neigh = [n for n in topology.neighbours(src) if topology.link(src, n)]
        if not neigh:
            raise InvalidOperation(f"node {src!r} has no quantum link")
        dst = neigh[0]
    for n in (src, dst):
        topology.require_node(n)
    return src, dst


def run(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import load, network, overridden
    from qemu_net.client.experiments import EXPERIMENTS

    if args.protocol == "sensing":
        return _run_sensing(args)
    topology = load(args)
    if args.qasm or args.place:
        if args.protocol != "circuit" or not (args.qasm and args.place):
            from qemu_net.errors import InvalidOperation

            raise InvalidOperation("--qasm FILE and --place SPEC go together, with `qnet run circuit`")
        from qemu_net.cli.cmd_run_qasm import run_qasm

        return run_qasm(args, topology)
    if args.protocol in SUITE:
        return _run_suite(args, topology)
    src, dst = _endpoints(topology, args.src, args.dst)
    if args.protocol == "qkd":
        return _run_qkd(args, topology, src, dst)
    if args.protocol == "memory":
        return _run_memory(args, topology, src, dst)
    from qemu_net.cli.progress import spinner

    fn: Callable[..., ExperimentResult] = EXPERIMENTS[args.protocol][0]
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


def _run_qkd(args: argparse.Namespace, topology: Topology, src: str, dst: str) -> int:
    import sys

    from qemu_net.cli.common import network
    from qemu_net.client.experiments import EXPERIMENTS
    from qemu_net.errors import NotConnected

    link = topology.link(src, dst)
    if link is None:
        raise NotConnected(f"{src} and {dst} share no quantum link: QKD needs a fiber between them")
    from qemu_net.cli.common import overridden

    use_running = not overridden(args)
    fn: Callable[..., ExperimentResult] = EXPERIMENTS["qkd"][0]
    bb84_keys = ("mu", "nu", "p_signal", "p_decoy", "p_vacuum", "p_z", "f_ec", "qber_threshold")
    e91_keys = ("visibility", "p_z", "f_ec", "qber_threshold")
    keys = bb84_keys if args.protocol_variant == "bb84" else e91_keys
    params = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if args.single_photon:
        params["decoy"] = False
    from qemu_net.cli.progress import spinner

    with network(topology, use_running=use_running) as net, \
            spinner(f"QKD {args.protocol_variant} {src} -> {dst}, {args.pulses:,} pulses"):
        result = fn(net, src, dst, protocol=args.protocol_variant, pulses=args.pulses, eve_fraction=args.eve_fraction,
                    timeout_s=args.timeout_s, **params)
    s = result.extra
    if args.json:
        top = ("raw_bits", "sifted_bits", "final_bits", "qber", "key_rate_per_pulse", "key_rate_per_virtual_s",
               "secret_bits_per_wall_s", "aborted")
        print(json.dumps({**result.to_dict(), **{k: s[k] for k in top}, "length_km": link.length_km,
                          "parameters": params}))
    else:
        print(f"qkd {s['protocol']} {src} -> {dst} ({link.length_km:g} km, {s['n_pulses']:,} pulses): "
              f"raw {s['raw_bits']:,}, sifted {s['sifted_bits']:,}, final {s['final_bits']:,} bits; "
              f"QBER {s['qber'] if s['qber'] is not None else float('nan'):.4f}; "
              f"secret key rate {s['key_rate_per_pulse']:.3e}/pulse, "
              f"{s['key_rate_per_virtual_s']:,.0f} bits/virtual s, "
              f"{s['secret_bits_per_wall_s']:,.0f} bits/wall s")
    if s["aborted"]:
        print(f"qnet run qkd: session aborted: {s['aborted']}", file=sys.stderr)
        return 1
    return 0


def _run_suite(args: argparse.Namespace, topology: Topology) -> int:
    from qemu_net.cli.common import network, overridden
    from qemu_net.client.experiments import EXPERIMENTS

    fn: Callable[..., ExperimentResult] = EXPERIMENTS[args.protocol][0]
    kw: dict[str, Any] = {}
    if args.protocol == "entangle":
        kw = {"min_fidelity": args.fidelity}
    elif args.protocol == "purify":
        kw = {"method": args.method, "rounds": args.rounds}
    elif args.protocol == "ghz":
        kw = {"depolarize": args.ghz_depolarize}
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


def _run_sensing(args: argparse.Namespace) -> int:
    import math

    from qemu_net.cli.common import network
    from qemu_net.client.sensing import plot_sensing, run_sensing, sensor_topology

    coherence = math.exp(-args.interrogation_over_t2)
    topo = sensor_topology(args.sensors, link_fidelity=args.sensing_link_fidelity, seed=args.seed)
    with network(topo, use_running=False) as net:
        r = run_sensing(net, args.sensors, shots=max(args.shots, 32), link_fidelity=args.sensing_link_fidelity,
                        coherence=coherence)
    if args.plot:
        plot_sensing([r], args.plot)
    if args.json:
        print(json.dumps(r.to_dict()))
        return 0
    print(f"distributed phase estimation: link fidelity {r.link_fidelity:g}, memory coherence {r.coherence:.4g} "
          "(uncertainty per GHZ state / per round of k probes, rad)")
    print(f"{'k':>3} {'GHZ':>16} {'1/(kV)':>8} {'unentangled':>16} {'1/(sqrt(k)c)':>12}  advantage")
    for pt in r.points:
        e, u = pt.entangled, pt.unentangled
        print(f"{pt.k:3d} {e.uncertainty:8.4f} ± {e.uncertainty_stderr:.4f} {pt.heisenberg_expected:8.4f} "
              f"{u.uncertainty:8.4f} ± {u.uncertainty_stderr:.4f} {pt.sql_expected:12.4f}  "
              f"{u.uncertainty / e.uncertainty:.2f}x")
    if args.plot:
        print(f"plot: {args.plot}")
    return 0


def _run_memory(args: argparse.Namespace, topology: Topology, src: str, dst: str) -> int:
    from qemu_net.cli.common import network, overridden
    from qemu_net.client.memory import memory_experiment

    try:
        waits = tuple(float(x) for x in args.waits_s.split(",") if x.strip())
    except ValueError:
        from qemu_net.errors import InvalidOperation

        raise InvalidOperation(f"--waits-s: expected comma-separated seconds, got {args.waits_s!r}") from None
    with network(topology, use_running=not overridden(args)) as net:
        pts = memory_experiment(net, src, dst, waits_s=waits, shots=args.shots, seed=args.seed)
    if args.json:
        print(json.dumps({"from": src, "to": dst, "points": [p.to_dict() for p in pts]}))
        return 0
    a, b = topology.node(src), topology.node(dst)
    print(f"memory {src} -- {dst}: T1 {a.t1_s}/{b.t1_s} s, T2 {a.t2_s}/{b.t2_s} s; pair fidelity after storage")
    print(f"{'round trips':>11} {'storage us':>11} {'fidelity':>18} {'closed form':>11}")
    for p in pts:
        print(f"{p.round_trips:11d} {p.storage_s * 1e6:11.1f} {p.fidelity:9.4f} ± {p.stderr:.4f} {p.expected:11.4f}")
    return 0
