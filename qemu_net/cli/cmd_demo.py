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
        _qkd_section(console, net, topology)
    remote = args.remote or all(n.address for n in topology.nodes)
    tail = "the remote nodes keep running" if remote else "all node processes stopped"
    console.print(f"done in {time.perf_counter() - t0:.1f} s; {tail}.")
    return 0


def _qkd_section(console, net, topology) -> None:
    """QKD: a decoy-BB84 session over the first fiber, the keys fetched at both ends, and an eavesdropper."""
    from rich.table import Table

    from qemu_net.client import qkd

    if not topology.links:
        return
    a, b = topology.links[0].nodes
    table = Table(title=f"QKD over {a} -- {b} ({topology.links[0].length_km:g} km); keys are never printed")
    for col in ("BB84, 10^6 pulses", "sifted", "final", "QBER", "bits/pulse", "bits/wall s", "outcome"):
        table.add_column(col)
    reasons = []
    for label, eve in (("decoy", 0.0), ("decoy, Eve 100%", 1.0)):
        s = qkd.run_qkd(net, a, b, "bb84", n_pulses=1_000_000, eve_fraction=eve, report_abort=True)
        if s.aborted:
            reasons.append(f"{label}: aborted: {s.aborted}")
        table.add_row(label, f"{s.sifted_bits:,}", f"{s.final_bits:,}", f"{s.qber:.3f}", f"{s.key_rate_per_pulse:.1e}",
                      f"{s.secret_bits_per_wall_s:,.0f}", "aborted" if s.aborted else "stored")
    console.print(table)
    for r in reasons:
        console.print(r)
    keys = qkd.get_keys(net[a], b, number=2, size_bits=256)
    same = qkd.get_keys_with_ids(net[b], a, [k.key_id for k in keys])
    match = all(x.key == y.key for x, y in zip(keys, same))
    console.print(f"key delivery: {a} handed out {len(keys)} keys of 256 bits (ids {', '.join(k.key_id[:8] for k in keys)}); "
                  f"{b} fetched them by id: {'identical' if match else 'DIFFERENT'}")
