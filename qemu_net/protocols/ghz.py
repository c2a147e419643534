"""GHZ distribution over k nodes, and the Mermin value measured across them.

The participants form a spanning tree of fiber links (``parents``). Every node makes one link pair with
each child and *fuses* it into its GHZ qubit: CNOT(main, half), measure the half in Z, send the outcome
to the child, which applies X if it is 1 (the child's half becomes its GHZ qubit). Fusion runs top-down
(a node fuses once its parent's correction has arrived), so two nodes never work on one entangled group
at the same time. Result: (|0...0> + |1...1>)/sqrt(2) with k - 1 pairs and k - 1 classical bits.

Mermin: M_k = sum over settings in {X, Y}^k with an even number of Y of (-1)^(#Y/2) <prod sigma>.
A GHZ state gives 2^(k-1) (4 for k = 3); depolarize(p) on each qubit scales every k-body correlator by
(1 - 4p/3)^k.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.protocols.common import basis_names, depolarize
from qemu_net.protocols.context import EprHalf, NodeContext
from qemu_net.protocols.results import check_count, result_eq, result_hash, result_repr
from qemu_net.quantum.paulis import CNOT, H, X, Y, Z

#: GHZ states built per batch (bounded by memory: each node holds one qubit per child per state).
BATCH = 32
MAX_SHOTS = 100_000


@dataclass(frozen=True, eq=False, repr=False)
class GhzOutcome:
    """One participant's result: its kept qubits (one per shot) or its outcome bytes (one per shot, 0 or 1),
    and the EPR pairs it generated with its children."""

    qubits: tuple[str, ...] = ()
    outcomes: bytes = b""
    epr_pairs: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "qubits", tuple(self.qubits))
        check_count("GhzOutcome", epr_pairs=self.epr_pairs)
        if any(b > 1 for b in self.outcomes):
            raise InvalidOperation("GhzOutcome.outcomes are bits: each byte 0 or 1")

    __repr__ = result_repr
    __eq__ = result_eq
    __hash__ = result_hash


def check_tree(ctx: NodeContext, nodes: Sequence[str], parents: Sequence[str]) -> tuple[str, list[str]]:
    """Validate the tree; return (this node's parent or "", its children)."""
    if len(nodes) < 1 or len(parents) != len(nodes):
        raise InvalidOperation("give every participant of the GHZ state a parent ('' for the root)")
    if len(set(nodes)) != len(nodes):
        raise InvalidOperation("a node may hold only one qubit of the GHZ state")
    if sum(1 for p in parents if not p) != 1:
        raise InvalidOperation("the GHZ tree needs exactly one root")
    if ctx.name not in nodes:
        raise InvalidOperation(f"node {ctx.name!r} is not a participant of the GHZ state")
    for n, p in zip(nodes, parents, strict=True):
        if p and p not in nodes:
            raise InvalidOperation(f"parent {p!r} of {n!r} is not a participant")
        if p and ctx.topology.link(n, p) is None:
            raise NotConnected(f"GHZ tree: no quantum link between {n!r} and its parent {p!r}", peer=p)
    i = list(nodes).index(ctx.name)
    return parents[i], [n for n, p in zip(nodes, parents, strict=True) if p == ctx.name]


def ghz_node(ctx: NodeContext, *, nodes: Sequence[str], parents: Sequence[str], shots: int = 1,
             bases: bytes = b"", depolarize_p: float = 0.0, session: str, timeout_s: float = 30.0) -> GhzOutcome:
    parent, children = check_tree(ctx, nodes, parents)
    shots = shots or 1
    if not 1 <= shots <= MAX_SHOTS:
        raise InvalidOperation(f"shots must be between 1 and {MAX_SHOTS}, got {shots}")
    names = basis_names(bases, shots, what="bases")
    if names is None and shots > BATCH:
        raise InvalidOperation(f"keeping the qubits is limited to {BATCH} GHZ states per call; give bases")
    if not 0 <= depolarize_p <= 1:
        raise InvalidOperation(f"depolarize must be in [0, 1], got {depolarize_p}")
    kept: list[str] = []
    outcomes = bytearray()
    epr_pairs = 0
    tag = f"{session}/ghz"
    ch = f"{session}/ghz"
    credit = f"{session}/ghz/credit"
    for start in range(0, shots, BATCH):
        count = min(BATCH, shots - start)
        child_halves: dict[str, list[EprHalf]] = {}
        for c in children:
            if start > 0:  # flow control: the child has finished the previous batch
                ctx.recv(c, credit, timeout_s=timeout_s)
            child_halves[c] = ctx.epr(c, tag=tag, count=count)
            epr_pairs += count
        if parent:
            mains = [h.qubit for h in ctx.await_epr(parent, tag=tag, count=count, timeout_s=timeout_s)]
            fused = children
        elif children:
            mains = [h.qubit for h in child_halves[children[0]]]
            fused = children[1:]
        else:
            mains = ctx.alloc(count)
            for q in mains:
                ctx.apply_unitary(H, q)
            fused = []
        # Fusions happen top-down: a node first takes its parent's correction, then fuses its children's
        # pairs, so two nodes never operate on one entangled group at the same time.
        owed = ctx.recv(parent, ch, timeout_s=timeout_s) if parent else bytes(count)
        if len(owed) != count:
            raise InvalidOperation(f"malformed GHZ correction from {parent!r}")
        for k, q in enumerate(mains):
            if owed[k]:
                ctx.apply_unitary(X, q)
        bits = {c: bytearray(count) for c in children}
        for c in fused:
            for k, h in enumerate(child_halves[c]):
                ctx.apply_unitary(CNOT, mains[k], h.qubit)
                bits[c][k] = ctx.measure(h.qubit, "Z")
        for c in children:
            ctx.send(c, ch, bytes(bits[c]))
        for k, q in enumerate(mains):
            if names is None:
                depolarize(ctx, q, depolarize_p)  # the exact channel: the state stays for inspection
            elif depolarize_p > 0:
                # About to be measured: a random Pauli drawn with the channel's probabilities gives the
                # same outcome distribution, without ancillas.
                r = ctx.rng.random()
                if r < depolarize_p:
                    ctx.apply_unitary((X, Y, Z)[min(int(3 * r / depolarize_p), 2)], q)
            if names is None:
                kept.append(q)
            else:
                outcomes.append(ctx.measure(q, names[start + k]))
        if parent and start + BATCH < shots:
            ctx.send(parent, credit, b"\x01")
    return GhzOutcome(qubits=tuple(kept), outcomes=bytes(outcomes), epr_pairs=epr_pairs)


def mermin_terms(k: int) -> list[tuple[str, int]]:
    """The Mermin polynomial's settings: (bases string over {X, Y}, sign) with an even number of Y."""
    terms = []
    for combo in itertools.product("XY", repeat=k):
        ny = combo.count("Y")
        if ny % 2 == 0:
            terms.append(("".join(combo), -1 if (ny // 2) % 2 else 1))
    return terms


def mermin_ideal(k: int, p: float = 0.0) -> float:
    """Mermin value of a k-qubit GHZ state with depolarize(p) on each qubit: 2^(k-1) (1 - 4p/3)^k."""
    return float(2 ** (k - 1) * (1 - 4 * p / 3) ** k)
