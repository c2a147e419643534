"""SDK functions for the protocol suite: repeater chains, purification, the entanglement service, GHZ and
Mermin, superdense coding, nonlocal and teleported gates, and distributed circuits.

Each protocol is written once, without I/O, as *steps*: a generator that yields the role runs it needs
(`RoleRun`: one role per node, each run in its own node process; the roles coordinate only by classical
messages and link pairs) and receives each run's results, then returns handles and plain values. The
synchronous `Network` and the asyncio `AsyncNetwork` drive the same steps (``net.chain(...)``,
``await anet.chain(...)``); the functions below (``chain(net, ...)``) are the synchronous shorthand.

    with Network.connect(topology) as net:
        d = net.chain(["n0", "n1", "n2", "n3"])        # one end-to-end pair by swapping at n1, n2
        a, b = d.pairs[0]
        p = net.entangle("n0", "n3", min_fidelity=0.95)  # route, swap, purify as needed
        r = net.run_circuit(circuit, {q0: "n0", q1: "n1"}, repetitions=100)
        print(r.measurements["m"], r.epr_pairs)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from qemu_net._serde import sdk as w
from qemu_net._serde.sdk import matrix_to_proto, program_to_proto
from qemu_net._serde.sdk import roles as pr
from qemu_net.client._steps import Handles, RoleRun, Steps, drive
from qemu_net.errors import InvalidOperation, NotConnected, ProtocolAborted, ProtocolTimeout
from qemu_net.protocols import circuits as _circuits
from qemu_net.protocols import routing as _routing
from qemu_net.protocols.common import NO_OUTCOME
from qemu_net.protocols.ghz import mermin_terms
from qemu_net.protocols.purify import Method

if TYPE_CHECKING:
    from qemu_net.client.sync import Network, Qubit
    from qemu_net.network.topology import Topology

BASIS_CODE = w.BASIS_BYTE


def _bases(bases: Sequence[str] | str | bytes | None, count: int) -> bytes:
    if bases is None:
        return b""
    if isinstance(bases, bytes):
        return bases
    if isinstance(bases, str):
        bases = [bases] * count
    try:
        return bytes(BASIS_CODE[b.upper()] for b in bases)
    except KeyError:
        raise InvalidOperation(f"bases are 'Z', 'X' or 'Y', got {list(bases)}") from None


def _topology(net: Handles) -> Topology:
    if net.topology is None:
        raise InvalidOperation("this protocol needs the network's topology: connect with Network.connect(topology)")
    return net.topology


def _vt(results: Mapping[str, pr.ProtocolResult]) -> int:
    return max((r.virtual_time_ns for r in results.values()), default=0)


# ----------------------------------------------------------------------------- repeater chains
@dataclass(frozen=True)
class ChainDelivery:
    """End-to-end pairs delivered along `path` (kept: `pairs`; measured: `outcomes` at each end)."""

    path: tuple[str, ...]
    pairs: list[tuple[Qubit, Qubit]]
    outcomes: tuple[np.ndarray, np.ndarray] | None
    epr_pairs: int
    swaps: int
    virtual_time_ns: int
    wall_time_s: float


def chain_steps(net: Handles, path: Sequence[str], *, pairs: int = 1, measure_bases: Sequence[str] | str | None = None,
          timeout_s: float = 60.0) -> Steps[ChainDelivery]:
    """Deliver `pairs` end-to-end pairs along `path` by swapping at every interior node.

    With `measure_bases` (one basis per pair, or one for all) both ends measure their halves and the
    outcomes come back instead of qubit handles.
    """
    path = list(path)
    if len(path) < 2:
        raise InvalidOperation("a chain needs at least two nodes")
    bases = _bases(measure_bases, pairs)
    msg = pr.ChainNode(path=path, pairs=pairs)
    t0 = time.perf_counter()
    roles = {}
    for i, node in enumerate(path):
        m = pr.ChainNode()
        m.CopyFrom(msg)
        if i in (0, len(path) - 1):
            m.measure_bases = bases
        roles[node] = {"chain_node": m}
    res = yield RoleRun(roles, timeout_s)
    wall = time.perf_counter() - t0
    a, b = res[path[0]].chain_node, res[path[-1]].chain_node
    kept = [(_qubit(net, path[0], qa), _qubit(net, path[-1], qb))
            for qa, qb in zip(a.qubits, b.qubits, strict=True)]
    outcomes = None
    if bases:
        outcomes = (np.frombuffer(a.outcomes, dtype=np.uint8).copy(), np.frombuffer(b.outcomes, dtype=np.uint8).copy())
    return ChainDelivery(tuple(path), kept, outcomes, sum(r.chain_node.epr_pairs for r in res.values()),
                         sum(r.chain_node.swaps for r in res.values()), _vt(res), wall)


def _qubit(net: Handles, node: str, qid: str) -> Any:
    return net.qubit_handle(node, qid)


def swap(net: Network, a: str, middle: str, b: str, **kw: Any) -> ChainDelivery:
    """Entanglement swapping: pairs a--middle and middle--b become a pair a--b (a 2-link chain)."""
    return drive(net, chain_steps(net, [a, middle, b], **kw))


def bell_fidelity(za: np.ndarray, zb: np.ndarray, bases: np.ndarray) -> tuple[float, float]:
    """Estimate F = (1 + <XX> - <YY> + <ZZ>)/4 with |Phi+> from outcomes in matched bases (0 Z, 1 X, 2 Y).

    Returns (estimate, standard error). The variance of each correlation is 4 p (1 - p) / n with the
    disagreement rate p taken as (k + 1)/(n + 2) (k disagreements of n), so a basis in which every pair
    agreed still has a non-zero standard error (a sample variance would say 0).
    """
    f, var = 0.25, 0.0
    for code, sign in ((0, 1), (1, 1), (2, -1)):
        sel = bases == code
        n = int(sel.sum())
        if n == 0:
            raise InvalidOperation("need outcomes in each of the Z, X and Y bases")
        differ = (za[sel] ^ zb[sel]).astype(float)
        corr = 1 - 2 * differ
        f += sign * corr.mean() / 4
        p = (differ.sum() + 1) / (n + 2)
        var += 4 * p * (1 - p) / n / 16
    return float(f), float(np.sqrt(var))


# ----------------------------------------------------------------------------- purification
@dataclass(frozen=True)
class Purification:
    """Outcome of `repetitions` purifications: success flags, kept pairs or measured outcomes."""

    method: Method
    rounds: int
    success: np.ndarray
    pairs: list[tuple[Qubit, Qubit] | None]
    outcomes: tuple[np.ndarray, np.ndarray] | None
    consumed: int
    virtual_time_ns: int
    wall_time_s: float

    @property
    def success_rate(self) -> float:
        return float(self.success.mean()) if len(self.success) else 0.0


def _method(method: Method | str) -> Method:
    if isinstance(method, Method):
        return method
    try:
        return Method[str(method).upper()]
    except KeyError:
        raise InvalidOperation(f"unknown purification method {method!r}; use 'dejmps' or 'bbpssw'") from None


def purify_steps(net: Handles, a: str, b: str, *, method: Method | str = "dejmps", rounds: int = 1,
           pairs: Sequence[tuple[Any, Any]] | None = None, repetitions: int = 1,
           measure_bases: Sequence[str] | str | None = None, route: Sequence[str] | None = None,
           timeout_s: float = 60.0) -> Steps[Purification]:
    """Purify pairs between a and b (`rounds` nested rounds; 2^rounds pairs per repetition).

    `pairs`: existing pairs (a-half, b-half) to purify; default: generate them over the a--b link.
    `route`: classical route when a and b are not neighbours; relays run at the nodes in between.
    """
    m = _method(method)
    qa = [p[0].id for p in pairs] if pairs else []
    qb = [p[1].id for p in pairs] if pairs else []
    bases = _bases(measure_bases, repetitions)
    route = list(route or [])
    wire_method = cast("pr.PurifyMethod", int(m))  # Method's values are the wire enum's
    roles: dict[str, dict[str, Any]] = {
        a: {"purify_end": pr.PurifyEnd(peer=b, method=wire_method, rounds=rounds, alice=True, qubits=qa,
                                       repetitions=repetitions, measure_bases=bases, route=route)},
        b: {"purify_end": pr.PurifyEnd(peer=a, method=wire_method, rounds=rounds, alice=False, qubits=qb,
                                       repetitions=repetitions, measure_bases=bases, route=route[::-1])},
    }
    for k in range(1, len(route) - 1):
        roles[route[k]] = {"relay_node": pr.RelayNode(left=route[k - 1], right=route[k + 1])}
    t0 = time.perf_counter()
    res = yield RoleRun(roles, timeout_s)
    wall = time.perf_counter() - t0
    ra, rb = res[a].purify_end, res[b].purify_end
    success = np.frombuffer(ra.success, dtype=np.uint8).astype(bool)
    kept = [(_qubit(net, a, x), _qubit(net, b, y)) if x else None for x, y in zip(ra.qubits, rb.qubits, strict=True)]
    outcomes = None
    if bases:
        outcomes = (w.uint8_array(ra.outcomes), w.uint8_array(rb.outcomes))
    return Purification(m, rounds, success, kept, outcomes, ra.consumed, _vt(res), wall)


# ----------------------------------------------------------------------------- entanglement service
@dataclass(frozen=True)
class EntangledPair:
    """A pair between two nodes served by `entangle`, with how it was made."""

    a: Qubit
    b: Qubit
    plan: _routing.Plan
    attempts: int
    epr_pairs: int  # link-level pairs generated in total (all attempts)
    wall_time_s: float

    @property
    def path(self) -> tuple[str, ...]:
        return self.plan.path

    @property
    def expected_fidelity(self) -> float:
        return self.plan.expected_fidelity


def entangle_steps(net: Handles, a: str, b: str, *, min_fidelity: float, cost: str = "fidelity",
             method: Method | str = "dejmps", max_rounds: int = _routing.MAX_PLAN_ROUNDS,
             max_attempts: int | None = None, timeout_s: float = 60.0) -> Steps[EntangledPair]:
    """A pair between a and b with (expected) fidelity >= min_fidelity, within `timeout_s`.

    Routes over the fiber links (`cost` "fidelity" or "hops"), delivers 2^r pairs along the path by
    swapping, and purifies them with r nested rounds, r the fewest the recurrence map says reach the
    target (Werner estimate). A failed purification is retried with fresh pairs until the request's
    deadline (`timeout_s` for the whole request; each step gets what is left of it), or at most
    `max_attempts` times if given.

    Raises InvalidOperation (target outside (0.25, 1]), NotConnected (no path, or the target is
    unreachable with these links), ProtocolTimeout (the deadline passed before an attempt succeeded),
    ProtocolAborted (`max_attempts` attempts all failed).
    """
    if max_attempts is not None and max_attempts < 1:
        raise InvalidOperation(f"max_attempts must be at least 1, not {max_attempts}")
    topo = _topology(net)
    plan = _routing.plan_request(topo, a, b, min_fidelity, cost=cost, method=_method(method), max_rounds=max_rounds)
    path = list(plan.path)
    t0 = time.perf_counter()
    deadline = t0 + timeout_s

    def left() -> float:
        return deadline - time.perf_counter()

    total = 0
    if plan.rounds == 0:
        d = yield from chain_steps(net, path, timeout_s=timeout_s)
        (qa, qb), = d.pairs
        return EntangledPair(qa, qb, plan, 1, d.epr_pairs, time.perf_counter() - t0)
    direct = topo.classical_latency_ns(a, b) is not None
    attempt = 0
    while (max_attempts is None or attempt < max_attempts) and left() > 0:
        attempt += 1
        d = yield from chain_steps(net, path, pairs=plan.pairs_per_attempt, timeout_s=left())
        total += d.epr_pairs
        if left() <= 0:  # the pairs just made stay in this session, which frees them when it ends
            break
        p = yield from purify_steps(net, a, b, method=plan.method, rounds=plan.rounds, pairs=d.pairs,
                   route=None if direct else path, timeout_s=left())
        if p.success[0]:
            kept = p.pairs[0]
            assert kept is not None  # a successful purification keeps its pair
            qa, qb = kept
            return EntangledPair(qa, qb, plan, attempt, total, time.perf_counter() - t0)
    what = (f"no pair of fidelity >= {min_fidelity} between {a!r} and {b!r}: {attempt} purification attempt(s) "
            f"failed (expected success probability {plan.success_probability:.3f} each)")
    if max_attempts is not None and attempt >= max_attempts:
        raise ProtocolAborted(what, attempts=attempt, max_attempts=max_attempts)
    raise ProtocolTimeout(f"{what} within the {timeout_s:g} s deadline")


# ----------------------------------------------------------------------------- GHZ
def spanning_tree(topology: Topology, nodes: Sequence[str], root: str | None = None) -> list[str]:
    """Parents (BFS over fiber links among `nodes`) for a GHZ tree; NotConnected if they are not connected."""
    import networkx as nx

    nodes = list(nodes)
    for n in nodes:
        topology.require_node(n)
    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(nodes)
    g.add_edges_from(link.nodes for link in topology.links if link.nodes[0] in g and link.nodes[1] in g)
    root = root or nodes[0]
    parents = {root: ""}
    parents.update({v: u for u, v in nx.bfs_edges(g, root)})
    unreached = [n for n in nodes if n not in parents]
    if unreached:
        raise NotConnected(f"GHZ over {', '.join(nodes)}: {', '.join(unreached)} cannot be reached from {root!r} "
                           "over fiber links between participants", peer=unreached[0])
    return [parents[n] for n in nodes]


@dataclass(frozen=True)
class GhzStates:
    nodes: tuple[str, ...]
    qubits: list[list[Qubit]]  # per state, one handle per node (when kept)
    outcomes: np.ndarray | None  # shots x nodes (when measured)
    epr_pairs: int
    virtual_time_ns: int
    wall_time_s: float


def ghz_steps(net: Handles, nodes: Sequence[str], *, shots: int = 1, bases: Sequence[str] | None = None,
        depolarize: float = 0.0, timeout_s: float = 60.0) -> Steps[GhzStates]:
    """Distribute GHZ states over `nodes` (a tree of fiber links among them).

    `bases`: one string per shot with one basis letter per node (e.g. "XYY"), or None to keep the qubits.
    `depolarize`: apply depolarize(p) to each node's qubit (an exact channel, for testing noise).
    """
    nodes = list(nodes)
    parents = spanning_tree(_topology(net), nodes)
    per_node: dict[str, bytes] = dict.fromkeys(nodes, b"")
    if bases is not None:
        if len(bases) != shots or any(len(s) != len(nodes) for s in bases):
            raise InvalidOperation(f"give {shots} basis strings of {len(nodes)} letters")
        for j, n in enumerate(nodes):
            per_node[n] = _bases([s[j] for s in bases], shots)
    roles = {n: {"ghz_node": pr.GhzNode(nodes=nodes, parents=parents, shots=shots, bases=per_node[n],
                                        depolarize=depolarize)} for n in nodes}
    t0 = time.perf_counter()
    res = yield RoleRun(roles, timeout_s)
    wall = time.perf_counter() - t0
    qubits: list[list[Qubit]] = []
    outcomes = None
    if bases is None:
        qubits = [[_qubit(net, n, res[n].ghz_node.qubits[k]) for n in nodes] for k in range(shots)]
    else:
        outcomes = np.stack([np.frombuffer(res[n].ghz_node.outcomes, dtype=np.uint8) for n in nodes], axis=1)
    return GhzStates(tuple(nodes), qubits, outcomes, sum(r.ghz_node.epr_pairs for r in res.values()), _vt(res), wall)


@dataclass(frozen=True)
class MerminResult:
    value: float
    stderr: float
    ideal: float
    shots_per_term: int
    terms: dict[str, float]
    wall_time_s: float
    virtual_time_ns: int


def mermin_steps(net: Handles, nodes: Sequence[str], *, shots_per_term: int = 100, depolarize: float = 0.0,
           timeout_s: float = 120.0) -> Steps[MerminResult]:
    """Measure the Mermin value of GHZ states over `nodes`: every term's settings measured across the nodes."""
    from qemu_net.protocols.ghz import mermin_ideal

    k = len(nodes)
    terms = mermin_terms(k)
    settings = [s for s, _ in terms for _ in range(shots_per_term)]
    r = yield from ghz_steps(net, nodes, shots=len(settings), bases=settings, depolarize=depolarize,
                             timeout_s=timeout_s)
    assert r.outcomes is not None
    parity = 1 - 2 * (r.outcomes.sum(axis=1) % 2).astype(float)
    value, var, by_term = 0.0, 0.0, {}
    for t, (s, sign) in enumerate(terms):
        x = parity[t * shots_per_term:(t + 1) * shots_per_term]
        by_term[s] = float(x.mean())
        value += sign * x.mean()
        var += x.var(ddof=1) / len(x) if len(x) > 1 else 0.0
    return MerminResult(float(value), float(np.sqrt(var)), mermin_ideal(k, depolarize), shots_per_term, by_term,
                        r.wall_time_s, r.virtual_time_ns)


