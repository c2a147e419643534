"""Experiments for the protocol suite: what `qnet run swap|chain|purify|entangle|ghz|superdense|
nonlocal-cnot|circuit` and the protocol section of `qnet demo` report (an `ExperimentResult` each).

Every function takes ``(net, src, dst, *, shots, seed)``; ``src``/``dst`` may be None (defaults: the
topology's first node, and the node farthest from it by fiber hops, or its first neighbour for the
two-node protocols).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import networkx as nx
import numpy as np

from qemu_net._serde.sdk import gate_op, measure_op
from qemu_net.client import protocols as suite
from qemu_net.client.experiments import ExperimentResult, _binomial_stderr
from qemu_net.client.sync import Network
from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.protocols.routing import graph, route
from qemu_net.protocols.swap import chain_fidelity


def _ends(net: Network, src: str | None, dst: str | None, *, far: bool) -> tuple[str, str]:
    topo = suite._topology(net)
    src = src or topo.node_names[0]
    topo.require_node(src)
    if dst is None:
        dist = nx.single_source_shortest_path_length(graph(topo), src)
        others = [n for n in dist if n != src]
        if not others:
            raise NotConnected(f"node {src!r} has no quantum link")
        dst = max(others, key=lambda n: (dist[n], -topo.node_names.index(n))) if far else \
            min(others, key=lambda n: (dist[n], topo.node_names.index(n)))
    return src, dst


def _virtual_now(net: Network, nodes: tuple[str, ...]) -> int:
    """The latest virtual clock among `nodes` (ns): read before and after an experiment, its virtual duration."""
    return max(net[n].info().virtual_time_ns for n in nodes)


def _random_bases(shots: int, seed: int) -> tuple[np.ndarray, list[str]]:
    codes = np.random.default_rng(seed).integers(0, 3, shots).astype(np.uint8)
    return codes, ["ZXY"[c] for c in codes]


def chain_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                     seed: int = 0) -> ExperimentResult:
    """Deliver pairs src -> dst along the fewest-hop path by swapping; estimate their fidelity."""
    src, dst = _ends(net, src, dst, far=True)
    path = route(suite._topology(net), src, dst, "hops")
    codes, bases = _random_bases(shots, seed)
    v0 = _virtual_now(net, (src, dst))
    d = suite.chain(net, path, pairs=shots, measure_bases=bases)
    virtual = _virtual_now(net, (src, dst)) - v0
    assert d.outcomes is not None  # measured at both ends (measure_bases given)
    f, se = suite.bell_fidelity(d.outcomes[0], d.outcomes[1], codes)
    from qemu_net.protocols.routing import path_fidelities

    return ExperimentResult("chain", shots, "fidelity", f, se, d.wall_time_s, virtual,
                            {"path": path,
                             "expected_fidelity": round(chain_fidelity(path_fidelities(suite._topology(net), path)), 6),
                             "epr_pairs": d.epr_pairs, "swaps": d.swaps})


def swap_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                    seed: int = 0) -> ExperimentResult:
    """`chain_experiment`, reported as "swap"."""
    return dataclasses.replace(chain_experiment(net, src, dst, shots=shots, seed=seed), protocol="swap")


def purify_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                      seed: int = 0, method: str = "dejmps", rounds: int = 1) -> ExperimentResult:
    """Purify link pairs between neighbours (DEJMPS, one round); fidelity of the kept pairs and success rate."""
    src, dst = _ends(net, src, dst, far=False)
    codes, bases = _random_bases(shots, seed)
    p = suite.purify(net, src, dst, method=method, rounds=rounds, repetitions=shots, measure_bases=bases)
    ok = p.success
    if ok.sum() < 3:
        raise InvalidOperation("too few purifications succeeded to estimate a fidelity; raise --shots")
    assert p.outcomes is not None  # measured at both ends (measure_bases given)
    f, se = suite.bell_fidelity(p.outcomes[0][ok], p.outcomes[1][ok], codes[ok])
    return ExperimentResult("purify", shots, "fidelity", f, se, p.wall_time_s, p.virtual_time_ns,
                            {"between": [src, dst], "method": p.method.name, "rounds": rounds,
                             "success_rate": round(p.success_rate, 4), "pairs_consumed": p.consumed})


def entangle_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 50,
                        seed: int = 0, min_fidelity: float = 0.9) -> ExperimentResult:
    """The entanglement service: `shots` pairs of fidelity >= min_fidelity, each measured in a random basis."""
    src, dst = _ends(net, src, dst, far=True)
    codes, bases = _random_bases(shots, seed)
    za, zb = np.zeros(shots, np.uint8), np.zeros(shots, np.uint8)
    t0 = time.perf_counter()
    attempts = epr = 0
    plan = None
    v0 = _virtual_now(net, (src, dst))
    for k in range(shots):
        pair = suite.entangle(net, src, dst, min_fidelity=min_fidelity)
        plan, attempts, epr = pair.plan, attempts + pair.attempts, epr + pair.epr_pairs
        za[k] = pair.a.measure(bases[k])
        zb[k] = pair.b.measure(bases[k])
    wall = time.perf_counter() - t0
    virtual = _virtual_now(net, (src, dst)) - v0
    f, se = suite.bell_fidelity(za, zb, codes)
    assert plan is not None
    return ExperimentResult("entangle", shots, "fidelity", f, se, wall, virtual,
                            {"path": list(plan.path), "target": min_fidelity, "rounds": plan.rounds,
                             "expected_fidelity": round(plan.expected_fidelity, 6), "attempts": attempts,
                             "epr_pairs": epr})


def ghz_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                   seed: int = 0, depolarize: float = 0.0) -> ExperimentResult:
    """A GHZ state over every node reachable from src by fiber (at most 6); its Mermin value.

    `depolarize`: depolarize(p) on each node's qubit (a noise knob on top of the network's own noise)."""
    topo = suite._topology(net)
    src = src or topo.node_names[0]
    nodes = list(nx.bfs_tree(graph(topo), src))[:6]
    if len(nodes) < 2:
        raise NotConnected(f"node {src!r} has no quantum link")
    k = len(nodes)
    per_term = max(1, shots // 2 ** (k - 1))
    m = suite.mermin(net, nodes, shots_per_term=per_term, depolarize=depolarize)
    return ExperimentResult("ghz", per_term * 2 ** (k - 1), "mermin", m.value, m.stderr, m.wall_time_s,
                            m.virtual_time_ns, {"nodes": nodes, "ideal": m.ideal, "terms": m.terms,
                                                "depolarize": depolarize})


def superdense_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                          seed: int = 0) -> ExperimentResult:
    """Random 2-bit messages src -> dst, one qubit each; the fraction of arrived qubits decoded correctly."""
    src, dst = _ends(net, src, dst, far=False)
    msgs = np.random.default_rng(seed).integers(0, 4, shots).astype(np.uint8)
    v0 = _virtual_now(net, (src, dst))
    t0 = time.perf_counter()
    out = suite.superdense(net, src, dst, msgs.tobytes())
    wall = time.perf_counter() - t0
    virtual = _virtual_now(net, (src, dst)) - v0
    arrived = out != 255
    n = int(arrived.sum())
    ok = float(np.mean(out[arrived] == msgs[arrived])) if n else 0.0
    return ExperimentResult("superdense", shots, "decoded", ok, _binomial_stderr(ok, n), wall, virtual,
                            {"from": src, "to": dst, "bits_per_qubit": 2, "lost_in_fiber": shots - n})


_PREPARE = {"Z+": (), "Z-": ("x",), "X+": ("h",), "X-": ("x", "h"), "Y+": ("h", "s"), "Y-": ("x", "h", "s")}


def nonlocal_cnot_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                             seed: int = 0) -> ExperimentResult:
    """A CNOT across two nodes (control at src, target at dst, one EPR pair each): its process fidelity.

    Every Pauli setting of `qemu_net.quantum.process` (15 Paulis x 4 product eigenstates) is run
    ceil(shots / 60) times: prepare the input at both nodes, run the nonlocal CNOT, measure both qubits
    in the output Pauli's bases. Reported: process fidelity (the figure), average gate fidelity
    (4 F_pro + 1)/5, and the truth-table fidelity (the computational-basis settings). ``seed`` orders
    the settings."""
    from qemu_net.quantum.process import CNOT, average_gate_fidelity, pauli_settings, process_fidelity_estimate

    src, dst = _ends(net, src, dst, far=False)
    settings = pauli_settings(CNOT)
    per = max(1, math.ceil(shots / len(settings)))
    order = [(i, k) for i in range(len(settings)) for k in range(per)]
    np.random.default_rng(seed).shuffle(order)
    parities: list[list[int]] = [[] for _ in settings]
    table_ok, table_n, epr = 0, 0, 0
    v0 = _virtual_now(net, (src, dst))
    t0 = time.perf_counter()
    for i, _ in order:
        st = settings[i]
        c, t = net[src].qubit(), net[dst].qubit()
        for q, label in ((c, st.inputs[0]), (t, st.inputs[1])):
            for g in _PREPARE[label]:
                getattr(q, g)()
        epr += suite.nonlocal_cnot(net, c, t)
        out = (c.measure(st.bases[0]), t.measure(st.bases[1]))
        parities[i].append(1 - 2 * (sum(out[j] for j in st.parity_of) % 2))
        if st.bases == ("Z", "Z") and all(x[0] == "Z" for x in st.inputs):
            c_in, t_in = (int(x == "Z-") for x in st.inputs)
            table_n += 1
            table_ok += out == (c_in, t_in ^ c_in)
    wall = time.perf_counter() - t0
    virtual = _virtual_now(net, (src, dst)) - v0
    f_pro, se = process_fidelity_estimate(settings, [np.array(x) for x in parities])
    truth = table_ok / table_n if table_n else float("nan")
    return ExperimentResult("nonlocal-cnot", len(order), "process_fidelity", f_pro, se, wall, virtual,
                            {"control": src, "target": dst, "epr_pairs": epr,
                             "average_gate_fidelity": round(average_gate_fidelity(f_pro), 6),
                             "average_gate_fidelity_stderr": round(4 * se / 5, 6),
                             "truth_table_fidelity": round(truth, 6),
                             "truth_table_stderr": round(_binomial_stderr(truth, table_n), 6),
                             "shots_per_setting": per, "settings": len(settings)})


def circuit_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 200,
                       seed: int = 0) -> ExperimentResult:
    """A GHZ circuit with one qubit per node along the path src .. dst, run as a distributed circuit."""
    from qemu_net.protocols import circuits

    hadamard = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
    pauli_x = np.array([[0, 1], [1, 0]], dtype=complex)

    src, dst = _ends(net, src, dst, far=True)
    path = route(suite._topology(net), src, dst, "hops")
    n = len(path)
    cnots = (circuits.Controlled(i, i + 1, pauli_x) for i in range(n - 1))
    ops: tuple[circuits.Op, ...] = (circuits.Local((0,), hadamard), *cnots, circuits.Measure(tuple(range(n)), "m"))
    program = circuits.Program(tuple(path), ops)
    r = suite.drive(net, suite.run_program_steps(net, program, list(range(n)), repetitions=shots))
    m = r.measurements["m"]
    ok = float(np.mean(np.all(m == m[:, :1], axis=1)))
    return ExperimentResult("circuit", shots, "ghz_parity_ok", ok, _binomial_stderr(ok, shots), r.wall_time_s,
                            r.virtual_time_ns, {"nodes": path, "epr_pairs": r.epr_pairs,
                                                "nonlocal_gates": r.nonlocal_gates,
                                                "ones_fraction": round(float(m[:, 0].mean()), 4)})


def clock_sync_experiment(net: Network, src: str | None = None, dst: str | None = None, *, shots: int = 400,
                          seed: int = 0, offset_rad: float = 1.0) -> ExperimentResult:
    """Entangled clock comparison between neighbours src and dst (`qemu_net.quantum.sensing`).

    Per shot the client draws a common-mode phase delta (uniform) and the clocks' phases theta_src =
    offset_rad / 2 + delta, theta_dst = -offset_rad / 2 + delta. Entangled: a link pair, X on dst's half
    (|Psi+>), Rz(theta) at each node, X measured at both: parity mean w cos(offset). Unentangled (the same
    number of shots): |+> at each node, the same phases: mean cos(offset) / 2. The figure is the offset
    estimated from the entangled parities with the link's visibility; ``extra`` has both parity means, their
    closed forms, and the unentangled estimate."""
    from qemu_net.network import physics
    from qemu_net.quantum import sensing as qsensing

    if shots < 4:
        raise InvalidOperation("shots must be at least 4")
    if not 0 <= offset_rad <= math.pi:
        raise InvalidOperation(f"offset_rad must be in [0, pi], got {offset_rad}")
    src, dst = _ends(net, src, dst, far=False)
    topo = suite._topology(net)
    link = topo.link(src, dst)
    if link is None:
        raise NotConnected(f"no quantum link between {src!r} and {dst!r}: the clock comparison needs a pair")
    model = physics.EprLinkModel.from_specs(link, topo.node(src), topo.node(dst), source=src)
    w = qsensing.werner_visibility(float(model.fidelity))
    rng = np.random.default_rng(seed)
    deltas = 2 * math.pi * rng.random(shots)
    ent, unent = np.empty(shots), np.empty(shots)
    t0 = time.perf_counter()
    for i, d in enumerate(deltas):
        (pair,) = net[src].epr(dst)
        pair.remote.x()
        a = net[src].apply([gate_op("RZ", (pair.local,), offset_rad / 2 + d), measure_op(pair.local, "X")])[0]
        b = net[dst].apply([gate_op("RZ", (pair.remote,), -offset_rad / 2 + d), measure_op(pair.remote, "X")])[0]
        ent[i] = 1 - 2 * (a ^ b)
        qa, qb = net[src].qubit(), net[dst].qubit()
        qa.h()
        qb.h()
        a = net[src].apply([gate_op("RZ", (qa,), offset_rad / 2 + d), measure_op(qa, "X")])[0]
        b = net[dst].apply([gate_op("RZ", (qb,), -offset_rad / 2 + d), measure_op(qb, "X")])[0]
        unent[i] = 1 - 2 * (a ^ b)
    wall = time.perf_counter() - t0
    est, se = qsensing.clock_offset_estimate(ent, w) if w > 0 else (float("nan"), float("nan"))
    est_u, se_u = qsensing.clock_offset_estimate(unent, 0.5)
    return ExperimentResult("clock-sync", shots, "offset_rad", est, se, wall, 0, {
        "between": [src, dst], "true_offset_rad": offset_rad, "link_fidelity": round(float(model.fidelity), 6),
        "entangled_parity": float(ent.mean()), "entangled_parity_stderr": float(ent.std(ddof=1) / math.sqrt(shots)),
        "entangled_parity_expected": qsensing.clock_parity_entangled(offset_rad, float(model.fidelity)),
        "unentangled_parity": float(unent.mean()),
        "unentangled_parity_stderr": float(unent.std(ddof=1) / math.sqrt(shots)),
        "unentangled_parity_expected": qsensing.clock_parity_unentangled(offset_rad),
        "unentangled_offset_rad": est_u, "unentangled_offset_stderr": se_u})


#: name -> (function, description); merged into `qemu_net.client.experiments.EXPERIMENTS`.
EXPERIMENTS: dict[str, tuple[Any, str]] = {
    "swap": (swap_experiment, "entanglement swapping along a repeater chain; fidelity of the delivered pairs"),
    "chain": (chain_experiment, "same as swap (a repeater chain of any length)"),
    "purify": (purify_experiment, "DEJMPS purification of link pairs; output fidelity and success rate"),
    "entangle": (entangle_experiment, "entanglement service: route, swap and purify to a target fidelity"),
    "ghz": (ghz_experiment, "GHZ state across nodes; the Mermin value measured across them"),
    "superdense": (superdense_experiment, "superdense coding: two bits per qubit sent"),
    "nonlocal-cnot": (nonlocal_cnot_experiment, ("a CNOT across two nodes (one EPR pair); process and average "
                                                 "gate fidelity, truth table")),
    "circuit": (circuit_experiment, "a distributed GHZ circuit, one qubit per node, nonlocal CNOTs"),
    "clock-sync": (clock_sync_experiment, ("entangled clock comparison under common-mode phase noise: the offset "
                                           "from a pair's parity against two unentangled probes")),
}

from qemu_net.client import experiments as _experiments  # noqa: E402

_experiments.EXPERIMENTS.update(EXPERIMENTS)
