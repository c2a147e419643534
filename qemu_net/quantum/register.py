"""A node's quantum register: qubits grouped so that only entangled qubits share a state.

Each *group* is one quantum state over a few qubits, kept in Cirq's tensor layout (big-endian: the
first qubit is the most significant; a state vector has shape ``(2,)*n``, a density matrix
``(2,)*(2n)`` with row axes first — exactly ``cirq.StateVectorSimulationState.target_tensor`` and
``cirq.DensityMatrixSimulationState.target_tensor``). Gates come from Cirq (`cirq.unitary`) and are
applied with the einsum of Cirq's kernel `cirq.linalg.targeted_left_multiply` (index lists cached per
shape; a test checks both agree on every axis choice). A group starts as a
state vector and turns into a density matrix the first time a noise channel touches it, so noiseless
work stays cheap and noisy work is exact (the averaged channel, not one sampled trajectory).

Groups join lazily, only when an operation spans them (like `cirq.SimulationProductState`);
measurement splits the measured qubit out; discarding a qubit traces it out.

Why not keep `cirq.DensityMatrixSimulationState` objects and call `cirq.act_on`? Measured here: creating
such a state costs ~200 us, `act_on` 60-80 us per gate and ~230 us per measurement, against ~8 us for the
same kernel on the tensor. A node serves thousands of small operations per second; see docs/design.md.

Seed contract: a register built with the same ``seed`` that receives the same sequence of calls
produces the same measurement outcomes. Outcomes depend on call order, so concurrent callers that
interleave differently get different (equally valid) samples.

The register is not thread-safe; the node guards it with one lock.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cirq
import numpy as np

from qemu_net.errors import InvalidOperation, MemoryFull, QubitNotFound
from qemu_net.quantum.noise import apply_superop_dm, kraus_to_superop
from qemu_net.quantum.paulis import BASIS_CHANGE
from qemu_net.vocab import Basis

DTYPE = np.complex128
#: Largest group kept as a density matrix (4**10 complex entries = 16 MiB).
MAX_DM_QUBITS = 10
#: Largest group kept as a state vector.
MAX_SV_QUBITS = 24

#: Basis change applied before a Z measurement to measure in X (H) or Y (H.S^dagger); None for Z.
BASIS_ROTATION: dict[str, np.ndarray | None] = {b.value: None if b is Basis.Z else u for b, u in BASIS_CHANGE.items()}


if TYPE_CHECKING:
    # The interleaved form einsum(op, op_axes, tensor, tensor_axes, out_axes) used below; numpy types it Any.
    def _einsum(*operands: object) -> np.ndarray: ...
else:
    try:  # np.einsum without its Python wrapper (which only adds the unused `optimize` path): one call less
        from numpy._core.multiarray import c_einsum as _einsum  # per gate on the hot path
    except ImportError:  # pragma: no cover - numpy < 2
        _einsum = np.einsum


@functools.lru_cache(maxsize=4096)
def _lmul_subscripts(ndim: int, axes: tuple[int, ...]) -> tuple[list[int], list[int], list[int]]:
    """Index lists of `cirq.linalg.targeted_left_multiply` for an operator on `axes` of an ndim tensor."""
    k = len(axes)
    data = list(range(ndim))
    out_idx = list(data)
    for j, a in enumerate(axes):
        out_idx[a] = ndim + j
    op_idx = [ndim + j for j in range(k)] + list(axes)
    return op_idx, data, out_idx


_OP_SHAPE = {1: (2, 2), 2: (2, 2, 2, 2)}


def _lmul(tensor: np.ndarray, m: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Cirq's `targeted_left_multiply` (the same einsum), with its index lists cached per shape."""
    op_idx, data, out_idx = _lmul_subscripts(tensor.ndim, tuple(axes))
    k = len(axes)
    if k > 1:
        m = m.reshape(_OP_SHAPE.get(k) or (2,) * (2 * k))
    return _einsum(m, op_idx, tensor, data, out_idx)