# ----------------------------------------------------------------------------- superdense coding
def superdense_steps(net: Handles, a: str, b: str, messages: Sequence[int] | bytes, *,
                     timeout_s: float = 60.0) -> Steps[np.ndarray]:
    """Send 2-bit messages (0..3) from a to b, one qubit each; returns what b decoded (255: qubit lost)."""
    msgs = bytes(messages)
    res = yield RoleRun({b: {"superdense_receive": pr.SuperdenseReceive(peer=a, count=len(msgs))},
                         a: {"superdense_send": pr.SuperdenseSend(peer=b, messages=msgs)}}, timeout_s)
    return np.frombuffer(res[b].superdense_receive.messages, dtype=np.uint8).copy()


# ----------------------------------------------------------------------------- nonlocal gates
def nonlocal_controlled_steps(net: Handles, control: Any, target: Any, u: np.ndarray | None = None, *,
                        timeout_s: float = 30.0) -> Steps[int]:
    """Apply controlled-U (default CNOT) across two nodes with one EPR pair; returns pairs consumed."""
    a, b = control.node.name, target.node.name
    if a == b:
        raise InvalidOperation("both qubits are at one node: apply the gate locally")
    tmsg = pr.NonlocalTarget(peer=a, qubit=target.id)
    if u is not None:
        tmsg.u.CopyFrom(matrix_to_proto(u))
    res = yield RoleRun({b: {"nonlocal_target": tmsg},
                         a: {"nonlocal_control": pr.NonlocalControl(peer=b, qubit=control.id)}}, timeout_s)
    return res[a].nonlocal_control.epr_pairs


