"""GHZ distribution over k nodes, and the Mermin value measured across them.

The participants form a spanning tree of fiber links (``parents``). Every node makes one link pair with
each child and *fuses* it into its GHZ qubit: CNOT(main, half), measure the half in Z, send the outcome
to the child, which applies X if it is 1 (the child's half becomes its GHZ qubit). A node fuses before
its own parent's correction arrives; an X it still owes commutes through the CNOT as an extra flip of
the outcome, so it forwards ``outcome xor parent_bit``. Result: (|0...0> + |1...1>)/sqrt(2) with k - 1
pairs and k - 1 classical bits.

Mermin: M_k = sum over settings in {X, Y}^k with an even number of Y of (-1)^(#Y/2) <prod sigma>.
A GHZ state gives 2^(k-1) (4 for k = 3); depolarize(p) on each qubit scales every k-body correlator by
(1 - 4p/3)^k.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.protocols.common import CNOT, H, X, basis_names, depolarize
from qemu_net.protocols.context import EprHalf, NodeContext

#: GHZ states built per batch (bounded by memory: each node holds one qubit per child per state).
BATCH = 32
MAX_SHOTS = 100_000


@dataclass
class GhzOutcome:
    qubits: list[str] = field(default_factory=list)
    outcomes: bytes = b""
    epr_pairs: int = 0


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
    for n, p in zip(nodes, parents):
        if p and p not in nodes:
            raise InvalidOperation(f"parent {p!r} of {n!r} is not a participant")
        if p and ctx.topology.link(n, p) is None:
            raise NotConnected(f"GHZ tree: no quantum link between {n!r} and its parent {p!r}", peer=p)
    i = list(nodes).index(ctx.name)
    return parents[i], [n for n, p in zip(nodes, parents) if p == ctx.name]


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
    out = GhzOutcome()
    tag = f"{session}/ghz"
    ch = f"{session}/ghz"
    for start in range(0, shots, BATCH):
        count = min(BATCH, shots - start)
        child_halves: dict[str, list[EprHalf]] = {}
        for c in children:
            child_halves[c] = ctx.epr(c, tag=tag, count=count)
            out.epr_pairs += count
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
        bits = {c: bytearray(count) for c in children}
        for c in fused:
            for k, h in enumerate(child_halves[c]):
                ctx.apply_unitary(CNOT, mains[k], h.qubit)
                bits[c][k] = ctx.measure(h.qubit, "Z")
        owed = ctx.recv(parent, ch, timeout_s=timeout_s) if parent else bytes(count)
        if len(owed) != count:
            raise InvalidOperation(f"malformed GHZ correction from {parent!r}")
        for c in children:
            ctx.send(c, ch, bytes(b ^ o for b, o in zip(bits[c], owed)))
        for k, q in enumerate(mains):
            if owed[k]:
                ctx.apply_unitary(X, q)
            depolarize(ctx, q, depolarize_p)
            if names is None:
                out.qubits.append(q)
            else:
                out.outcomes += bytes((ctx.measure(q, names[start + k]),))
    return out


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
    return 2 ** (k - 1) * (1 - 4 * p / 3) ** k
