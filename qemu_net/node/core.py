"""The node's domain logic: its register, its qubit directory, and how operations find their state.

Every qubit has a global id, a *location* (the node whose memory holds it) and a *holder* (the node
process whose register holds the joint state of its group). This module keeps, for one node:

* ``located``: qubits located here -> their holder (this node or another);
* the register of groups held here, with ``held_loc``: each held qubit -> its location;
* tombstones of groups that migrated away (qubit -> new holder), to redirect late requests.

Rules (see docs/design.md): operations are accepted only at a qubit's location. When all of an
operation batch's qubits are held here, it runs here; otherwise the batch runs at the holder with the
largest group (sizes are hints kept per qubit), which first pulls the other groups it needs
(`TakeGroup`). A holder that ends up with a group located entirely at one other node pushes it there
(`AdoptGroup`), so a measured EPR pair's far half becomes local to its node. No lock is held during a
remote call, so concurrent merges cannot deadlock; a request that races a migration is redirected
(bounded number of hops) or waits (bounded) for the state in transit.

Location directories change only on messages from holders (UpdateHolder, AdoptGroup, Arrive) and
when the location itself frees a qubit.

Physics (see docs/physics.md): the holder applies every noise model of a qubit's *location* node
(gate and readout errors, T1/T2 decay from the qubit's last-updated stamp up to the location's clock,
which a forwarded request carries); link physics comes from `qemu_net.network.physics` (EPR pairs,
loss, fiber delay), channels from `qemu_net.quantum.noise`, both precomputed per link and per node.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from qemu_net.errors import (
    InvalidOperation,
    QnetError,
    MemoryFull,
    NotColocated,
    NotConnected,
    PermissionDenied,
    ProtocolAborted,
    ProtocolTimeout,
    QubitNotFound,
    ShuttingDown,
    WrongLocation,
)
from qemu_net.network import physics
from qemu_net.network.topology import LinkSpec, Topology
from qemu_net.node.clock import VirtualClock
from qemu_net.node.convert import DiscardOp, GateOp, MeasureOp, Op, ResetOp, distinct_qubits
from qemu_net.node.mailbox import Mailbox, Message, SendSequencer
from qemu_net.protocols.context import EprHalf
from qemu_net.quantum.noise import NoiseModel, readout_flip
from qemu_net.quantum.register import DTYPE, GroupState, Register
from qemu_net.quantum.states import PHI_PLUS

#: How long a request waits for a group that is in transit between holders.
IN_TRANSIT_WAIT_S = 5.0
#: How many times a request follows "moved" redirects before giving up.
MAX_REDIRECTS = 8
_TOMBSTONES = 200_000


@dataclass(frozen=True)
class Arriving:
    qubit: str
    holder: str
    group_size: int = 1
    pair_id: str = ""
    tag: str = ""
    ready_ns: int = 0
    attempts: int = 1


@dataclass(frozen=True)
class EprSource:
    """This node's view of EPR generation with one neighbour (this node is the source end)."""

    model: physics.EprLinkModel
    #: The delivered pair as a register tensor, and whether it is a density matrix (False: ideal |Phi+>).
    tensor: np.ndarray
    mixed: bool
    #: Born probabilities of the pair per basis combination (for create-and-measure batches).
    table: np.ndarray

    @classmethod
    def build(cls, topology: Topology, link: LinkSpec, source: str, far: str) -> EprSource:
        model = physics.EprLinkModel.from_specs(link, topology.node(source), topology.node(far), source=source)
        ideal = np.allclose(model.rho, np.outer(PHI_PLUS, PHI_PLUS.conj()), atol=1e-14, rtol=0)
        if ideal:
            tensor = PHI_PLUS.astype(DTYPE).reshape(2, 2)
        else:
            tensor = np.asarray(model.rho, dtype=DTYPE).reshape(2, 2, 2, 2)
        tensor.setflags(write=False)
        return cls(model, tensor, not ideal, physics.outcome_table(model.rho))


@dataclass
class Attachment:
    """Link-layer news for one peer, deferred by a protocol role to travel with its next message."""

    arrivals: list[Arriving] = field(default_factory=list)
    #: Groups located entirely at the peer, extracted here: the peer becomes their holder.
    states: list[tuple[GroupState, list[str]]] = field(default_factory=list)
    now_ns: int = 0
    #: The arrivals as queued (before the holder of shipped ones became the peer), to restore on failure.
    queued: list[Arriving] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.arrivals or self.states)


@dataclass
class _Outbox:
    arrivals: dict[str, list[Arriving]] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)
    now_ns: int = 0


@dataclass
class ForwardResult:
    outcomes: list[int]
    #: Group size of each distinct qubit of the forwarded ops (`distinct_qubits` order); 0 = gone.
    sizes: list[int]
    now_ns: int
    moved: dict[str, str] = field(default_factory=dict)


