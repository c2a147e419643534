"""`qnet demo`: start a local network (the embedded alice -- repeater -- bob by default), run what the
emulator can show, print a summary, and shut everything down."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from qemu_net.cli.common import add_topology_args

if TYPE_CHECKING:
    from rich.console import Console

    from qemu_net.client import Network
    from qemu_net.client.experiments import ExperimentResult
    from qemu_net.network.topology import Topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", description=__doc__)
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
    from qemu_net.cli.progress import progress_bar
    from qemu_net.client.experiments import epr_correlation, teleport_fidelity

    console = Console()
    topology = load(args)
    t0 = time.perf_counter()
    remote = args.remote or all(n.address for n in topology.nodes)
    console.rule(f"[bold]qemu_net demo[/bold]: network {topology.name!r} ({', '.join(topology.node_names)})")
    # One step per protocol run: the links' teleports and EPR batches, QKD (2 sessions + key delivery),
    # then on a local run the physics lab (3) and the protocol lab (7).
    total = 2 * len(topology.links) + (3 if topology.links else 0) + (0 if remote else 3 + len(PROTOCOL_RUNS))
    with progress_bar("demo", total=total) as bar:
        step = _Steps(bar, total)
        if not remote:
            announce(console, topology)
        with network(topology, use_running=False) as net:
            console.print(f"{len(topology.nodes)} node processes healthy after {time.perf_counter() - t0:.2f} s")
            table = Table(title="results (each role ran in its own node process)")
            for col in ("protocol", "between", "figure", "value ± stderr", "shots", "wall rate"):
                table.add_column(col)
            for link in topology.links:
                a, b = link.nodes
                step(f"teleport {a} -> {b}")
                r = teleport_fidelity(net, a, b, shots=args.shots)
                table.add_row("teleport", f"{a} -> {b} ({link.length_km:g} km)", r.figure,
                              f"{r.value:.3f} ± {r.stderr:.3f}", str(r.shots), f"{r.rate_per_s:.0f}/s")
                step(f"EPR batch {a} -- {b}")
                e = epr_correlation(net, a, b, pairs=20_000)
                table.add_row("epr batch", f"{a} -- {b}", e.figure, f"{e.value:.4f} ± {e.stderr:.4f}", str(e.shots),
                              f"{e.rate_per_s:,.0f}/s")
            console.print(table)
            _qkd_section(console, net, topology, step)
        if not remote:
            _physics_section(console, args.shots, step)
            _protocols_section(console, args.shots, step)
        step("done")
    tail = "the remote nodes keep running" if remote else "all node processes stopped"
    console.print(f"done in {time.perf_counter() - t0:.1f} s; {tail}.")
    return 0


class _Steps:
    """Moves the demo's progress bar one protocol run at a time."""

    def __init__(self, bar: Callable[[int, int, str], None], total: int) -> None:
        self.bar, self.total, self.i = bar, total, -1

    def __call__(self, label: str) -> None:
        self.i = min(self.i + 1, self.total)
        self.bar(self.i, self.total, label)


def announce(console: Console, topology: Topology) -> None:
    """One line for every network the demo starts: its name, size and nodes."""
    names = ", ".join(topology.node_names)
    console.print(f"[bold]starting network {topology.name!r}[/bold]: {len(topology.nodes)} node processes ({names})")


DEMO_KEY_PULSES = 100_000_000

#: Announces one step of the demo (the progress bar's label).
Step = Callable[[str], None]


def _no_step(label: str) -> None:
    """A step announcement nobody shows."""


