"""Small pieces shared by the protocol roles: bases, Pauli frames, an exact local depolarising channel.

Nothing here talks to other nodes; every function acts through a `NodeContext`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.protocols.context import NodeContext
from qemu_net.quantum.paulis import CNOT, CZ, I, X, Y, Z
from qemu_net.vocab import Basis

#: One byte per basis on the wire (same codes as the EPR batch API): 0 Z, 1 X, 2 Y.
BASIS_BY_CODE: tuple[Basis, ...] = tuple(Basis.from_code(c) for c in range(3))
#: Outcome byte meaning "no outcome" (the pair was lost or a purification step failed).
NO_OUTCOME = 255

_I2 = I


def rx(theta: float) -> np.ndarray:
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array([[c, -1j * s], [-1j * s, c]], dtype=np.complex128)


def controlled(u: np.ndarray) -> np.ndarray:
    """|0><0| (x) I + |1><1| (x) U (control first)."""
    out = np.eye(4, dtype=np.complex128)
    out[2:, 2:] = u
    return out


def basis_names(codes: bytes, count: int, *, what: str = "measure_bases") -> list[str] | None:
    """Decode a per-item basis byte string (empty -> None); it must have `count` entries of 0..2."""
    if not codes:
        return None
    if len(codes) != count:
        raise InvalidOperation(f"{what} must have one byte per item ({count}), got {len(codes)}")
    try:
        return [BASIS_BY_CODE[c] for c in codes]
    except IndexError:
        raise InvalidOperation(f"{what}: basis codes are 0 (Z), 1 (X) or 2 (Y)") from None


def correct(ctx: NodeContext, qubit: str, x: int, z: int) -> None:
    """Apply the Pauli correction Z^z X^x (X first)."""
    if x:
        ctx.apply_unitary(X, qubit)
    if z:
        ctx.apply_unitary(Z, qubit)


def depolarize_ancilla_unitary(p: float) -> np.ndarray:
    """A 4x4 real unitary taking |00> to sqrt(1-p)|00> + sqrt(p/3)(|01> + |10> + |11>) (Householder)."""
    v = np.array([np.sqrt(1 - p), *([np.sqrt(p / 3)] * 3)])
    w = np.array([1.0, 0, 0, 0]) - v
    nw = float(w @ w)
    if nw < 1e-30:
        return np.eye(4, dtype=np.complex128)
    return (np.eye(4) - 2 * np.outer(w, w) / nw).astype(np.complex128)


def depolarize(ctx: NodeContext, qubit: str, p: float) -> None:
    """Apply depolarize(p) = (1-p) rho + p/3 (X rho X + Y rho Y + Z rho Z) exactly to a local qubit.

    Realised physically with ancillas that are traced out, so the register holds the averaged channel
    (no sampling) and density-matrix checks are exact. For p <= 3/4 it is three flip channels in a row,
    X, Y and Z each with probability q = (1 - sqrt(1 - 4p/3))/2 (their composition flips X, Y, Z each
    with probability q(1 - q) = p/3), each from one fresh ancilla in sqrt(1-q)|0> + sqrt(q)|1> that
    controls the Pauli: a single-qubit ancilla joins the qubit's group wherever that is held, so the
    channel never drags a shared group between nodes. Above 3/4, two ancillas in
    sqrt(1-p)|00> + sqrt(p/3)(|01>+|10>+|11>) control an X and a Z.
    """
    if not 0 <= p <= 1:
        raise InvalidOperation(f"depolarize probability must be in [0, 1], got {p}")
    if p == 0:
        return
    if p <= 0.75:
        q = (1 - np.sqrt(1 - 4 * p / 3)) / 2
        prep = np.array([[np.sqrt(1 - q), -np.sqrt(q)], [np.sqrt(q), np.sqrt(1 - q)]], dtype=np.complex128)
        for pauli in (X, Y, Z):
            (a,) = ctx.alloc(1)
            ctx.apply_unitary(prep, a)
            ctx.apply_unitary(controlled(pauli), a, qubit)
            ctx.discard(a)
        return
    a1, a2 = ctx.alloc(2)
    ctx.apply_unitary(depolarize_ancilla_unitary(p), a1, a2)
    ctx.apply_unitary(CNOT, a2, qubit)
    ctx.apply_unitary(CZ, a1, qubit)
    ctx.discard(a1)
    ctx.discard(a2)


def check_path(ctx: NodeContext, path: Sequence[str]) -> int:
    """Validate a path of linked nodes containing this node; return this node's index on it."""
    topo = ctx.topology
    if len(path) < 2:
        raise InvalidOperation("a path needs at least two nodes")
    if len(set(path)) != len(path):
        raise InvalidOperation(f"a path may not visit a node twice: {list(path)}")
    for a, b in itertools.pairwise(path):
        for n in (a, b):
            topo.require_node(n, what="path")
        if topo.link(a, b) is None:
            from qemu_net.errors import NotConnected

            raise NotConnected(f"path {'-'.join(path)}: no quantum link between {a!r} and {b!r}", peer=b)
    if ctx.name not in path:
        raise InvalidOperation(f"node {ctx.name!r} is not on the path {'-'.join(path)}")
    return list(path).index(ctx.name)