@dataclass
class Group:
    """One joint state over `qubits` (ids, in tensor axis order)."""

    gid: int
    qubits: list[str]
    tensor: np.ndarray
    #: True: `tensor` is a density matrix; False: a state vector.
    mixed: bool

    @property
    def n(self) -> int:
        return len(self.qubits)

    def axis(self, q: str) -> int:
        return self.qubits.index(q)

    def to_density_matrix(self) -> None:
        if not self.mixed:
            v = self.tensor.reshape(-1)
            self.tensor = np.outer(v, v.conj()).reshape((2,) * (2 * self.n))
            self.mixed = True

    def matrix(self) -> np.ndarray:
        """The density matrix (2^n x 2^n) of the whole group."""
        if self.mixed:
            return self.tensor.reshape(2**self.n, 2**self.n).copy()
        v = self.tensor.reshape(-1)
        return np.outer(v, v.conj())

    def apply_unitary(self, u: np.ndarray, qubits: Sequence[str]) -> None:
        index = self.qubits.index
        axes = [index(q) for q in qubits]
        self.tensor = _lmul(self.tensor, u, axes)
        if self.mixed:
            n = len(self.qubits)
            self.tensor = _lmul(self.tensor, u.conj(), [a + n for a in axes])

    def apply_superop(self, superop: np.ndarray, qubits: Sequence[str]) -> None:
        """Apply a 1- or 2-qubit channel given as a superoperator matrix (`noise.kraus_to_superop`)."""
        self.to_density_matrix()
        self.tensor = apply_superop_dm(self.tensor, superop, [self.axis(q) for q in qubits])

    def probability_one(self, q: str) -> float:
        a = self.axis(q)
        if self.mixed:
            diag = np.diagonal(self.tensor.reshape(2**self.n, 2**self.n)).real.reshape((2,) * self.n)
            p1 = float(np.take(diag, 1, axis=a).sum())
        else:
            p1 = float(np.sum(np.abs(np.take(self.tensor, 1, axis=a)) ** 2))
        return min(max(p1, 0.0), 1.0)

    def project_out(self, q: str, bit: int) -> np.ndarray:
        """Project `q` on |bit>, remove it, renormalise; return the remaining tensor."""
        a = self.axis(q)
        if self.mixed:
            rest = np.take(np.take(self.tensor, bit, axis=a), bit, axis=a + self.n - 1)
            tr = np.trace(rest.reshape(2 ** (self.n - 1), 2 ** (self.n - 1))).real
        else:
            rest = np.take(self.tensor, bit, axis=a)
            tr = float(np.sum(np.abs(rest) ** 2))
            tr = np.sqrt(tr)
        renormalised: np.ndarray = rest / tr
        return renormalised

    def partial_trace_out(self, q: str) -> np.ndarray:
        self.to_density_matrix()
        a = self.axis(q)
        reduced: np.ndarray = np.trace(self.tensor, axis1=a, axis2=a + self.n)
        return reduced


@dataclass(frozen=True)
class GroupState:
    """A group's state detached from a register, e.g. to migrate it to another node."""

    qubits: tuple[str, ...]
    tensor: np.ndarray
    mixed: bool
    #: Virtual time (ns) each qubit was last brought up to date with memory decoherence.
    last_ns: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.qubits)
        want = (2,) * (2 * n if self.mixed else n)
        if self.tensor.shape != want:
            raise InvalidOperation(f"state tensor has shape {self.tensor.shape}, expected {want} for {n} qubits")
        if len(set(self.qubits)) != n:
            raise InvalidOperation("state names a qubit twice")

    def to_bytes(self) -> bytes:
        return np.ascontiguousarray(self.tensor, dtype=DTYPE).tobytes()

    @classmethod
    def from_bytes(
        cls, qubits: Sequence[str], data: bytes, *, mixed: bool, last_ns: Sequence[int] = ()
    ) -> GroupState:
        n = len(qubits)
        shape = (2,) * (2 * n if mixed else n)
        expected = 16 * (4**n if mixed else 2**n)
        if len(data) != expected:
            raise InvalidOperation(f"state of {n} qubits needs {expected} bytes, got {len(data)}")
        tensor = np.frombuffer(data, dtype=DTYPE).reshape(shape).copy()
        return cls(tuple(qubits), tensor, mixed, tuple(last_ns))