def _qkd_section(console: Console, net: Network, topology: Topology, step: Step = _no_step) -> None:
    """QKD: a decoy-BB84 session over the first fiber, the keys fetched at both ends, and an eavesdropper."""
    from rich.table import Table

    from qemu_net.client import qkd

    if not topology.links:
        return
    a, b = topology.links[0].nodes
    table = Table(title=f"QKD over {a} -- {b} ({topology.links[0].length_km:g} km); keys are never printed")
    for col in ("BB84 session", "pulses", "sifted", "final", "QBER", "bits/pulse", "bits/wall s", "outcome"):
        table.add_column(col)
    reasons = []
    # The finite-key bound (eps_sec 1e-10) needs enough detections: on an ideal link 10^6 pulses certify a
    # key, on a realistic 10 km link only a block of about 10^8 does (10^7 leave a negative bound), so a
    # block that certifies nothing is followed by one of DEMO_KEY_PULSES. An intercept-resend eavesdropper
    # is caught from 10^6.
    sessions = [("decoy", 0.0, 1_000_000), ("decoy, larger block", 0.0, DEMO_KEY_PULSES),
                ("decoy, Eve 100%", 1.0, 1_000_000)]
    stored = False
    for label, eve, pulses in sessions:
        if label == "decoy, larger block" and stored:
            continue
        step(f"QKD {label}, {pulses:.0e} pulses")
        s = qkd.run_qkd(net, a, b, "bb84", n_pulses=pulses, eve_fraction=eve, report_abort=True)
        if s.aborted:
            reasons.append(f"{label}: aborted: {s.aborted}")
        elif eve == 0.0:
            stored = True
        table.add_row(label, f"{pulses:.0e}", f"{s.sifted_bits:,}", f"{s.final_bits:,}", f"{s.qber:.3f}",
                      f"{s.key_rate_per_pulse:.1e}", f"{s.secret_bits_per_wall_s:,.0f}",
                      "aborted" if s.aborted else "stored")
    console.print(table)
    for r in reasons:
        console.print(r)
    step("key delivery")
    keys = qkd.get_keys(net[a], b, number=2, size_bits=256)
    same = qkd.get_keys_with_ids(net[b], a, [k.key_id for k in keys])
    match = len(keys) == len(same) and all(x.key == y.key for x, y in zip(keys, same, strict=True))
    ids = ", ".join(k.key_id[:8] for k in keys)
    console.print(f"key delivery: {a} handed out {len(keys)} keys of 256 bits (ids {ids}); "
                  f"{b} fetched them by id: {'identical' if match else 'DIFFERENT'}")


PHYSICS_LAB = {
    "name": "physics-lab",
    "seed": 3,
    "preset": "siv-harvard-2024",
    "nodes": ["alice", "near", "far",
              {"name": "alice-mem", "t1_s": 0.01, "t2_s": 0.0005}, {"name": "far-mem", "t1_s": 0.01, "t2_s": 0.0005}],
    "links": [
        {"nodes": ["alice", "near"], "length_km": 1},
        {"nodes": ["alice", "far"], "length_km": 50},
        {"nodes": ["alice-mem", "far-mem"], "length_km": 50},
    ],
}


def _physics_section(console: Console, shots: int, step: Step = _no_step) -> None:
    """The same teleportation over a short and a long fiber, and with memories of T2 = 0.5 ms."""
    from rich.table import Table

    from qemu_net.cli.common import network
    from qemu_net.client.experiments import teleport_fidelity
    from qemu_net.network.topology import parse_topology

    lab = parse_topology(PHYSICS_LAB, source="demo physics lab")
    table = Table(title="physics: teleportation on siv-harvard-2024 hardware (0.35 dB/km), virtual time per teleport")
    for col in ("link", "memory", "fidelity ± stderr", "virtual us / teleport", "teleports / virtual s"):
        table.add_column(col)
    announce(console, lab)
    with network(lab, use_running=False) as net:
        for a, b, mem in (("alice", "near", "T2 0.2 s"), ("alice", "far", "T2 0.2 s"),
                          ("alice-mem", "far-mem", "T1 10 ms, T2 0.5 ms")):
            step(f"physics: teleport {a} -> {b}")
            r = teleport_fidelity(net, a, b, shots=shots, concurrency=1)
            link = lab.link(a, b)
            assert link is not None  # the lab topology above links these pairs
            length = link.length_km
            table.add_row(f"{a} -> {b} ({length:g} km)", mem, f"{r.value:.3f} ± {r.stderr:.3f}",
                          f"{r.virtual_time_ns / 1e3 / r.shots:,.0f}", f"{r.rate_per_virtual_s:,.0f}")
    console.print(table)
    console.print("Longer fiber: more lost photons, so more attempts and more virtual time per pair. A memory that "
                  "dephases while the herald and the classical bits travel loses fidelity.")


