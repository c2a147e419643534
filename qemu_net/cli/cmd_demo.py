"""`qnet demo`: start a local network (the embedded alice -- repeater -- bob by default), run what the
emulator can show, print a summary, and shut everything down."""

from __future__ import annotations

import argparse

from qemu_net.cli.common import add_topology_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on a local multi-process network", description=__doc__)
    add_topology_args(p)
    p.add_argument("--shots", type=int, default=200)
    p.add_argument("--remote", action="store_true",
                   help="use the running nodes at the topology's addresses instead of starting local ones")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console
    from rich.table import Table

    from qemu_net.cli.common import load, network
    from qemu_net.client.experiments import epr_correlation, teleport_fidelity

    console = Console()
    topology = load(args)
    t0 = time.perf_counter()
    console.rule(f"[bold]qemu_net demo[/bold]: network {topology.name!r} ({', '.join(topology.node_names)})")
    with network(topology, use_running=False) as net:
        console.print(f"{len(topology.nodes)} node processes healthy after {time.perf_counter() - t0:.2f} s")
        table = Table(title="results (each role ran in its own node process)")
        for col in ("protocol", "between", "figure", "value ± stderr", "shots", "wall rate"):
            table.add_column(col)
        for link in topology.links:
            a, b = link.nodes
            r = teleport_fidelity(net, a, b, shots=args.shots)
            table.add_row("teleport", f"{a} -> {b} ({link.length_km:g} km)", r.figure,
                          f"{r.value:.3f} ± {r.stderr:.3f}", str(r.shots), f"{r.rate_per_s:.0f}/s")
            e = epr_correlation(net, a, b, pairs=20_000)
            table.add_row("epr batch", f"{a} -- {b}", e.figure, f"{e.value:.4f} ± {e.stderr:.4f}", str(e.shots),
                          f"{e.rate_per_s:,.0f}/s")
        console.print(table)
    console.print(f"done in {time.perf_counter() - t0:.1f} s; all node processes stopped.")
    return 0