def nonlocal_cnot(net: Network, control: Qubit, target: Qubit, **kw: Any) -> int:
    """CNOT across two nodes with one EPR pair; returns the pairs consumed."""
    return drive(net, nonlocal_controlled_steps(net, control, target, None, **kw))


def teleported_gate_steps(net: Handles, home: Any, remote: Any, u: np.ndarray, *,
                          timeout_s: float = 30.0) -> Steps[Any]:
    """Apply a 4x4 unitary on (home, remote) by teleporting `remote` to home's node and back (two EPR pairs).

    Returns the handle of the qubit now holding the remote state (a new qubit id at the remote node).
    """
    a, b = home.node.name, remote.node.name
    if a == b:
        raise InvalidOperation("both qubits are at one node: apply the gate locally")
    res = yield RoleRun({a: {"teleported_gate_home": pr.TeleportedGateHome(peer=b, qubit=home.id,
                                                                            u=matrix_to_proto(u))},
                         b: {"teleported_gate_remote": pr.TeleportedGateRemote(peer=a, qubit=remote.id)}},
                        timeout_s)
    return _qubit(net, b, res[b].teleported_gate_remote.qubit)


# ----------------------------------------------------------------------------- distributed circuits
@dataclass(frozen=True)
class CircuitResult:
    """Measurements by key (repetitions x qubits of the key, in the circuit's order), kept qubits, pairs."""

    measurements: dict[str, np.ndarray]
    qubits: dict[Any, Qubit] = field(default_factory=dict)
    epr_pairs: int = 0
    nonlocal_gates: int = 0
    virtual_time_ns: int = 0
    wall_time_s: float = 0.0


