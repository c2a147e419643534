"""`qnet sweep`: measure a curve on a local multi-process network, beside its closed form.

    qnet sweep qkd --distances 0 10 20 30 40 --plot key-rate.png      # key rate vs distance, GLLP, PLOB
    qnet sweep chain --length 6 --link-fidelity 0.95 --plot chain.png # fidelity vs chain length
    qnet sweep memory --t1-s 1e-3 --t2-s 4e-4 --plot decay.png       # memory decay curves

Each starts its own network (announced on one line), shows a progress bar per point, prints a table
(or ``--json``: every series, measured and closed form) and with ``--plot`` writes a PNG.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from qemu_net.cli.common import group_help

if TYPE_CHECKING:
    from qemu_net.client.sweeps import Sweep
    from qemu_net.network.topology import Topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sweep",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ssub = p.add_subparsers(dest="sweep", metavar="SWEEP")
    q = ssub.add_parser("qkd", help="secret key rate vs fiber length (decoy BB84), with GLLP and PLOB")
    q.add_argument("--distances", type=float, nargs="+", default=[0, 10, 20, 30, 40, 50], metavar="KM")
    q.add_argument("--pulses", type=int, default=1_000_000, help="pulses per session")
    q.add_argument("--seed", type=int, default=0, help="names the sessions, whose randomness it fixes")
    c = ssub.add_parser("chain", help="end-to-end fidelity vs chain length (swapping), with the closed form")
    c.add_argument("--length", type=int, default=5, help="links in the longest chain")
    c.add_argument("--link-fidelity", type=float, default=0.95, help="Werner fidelity of every link")
    c.add_argument("--shots", type=int, default=200, help="pairs per chain length")
    c.add_argument("--seed", type=int, default=0)
    m = ssub.add_parser("memory", help="memory decay: <X> of |+> and P(1) of |1> vs storage time")
    m.add_argument("--t1-s", type=float, default=1e-3)
    m.add_argument("--t2-s", type=float, default=4e-4)
    m.add_argument("--round-trips", type=int, nargs="+", default=[0, 1, 2, 4, 8, 16],
                   help="classical round trips over a 10 km link (about 98 us each) to wait per point")
    m.add_argument("--qubits", type=int, default=400, help="qubits per state per point")
    for s in (q, c, m):
        s.add_argument("--plot", metavar="FILE.png", help="write the figure here")
        s.add_argument("--json", action="store_true", help="print every series as JSON")
        s.set_defaults(func=run)
    p.set_defaults(func=lambda args: group_help(p))


def _topology(args: argparse.Namespace) -> Topology:
    from qemu_net.client import sweeps
    from qemu_net.network.generate import generate

    if args.sweep == "qkd":
        return sweeps.qkd_topology(args.distances)
    if args.sweep == "chain":
        return generate("chain", args.length + 1, name="chain-sweep", link={"source_fidelity": args.link_fidelity})
    return sweeps.memory_topology(args.t1_s, args.t2_s, qubits=args.qubits)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from qemu_net.cli.progress import progress_bar
    from qemu_net.client import Network, sweeps
    from qemu_net.node.launcher import LocalNetwork

    topology = _topology(args)
    err = Console(stderr=True)
    err.print(f"starting network {topology.name!r}: {len(topology.nodes)} node processes "
              f"({', '.join(topology.node_names[:6])}{', ...' if len(topology.nodes) > 6 else ''})")
    with LocalNetwork.start(topology) as local, Network.connect(local.topology, timeout_s=120) as net, \
            progress_bar(f"sweep {args.sweep}") as step:
        if args.sweep == "qkd":
            result = sweeps.qkd_distance(net, args.distances, pulses=args.pulses, seed=args.seed,
                                          progress=step)
        elif args.sweep == "chain":
            result = sweeps.chain_fidelity(net, shots=args.shots, seed=args.seed, progress=step)
        else:
            result = sweeps.memory_decay(net, args.round_trips, qubits=args.qubits, progress=step)
    if args.plot:
        sweeps.plot(result, args.plot)
        err.print(f"figure: {args.plot}")
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    _table(result)
    return 0


def _table(result: Sweep) -> None:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    t = Table(title=result.title)
    measured = [s for s in result.series if s.kind == "measured"]
    others = [s for s in result.series if s.kind != "measured"]
    t.add_column(result.xlabel)
    for s in measured:
        t.add_column(s.label)
    for s in others:
        t.add_column(s.label)
    for i, x in enumerate(measured[0].x):
        cells = [f"{x:.6g}"]
        cells += [f"{s.y[i]:.4g}" + (f" ± {s.yerr[i]:.2g}" if s.yerr is not None else "") for s in measured]
        cells += [f"{float(np.interp(x, s.x, s.y)):.4g}" for s in others]  # the closed form at the measured x
        t.add_row(*cells)
    Console(file=sys.stdout).print(t)
