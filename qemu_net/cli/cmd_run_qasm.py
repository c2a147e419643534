"""`qnet run circuit --qasm FILE --place SPEC`: an OpenQASM program run distributed over the nodes.

Every gate between qubits of two nodes runs as a nonlocal gate (one EPR pair over their link); the
measured outcomes are compared with Cirq's simulation of the whole circuit (total variation distance
of the sampled distribution), and `--verify` also runs the circuit once keeping its final state, moves
the qubits to one node over their links and reports that state's fidelity with Cirq's state vector.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qemu_net.errors import InvalidOperation

if TYPE_CHECKING:
    from collections.abc import Sequence

    from qemu_net.client import Network
    from qemu_net.network.topology import Topology


def _gather_node(topology: Topology, nodes: list[str], counts: dict[str, int], requested: str | None) -> str:
    if requested is not None:
        topology.require_node(requested, what="--gather")
        candidates = [requested]
    else:
        candidates = sorted(nodes, key=lambda n: -counts[n])
    for c in candidates:
        if all(n == c or topology.link(c, n) is not None for n in nodes):
            return c
    raise InvalidOperation(f"--verify needs a node with a quantum link to each of {', '.join(nodes)} to gather the "
                           "final state at (name one with --gather)")


def final_state_fidelity(net: Network, program: Any, *, gather: str | None = None,
                         timeout_s: float = 120.0) -> tuple[float, str]:
    """Run `program` once keeping its final state, gather the qubits at one node over their links and return
    (fidelity with Cirq's state vector of the whole circuit, gather node). The nodes must allow inspection."""
    import cirq

    from qemu_net.protocols.qasm import unitary_part

    circuit = unitary_part(program.circuit)
    qubits = program.qubits
    if len(qubits) > 10:
        raise InvalidOperation(f"--verify reads at most 10 qubits' joint state; the circuit has {len(qubits)}")
    counts = {n: sum(1 for q in qubits if program.assignment[q] == n) for n in program.nodes}
    if net.topology is None:
        raise InvalidOperation("--verify needs the network's topology")
    at = _gather_node(net.topology, program.nodes, counts, gather)
    r = net.run_circuit(circuit, program.assignment, keep=True, timeout_s=timeout_s)
    moved = []
    try:
        for q in qubits:
            h = r.qubits[q]
            if h.node.name != at:
                h2 = h.send(at)
                if h2 is None:
                    raise InvalidOperation(f"qubit {q} was lost on its way to {at!r}: gather over lossless links")
                h = h2
            moved.append(h)
        rho = net[at].inspect(moved)
    finally:
        for h in moved:
            with contextlib.suppress(Exception):  # freeing is best effort: the node may hold it no more
                h.node.free([h])
    psi = cirq.final_state_vector(circuit, qubit_order=qubits, dtype=np.complex128)
    return float(np.real(psi.conj() @ rho @ psi)), at


def run_qasm(args: argparse.Namespace, topology: Topology) -> int:
    import cirq

    from qemu_net.cli.common import network, overridden
    from qemu_net.cli.progress import spinner
    from qemu_net.protocols.circuits import compile_circuit
    from qemu_net.protocols.qasm import load_placed, unitary_part

    path = Path(args.qasm)
    try:
        text = sys.stdin.read() if args.qasm == "-" else path.read_text()
    except OSError as exc:
        raise InvalidOperation(f"--qasm: cannot read {args.qasm}: {exc.strerror}") from None
    program = load_placed(text, args.place)
    compiled, _ = compile_circuit(program.circuit, program.assignment, topology=topology)
    measured = any(cirq.is_measurement(op) for op in program.circuit.all_operations())
    out: dict[str, Any] = {"protocol": "circuit", "qasm": str(args.qasm), "qubits": len(program.qubits),
                 "nodes": program.nodes, "nonlocal_gates": compiled.nonlocal_gates,
                 "placement": {str(q): n for q, n in sorted(program.assignment.items())}}
    with network(topology, allow_inspect=args.verify, use_running=not (overridden(args) or args.verify)) as net, \
            spinner(f"circuit {path.name} over {', '.join(program.nodes)}, {args.shots} shots"):
        if measured:
            r = net.run_circuit(program.circuit, program.assignment, repetitions=args.shots)
            out.update(shots=args.shots, epr_pairs=r.epr_pairs, virtual_time_ns=r.virtual_time_ns,
                       wall_time_s=r.wall_time_s)
            keys = list(r.measurements)
            bits = np.concatenate([r.measurements[k] for k in keys], axis=1)
            measured_qubits = [q for op in program.circuit.all_operations() if cirq.is_measurement(op)
                               for q in op.qubits]
            strings = ["".join(map(str, row)) for row in bits]
            hist: dict[str, int] = {}
            for s in strings:
                hist[s] = hist.get(s, 0) + 1
            out["counts"] = dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))
            if program.circuit.are_all_measurements_terminal():
                psi = cirq.final_state_vector(unitary_part(program.circuit), qubit_order=program.qubits,
                                              dtype=np.complex128)
                probs = _marginal(np.abs(psi) ** 2, program.qubits, measured_qubits)
                out["cirq_probabilities"] = {k: v for k, v in sorted(probs.items(), key=lambda kv: -kv[1]) if v > 1e-12}
                tvd = 0.5 * sum(abs(hist.get(k, 0) / args.shots - probs.get(k, 0.0)) for k in set(hist) | set(probs))
                out["total_variation_distance"] = tvd
        if args.verify:
            fid, at = final_state_fidelity(net, program, gather=args.gather)
            out.update(final_state_fidelity=fid, gathered_at=at)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"circuit {path.name}: {out['qubits']} qubits over {', '.join(program.nodes)}, "
          f"{out['nonlocal_gates']} nonlocal gates per run")
    if measured:
        print(f"  {args.shots} shots, {out['epr_pairs']} EPR pairs, {out['wall_time_s']:.2f} s wall; "
              "outcome  count  cirq probability")
        probs = out.get("cirq_probabilities", {})
        for k, c in list(out["counts"].items())[:8]:
            p = probs.get(k)
            print(f"  {k}  {c:6d}  {p:.4f}" if p is not None else f"  {k}  {c:6d}")
        if "total_variation_distance" in out:
            print(f"  total variation distance from Cirq's distribution: {out['total_variation_distance']:.4f}")
    if args.verify:
        print(f"  final state gathered at {out['gathered_at']}: fidelity with Cirq's state vector "
              f"{out['final_state_fidelity']:.9f}")
    return 0


def _marginal(probs: np.ndarray, qubits: Sequence[Any], measured: Sequence[Any]) -> dict[str, float]:
    """Distribution of the measured qubits' bits (in measurement order) from full-register probabilities."""
    n = len(qubits)
    pos = [qubits.index(q) for q in measured]
    out: dict[str, float] = {}
    for i, p in enumerate(probs):
        if p <= 0:
            continue
        key = "".join(str((i >> (n - 1 - j)) & 1) for j in pos)
        out[key] = out.get(key, 0.0) + float(p)
    return out