def compile_circuit(net: Handles | None, circuit: Any,
                    assignment: Mapping[Any, str]) -> tuple[_circuits.Program, list[Any]]:
    """Compile a cirq circuit for the network (qubits at the given nodes); the program and its qubits."""
    topo = net.topology if net is not None else None
    return _circuits.compile_circuit(circuit, assignment, topology=topo)


def run_circuit_steps(net: Handles, circuit: Any, assignment: Mapping[Any, str], *, repetitions: int = 1,
                keep: bool = False, timeout_s: float = 120.0) -> Steps[CircuitResult]:
    """Run a cirq circuit with its qubits at the given nodes; gates across nodes become nonlocal gates.

    `keep=True` (one repetition) leaves the final state in the nodes' memories and returns qubit handles
    keyed by the circuit's qubits (inspect them on nodes started with --allow-inspect).
    """
    program, qubits = compile_circuit(net, circuit, assignment)
    return (yield from run_program_steps(net, program, qubits, repetitions=repetitions, keep=keep,
                                         timeout_s=timeout_s))


def run_program_steps(net: Handles, program: _circuits.Program, qubits: Sequence[Any], *, repetitions: int = 1,
                      keep: bool = False, timeout_s: float = 120.0) -> Steps[CircuitResult]:
    """Run a compiled distributed circuit; `qubits` name the program's qubits (by index) in the result."""
    program.validate(net.topology)
    msg = program_to_proto(program, repetitions=repetitions, keep=keep)
    nodes = sorted(set(program.assignment))
    t0 = time.perf_counter()
    res = yield RoleRun({n: {"circuit_run": msg} for n in nodes}, timeout_s)
    wall = time.perf_counter() - t0
    # Assemble each key's columns in the order the circuit measured them.
    order: dict[str, list[int]] = {}
    for op in program.ops:
        if isinstance(op, _circuits.Measure):
            order.setdefault(op.key, []).extend(op.qubits)
    reps = repetitions or 1
    cols: dict[str, dict[int, list[np.ndarray]]] = {k: {} for k in order}
    for n in nodes:
        for rec in res[n].circuit_run.measurements:
            arr = np.frombuffer(rec.bits, dtype=np.uint8).reshape(reps, len(rec.qubits))
            for j, q in enumerate(rec.qubits):
                cols[rec.key].setdefault(q, []).append(arr[:, j])
    measurements = {}
    for key, qs in order.items():
        used: dict[int, int] = {}
        columns = []
        for q in qs:
            k = used.get(q, 0)
            columns.append(cols[key][q][k])
            used[q] = k + 1
        measurements[key] = np.stack(columns, axis=1) if columns else np.zeros((reps, 0), dtype=np.uint8)
    kept: dict[Any, Qubit] = {}
    for n in nodes:
        r = res[n].circuit_run
        for idx, qid in zip(r.qubit_index, r.qubit_ids, strict=True):
            kept[qubits[idx]] = _qubit(net, n, qid)
    return CircuitResult(measurements, kept, sum(res[n].circuit_run.epr_pairs for n in nodes),
                         program.nonlocal_gates * reps, _vt(res), wall)



