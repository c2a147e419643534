"""The groups a node holds: its register, where each held qubit is located, and who may move them.

A node is the *holder* of the groups in its register. For each held qubit it knows the qubit's
location (`located_at`) and its ownership *epoch* (how many times its state has migrated). A group
that leaves leaves tombstones ``qubit -> (new holder, epoch)`` so late requests can follow it, and a
group may be *pinned* by an operation (`Txn`) that needs it to stay here until it runs; a pinned group,
or one another operation is waiting for, never leaves. Every method here expects the node's lock held
(the facade's one condition variable); none makes a remote call.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from qemu_net.errors import QubitNotFound
from qemu_net.node.ops import DiscardOp, GateOp, MeasureOp, Op, ResetOp, WaitOp
from qemu_net.node.transit import Shipment, Txn
from qemu_net.quantum.noise import NoiseModel
from qemu_net.quantum.register import GroupState, Register

#: Tombstones kept per node (oldest forgotten first). A tombstone is only needed while requests that
#: learnt the old holder are in flight; this bound keeps memory flat on long runs.
TOMBSTONES = 200_000


class Holdings:
    """A node's register and the bookkeeping of its held groups (lock held for every call)."""

    def __init__(self, name: str, register: Register, noise: dict[str, NoiseModel]) -> None:
        self.name = name
        self.register = register
        self.noise = noise
        #: Held qubit -> its location node.
        self.located_at: dict[str, str] = {}
        #: Held qubit -> its ownership epoch (absent: 0).
        self.epoch: dict[str, int] = {}
        #: Qubit whose group left -> (where it went, the epoch it arrived there with).
        self.tomb: collections.OrderedDict[str, tuple[str, int]] = collections.OrderedDict()
        #: Qubit -> the operation that pinned its group here.
        self.pins: dict[str, Txn] = {}
        self._pinned_by: dict[Txn, set[str]] = {}
        #: Qubit -> how many requests wait here for its group to be free.
        self.waiting: collections.Counter[str] = collections.Counter()
        #: Qubit located here, held elsewhere -> ns its holder's stamp lags its storage here (`note_skew`).
        self.skew: dict[str, int] = {}

    def __contains__(self, q: str) -> bool:
        return q in self.register

    # ---------------------------------------------------------------- pins
    def pinners(self, q: str, txn: Txn | None) -> set[Txn]:
        """The operations other than `txn` that pin the group of held qubit `q`."""
        pins = self.pins
        if not pins:
            return set()
        return {p for x in self.register.group_of(q).qubits if (p := pins.get(x)) is not None and p != txn}

    def pin(self, q: str, txn: Txn) -> None:
        mine = self._pinned_by.setdefault(txn, set())
        for x in self.register.group_of(q).qubits:
            self.pins[x] = txn
            mine.add(x)

    def release(self, txn: Txn) -> bool:
        """Drop every pin of `txn`; True if it had any."""
        mine = self._pinned_by.pop(txn, None)
        if not mine:
            return False
        for x in mine:
            if self.pins.get(x) == txn:
                del self.pins[x]
        return True

    def movable(self, q: str) -> bool:
        """The group of held qubit `q` may leave: nobody pins it or waits for it."""
        members = self.register.group_of(q).qubits
        return not any(x in self.pins or self.waiting[x] for x in members)

    # ---------------------------------------------------------------- arrivals and departures
    def ship(self, q: str, new_holder: str) -> Shipment:
        """Remove q's group from the register for `new_holder`: epochs advance, tombstones point there."""
        state = self.register.extract(q)
        locs = tuple(self.located_at.pop(x) for x in state.qubits)
        epochs = tuple(self.epoch.pop(x, 0) + 1 for x in state.qubits)
        for x, e in zip(state.qubits, epochs, strict=True):
            self._bury(x, new_holder, e)
        return Shipment(state, locs, epochs)

    def receive(self, shipment: Shipment) -> None:
        """Hold a group that arrived (pulled, adopted, pushed back, or sent with its qubit), or take back
        one whose hand-over failed (the one rollback path: the state is ours again)."""
        self.register.add_state(shipment.state)
        if self.skew:
            self.rebase({x: s for x in shipment.state.qubits if (s := self.skew.pop(x, 0))})
        for x, loc, e in zip(shipment.state.qubits, shipment.locations, shipment.epochs, strict=False):
            self.located_at[x] = loc
            if e:
                self.epoch[x] = e
            else:
                self.epoch.pop(x, None)
            self.tomb.pop(x, None)

    def add_new(self, state: GroupState, locations: Sequence[str]) -> None:
        """A group created here (fresh qubits, an EPR pair): epoch 0."""
        self.register.add_state(state)
        for x, loc in zip(state.qubits, locations, strict=True):
            self.located_at[x] = loc

    def forget(self, q: str) -> None:
        """A held qubit left the register by measurement or discard."""
        self.located_at.pop(q, None)
        self.epoch.pop(q, None)

    def _bury(self, q: str, where: str, epoch: int) -> None:
        tomb = self.tomb
        tomb[q] = (where, epoch)
        tomb.move_to_end(q)
        if len(tomb) > TOMBSTONES:
            tomb.popitem(last=False)

    def moved_since(self, q: str, min_epoch: int) -> tuple[str, int] | None:
        """Where q's group went, if its tombstone here is newer than `min_epoch` (else: none, or stale)."""
        t = self.tomb.get(q)
        if t is not None and t[1] > min_epoch:
            return t
        return None

    # ---------------------------------------------------------------- each qubit's own timeline
    # A qubit's stamp (`Register.last_ns`) is on its *location's* clock. The far half of an EPR pair is
    # stamped at its herald by the source, which holds it; if the news reaches the location when the
    # location's clock is already ahead of the news' time, that difference is skew between the two clocks,
    # not storage: the half's storage here starts at its herald plus the skew. The location remembers
    # the skew and tells the holder with its first forwarded operation on the qubit (or applies it
    # itself if the group comes here first), so storage never depends on the nodes' clock offsets.
    def note_skew(self, q: str, skew_ns: int) -> int:
        """News of qubit `q` (located here) arrived `skew_ns` after our clock's time; returns the shift
        applied to its timeline (0 if none is needed)."""
        if skew_ns <= 0 or q in self.register:
            return 0
        self.skew[q] = self.skew.get(q, 0) + int(skew_ns)
        return int(skew_ns)

    def skew_of(self, qubits: Iterable[str]) -> dict[str, int]:
        """The pending skews of `qubits` (for the forward that carries them to their holder)."""
        skew = self.skew
        return {q: s for q in qubits if (s := skew.get(q))} if skew else {}

    def skew_sent(self, sent: dict[str, int]) -> None:
        """The holder applied `sent` (a forward carrying it ran): forget them."""
        for q, s in sent.items():
            if self.skew.get(q) == s:
                del self.skew[q]

    def rebase(self, shifts: Mapping[str, int]) -> None:
        """Shift held qubits' stamps later by `shifts` (their location's skew): no decay is applied."""
        reg = self.register
        for q, s in shifts.items():
            if q in reg and s > 0:
                reg.stamp(q, reg.last_ns(q) + int(s))

    # ---------------------------------------------------------------- physics
    def superop_for_wait(self, q: str, waited_ns: int) -> np.ndarray | None:
        """Memory decoherence of held qubit `q` over waited_ns, with the T1/T2 of its *location* node."""
        return self.noise[self.located_at.get(q, self.name)].wait_superop(waited_ns)

    def bring_up_to_date(self, qubits: Sequence[str], now_ns: int) -> None:
        """Apply the memory decoherence each held qubit suffered up to now_ns (its location's clock)."""
        reg = self.register
        for q in qubits:
            if self.noise[self.located_at.get(q, self.name)].has_memory_noise:
                reg.advance((q,), now_ns, self.superop_for_wait)

    def execute(self, ops: Sequence[Op], now_ns: int) -> tuple[list[int], int]:
        """Run ops on groups held here. Returns the outcomes and the time after them."""
        reg = self.register
        noise_at, located_at = self.noise, self.located_at
        outcomes: list[int] = []
        t = now_ns
        for op in ops:
            gate: GateOp | None
            if isinstance(op, GateOp):
                gate, qs = op, op.qubits
            else:
                gate, qs = None, (op.qubit,)
            for q in qs:
                if q not in reg:
                    raise QubitNotFound(f"qubit {q!r} is not held at {self.name!r}", qubit=q)
            # All qubits of an operation share one location (checked there): its model applies.
            noise = noise_at[located_at[qs[0]]]
            memory = noise.has_memory_noise
            if memory:
                reg.advance(qs, t, self.superop_for_wait)
            if gate is not None:
                reg.apply_unitary(gate.unitary, qs)
                sop = noise.gate_superop(len(qs))
                if sop is not None:
                    reg.apply_superop(sop, qs)
                t += int(noise.gate_duration_ns(len(qs)))
            elif isinstance(op, MeasureOp):
                outcomes.append(reg.measure(op.qubit, op.basis, keep=op.keep, flip_probability=noise.measure_error))
                t += int(noise.measure_duration_ns)
                if not op.keep:
                    self.forget(op.qubit)
            elif isinstance(op, ResetOp):
                reg.reset(op.qubit)
            elif isinstance(op, DiscardOp):
                reg.discard(op.qubit)
                self.forget(op.qubit)
            elif isinstance(op, WaitOp):
                t += op.duration_ns  # the decay over it is applied just below
            if memory:
                reg.advance([q for q in qs if q in reg], t, self.superop_for_wait)
        return outcomes, t

    # ---------------------------------------------------------------- push-back
    def regrouped(self, ops: Sequence[Op], qs: Sequence[str]) -> list[str]:
        """Before running `ops` on `qs`: the members of their groups when the ops may change which qubits
        share a group (a 2-qubit gate merges; measurement, reset and discard split), else []. Only a
        regrouped group can become one to push back to its location, so a batch of 1-qubit gates (the
        commonest forward) skips that bookkeeping."""
        if all((isinstance(op, GateOp) and len(op.qubits) == 1) or isinstance(op, WaitOp) for op in ops):
            return []
        out: list[str] = []
        for q in qs:
            if q in self.register:
                out.extend(self.register.group_of(q).qubits)
        return out

    def pushable(self, qubits: Iterable[str]) -> list[tuple[str, str]]:
        """Movable groups held here (among those of `qubits`) located entirely at one other node."""
        out: list[tuple[str, str]] = []
        seen: set[int] = set()
        reg = self.register
        for q in qubits:
            if q not in reg:
                continue
            g = reg.group_of(q)
            if g.gid in seen:
                continue
            seen.add(g.gid)
            locs = {self.located_at[x] for x in g.qubits}
            if len(locs) == 1:
                (loc,) = locs
                if loc != self.name and self.movable(q):
                    out.append((q, loc))
        return out

    # ---------------------------------------------------------------- a lost peer
    def drop_located_at(self, node: str) -> list[str]:
        """Trace every held qubit located at `node` out of its group (that node's memory is gone).
        Returns those qubits."""
        gone = [q for q, loc in self.located_at.items() if loc == node]
        for q in gone:
            self.register.discard(q)
            self.forget(q)
        return gone


__all__ = ["TOMBSTONES", "Holdings"]