class Peers(Protocol):
    """Outgoing node-to-node calls (implemented over gRPC in `qemu_net.node.peers`)."""

    def forward(self, node: str, ops: Sequence[Op], pull_from: dict[str, str], now_ns: int) -> ForwardResult: ...
    def take_group(self, node: str, qubit: str, new_holder: str) -> tuple[GroupState, list[str]] | str: ...
    def adopt_group(self, node: str, state: GroupState, locations: list[str]) -> None: ...
    def update_holder(self, node: str, qubits: list[str], holder: str, sizes: dict[str, int]) -> None: ...
    def arrive(
        self, node: str, qubits: list[Arriving], now_ns: int, state: tuple[GroupState, list[str]] | None = None,
        adopt: Sequence[tuple[GroupState, list[str]]] = (),
    ) -> None: ...
    def deliver_classical(self, node: str, msg: Message, attached: Attachment | None = None) -> None: ...
    def deliver_epr_outcomes(self, node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int) -> None: ...


class NodeCore:
    """One node's state and handlers. Thread-safe: one lock guards the register and directory."""

    def __init__(
        self,
        topology: Topology,
        name: str,
        *,
        peers: Peers,
        seed: int | None = None,
        allow_inspect: bool = False,
    ) -> None:
        self.topology = topology
        self.name = name
        self.spec = topology.node(name)
        self.peers = peers
        self.allow_inspect = allow_inspect
        base_seed = topology.seed if seed is None else seed
        # Each node gets its own stream: the topology seed mixed with the node's index.
        index = topology.node_names.index(name)
        self.seed_seq = np.random.SeedSequence([base_seed, index])
        self.rng = np.random.default_rng(self.seed_seq.spawn(1)[0])
        self.register = Register(capacity=10**9, seed=int(self.seed_seq.generate_state(1)[0]))
        self.clock = VirtualClock()
        self.mailbox = Mailbox()
        self._sequencer = SendSequencer()
        self._incarnation = int.from_bytes(os.urandom(4), "little") << 32
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.located: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        self.held_loc: dict[str, str] = {}
        self._tomb: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._departed: collections.OrderedDict[str, str] = collections.OrderedDict()
        self._epr_inbox: dict[tuple[str, str], collections.deque[EprHalf]] = {}
        self._epr_batches: collections.OrderedDict[str, tuple[str, bytes, bytes]] = collections.OrderedDict()
        self._ids = itertools.count(1)
        self._draining = False
        #: Every node's noise model: the holder of a group applies each qubit's *location* model.
        self._noise = {n.name: NoiseModel.from_node_spec(n) for n in topology.nodes}
        self._epr_sources: dict[str, EprSource] = {}
        self._channels: dict[str, physics.QubitChannelModel] = {}
        self._outbox = threading.local()
        #: Counters read by the Prometheus collector (qemu_net.node.metrics).
        self.metrics_lock = threading.Lock()
        self.rpc_counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.epr_counts: collections.Counter[tuple[str, str]] = collections.Counter()

    # ================================================================ helpers
    def new_qubit_id(self) -> str:
        return f"{self.name}.{next(self._ids)}"

    def start_draining(self) -> None:
        """Refuse new work and wake every role waiting on a message or an EPR half (they fail cleanly)."""
        self._draining = True
        reason = f"node {self.name} is shutting down"
        self.mailbox.close(reason)
        with self._cond:
            self._cond.notify_all()

    def check_serving(self) -> None:
        if self._draining:
            raise ShuttingDown(f"node {self.name} is shutting down")

    def _remember(self, d: collections.OrderedDict[str, str], q: str, v: str) -> None:
        with self._cond:
            d[q] = v
            d.move_to_end(q)
            if len(d) > _TOMBSTONES:
                d.popitem(last=False)
            if d is self._tomb:
                self._cond.notify_all()  # wake requests waiting for this qubit's state

    def _check_located(self, q: str) -> None:
        """Raise the right error for a qubit that is not located here."""
        if q in self.located:
            return
        where = self.held_loc.get(q) or self._departed.get(q)
        if where is not None and where != self.name:
            raise WrongLocation(
                f"qubit {q!r} is located at node {where!r}, not at {self.name!r}: operate on it there",
                qubit=q,
                location=where,
            )
        raise QubitNotFound(f"no qubit {q!r} at node {self.name!r}", qubit=q)

    def _check_batch(self, ops: Sequence[Op], qs: list[str]) -> None:
        """Every qubit of `ops` (`qs`) is located here, and the qubits of each multi-qubit gate together
        (lock held)."""
        for op in ops:
            if isinstance(op, GateOp) and len(op.qubits) > 1:
                elsewhere = {}
                for q in op.qubits:
                    if q not in self.located:
                        where = self.held_loc.get(q) or self._departed.get(q)
                        if where:
                            elsewhere[q] = where
                if elsewhere:
                    desc = ", ".join(f"{q!r} is at {w!r}" for q, w in elsewhere.items())
                    raise NotColocated(
                        f"a {len(op.qubits)}-qubit gate needs all its qubits at one node; at {self.name!r}: "
                        f"{desc}. Use a nonlocal gate protocol or teleport a qubit first",
                        qubits=list(op.qubits),
                    )
        for q in qs:
            self._check_located(q)

    def superop_for_wait(self, q: str, waited_ns: int) -> np.ndarray | None:
        """Memory decoherence of held qubit `q` over waited_ns, with the T1/T2 of its *location* node."""
        return self._noise[self.held_loc.get(q, self.name)].wait_superop(waited_ns)

    def _bring_up_to_date(self, qubits: Sequence[str], now_ns: int) -> None:
        """Apply the memory decoherence each held qubit suffered up to now_ns (its location's clock)."""
        reg = self.register
        for q in qubits:
            if self._noise[self.held_loc.get(q, self.name)].has_memory_noise:
                reg.advance((q,), now_ns, self.superop_for_wait)

    # ================================================================ execution at the holder
    def _execute_locked(self, ops: Sequence[Op], now_ns: int) -> tuple[list[int], int]:
        """Run ops on groups held here (lock held). Returns outcomes and the new time."""
        reg = self.register
        noise_at, held_loc = self._noise, self.held_loc
        outcomes: list[int] = []
        t = now_ns
        for op in ops:
            is_gate = isinstance(op, GateOp)
            qs = op.qubits if is_gate else (op.qubit,)
            for q in qs:
                if q not in reg:
                    raise QubitNotFound(f"qubit {q!r} is not held at {self.name!r}")
            # All qubits of an operation share one location (checked there): its model applies.
            noise = noise_at[held_loc[qs[0]]]
            memory = noise.has_memory_noise
            if memory:
                reg.advance(qs, t, self.superop_for_wait)
            if is_gate:
                reg.apply_unitary(op.unitary, qs)
                sop = noise.gate_superop(len(qs))
                if sop is not None:
                    reg.apply_superop(sop, qs)
                t += int(noise.gate_duration_ns(len(qs)))
            elif isinstance(op, MeasureOp):
                outcomes.append(reg.measure(op.qubit, op.basis, keep=op.keep, flip_probability=noise.measure_error))
                t += int(noise.measure_duration_ns)
                if not op.keep:
                    self.held_loc.pop(op.qubit, None)
            elif isinstance(op, ResetOp):
                reg.reset(op.qubit)
            elif isinstance(op, DiscardOp):
                reg.discard(op.qubit)
                self.held_loc.pop(op.qubit, None)
            if memory:
                reg.advance([q for q in qs if q in reg], t, self.superop_for_wait)
        return outcomes, t

    def _pushable(self, qubits: Iterable[str]) -> list[tuple[str, str]]:
        """Groups held here (among those of `qubits`) located entirely at one other node."""
        out: list[tuple[str, str]] = []
        seen: set[int] = set()
        for q in qubits:
            if q not in self.register:
                continue
            g = self.register.group_of(q)
            if g.gid in seen:
                continue
            seen.add(g.gid)
            locs = {self.held_loc[x] for x in g.qubits}
            if len(locs) == 1:
                (loc,) = locs
                if loc != self.name:
                    out.append((q, loc))
        return out

    # ---------------------------------------------------------------- deferred link-layer news
    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """While a protocol role runs on this thread, its link-layer news for a peer (EPR halves heralded
        here, groups to push back) waits and travels with the role's next classical message to that peer,
        saving one node-to-node call each. Everything pending is sent before the role blocks on a message
        or an EPR half (`flush_deferred`) and when it ends, so no peer ever waits for news we hold."""
        self._outbox.box = _Outbox()
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            try:
                self.flush_deferred()
            except QnetError:
                if not failed:
                    raise
            finally:
                self._outbox.box = None

    def _box(self) -> _Outbox | None:
        return getattr(self._outbox, "box", None)

    def _extract_for(self, q: str, new_holder: str) -> tuple[GroupState, list[str]]:
        """Remove q's group from the register (lock held), leaving tombstones that point to new_holder."""
        state = self.register.extract(q)
        locs = [self.held_loc.pop(x) for x in state.qubits]
        for x in state.qubits:
            self._remember(self._tomb, x, new_holder)
        return state, locs

    def _reinsert(self, state: GroupState, locs: Sequence[str]) -> None:
        """Take back a group whose hand-over failed: we still hold it (lock held)."""
        self.register.add_state(state, count_capacity=False)
        for x, lx in zip(state.qubits, locs):
            self.held_loc[x] = lx
            self._tomb.pop(x, None)

    def _adopt_locked(self, state: GroupState) -> None:
        """Hold a group located entirely here (lock held)."""
        self.register.add_state(state, count_capacity=False)
        for x in state.qubits:
            self.held_loc[x] = self.name
            self._tomb.pop(x, None)
            if x in self.located:
                self.located[x] = self.name
                self.sizes[x] = len(state.qubits)

    def _take_attachment(self, peer: str) -> Attachment | None:
        box = self._box()
        if box is None:
            return None
        queued = box.arrivals.pop(peer, [])
        att = Attachment(list(queued), [], box.now_ns, queued)
        with self._lock:
            for q, loc in self._pushable(box.candidates):
                if loc == peer:
                    att.states.append(self._extract_for(q, loc))
        if att.states:
            shipped = {x: len(st.qubits) for st, _ in att.states for x in st.qubits}
            att.arrivals = [dataclasses.replace(a, holder=peer, group_size=shipped[a.qubit]) if a.qubit in shipped
                            else a for a in att.arrivals]
        return att if att else None

    def _restore_attachment(self, peer: str, att: Attachment) -> None:
        """A send failed: keep the extracted states (we still hold them) and the news for a later flush."""
        with self._lock:
            for state, locs in att.states:
                self._reinsert(state, locs)
        box = self._box()
        if box is not None:
            box.arrivals.setdefault(peer, []).extend(att.queued)

    def flush_deferred(self) -> None:
        """Send every peer the news this role's thread has held back."""
        box = self._box()
        if box is None:
            return
        with self._lock:
            peers = set(box.arrivals) | {loc for _, loc in self._pushable(box.candidates)}
        for peer in sorted(peers):
            att = self._take_attachment(peer)
            if att is None:
                continue
            try:
                self.peers.arrive(peer, att.arrivals, max(att.now_ns, self.clock.now()), adopt=att.states)
            except Exception:
                self._restore_attachment(peer, att)
                raise
        box.candidates.clear()

    def _push_back(self, candidates: list[str]) -> None:
        """Send groups located entirely elsewhere to their location (outside the lock)."""
        box = self._box()
        if box is not None:
            box.candidates.extend(candidates)
            return
        with self._lock:
            states = [(*self._extract_for(q, loc), loc) for q, loc in self._pushable(candidates)]
        for state, locs, loc in states:
            try:
                self.peers.adopt_group(loc, state, locs)
            except Exception:
                # Keep the state rather than lose it; the location still forwards to us.
                with self._lock:
                    self._reinsert(state, locs)
                raise

    def _regrouped(self, ops: Sequence[Op], qs: list[str]) -> list[str]:
        """Before running `ops` on `qs` (lock held): the members of their groups when the ops may change
        which qubits share a group (a 2-qubit gate merges; measurement, reset and discard split), else [].
        Only a regrouped group can become one to push back to its location, so a batch of 1-qubit gates
        (the commonest forward) skips that bookkeeping."""
        if all(isinstance(op, GateOp) and len(op.qubits) == 1 for op in ops):
            return []
        return self._group_members(qs)

    def _group_members(self, qs: Iterable[str]) -> list[str]:
        out: list[str] = []
        for q in qs:
            if q in self.register:
                out.extend(self.register.group_of(q).qubits)
        return out

    def _pull(self, needed: dict[str, str]) -> None:
        """Make this node the holder of the groups of `needed` (qubit -> believed holder)."""
        for q, holder in needed.items():
            hops = 0
            while True:
                with self._lock:
                    if q in self.register:
                        break
                if holder == self.name:
                    self._wait_in_transit(q)
                    break
                got = self.peers.take_group(holder, q, self.name)
                if isinstance(got, str):
                    hops += 1
                    if hops > MAX_REDIRECTS:
                        raise QubitNotFound(f"qubit {q!r}: its state kept moving; gave up after {hops} redirects")
                    holder = got
                    continue
                state, locs = got
                notify: dict[str, list[str]] = {}
                with self._cond:
                    self.register.add_state(state, count_capacity=False)
                    for x, lx in zip(state.qubits, locs):
                        self.held_loc[x] = lx
                        self._tomb.pop(x, None)
                        if lx == self.name:
                            if x in self.located:
                                self.located[x] = self.name
                        else:
                            notify.setdefault(lx, []).append(x)
                    size = len(state.qubits)
                    self._cond.notify_all()
                for node, xs in notify.items():
                    self.peers.update_holder(node, xs, self.name, {x: size for x in xs})
                break

    def _wait_in_transit(self, q: str) -> None:
        """Wait (bounded) until `q`'s state is here, or news says where it is: it left for another holder
        (a tombstone), or, at its location, the directory was corrected by an in-flight UpdateHolder.
        The caller then looks again; nothing has run yet."""

        def settled() -> bool:
            return (q in self.register or q in self._tomb
                    or (q in self.located and self.located[q] != self.name))

        with self._cond:
            if not self._cond.wait_for(settled, timeout=IN_TRANSIT_WAIT_S):
                raise QubitNotFound(f"qubit {q!r} is not held at {self.name!r} (its state never arrived)")

    # ================================================================ public handlers
    def allocate(self, count: int) -> list[str]:
        self.check_serving()
        if count < 1 or count > 100_000:
            raise InvalidOperation(f"count must be between 1 and 100000, got {count}")
        with self._lock:
            free = self.spec.memory_qubits - len(self.located)
            if count > free:
                raise MemoryFull(
                    f"quantum memory of {self.name!r} is full: {count} qubit(s) requested, {free} of "
                    f"{self.spec.memory_qubits} free",
                    capacity=self.spec.memory_qubits,
                )
            qs = [self.new_qubit_id() for _ in range(count)]
            self.register.add_qubits(qs, now_ns=self.clock.now())
            for q in qs:
                self.located[q] = self.name
                self.held_loc[q] = self.name
                self.sizes[q] = 1
        return qs

    def apply(self, ops: Sequence[Op]) -> list[int]:
        """Run a batch of operations on qubits located here; returns the measurement outcomes."""
        self.check_serving()
        qs = distinct_qubits(ops)
        reg, located = self.register, self.located
        for _ in range(MAX_REDIRECTS):
            with self._lock:
                self._check_batch(ops, qs)  # on every retry too: a qubit may have left meanwhile
                # The register is the truth about what is held here; the directory may lag behind it.
                local = True
                for q in qs:
                    if q in reg:
                        located[q] = self.name
                    else:
                        local = False
                if local:
                    members = self._regrouped(ops, qs)
                    outcomes, t = self._execute_locked(ops, self.clock.now())
                    self.clock.advance_to(t)
                    self._forget_freed(ops)
                    for q in qs:
                        if q in self.register:
                            self.sizes[q] = self.register.group_size(q)
                    push = bool(members) and bool(self._pushable(members))
                else:
                    push = False
                    outcomes = None
                    holders = {q: located[q] for q in qs}
            if outcomes is not None:
                if push:
                    self._push_back(members)
                return outcomes
            target = self._choose_executor(holders)
            if target == self.name:
                # Pull what others hold; wait (bounded) for state already on its way here.
                with self._lock:
                    needed = {q: h for q, h in holders.items() if q not in self.register}
                self._pull(needed)
                continue
            pull_from = {q: h for q, h in holders.items() if h != target}
            res = self.peers.forward(target, ops, pull_from, self.clock.now())
            if res.moved:
                with self._lock:
                    for q, h in res.moved.items():
                        if q in self.located and self.located[q] == holders.get(q):
                            self.located[q] = h
                            if h == self.name:
                                self._tomb.pop(q, None)  # it is on its way back here: an old tombstone lies
                continue
            self.clock.advance_to(res.now_ns)
            with self._lock:
                self._forget_freed(ops)
                for q, s in zip(qs, res.sizes):
                    if s and q in self.located:
                        self.sizes[q] = s
            return res.outcomes
        raise QubitNotFound(f"could not reach the state of {qs}: it kept moving")

    def _choose_executor(self, holders: dict[str, str]) -> str:
        """The holder of the largest group (ties: this node, then by name) runs the batch."""
        best: dict[str, int] = {}
        for q, h in holders.items():
            best[h] = max(best.get(h, 0), self.sizes.get(q, 1))
        return max(best, key=lambda h: (best[h], h == self.name, h))

    def _forget_freed(self, ops: Sequence[Op]) -> None:
        for op in ops:
            if (isinstance(op, MeasureOp) and not op.keep) or isinstance(op, DiscardOp):
                self.located.pop(op.qubit, None)
                self.sizes.pop(op.qubit, None)

    def free(self, qubits: Sequence[str]) -> None:
        self.apply([DiscardOp(q) for q in qubits])

    def inspect(self, qubits: Sequence[str]) -> np.ndarray:
        if not self.allow_inspect:
            raise PermissionDenied(
                f"state inspection is disabled at {self.name!r}; start the node with --allow-inspect (debugging only)"
            )
        if not qubits:
            raise InvalidOperation("name at least one qubit to inspect")
        if len(set(qubits)) != len(qubits) or len(qubits) > 10:
            raise InvalidOperation("inspect takes 1 to 10 distinct qubits")
        for _ in range(MAX_REDIRECTS):
            with self._lock:
                for q in qubits:
                    self._check_located(q)
                missing = {q: self.located[q] for q in qubits if q not in self.register}
                if not missing:
                    # Reading counts as touching: the qubits are brought up to this node's time.
                    self._bring_up_to_date(qubits, self.clock.now())
                    return self.register.density_matrix(list(qubits))
            self._pull(missing)
        raise QubitNotFound(f"could not gather the state of {list(qubits)}")

    # ---------------------------------------------------------------- link layer
    def _link(self, peer: str) -> LinkSpec:
        if peer == self.name:
            raise InvalidOperation(f"{self.name!r} cannot make a link with itself")
        if peer not in self.topology.node_names:
            raise InvalidOperation(f"unknown node {peer!r}; nodes: {', '.join(self.topology.node_names)}")
        link = self.topology.link(self.name, peer)
        if link is None:
            raise NotConnected(f"no quantum link between {self.name!r} and {peer!r}", peer=peer)
        return link

    def _epr_source(self, peer: str) -> EprSource:
        src = self._epr_sources.get(peer)
        if src is None:
            src = EprSource.build(self.topology, self._link(peer), self.name, peer)
            self._epr_sources[peer] = src
        return src

    def _channel(self, peer: str) -> physics.QubitChannelModel:
        ch = self._channels.get(peer)
        if ch is None:
            ch = physics.QubitChannelModel.from_spec(self._link(peer))
            self._channels[peer] = ch
        return ch

    def _sample_heralds(self, peer: str, model: physics.EprLinkModel, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Attempts and herald delays of `count` successive pairs; at the attempt cap the virtual time spent
        up to the failure passes and `ProtocolAborted` is raised (no pair of the request is delivered)."""
        attempts, delays = model.sample_batch(self.rng, count)
        capped = np.flatnonzero(attempts == 0)
        if capped.size:
            spent = float(delays[: capped[0] + 1].sum())
            self.clock.advance_by(spent)
            raise ProtocolAborted(
                f"EPR generation {self.name}->{peer} gave up: no herald within max_attempts={model.max_attempts} "
                f"(herald probability {model.p_herald:.3g} per attempt, mean {model.mean_attempts:.3g} attempts "
                f"needed); {spent / 1e9:.6g} s of virtual time spent",
                peer=peer,
                max_attempts=model.max_attempts,
                herald_probability=model.p_herald,
            )
        return attempts, delays

    def create_epr(self, peer: str, count: int = 1, tag: str = "") -> list[EprHalf]:
        """Generate heralded EPR pairs with a neighbour; this node is the source end and holds each pair.

        Pair i is heralded ``attempts_i * period`` after pair i-1 (the first after the current time); its
        state (`physics.EprLinkModel`) is as of its herald and both halves are stamped with that time, so
        later memory decoherence counts from it. This node's clock ends at the last herald.
        """
        self.check_serving()
        if count < 1 or count > 10_000:
            raise InvalidOperation(f"count must be between 1 and 10000, got {count}")
        src = self._epr_source(peer)
        with self._lock:
            free = self.spec.memory_qubits - len(self.located)
            if count > free:
                raise MemoryFull(f"quantum memory of {self.name!r} is full: {free} free, {count} needed")
            attempts, delays = self._sample_heralds(peer, src.model, count)
            ready = self.clock.now() + np.cumsum(delays)
            halves: list[EprHalf] = []
            arriving: list[Arriving] = []
            for k, tr in zip(attempts.tolist(), ready.tolist()):
                t = int(round(tr))
                qa, qb = self.new_qubit_id(), self.new_qubit_id()
                pid = f"{self.name}>{peer}#{qa.rsplit('.', 1)[1]}"
                self.register.add_state(GroupState((qa, qb), src.tensor, src.mixed, (t, t)), count_capacity=False)
                self.located[qa] = self.name
                self.held_loc[qa] = self.name
                self.held_loc[qb] = peer
                self.sizes[qa] = 2
                halves.append(EprHalf(pid, qa, peer, t, int(k)))
                arriving.append(Arriving(qb, self.name, 2, pid, tag, t, int(k)))
            t = self.clock.advance_to(halves[-1].ready_ns)
        with self.metrics_lock:
            self.epr_counts[(peer, "kept")] += count
        box = self._box()
        if box is not None:
            # A role's pairs: the peer hears of them with our next message to it (or before we wait).
            box.arrivals.setdefault(peer, []).extend(arriving)
            box.now_ns = max(box.now_ns, t)
            return halves
        try:
            self.peers.arrive(peer, arriving, t)
        except Exception:
            with self._lock:
                for h, a in zip(halves, arriving):
                    self.register.discard(h.qubit)
                    self.register.discard(a.qubit)
                    self.located.pop(h.qubit, None)
                    self.held_loc.pop(h.qubit, None)
                    self.held_loc.pop(a.qubit, None)
                    self.sizes.pop(h.qubit, None)
            raise
        return halves

    def remote_halves(self, halves: Sequence[EprHalf]) -> list[str]:
        """The far qubit of each pair created here (by construction the id after the local one)."""
        out = []
        for h in halves:
            prefix, n = h.qubit.rsplit(".", 1)
            out.append(f"{prefix}.{int(n) + 1}")
        return out

    def await_epr(self, peer: str, tag: str, count: int, timeout_s: float) -> list[EprHalf]:
        self.flush_deferred()  # never wait while holding news a peer may be waiting for
        key = (peer, tag)
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._epr_inbox.get(key, ())) >= count or self._draining,
                                     timeout=max(0.0, timeout_s))
            if self._draining and len(self._epr_inbox.get(key, ())) < count:
                raise ShuttingDown(f"node {self.name} is shutting down")
            if not ok:
                have = len(self._epr_inbox.get(key, ()))
                raise ProtocolTimeout(
                    f"waited {timeout_s:g} s for {count} EPR half(s) from {peer!r} tagged {tag!r}; got {have}"
                )
            q = self._epr_inbox[key]
            out = [q.popleft() for _ in range(count)]
            if not q:
                del self._epr_inbox[key]
        self.clock.advance_to(max(h.ready_ns for h in out))
        return out

    def create_measure_epr(
        self, peer: str, count: int, local_bases: np.ndarray, remote_bases: np.ndarray
    ) -> tuple[str, np.ndarray, int]:
        """Create `count` pairs and measure both halves at their herald (exact Born sampling, vectorised).

        Each pair is the link's delivered state (`physics.EprLinkModel`); outcomes are sampled from it in
        the given bases (0 = Z, 1 = X, 2 = Y, validated), then each side's readout error flips its bits.
        Both clocks end at the last herald. Returns (batch id, local outcomes, total attempts).
        """
        self.check_serving()
        if count < 1 or count > 10_000_000:
            raise InvalidOperation(f"count must be between 1 and 10000000, got {count}")
        src = self._epr_source(peer)
        attempts, delays = self._sample_heralds(peer, src.model, count)
        a, b = physics.sample_outcomes(self.rng, src.table, local_bases, remote_bases)
        a = readout_flip(a, self._noise[self.name].measure_error, self.rng)
        b = readout_flip(b, self._noise[peer].measure_error, self.rng)
        t = self.clock.advance_by(float(delays.sum()))
        batch_id = f"{self.name}>{peer}@{next(self._ids)}"
        with self.metrics_lock:
            self.epr_counts[(peer, "measured")] += count
        self.peers.deliver_epr_outcomes(peer, batch_id, b.tobytes(), remote_bases.tobytes(), t)
        return batch_id, a, int(attempts.sum())

    def fetch_epr_outcomes(self, batch_id: str, timeout_s: float) -> tuple[str, bytes, bytes]:
        with self._cond:
            ok = self._cond.wait_for(lambda: batch_id in self._epr_batches, timeout=max(0.0, min(timeout_s, 60.0)))
            if not ok:
                raise QubitNotFound(f"no create-and-measure batch {batch_id!r} arrived at {self.name!r}")
            return self._epr_batches.pop(batch_id)

    def send_qubit(self, q: str, to: str) -> tuple[bool, int]:
        """Send a located qubit over the quantum link; returns (lost, arrival time).

        At the send time (this node's clock) the qubit's memory decoherence is brought up to date with
        this node's T1/T2; it is then lost with probability 1 - 10^(-aL/10) eta_det (one uniform from the
        node's stream) or suffers the link's transmission noise, and arrives ``L * 5 us/km`` later, stamped
        with its arrival time (no memory decay in flight). A lost qubit is traced out of its group, nothing
        is kept; the receiver still hears of the (empty) arrival, so its clock reaches the arrival time.

        The send is applied where the group's state is: if another node holds it, this node first pulls
        the group (so the decay and the channel are applied with this location's clock and model).
        """
        self.check_serving()
        channel = self._channel(to)
        for _ in range(MAX_REDIRECTS):
            with self._lock:
                self._check_located(q)
                holder = self.located[q]
                here = q in self.register
            if here:
                break
            self._pull({q: holder})
        with self._lock:
            self._check_located(q)
            if q not in self.register:
                raise QubitNotFound(f"qubit {q!r} is in transit; try again")
            sent = self.clock.now()
            arrival = sent + int(round(channel.delay_ns))
            self._bring_up_to_date([q], sent)
            lost = channel.sample_lost(self.rng)
            ship = None
            size = 0
            if lost:
                self.register.discard(q)
                self.held_loc.pop(q, None)
            else:
                if channel.superop is not None:
                    self.register.apply_superop(channel.superop, [q])
                self.register.stamp(q, arrival)
                size = self.register.group_size(q)
                if size == 1:
                    state = self.register.extract(q)
                    self.held_loc.pop(q, None)
                    self._remember(self._tomb, q, to)
                    ship = (state, [to])
                else:
                    self.held_loc[q] = to
            self.located.pop(q, None)
            self.sizes.pop(q, None)
        arriving = [] if lost else [Arriving(q, to if ship else self.name, size)]
        try:
            self.peers.arrive(to, arriving, arrival, ship)
        except Exception:
            if not lost:
                with self._lock:
                    if ship is not None:
                        self.register.add_state(ship[0], count_capacity=False)
                        self._tomb.pop(q, None)
                    self.held_loc[q] = self.name
                    self.located[q] = self.name
                    self.sizes[q] = size
            raise
        if not lost:
            with self._lock:
                self._remember(self._departed, q, to)
            if ship is None:
                # A group now located entirely at `to` (e.g. both halves of a pair) moves there.
                self._push_back([q])
        return lost, arrival

    # ---------------------------------------------------------------- classical
    def send_classical(self, to: str, channel: str, payload: bytes) -> tuple[int, int]:
        self.check_serving()
        if to not in self.topology.node_names:
            raise InvalidOperation(f"unknown node {to!r}")
        if not channel or len(channel) > 200:
            raise InvalidOperation("channel name must be 1 to 200 characters")
        latency = self.topology.classical_latency_ns(self.name, to)
        if latency is None:
            raise NotConnected(f"no classical link between {self.name!r} and {to!r}", peer=to)
        lock, counter = self._sequencer.channel(to, channel)
        with lock:
            counter[0] += 1
            seq = self._incarnation | counter[0]
            sent = self.clock.now()
            msg = Message(self.name, channel, seq, bytes(payload), sent, sent + int(latency))
            att = self._take_attachment(to)
            try:
                self.peers.deliver_classical(to, msg, att)
            except Exception:
                if att is not None:
                    self._restore_attachment(to, att)
                raise
        return counter[0], msg.arrival_ns

    def receive_classical(self, sender: str, channel: str, timeout_s: float) -> Message:
        if not 0 <= timeout_s <= 3600:
            raise InvalidOperation(f"timeout_s must be between 0 and 3600, got {timeout_s}")
        self.flush_deferred()  # never wait while holding news a peer may be waiting for
        msg = self.mailbox.receive(sender, channel, timeout_s)
        self.clock.advance_to(msg.arrival_ns)
        return msg

    # ================================================================ peer handlers
    def on_forward(self, ops: Sequence[Op], pull_from: Mapping[str, str], now_ns: int) -> ForwardResult:
        """Run ops for their location node at *its* time now_ns. A forward is simulation plumbing, not a
        physical message, so this (holder) node's own clock does not move.

        `pull_from` names the qubits the location believes are held elsewhere (with that holder); every
        other qubit is believed held here. The common case, everything here, takes the lock once."""
        qs = distinct_qubits(ops)
        reg = self.register
        with self._lock:
            if not pull_from and all(q in reg for q in qs):
                ran = self._run_forwarded(ops, qs, now_ns)
            else:
                ran = None
                moved = {q: self._tomb[q] for q in qs if q not in reg and q not in pull_from and q in self._tomb}
                if moved:
                    return ForwardResult([], [], now_ns, moved)
        if ran is None:
            self._pull({q: h for q, h in pull_from.items() if h != self.name})
            for q in qs:
                if q not in pull_from and q not in reg:
                    self._wait_in_transit(q)
            with self._lock:
                # A concurrent merge may have taken a group between the pull and now: nothing has run
                # yet, so send the caller where it went and let it retry there.
                gone = {q: self._tomb.get(q, "") for q in qs if q not in reg}
                if gone:
                    if all(gone.values()):
                        return ForwardResult([], [], now_ns, gone)
                    raise QubitNotFound(f"qubit(s) {sorted(q for q, h in gone.items() if not h)} are not held "
                                        f"at {self.name!r}")
                ran = self._run_forwarded(ops, qs, now_ns)
        result, members = ran
        if members:
            self._push_back(members)
        return result

    def _run_forwarded(self, ops: Sequence[Op], qs: list[str], now_ns: int) -> tuple[ForwardResult, list[str]]:
        """Execute forwarded ops (lock held, every qubit held here). Returns the result and the qubits
        whose groups to push back to their location (none unless the ops regrouped one)."""
        reg = self.register
        members = self._regrouped(ops, qs)
        outcomes, t = self._execute_locked(ops, now_ns)
        sizes = [reg.group_size(q) if q in reg else 0 for q in qs]
        if members and not self._pushable(members):
            members = []
        return ForwardResult(outcomes, sizes, t), members

    def on_take_group(self, q: str, new_holder: str) -> tuple[GroupState, list[str]] | str:
        with self._cond:
            if q not in self.register:
                if q in self._tomb:
                    return self._tomb[q]
                self._cond.wait_for(lambda: q in self.register or q in self._tomb, timeout=IN_TRANSIT_WAIT_S)
                if q not in self.register:
                    if q in self._tomb:
                        return self._tomb[q]
                    raise QubitNotFound(f"qubit {q!r} is not held at {self.name!r}")
            # No decoherence is applied here: the state travels with each qubit's last-updated time and
            # the new holder applies it with the location's clock when the qubit is next touched.
            state, locs = self._extract_for(q, new_holder)
            for x, lx in zip(state.qubits, locs):
                if lx == self.name and x in self.located:
                    self.located[x] = new_holder
                    self.sizes[x] = len(state.qubits)
        return state, locs

    def on_adopt_group(self, state: GroupState, locations: list[str]) -> None:
        if any(loc != self.name for loc in locations):
            raise InvalidOperation("AdoptGroup: every qubit of an adopted group must be located here")
        with self._cond:
            self._adopt_locked(state)
            self._cond.notify_all()

    def on_update_holder(self, qubits: Sequence[str], holder: str, sizes: dict[str, int]) -> None:
        with self._cond:
            for q in qubits:
                if q in self.located and q not in self.register:
                    self.located[q] = holder
                    if q in sizes:
                        self.sizes[q] = sizes[q]
            self._cond.notify_all()

    def on_arrive(
        self,
        from_node: str,
        qubits: Sequence[Arriving],
        now_ns: int,
        state: tuple[GroupState, list[str]] | None,
        adopt: Sequence[tuple[GroupState, list[str]]] = (),
    ) -> None:
        self.check_serving()
        for gs, locs in adopt:
            if any(loc != self.name for loc in locs):
                raise InvalidOperation("Arrive: every qubit of an adopted group must be located here")
        with self._cond:
            free = self.spec.memory_qubits - len(self.located)
            if len(qubits) > free:
                raise MemoryFull(
                    f"quantum memory of {self.name!r} is full: {len(qubits)} arriving, {free} free",
                    capacity=self.spec.memory_qubits,
                )
            for a in qubits:
                if a.qubit in self.located:
                    raise InvalidOperation(f"qubit {a.qubit!r} is already located at {self.name!r}")
            if state is not None:
                gs, locs = state
                self.register.add_state(gs, count_capacity=False)
                for x, lx in zip(gs.qubits, locs):
                    self.held_loc[x] = lx
                    self._tomb.pop(x, None)
            for a in qubits:
                # A group pushed here before this news arrived (from another thread of the sender) is ours.
                held = a.qubit in self.register
                self.located[a.qubit] = self.name if held else a.holder
                self.sizes[a.qubit] = self.register.group_size(a.qubit) if held else a.group_size
                self._departed.pop(a.qubit, None)
                if a.pair_id:
                    half = EprHalf(a.pair_id, a.qubit, from_node, a.ready_ns, a.attempts)
                    self._epr_inbox.setdefault((from_node, a.tag), collections.deque()).append(half)
            for gs, _locs in adopt:
                self._adopt_locked(gs)
            self._cond.notify_all()
        self.clock.advance_to(now_ns)

    def on_deliver_classical(self, msg: Message, attached: Attachment | None = None) -> None:
        if self.mailbox.seen(msg):
            return  # a resend of a message already delivered (and its attachment applied)
        if attached:
            self.on_arrive(msg.sender, attached.arrivals, attached.now_ns, None, attached.states)
        self.mailbox.deliver(msg)

    def on_deliver_epr_outcomes(self, from_node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int) -> None:
        with self._cond:
            self._epr_batches[batch_id] = (from_node, outcomes, bases)
            while len(self._epr_batches) > 64:
                self._epr_batches.popitem(last=False)
            self._cond.notify_all()
        self.clock.advance_to(now_ns)

    # ================================================================ info
    def info(self) -> dict[str, object]:
        with self._lock:
            return {
                "name": self.name,
                "virtual_time_ns": self.clock.now(),
                "qubits_in_use": len(self.located),
                "memory_qubits": self.spec.memory_qubits,
                "neighbours": self.topology.neighbours(self.name),
                "inspect_allowed": self.allow_inspect,
                "groups_held": len(self.register.groups),
            }


__all__ = ["Arriving", "ForwardResult", "NodeCore", "Peers"]