@dataclass
class Register:
    """Groups of qubits with their joint states; see the module docstring. The register holds any number
    of qubits: a node's memory size (``NodeSpec.memory_qubits``) is enforced by the node, which counts
    the qubits located at it, not the states it happens to hold."""

    seed: int = 0
    prng: np.random.Generator = field(init=False)
    groups: dict[int, Group] = field(default_factory=dict, init=False)
    _where: dict[str, Group] = field(default_factory=dict, init=False)
    _last_ns: dict[str, int] = field(default_factory=dict, init=False)
    _gids: Iterator[int] = field(default_factory=lambda: itertools.count(1), init=False)

    def __post_init__(self) -> None:
        self.prng = np.random.default_rng(self.seed)

    # ------------------------------------------------------------------ inventory
    def __contains__(self, q: str) -> bool:
        return q in self._where

    def __len__(self) -> int:
        return len(self._where)

    def group_of(self, q: str) -> Group:
        try:
            return self._where[q]
        except KeyError:
            raise QubitNotFound(f"qubit {q!r} is not held in this register", qubit=q) from None

    def group_size(self, q: str) -> int:
        return self.group_of(q).n

    def last_ns(self, q: str) -> int:
        return self._last_ns.get(q, 0)

    def _new_group(self, qubits: list[str], tensor: np.ndarray, mixed: bool) -> Group:
        g = Group(next(self._gids), qubits, tensor, mixed)
        self.groups[g.gid] = g
        for q in qubits:
            self._where[q] = g
        return g

    def _drop_group(self, g: Group) -> None:
        del self.groups[g.gid]

    def add_qubits(self, qubits: Sequence[str], *, now_ns: int = 0) -> None:
        """Add fresh qubits, each in |0> and in a group of its own."""
        for q in qubits:
            if q in self._where:
                raise InvalidOperation(f"qubit id {q!r} is already in use")
        for q in qubits:
            v = np.zeros(2, dtype=DTYPE)
            v[0] = 1
            self._new_group([q], v, False)
            self._last_ns[q] = now_ns

    def add_state(self, state: GroupState, *, now_ns: int | None = None) -> Group:
        """Insert a joint state (an EPR pair from the link, or a group migrated from another node)."""
        for q in state.qubits:
            if q in self._where:
                raise InvalidOperation(f"qubit id {q!r} is already in use")
        g = self._new_group(list(state.qubits), np.array(state.tensor, dtype=DTYPE), state.mixed)
        for i, q in enumerate(state.qubits):
            self._last_ns[q] = state.last_ns[i] if state.last_ns else (now_ns or 0)
        return g

    def extract(self, q: str) -> GroupState:
        """Remove the whole group containing `q` and return its state (for migration)."""
        g = self.group_of(q)
        self._drop_group(g)
        for x in g.qubits:
            del self._where[x]
        last = tuple(self._last_ns.pop(x, 0) for x in g.qubits)
        return GroupState(tuple(g.qubits), g.tensor, g.mixed, last)

    # ------------------------------------------------------------------ joining
    def _joint(self, qubits: Sequence[str]) -> Group:
        """The one group holding all `qubits`, merging groups (Kronecker product) if needed."""
        if len(qubits) == 1:
            return self.group_of(qubits[0])
        if len(set(qubits)) != len(qubits):
            raise InvalidOperation(f"an operation names the same qubit twice: {list(qubits)}")
        groups: list[Group] = []
        for q in qubits:
            g = self.group_of(q)
            if all(g is not h for h in groups):
                groups.append(g)
        if len(groups) == 1:
            return groups[0]
        n = sum(g.n for g in groups)
        mixed = any(g.mixed for g in groups)
        if n > (MAX_DM_QUBITS if mixed else MAX_SV_QUBITS):
            raise MemoryFull(
                f"an entangled group of {n} qubits exceeds the simulator's limit "
                f"({MAX_DM_QUBITS} as a density matrix, {MAX_SV_QUBITS} as a state vector)"
            )
        if mixed:
            for g in groups:
                g.to_density_matrix()
            mats = [g.tensor.reshape(2**g.n, 2**g.n) for g in groups]
            m = mats[0]
            for x in mats[1:]:
                m = np.kron(m, x)
            tensor = m.reshape((2,) * (2 * n))
        else:
            v = groups[0].tensor.reshape(-1)
            for g in groups[1:]:
                v = np.kron(v, g.tensor.reshape(-1))
            tensor = v.reshape((2,) * n)
        order = [q for g in groups for q in g.qubits]
        for g in groups:
            self._drop_group(g)
        return self._new_group(order, tensor, mixed)

    # ------------------------------------------------------------------ operations
    def apply_unitary(self, u: np.ndarray, qubits: Sequence[str]) -> None:
        """Apply a 2^k x 2^k unitary to k qubits (in the given order, first = most significant)."""
        if u.shape != (2 ** len(qubits),) * 2:
            raise InvalidOperation(f"a {u.shape[0]}x{u.shape[1]} matrix cannot act on {len(qubits)} qubit(s)")
        self._joint(qubits).apply_unitary(u, qubits)

    def apply_gate(self, gate: cirq.Gate, qubits: Sequence[str]) -> None:
        self.apply_unitary(np.asarray(cirq.unitary(gate), dtype=DTYPE), qubits)

    def apply_superop(self, superop: np.ndarray, qubits: Sequence[str]) -> None:
        """Apply a 1- or 2-qubit channel given as a superoperator matrix (turns the group into a density
        matrix). Callers that apply the same channel repeatedly keep its superoperator (see
        `qemu_net.quantum.noise.NoiseModel`); the cost is then one matrix product on the group's tensor."""
        self._joint(qubits).apply_superop(superop, qubits)

    def apply_kraus(self, kraus: Sequence[np.ndarray], qubits: Sequence[str]) -> None:
        """Apply a channel given by Kraus operators; builds its superoperator (a few us) each call."""
        self.apply_superop(kraus_to_superop(kraus), qubits)

    def advance(
        self, qubits: Iterable[str], now_ns: int, superop_for: Callable[[str, int], np.ndarray | None]
    ) -> None:
        """Bring qubits up to virtual time `now_ns`: apply ``superop_for(q, waited_ns)`` (memory decay,
        None for none) to each qubit that last changed before `now_ns`, and stamp it with `now_ns`.
        A qubit stamped later than `now_ns` (it arrived "in the future" of the caller's clock) is left alone.
        """
        for q in qubits:
            last = self._last_ns.get(q, now_ns)
            if now_ns > last:
                sop = superop_for(q, now_ns - last)
                if sop is not None:
                    self._where[q].apply_superop(sop, [q])
                self._last_ns[q] = now_ns

    def stamp(self, q: str, now_ns: int) -> None:
        """Declare `q` up to date at `now_ns` without applying anything (e.g. it arrives over a fiber)."""
        self.group_of(q)
        self._last_ns[q] = int(now_ns)

    def measure(self, q: str, basis: str = "Z", *, keep: bool = False, flip_probability: float = 0.0) -> int:
        """Measure `q` in the Z, X or Y basis; it leaves its group.

        With keep=True the qubit stays, collapsed to the measured basis state; otherwise it is freed.
        `flip_probability` models readout error: the reported bit is flipped, the state is not.
        """
        try:
            rot = BASIS_ROTATION[basis]
        except KeyError:
            raise InvalidOperation(f"unknown measurement basis {basis!r}; use Z, X or Y") from None
        g = self.group_of(q)
        if rot is not None:
            g.apply_unitary(rot, [q])
        p1 = g.probability_one(q)
        bit = int(self.prng.random() < p1)
        rest = g.project_out(q, bit) if g.n > 1 else None
        others = [x for x in g.qubits if x != q]
        self._drop_group(g)
        del self._where[q]
        if rest is not None:
            self._new_group(others, rest, g.mixed)
        if keep:
            v = np.zeros(2, dtype=DTYPE)
            v[bit] = 1
            if rot is not None:
                v = rot.conj().T @ v
            self._new_group([q], v, False)
        else:
            self._last_ns.pop(q, None)
        if flip_probability > 0 and self.prng.random() < flip_probability:
            bit ^= 1
        return bit

    def discard(self, q: str) -> None:
        """Remove `q`, tracing it out of its group (what remains keeps its correct reduced state)."""
        g = self.group_of(q)
        others = [x for x in g.qubits if x != q]
        self._drop_group(g)
        del self._where[q]
        self._last_ns.pop(q, None)
        if others:
            if g.mixed or not _is_product_zero_overlap(g, q):
                rest = g.partial_trace_out(q)
                self._new_group(others, rest, True)
            else:
                self._new_group(others, g.project_out(q, _nonzero_bit(g, q)), False)

    def reset(self, q: str) -> None:
        """Put `q` in |0>, unentangled (traces it out and re-adds it)."""
        last = self._last_ns.get(q, 0)
        self.discard(q)
        v = np.zeros(2, dtype=DTYPE)
        v[0] = 1
        self._new_group([q], v, False)
        self._last_ns[q] = last

    # ------------------------------------------------------------------ inspection
    def density_matrix(self, qubits: Sequence[str]) -> np.ndarray:
        """The reduced density matrix of `qubits` (in that order). Does not disturb the state."""
        groups: list[Group] = []
        for q in qubits:
            g = self.group_of(q)
            if all(g is not h for h in groups):
                groups.append(g)
        mats, order = [], []
        for g in groups:
            keep = [q for q in g.qubits if q in qubits]
            rho = g.matrix().reshape((2,) * (2 * g.n))
            traced = [i for i, x in enumerate(g.qubits) if x not in keep]
            for cnt, ax in enumerate(sorted(traced, reverse=True)):
                rho = np.trace(rho, axis1=ax, axis2=ax + g.n - cnt)
            k = len(keep)
            mats.append(rho.reshape(2**k, 2**k))
            order.extend(keep)
        m = mats[0]
        for x in mats[1:]:
            m = np.kron(m, x)
        k = len(order)
        t = m.reshape((2,) * (2 * k))
        perm = [order.index(q) for q in qubits]
        t = np.transpose(t, perm + [p + k for p in perm])
        return t.reshape(2**k, 2**k)


def _nonzero_bit(g: Group, q: str) -> int:
    return int(g.probability_one(q) > 0.5)


def _is_product_zero_overlap(g: Group, q: str) -> bool:
    """True if the pure group is a product of `q` in a Z basis state and the rest (cheap trace-out)."""
    p1 = g.probability_one(q)
    return p1 < 1e-12 or p1 > 1 - 1e-12


__all__ = ["BASIS_ROTATION", "DTYPE", "MAX_DM_QUBITS", "MAX_SV_QUBITS", "Group", "GroupState", "Register"]