# ----------------------------------------------------------------------------- synchronous shorthand
def teleport_steps(net: Handles, qubit: Any, to: str, *, pair: tuple[Any, Any] | None = None,
                   timeout_s: float = 30.0) -> Steps[Any]:
    """Teleport `qubit` to node `to` (over `pair`'s halves, or a new link pair)."""
    src = qubit.node.name
    res = yield RoleRun(w.teleport_roles(src, to, qubit.id, (pair[0].id, pair[1].id) if pair else None), timeout_s)
    return _qubit(net, to, w.teleported_qubit(res, to))


def chain(net: Network, path: Sequence[str], **kw: Any) -> ChainDelivery:
    """See `chain_steps`."""
    return drive(net, chain_steps(net, path, **kw))


def purify(net: Network, a: str, b: str, **kw: Any) -> Purification:
    """See `purify_steps`."""
    return drive(net, purify_steps(net, a, b, **kw))


def entangle(net: Network, a: str, b: str, *, min_fidelity: float, **kw: Any) -> EntangledPair:
    """See `entangle_steps`."""
    return drive(net, entangle_steps(net, a, b, min_fidelity=min_fidelity, **kw))


def ghz(net: Network, nodes: Sequence[str], **kw: Any) -> GhzStates:
    """See `ghz_steps`."""
    return drive(net, ghz_steps(net, nodes, **kw))