PROTOCOL_LAB = {
    "name": "protocol-lab",
    "seed": 5,
    # Trapped-ion nodes (gate errors 1e-4 / 1e-2, readout 1e-3, T2 1 s); the links are Werner F = 0.95.
    "nodes": [{"name": n, "preset": "trapped-ion-oxford-2025"} for n in ("n0", "n1", "n2", "n3")],
    "links": [{"nodes": [a, b], "length_km": 1, "source_fidelity": 0.95} for a, b in (("n0", "n1"), ("n1", "n2"),
                                                                                      ("n2", "n3"))]
    + [{"nodes": ["n1", "n3"], "length_km": 1, "source_fidelity": 0.95}],
}


#: The protocol lab's runs, in order (for the progress bar): (label, experiment name).
PROTOCOL_RUNS = ("swap", "entangle", "purify", "ghz", "superdense", "nonlocal cnot", "circuit")


def _protocols_section(console: Console, shots: int, step: Step = _no_step) -> None:
    """Swapping, the entanglement service, purification, GHZ, superdense coding, a nonlocal CNOT and a
    distributed circuit, each run by roles in separate node processes on trapped-ion nodes and links of
    fidelity 0.95."""
    from rich.table import Table

    from qemu_net.cli.common import network
    from qemu_net.client import protocol_experiments as pe
    from qemu_net.network.topology import parse_topology

    lab = parse_topology(PROTOCOL_LAB, source="demo protocol lab")
    table = Table(title="protocol suite on n0 - n1 - n2 - n3 (+ n1 - n3): trapped-ion nodes, Werner links F = 0.95")
    for col in ("protocol", "nodes", "figure", "value ± stderr", "expected / detail", "wall rate"):
        table.add_column(col)
    n = max(40, min(shots, 200))
    announce(console, lab)
    with network(lab, use_running=False) as net:
        plan: list[tuple[Callable[[], ExperimentResult], Callable[[ExperimentResult], str]]] = [
            (lambda: pe.chain_experiment(net, "n0", "n2", shots=n),
             lambda r: f"{r.extra['expected_fidelity']:.3f} (1 swap)"),
            (lambda: pe.entangle_experiment(net, "n0", "n2", shots=min(n, 30), min_fidelity=0.95),
             lambda r: f"{r.extra['expected_fidelity']:.3f}: {r.extra['rounds']} DEJMPS round(s), "
                       f"{r.extra['epr_pairs']} link pairs"),
            (lambda: pe.purify_experiment(net, "n0", "n1", shots=n),
             lambda r: f"success {r.extra['success_rate']:.2f}"),
            (lambda: pe.ghz_experiment(net, "n0", shots=n),
             lambda r: f"ideal {r.extra['ideal']:g} over {len(r.extra['nodes'])}"),
            (lambda: pe.superdense_experiment(net, "n0", "n1", shots=n), lambda r: "2 bits per qubit sent"),
            (lambda: pe.nonlocal_cnot_experiment(net, "n1", "n2", shots=min(n, 60)), lambda r: "1 EPR pair per CNOT"),
            (lambda: pe.circuit_experiment(net, "n0", "n3", shots=n),
             lambda r: f"GHZ over {', '.join(r.extra['nodes'])}: {r.extra['epr_pairs']} EPR pairs"),
        ]
        runs = []
        for label, (go, detail) in zip(PROTOCOL_RUNS, plan, strict=True):
            step(f"protocols: {label}")
            runs.append((go(), detail))
        for r, detail in runs:
            nodes = r.extra.get("path") or r.extra.get("nodes") or r.extra.get("between") or \
                [r.extra.get("from") or r.extra.get("control"), r.extra.get("to") or r.extra.get("target")]
            table.add_row(r.protocol, "-".join(nodes), r.figure, f"{r.value:.3f} ± {r.stderr:.3f}", detail(r),
                          f"{r.rate_per_s:,.0f}/s")
    console.print(table)
