"""`qnet topology`: write a regular topology in one line, or show a topology's effective physics.

    qnet topology chain 16 --length-km 5 -o chain16.yaml
    qnet topology chain 16 | qnet up -t -          # '-' reads the topology from standard input
    qnet topology show chain16.yaml --t2-s 0.01    # nodes, links and their physics, overrides applied
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from qemu_net.cli.common import add_physics_args, group_help

if TYPE_CHECKING:
    from qemu_net.network.topology import Topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("topology",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    tsub = p.add_subparsers(dest="topology_command", metavar="KIND")
    from qemu_net.network.generate import KINDS

    for kind in KINDS:
        g = tsub.add_parser(kind, help=f"a {kind} of N nodes" if kind != "grid" else "an N x N grid")
        g.add_argument("n", type=int, metavar="N")
        g.add_argument("--length-km", type=float, default=1.0, help="fiber length of every link (default 1)")
        g.add_argument("--source-fidelity", type=float, help="EPR source fidelity of every link")
        g.add_argument("--memory-qubits", type=int, help="memory size of every node")
        g.add_argument("--name", help="network name (default: KIND followed by N)")
        g.add_argument("--seed", type=int, default=0)
        g.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
        g.set_defaults(func=run_generate, kind=kind)
    s = tsub.add_parser("show", help="print nodes, links and their effective physics")
    s.add_argument("file", metavar="FILE", help="topology file ('-': standard input)")
    s.add_argument("--json", action="store_true")
    add_physics_args(s)
    s.set_defaults(func=run_show)
    p.set_defaults(func=lambda args: group_help(p))


def topology_argument(value: str | None, chain: int | None = None) -> Topology:
    """The topology a `-t/--topology` value names ('-': YAML on standard input), a `--chain N`, or the default."""
    import yaml

    from qemu_net.errors import TopologyError
    from qemu_net.network.topology import default_topology, load_topology, parse_topology

    if chain is not None:
        if value:
            raise TopologyError("give either --topology or --chain, not both")
        from qemu_net.network.generate import generate

        return generate("chain", chain)
    if not value:
        return default_topology()
    if value == "-":
        text = sys.stdin.read()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TopologyError(f"standard input: not valid YAML: {exc}") from None
        return parse_topology(data, source="standard input")
    return load_topology(value)


def run_generate(args: argparse.Namespace) -> int:
    from qemu_net.network.generate import generate

    link = {"source_fidelity": args.source_fidelity} if args.source_fidelity is not None else {}
    node = {"memory_qubits": args.memory_qubits} if args.memory_qubits is not None else {}
    topo = generate(args.kind, args.n, length_km=args.length_km, name=args.name, seed=args.seed, node=node, link=link)
    import yaml

    # Only what differs from the defaults, so the file reads like one written by hand.
    text = yaml.safe_dump(topo.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"{args.output}: {topo.name}, {len(topo.nodes)} nodes, {len(topo.links)} quantum links", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def describe(topology: Topology) -> dict[str, Any]:
    """Nodes, links and classical links with every physical value resolved (defaults included)."""
    from qemu_net.dashboard.collect import modelled_link

    nodes = [{"name": n.name, "address": n.address, "memory_qubits": n.memory_qubits, "t1_s": n.t1_s, "t2_s": n.t2_s,
              "gate_1q_error": n.gate_1q_error, "gate_2q_error": n.gate_2q_error, "measure_error": n.measure_error}
             for n in topology.nodes]
    links = []
    for lk in topology.links:
        m = modelled_link(topology, *lk.nodes)
        links.append({"nodes": list(lk.nodes), **m, "source_model": lk.source_model,
                      "transmission_depolarize": lk.transmission_depolarize,
                      "detector_efficiency": lk.detector_efficiency,
                      "dark_count_probability": lk.dark_count_probability, "attempt_rate_hz": lk.attempt_rate_hz})
    classical = [{"nodes": list(c.nodes), "length_km": c.length_km, "latency_ns": c.effective_latency_ns}
                 for c in topology.classical_links]
    return {"name": topology.name, "seed": topology.seed, "nodes": nodes, "links": links, "classical_links": classical}


def run_show(args: argparse.Namespace) -> int:
    import json

    from qemu_net.cli.common import load

    args.topology = args.file
    d = describe(load(args))
    if args.json:
        print(json.dumps(d))
        return 0
    from rich.console import Console
    from rich.table import Table

    con = Console()

    def opt(v: object, fmt: str = "{:g}") -> str:
        return "\N{EN DASH}" if v is None else fmt.format(v)

    t = Table(title=f"{d['name']}: {len(d['nodes'])} nodes (seed {d['seed']})")
    for col in ("node", "address", "memory", "T1 s", "T2 s", "1q err", "2q err", "meas err"):
        t.add_column(col)
    for n in d["nodes"]:
        t.add_row(n["name"], n["address"] or "(launcher)", str(n["memory_qubits"]), opt(n["t1_s"]), opt(n["t2_s"]),
                  opt(n["gate_1q_error"]), opt(n["gate_2q_error"]), opt(n["measure_error"]))
    con.print(t)
    t = Table(title=f"{len(d['links'])} quantum links")
    for col in ("link", "km", "dB/km", "source F", "transmissivity", "herald p", "pair F (model)", "latency"):
        t.add_column(col)
    for lk in d["links"]:
        t.add_row(" -- ".join(lk["nodes"]), f"{lk['length_km']:g}", f"{lk['attenuation_db_per_km']:g}",
                  f"{lk['source_fidelity']:g}", f"{lk['transmissivity']:.4f}", f"{lk['herald_probability']:.4f}",
                  f"{lk['expected_fidelity']:.4f}", f"{lk['latency_ns'] / 1e3:g} µs")
    con.print(t)
    if d["classical_links"]:
        t = Table(title=f"{len(d['classical_links'])} classical-only links")
        for col in ("link", "km", "latency"):
            t.add_column(col)
        for c in d["classical_links"]:
            t.add_row(" -- ".join(c["nodes"]), f"{c['length_km']:g}", f"{c['latency_ns'] / 1e3:g} µs")
        con.print(t)
    return 0