def mermin(net: Network, nodes: Sequence[str], **kw: Any) -> MerminResult:
    """See `mermin_steps`."""
    return drive(net, mermin_steps(net, nodes, **kw))


def superdense(net: Network, a: str, b: str, messages: Sequence[int] | bytes, **kw: Any) -> np.ndarray:
    """See `superdense_steps`."""
    return drive(net, superdense_steps(net, a, b, messages, **kw))


def nonlocal_controlled(net: Network, control: Qubit, target: Qubit, u: np.ndarray | None = None,
                        **kw: Any) -> int:
    """See `nonlocal_controlled_steps`."""
    return drive(net, nonlocal_controlled_steps(net, control, target, u, **kw))


def teleported_gate(net: Network, home: Qubit, remote: Qubit, u: np.ndarray, **kw: Any) -> Qubit:
    """See `teleported_gate_steps`."""
    moved: Qubit = drive(net, teleported_gate_steps(net, home, remote, u, **kw))
    return moved


def run_circuit(net: Network, circuit: Any, assignment: Mapping[Any, str], **kw: Any) -> CircuitResult:
    """See `run_circuit_steps`."""
    return drive(net, run_circuit_steps(net, circuit, assignment, **kw))

__all__ = [
    "NO_OUTCOME",
    "ChainDelivery",
    "CircuitResult",
    "EntangledPair",
    "GhzStates",
    "MerminResult",
    "Purification",
    "RoleRun",
    "Steps",
    "bell_fidelity",
    "chain",
    "drive",
    "entangle",
    "ghz",
    "mermin",
    "nonlocal_cnot",
    "nonlocal_controlled",
    "purify",
    "run_circuit",
    "spanning_tree",
    "superdense",
    "swap",
    "teleported_gate",
]
