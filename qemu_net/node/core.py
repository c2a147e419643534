"""The node's domain logic: a small facade over parts that each do one job.

Every qubit has a global id, a *location* (the node whose memory holds it) and a *holder* (the node
process whose register holds the joint state of its group). The parts, all sharing the node's one
lock (a condition variable), so an operation on local state takes it once:

* `Directory` (directory.py): qubits located here, with a holder hint each;
* `Holdings` (holdings.py): the register of groups held here, their qubits' locations and epochs,
  tombstones of groups that left, and pins;
* `Ownership` (ownership.py): the protocol that moves groups between holders (pins, wait-die, epochs);
* `LinkLayer` (linklayer.py): EPR pairs with neighbours and the quantum channel models;
* `ClassicalChannels` (channels.py): ordered, exactly-once classical messages;
* `Outbox` (outbox.py): a role's deferred link-layer news, owned by the role's context.

Rules (docs/design.md): operations are accepted only at a qubit's location. When every group an
operation batch needs is held here, it runs here under the lock. Otherwise it runs at the holder of the
largest group (size hints), which first pulls the others (`Ownership.acquire`); a single-holder batch
is forwarded there (one hop). A holder left with a group located entirely at one other node pushes it
there. Every wait is bounded by the request's deadline.

Physics (docs/physics.md): the holder applies every noise model of a qubit's *location* node (gate and
readout errors, T1/T2 decay from the qubit's last-updated stamp up to the location's clock, which a
forwarded request carries); link physics comes from `qemu_net.network.physics`.
"""

from __future__ import annotations

import collections
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypedDict

import numpy as np

from qemu_net.errors import (
    InvalidOperation,
    MemoryFull,
    PermissionDenied,
    ProtocolTimeout,
    QubitNotFound,
    ShuttingDown,
)
from qemu_net.network.topology import Topology
from qemu_net.node.channels import ClassicalChannels
from qemu_net.node.clock import VirtualClock
from qemu_net.node.directory import Directory
from qemu_net.node.holdings import Holdings
from qemu_net.node.linklayer import LinkLayer
from qemu_net.node.mailbox import Message
from qemu_net.node.ops import DiscardOp, MeasureOp, Op, distinct_qubits
from qemu_net.node.outbox import Arriving, Attachment, Outbox
from qemu_net.node.ownership import Moved, Ownership, TakeResult
from qemu_net.node.sessions import Sessions, current_owner, lease_from_env, session_of
from qemu_net.node.transit import RecentAnswers, Shipment, Txn
from qemu_net.protocols.context import EprHalf
from qemu_net.quantum.noise import NoiseModel
from qemu_net.quantum.register import Register

log = logging.getLogger("qemu_net.node")

#: Deadline of a request whose caller set none (seconds).
DEFAULT_DEADLINE_S = 60.0
#: Reserved channel on which a node that (re)started tells its neighbours its incarnation.
INCARNATION_CHANNEL = "_qnet/node/incarnation"


@dataclass
class ForwardResult:
    outcomes: list[int]
    #: Group size of each distinct qubit of the forwarded ops (`distinct_qubits` order); 0 = gone.
    sizes: list[int]
    now_ns: int
    #: Set when nothing ran: qubit -> (the holder its group went to, the epoch it arrived there with).
    moved: dict[str, tuple[str, int]] = field(default_factory=dict)


class NodeInfo(TypedDict):
    """What a node reports about itself (the fields of the NodeInfo message)."""

    name: str
    virtual_time_ns: int
    qubits_in_use: int
    memory_qubits: int
    neighbours: list[str]
    inspect_allowed: bool
    groups_held: int


class Peers(Protocol):
    """Outgoing node-to-node calls (implemented over gRPC in `qemu_net.node.peers`). Every call takes the
    request's deadline (a monotonic time)."""

    def forward(self, node: str, ops: Sequence[Op], pull_from: dict[str, str], now_ns: int, *, txn: Txn,
                min_epochs: dict[str, int], deadline: float, rebase: dict[str, int] | None = None) -> ForwardResult: ...
    def take_group(self, node: str, qubit: str, new_holder: str, *, txn: Txn, wait_unpinned: bool,
                   min_epoch: int, deadline: float) -> TakeResult: ...
    def adopt_group(self, node: str, shipment: Shipment, *, deadline: float) -> None: ...
    def update_holder(self, node: str, qubits: list[str], holder: str, sizes: dict[str, int],
                      epochs: dict[str, int]) -> None: ...
    def arrive(self, node: str, qubits: Sequence[Arriving], now_ns: int, state: Shipment | None = None,
               adopt: Sequence[Shipment] = (), *, deadline: float) -> int | None:
        """Tell `node` of qubits now located there; returns its clock after the arrival (if it says)."""
        ...
    def deliver_classical(self, node: str, msg: Message, attached: Attachment | None = None, *,
                          deadline: float) -> None: ...
    def deliver_epr_outcomes(self, node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int, *,
                             deadline: float) -> None: ...


def _before(deadline: float, node: str, qs: Sequence[str]) -> None:
    """An operation commits only before its deadline (lock held): after it, nothing has run."""
    if time.monotonic() >= deadline:
        raise ProtocolTimeout(f"at {node!r}: the caller's deadline passed before {list(qs)} ran")


def deadline_in(timeout_s: float | None) -> float:
    """A monotonic deadline `timeout_s` from now (the default when None)."""
    return time.monotonic() + (DEFAULT_DEADLINE_S if timeout_s is None else max(0.0, timeout_s))


class NodeCore:
    """One node's state and handlers. Thread-safe: one lock guards every part."""

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
        #: Callers prove who they are (mutual TLS): set by the server; False on a plaintext node, whose
        #: callers are all ``anonymous`` (and the call's auth context is not read at all).
        self.authenticated = False
        base_seed = topology.seed if seed is None else seed
        # Each node gets its own stream: the topology seed mixed with the node's index.
        index = topology.node_names.index(name)
        self.seed_seq = np.random.SeedSequence([base_seed, index])
        self.rng = np.random.default_rng(self.seed_seq.spawn(1)[0])
        self.clock = VirtualClock()
        self._cond = threading.Condition(threading.RLock())
        self._draining = False
        self._ids = itertools.count(1)
        #: This process's incarnation: qubit ids carry it, so ids from before a restart name no qubit of ours.
        self.incarnation = secrets.token_hex(3)
        self._id_prefix = f"{name}.{self.incarnation}."
        #: Every node's noise model: the holder of a group applies each qubit's *location* model.
        noise = {n.name: NoiseModel.from_node_spec(n) for n in topology.nodes}
        # The node's memory size is enforced by the directory (qubits located here), not the register:
        # a holder may hold halves located elsewhere.
        register = Register(seed=int(self.seed_seq.generate_state(1)[0]))
        self.held = Holdings(name, register, noise)
        self.directory = Directory(name, self.held, self._id_prefix)
        self.ownership = Ownership(name, self._cond, self.held, self.directory, peers, lambda: self._draining)
        #: Forwarded batches that ran, by (sender, id), for a sender's repeat (see `on_forward`).
        self._answers: RecentAnswers[tuple[str, int], ForwardResult] = RecentAnswers()
        #: Counters read by the Prometheus collector (qemu_net.node.metrics).
        self.metrics_lock = threading.Lock()
        self.rpc_counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.epr_counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.link = LinkLayer(
            topology=topology, name=name, cond=self._cond, holdings=self.held, directory=self.directory,
            clock=self.clock, rng=self.rng, noise=noise, peers=peers, new_id=self.new_qubit_id, ids=self._ids,
            capacity=self.spec.memory_qubits, count_epr=self._count_epr, is_draining=lambda: self._draining,
            discard=lambda qs, deadline: self.free(qs, deadline=deadline),
        )
        self.channels = ClassicalChannels(topology=topology, name=name, clock=self.clock, peers=peers)
        self.mailbox = self.channels.mailbox
        #: Client sessions, their leases and the owners of qubits located here (qemu_net.node.sessions).
        #: Reserved channels whose messages the node handles itself when they arrive (instead of queueing
        #: them): channel -> handler(msg). A handler's error is the sender's error; the message is then not
        #: counted delivered, so its resend is handled again.
        self.channel_handlers: dict[str, Callable[[Message], None]] = {INCARNATION_CHANNEL: self._on_incarnation}
        #: The incarnation each peer serves with, as last heard (its announcement or its qubit ids).
        self.peer_incarnations: dict[str, str] = {}
        self.sessions = Sessions(lease_s=lease_from_env(), located=self.directory.__contains__,
                                 on_end=self._session_ended)

    # ================================================================ helpers
    @property
    def register(self) -> Register:
        return self.held.register

    def new_qubit_id(self) -> str:
        """``<node>.<incarnation>.<n>``: the incarnation (random per process start) makes ids of a node that
        restarted differ from every id of its earlier run."""
        return f"{self._id_prefix}{next(self._ids)}"

    def _count_epr(self, peer: str, kind: str, count: int) -> None:
        with self.metrics_lock:
            self.epr_counts[(peer, kind)] += count

    def start_draining(self) -> None:
        """Refuse new work and wake every waiting request and role (they fail cleanly)."""
        self._draining = True
        self.sessions.shutdown()
        self.mailbox.close(f"node {self.name} is shutting down")
        with self._cond:
            self._cond.notify_all()

    def wake_waiters(self) -> None:
        """Wake every waiting request so it can see that its caller went away (qemu_net.node.limits.cancelled)."""
        self.mailbox.wake()
        with self._cond:
            self._cond.notify_all()

    def check_serving(self) -> None:
        if self._draining:
            raise ShuttingDown(f"node {self.name} is shutting down")

    def _free_slots(self) -> int:
        return self.spec.memory_qubits - len(self.directory)

    # ================================================================ local execution
    def _run_here(self, ops: Sequence[Op], qs: Sequence[str]) -> tuple[list[int], list[str]]:
        """Run a batch whose groups are all held here (lock held). Returns outcomes and push-back
        candidates."""
        held, d = self.held, self.directory
        members = held.regrouped(ops, qs)
        outcomes, t = held.execute(ops, self.clock.now())
        self.clock.advance_to(t)
        self._forget_freed(ops)
        reg = held.register
        for q in qs:
            if q in reg and q in d.holder:
                d.holder[q] = self.name  # the register is the truth about what is held here
                d.size[q] = reg.group_size(q)
        if members and not held.pushable(members):
            members = []
        return outcomes, members

    def _forget_freed(self, ops: Sequence[Op]) -> None:
        for op in ops:
            if (isinstance(op, MeasureOp) and not op.keep) or isinstance(op, DiscardOp):
                self.directory.remove(op.qubit)

    def _push(self, members: list[str], outbox: Outbox | None, deadline: float) -> None:
        if not members:
            return
        if outbox is not None:
            outbox.candidates.extend(members)
        else:
            self.ownership.push_back(members, deadline)

    def _choose_executor(self, holders: Mapping[str, str]) -> str:
        """The holder of the largest group (ties: this node, then by name) runs the batch."""
        best: dict[str, int] = {}
        size = self.directory.size
        for q, h in holders.items():
            best[h] = max(best.get(h, 0), size.get(q, 1))
        return max(best, key=lambda h: (best[h], h == self.name, h))

    def _targets(self, qs: Sequence[str]) -> tuple[dict[str, str], dict[str, int]]:
        """Believed holder and hint epoch of each qubit (lock held)."""
        held, d = self.held, self.directory
        holders = {q: (self.name if q in held else d.holder[q]) for q in qs}
        epochs = {q: e for q in qs if q not in held and (e := d.epoch.get(q, 0))}
        return holders, epochs

    # ================================================================ public handlers
    def allocate(self, count: int) -> list[str]:
        self.check_serving()
        if count < 1 or count > 100_000:
            raise InvalidOperation(f"count must be between 1 and 100000, got {count}")
        with self._cond:
            free = self._free_slots()
            if count > free:
                raise MemoryFull(
                    f"quantum memory of {self.name!r} is full: {count} qubit(s) requested, {free} of "
                    f"{self.spec.memory_qubits} free",
                    capacity=self.spec.memory_qubits,
                )
            qs = [self.new_qubit_id() for _ in range(count)]
            self.held.register.add_qubits(qs, now_ns=self.clock.now())
            for q in qs:
                self.held.located_at[q] = self.name
                self.directory.add(q, self.name, 1)
        self.sessions.claim(current_owner.get(), qs)
        return qs

    def apply(self, ops: Sequence[Op], *, deadline: float | None = None, outbox: Outbox | None = None) -> list[int]:
        """Run a batch of operations on qubits located here; returns the measurement outcomes."""
        self.check_serving()
        deadline = deadline_in(None) if deadline is None else deadline
        qs = distinct_qubits(ops)
        held, d, cond = self.held, self.directory, self._cond
        txn: Txn | None = None
        while True:
            with cond:
                d.check_batch(ops, qs)  # on every pass: a qubit may have left meanwhile
                if all(q in held for q in qs):
                    outcomes, members = self._run_here(ops, qs)
                    local = True
                else:
                    local = False
                    holders, epochs = self._targets(qs)
                    rebase = held.skew_of(qs)
            if local:
                self._push(members, outbox, deadline)
                return outcomes
            if time.monotonic() >= deadline:
                raise ProtocolTimeout(f"at {self.name!r}: the state of {qs} was not reached within the deadline")
            txn = txn or self.ownership.new_txn()
            target = self._choose_executor(holders)
            if target == self.name:
                try:
                    self.ownership.acquire(txn, qs, holders, epochs, deadline)
                    with cond:
                        d.check_batch(ops, qs)
                        _before(deadline, self.name, qs)
                        outcomes, members = self._run_here(ops, qs)
                finally:
                    self.ownership.release(txn)
                self._push(members, outbox, deadline)
                return outcomes
            pull_from = {q: h for q, h in holders.items() if h != target}
            res = self.peers.forward(target, ops, pull_from, self.clock.now(), txn=txn, min_epochs=epochs,
                                     deadline=deadline, **({"rebase": rebase} if rebase else {}))
            if rebase and not res.moved:
                with cond:
                    held.skew_sent(rebase)
            if res.moved:
                with cond:
                    for q, (h, e) in res.moved.items():
                        d.hint(q, h, e)
                continue
            self.clock.advance_to(res.now_ns)
            with cond:
                self._forget_freed(ops)
                for q, s in zip(qs, res.sizes, strict=False):
                    if s and q in d.holder:
                        d.size[q] = s
            return res.outcomes

    def free(self, qubits: Sequence[str], *, deadline: float | None = None) -> None:
        self.apply([DiscardOp(q) for q in qubits], deadline=deadline)

    def inspect(self, qubits: Sequence[str], *, deadline: float | None = None) -> np.ndarray:
        if not self.allow_inspect:
            raise PermissionDenied(
                f"state inspection is disabled at {self.name!r}; start the node with --allow-inspect (debugging only)"
            )
        if not qubits:
            raise InvalidOperation("name at least one qubit to inspect")
        if len(set(qubits)) != len(qubits) or len(qubits) > 10:
            raise InvalidOperation("inspect takes 1 to 10 distinct qubits")
        deadline = deadline_in(None) if deadline is None else deadline
        txn = self.ownership.new_txn()
        try:
            with self._cond:
                for q in qubits:
                    self.directory.check_located(q)
                holders, epochs = self._targets(qubits)
            self.ownership.acquire(txn, list(qubits), holders, epochs, deadline)
            with self._cond:
                for q in qubits:
                    self.directory.check_located(q)
                # Reading counts as touching: the qubits are brought up to this node's time.
                self.held.bring_up_to_date(qubits, self.clock.now())
                return self.held.register.density_matrix(list(qubits))
        finally:
            self.ownership.release(txn)

    def send_qubit(self, q: str, to: str, *, deadline: float | None = None,
                   outbox: Outbox | None = None) -> tuple[bool, int]:
        """Send a located qubit over the quantum link; returns (lost, arrival time).

        At the send time (this node's clock) the qubit's memory decoherence is brought up to date with
        this node's T1/T2; it is then lost with probability 1 - 10^(-aL/10) eta_det (one uniform from the
        node's stream) or suffers the link's transmission noise, and arrives after the fiber delay
        (``L * n_g / c``, about 4.9 us/km), stamped with its arrival time (no memory decay in flight). A
        lost qubit is traced out of its group, nothing is kept; the receiver still hears of the (empty)
        arrival, so its clock reaches the arrival time.

        The send is applied where the group's state is: this node first becomes its holder (so the decay
        and the channel are applied with this location's clock and model).
        """
        self.check_serving()
        deadline = deadline_in(None) if deadline is None else deadline
        channel = self.link.channel(to)
        held, d, cond = self.held, self.directory, self._cond
        txn = self.ownership.new_txn()
        shipment: Shipment | None = None
        size = 0
        try:
            with cond:
                d.check_located(q)
                holders, epochs = self._targets([q])
            self.ownership.acquire(txn, [q], holders, epochs, deadline)
            with cond:
                d.check_located(q)
                _before(deadline, self.name, [q])
                sent = self.clock.now()
                arrival = sent + round(channel.delay_ns)
                held.bring_up_to_date([q], sent)
                lost = channel.sample_lost(self.rng)
                if lost:
                    held.register.discard(q)
                    held.forget(q)
                else:
                    if channel.superop is not None:
                        held.register.apply_superop(channel.superop, [q])
                    held.register.stamp(q, arrival)
                    size = held.register.group_size(q)
                    held.located_at[q] = to
                    if size == 1:
                        shipment = held.ship(q, to)  # a lone qubit travels with its state
                d.depart(q, to)
        finally:
            self.ownership.release(txn)
        arriving = [] if lost else [Arriving(q, to if shipment else self.name, size,
                                             owner=self.sessions.owner_of(q) or current_owner.get())]
        try:
            there_ns = self.peers.arrive(to, arriving, arrival, shipment, deadline=deadline)
        except Exception:
            if lost:
                return lost, arrival  # nothing arrives anyway; only the receiver's clock missed the news
            with cond:
                if shipment is not None:
                    held.receive(shipment)
                else:
                    held.located_at[q] = self.name
                d.add(q, self.name, size)
                cond.notify_all()
            raise
        if not lost and shipment is None:
            with cond:
                # Still ours and untouched since: its time in `to`'s memory starts at `to`'s clock when it
                # arrived (a clock ahead of the arrival time is skew, not storage).
                if q in held and held.located_at.get(q) == to and held.register.last_ns(q) == arrival \
                        and there_ns and there_ns > arrival:
                    held.register.stamp(q, there_ns)
            # A group now located entirely at `to` (e.g. both halves of a pair) moves there.
            self._push([q], outbox, deadline)
        return lost, arrival

    # ---------------------------------------------------------------- link layer
    def create_epr(self, peer: str, count: int = 1, tag: str = "", *, outbox: Outbox | None = None,
                   deadline: float | None = None) -> list[EprHalf]:
        self.check_serving()
        halves = self.link.create(peer, count, tag, outbox, deadline_in(None) if deadline is None else deadline)
        self.sessions.claim(current_owner.get(), [h.qubit for h in halves])
        return halves

    def remote_halves(self, halves: Sequence[EprHalf]) -> list[str]:
        return self.link.remote_halves(list(halves))

    def await_epr(self, peer: str, tag: str, count: int, timeout_s: float, *,
                  outbox: Outbox | None = None) -> list[EprHalf]:
        deadline = deadline_in(timeout_s)
        self.flush(outbox, deadline)  # never wait while holding news a peer may be waiting for
        halves = self.link.await_halves(peer, tag, count, deadline)
        owner = current_owner.get()
        if owner:  # halves a peer made for another session stay that session's
            self.sessions.claim(owner, [h.qubit for h in halves if not self.sessions.owner_of(h.qubit)])
        return halves

    def create_measure_epr(self, peer: str, count: int, local_bases: np.ndarray, remote_bases: np.ndarray, *,
                           deadline: float | None = None) -> tuple[str, np.ndarray, int]:
        self.check_serving()
        return self.link.create_measure(peer, count, local_bases, remote_bases,
                                        deadline_in(None) if deadline is None else deadline)

    def fetch_epr_outcomes(self, batch_id: str, timeout_s: float) -> tuple[str, bytes, bytes]:
        return self.link.fetch_batch(batch_id, deadline_in(min(max(timeout_s, 0.0), 3600.0)))

    # ---------------------------------------------------------------- classical
    def send_classical(self, to: str, channel: str, payload: bytes, *, deadline: float | None = None,
                       outbox: Outbox | None = None, message_id: str = "") -> tuple[int, int]:
        self.check_serving()
        return self.channels.send(
            to, channel, payload, deadline_in(None) if deadline is None else deadline,
            attach=lambda peer: self._take_attachment(peer, outbox),
            restore=lambda peer, att: self._restore_attachment(peer, att, outbox),
            message_id=message_id, owner=current_owner.get(),
        )

    def receive_classical(self, sender: str, channel: str, timeout_s: float, *,
                          outbox: Outbox | None = None, acknowledged: bool = False, ack: int = 0) -> Message:
        """The next message from `sender` on `channel`. `acknowledged`: the caller's client session keeps
        it in flight until it passes its seq as `ack` to a later receive (`Mailbox.receive`)."""
        if not 0 <= timeout_s <= 3600:
            raise InvalidOperation(f"timeout_s must be between 0 and 3600, got {timeout_s}")
        self.flush(outbox, deadline_in(timeout_s))  # never wait while holding news a peer may be waiting for
        return self.channels.receive(sender, channel, timeout_s,
                                     owner=current_owner.get() if acknowledged else None, ack=ack)

    def receive_classical_any(self, keys: Sequence[tuple[str, str]], timeout_s: float, *,
                              outbox: Outbox | None = None) -> Message:
        """The message that arrived first among the (sender, channel) pairs `keys` (a broadcast's receive)."""
        if not 0 <= timeout_s <= 3600:
            raise InvalidOperation(f"timeout_s must be between 0 and 3600, got {timeout_s}")
        self.flush(outbox, deadline_in(timeout_s))
        return self.channels.receive_any(keys, timeout_s)

    # ---------------------------------------------------------------- a role's deferred news
    def _take_attachment(self, peer: str, outbox: Outbox | None) -> Attachment | None:
        if outbox is None:
            return None
        queued = outbox.arrivals.pop(peer, [])
        # The news leaves now: its time is our clock (as a flush sends it), at least the last herald.
        att = Attachment(list(queued), [], max(outbox.now_ns, self.clock.now()), queued)
        with self._cond:
            for q, loc in self.held.pushable(outbox.candidates):
                if loc == peer:
                    att.states.append(self.held.ship(q, loc))
        if att.states:
            shipped = {x: len(sh.qubits) for sh in att.states for x in sh.qubits}
            att.arrivals = [replace(a, holder=peer, group_size=shipped[a.qubit]) if a.qubit in shipped else a
                            for a in att.arrivals]
        return att if att else None

    def _restore_attachment(self, peer: str, att: Attachment, outbox: Outbox | None) -> None:
        """A send failed: hold the shipped states again and keep the news for a later flush."""
        self.ownership.take_back(att.states, peer)
        if outbox is not None:
            outbox.arrivals.setdefault(peer, []).extend(att.queued)

    def flush(self, outbox: Outbox | None, deadline: float) -> None:
        """Send every peer the news a role has held back."""
        if not outbox:
            return
        with self._cond:
            peers = set(outbox.arrivals) | {loc for _, loc in self.held.pushable(outbox.candidates)}
        for peer in sorted(peers):
            att = self._take_attachment(peer, outbox)
            if att is None:
                continue
            try:
                self.peers.arrive(peer, att.arrivals, max(att.now_ns, self.clock.now()), adopt=att.states,
                                  deadline=deadline)
            except Exception:
                self._restore_attachment(peer, att, outbox)
                raise
        outbox.candidates.clear()

    def abandon(self, outbox: Outbox, owned: Sequence[str], session: str) -> None:
        """A role failed: free what it allocated or was given (`owned`) that is still located here, the far
        halves it created whose peer never heard of them, and EPR halves of its session nobody took."""
        with self._cond:
            unheard = [a.qubit for arrivals in outbox.arrivals.values() for a in arrivals]
            outbox.arrivals.clear()
            outbox.candidates.clear()
            for key in [k for k in self.link.inbox if k[1] == session or k[1].startswith(session + "/")]:
                owned = [*owned, *(h.qubit for h in self.link.inbox.pop(key))]
            for q in unheard:  # held here (we created the pair), located at a peer that never learnt of it
                if q in self.held:
                    self.held.register.discard(q)
                    self.held.forget(q)
            mine = [q for q in dict.fromkeys(owned) if q in self.directory]
        for q in mine:
            try:
                self.apply([DiscardOp(q)], deadline=deadline_in(5.0))
            except (QubitNotFound, InvalidOperation, ProtocolTimeout, ShuttingDown) as exc:
                log.debug("could not free %s after a failed role: %s", q, exc)
            except Exception as exc:
                log.warning("could not free %s after a failed role: %s", q, exc)

    # ================================================================ peer handlers
    def on_forward(self, ops: Sequence[Op], pull_from: Mapping[str, str], now_ns: int, *, txn: Txn | None = None,
                   min_epochs: Mapping[str, int] | None = None, deadline: float | None = None,
                   rebase: Mapping[str, int] | None = None, request: tuple[str, int] | None = None,
                   repeat: bool = False) -> ForwardResult:
        """Run ops for their location node at *its* time now_ns. A forward is simulation plumbing, not a
        physical message, so this (holder) node's own clock does not move.

        `pull_from` names the qubits the location believes are held elsewhere (with that holder); every
        other qubit is believed held here. The common case, everything here, takes the lock once. If
        nothing of the batch is here and its groups moved on, nothing runs and the answer says where they
        went; otherwise this node pulls what it lacks (`Ownership.acquire`) and runs the batch.

        The batch runs only before `deadline` (else `ProtocolTimeout`, nothing ran). `request` (the sender
        and its id for the batch) makes a `repeat` answer with the outcomes of the run: a sender that heard
        no answer asks again (`transit.PEER_RESOLVE_S`). A repeat never runs the batch: if it did not run,
        it came after its deadline (or not at all) and cannot run any more, and the repeat says so."""
        qs = distinct_qubits(ops)
        held = self.held
        epochs = min_epochs or {}
        with self._cond:
            if request is not None and (done := self._answers.get(request)) is not None:
                return done
            if repeat:
                raise ProtocolTimeout(f"at {self.name!r}: no record of the batch on {qs}: it did not run (it came "
                                      "after its deadline, or failed), or ran so long ago that its record is gone")
            if not pull_from and all(q in held for q in qs):
                if deadline is not None:
                    _before(deadline, self.name, qs)
                if rebase:
                    held.rebase(rebase)
                result, members = self._run_forwarded(ops, qs, now_ns)
                if request is not None:
                    self._answers.put(request, result)
                ran = True
            else:
                ran = False
                if not any(q in held for q in qs):
                    moved = {q: mv for q in qs if q not in pull_from
                             and (mv := held.moved_since(q, epochs.get(q, 0))) is not None}
                    if moved:
                        return ForwardResult([], [], now_ns, moved)
        deadline = deadline_in(None) if deadline is None else deadline
        if not ran:
            txn = txn or self.ownership.new_txn()
            try:
                self.ownership.acquire(txn, qs, pull_from, epochs, deadline)
                with self._cond:
                    if request is not None and (done := self._answers.get(request)) is not None:
                        return done  # a repeat of this batch ran meanwhile
                    _before(deadline, self.name, qs)
                    if rebase:
                        held.rebase(rebase)
                    result, members = self._run_forwarded(ops, qs, now_ns)
                    if request is not None:
                        self._answers.put(request, result)
            finally:
                self.ownership.release(txn)
        if members:
            self.ownership.push_back(members, deadline)
        return result

    def _run_forwarded(self, ops: Sequence[Op], qs: list[str], now_ns: int) -> tuple[ForwardResult, list[str]]:
        """Execute forwarded ops (lock held, every qubit held here). Returns the result and the qubits
        whose groups to push back to their location (none unless the ops regrouped one)."""
        held = self.held
        reg = held.register
        members = held.regrouped(ops, qs)
        outcomes, t = held.execute(ops, now_ns)
        sizes = [reg.group_size(q) if q in reg else 0 for q in qs]
        if members and not held.pushable(members):
            members = []
        return ForwardResult(outcomes, sizes, t), members

    def on_take_group(self, q: str, new_holder: str, *, txn: Txn | None = None, wait_unpinned: bool = False,
                      min_epoch: int = 0, deadline: float | None = None) -> TakeResult:
        # No decoherence is applied here: the state travels with each qubit's last-updated time and the
        # new holder applies it with the location's clock when the qubit is next touched.
        if new_holder == self.name:
            raise InvalidOperation("TakeGroup: a node cannot take a group from itself")
        return self.ownership.on_take_group(
            q, new_holder, txn or self.ownership.new_txn(), wait_unpinned=wait_unpinned, min_epoch=min_epoch,
            deadline=deadline_in(None) if deadline is None else deadline,
        )

    def _arrived_before(self, qubits: Sequence[Arriving], adopt: Sequence[Shipment]) -> bool:
        """Whether an arrival is the repeat of one taken (lock held): its qubits are located here and the
        groups sent with it were taken (a fresh arrival brings new qubits or new groups)."""
        d, own = self.directory, self.ownership
        return (bool(qubits or adopt) and all(a.qubit in d for a in qubits)
                and all(own.pushed_before(sh) for sh in adopt))

    def repeats_an_arrival(self, qubits: Sequence[Arriving], adopt: Sequence[Shipment]) -> bool:
        """`_arrived_before`, for the servicers: a repeat changes nothing, so it needs no hand-over checks."""
        with self._cond:
            return self._arrived_before(qubits, adopt)

    def repeats_a_push(self, shipment: Shipment) -> bool:
        with self._cond:
            return self.ownership.pushed_before(shipment)

    def on_adopt_group(self, shipment: Shipment, *, decide_by: float | None = None) -> None:
        if any(loc != self.name for loc in shipment.locations):
            raise InvalidOperation("AdoptGroup: every qubit of an adopted group must be located here")
        self.ownership.on_adopt(shipment, decide_by=decide_by)

    def on_update_holder(self, qubits: Sequence[str], holder: str, sizes: Mapping[str, int],
                         epochs: Mapping[str, int] | None = None) -> None:
        self.ownership.on_update_holder(qubits, holder, sizes, epochs or {})

    def on_arrive(
        self,
        from_node: str,
        qubits: Sequence[Arriving],
        now_ns: int,
        state: Shipment | None,
        adopt: Sequence[Shipment] = (),
        *,
        decide_by: float | None = None,
    ) -> None:
        """Take qubits now located here (and the groups sent with them), all or nothing. A repeat of an
        Arrive of qubits already taken is acknowledged and changes nothing; one that reaches the lock at or after
        `decide_by` is refused (`ProtocolTimeout`) and changes nothing, so a sender that hears no answer
        can ask again and learn which it was (`transit.PEER_ANSWER_S`)."""
        self.check_serving()
        for sh in adopt:
            if any(loc != self.name for loc in sh.locations):
                raise InvalidOperation("Arrive: every qubit of an adopted group must be located here")
        held, d = self.held, self.directory
        with self._cond:
            if self._arrived_before(qubits, adopt):
                return  # taken before: its sender did not hear our answer and asked again
            if decide_by is not None and time.monotonic() >= decide_by:
                raise ProtocolTimeout(f"at {self.name!r}: the arrival from {from_node!r} came after its deadline; "
                                      "nothing was taken")
            free = self._free_slots()
            if len(qubits) > free:
                raise MemoryFull(
                    f"quantum memory of {self.name!r} is full: {len(qubits)} arriving, {free} free",
                    capacity=self.spec.memory_qubits,
                )
            for a in qubits:
                if a.qubit in d:
                    raise InvalidOperation(f"qubit {a.qubit!r} is already located at {self.name!r}")
            if state is not None:
                held.receive(state)
            # A qubit is in this node's memory from the moment it arrives *in this node's time*: if our clock
            # is already past its arrival, the difference is clock skew between the nodes, not storage.
            here_now = self.clock.now()
            for a in qubits:
                if a.qubit in held and held.register.last_ns(a.qubit) < here_now:
                    held.register.stamp(a.qubit, here_now)
            halves, tags = [], []
            for a in qubits:
                # A group pushed here before this news arrived (from another thread of the sender) is ours.
                if a.qubit in held:
                    d.add(a.qubit, self.name, held.register.group_size(a.qubit), held.epoch.get(a.qubit, 0))
                else:
                    d.add(a.qubit, a.holder, a.group_size)
                if a.pair_id:
                    # Its storage here starts at its herald on *our* timeline (`Holdings.note_skew`).
                    ready = a.ready_ns + held.note_skew(a.qubit, here_now - now_ns)
                    halves.append(EprHalf(a.pair_id, a.qubit, from_node, ready, a.attempts))
                    tags.append(a.tag)
            self.link.on_arrived_halves(from_node, halves, tags)
            for a in qubits:
                if a.owner:
                    self.sessions.claim(a.owner, [a.qubit])
            for sh in adopt:
                self.ownership.record_push(sh)
                held.receive(sh)
                for x, e in zip(sh.qubits, sh.epochs, strict=False):
                    d.hint(x, self.name, e, len(sh.qubits))
            self._cond.notify_all()
        if from_node not in self.peer_incarnations:  # learn the sender's incarnation from its qubit ids
            prefix = from_node + "."
            for a in qubits:
                if a.qubit.startswith(prefix):
                    inc = a.qubit[len(prefix):].partition(".")[0]
                    if inc:
                        self._learn_incarnation(from_node, inc)
                    break
        self.clock.advance_to(now_ns)

    def on_deliver_classical(self, msg: Message, attached: Attachment | None = None, *,
                             decide_by: float | None = None) -> None:
        """Deliver a message and take the qubits attached to it, together: a message whose attachment is
        refused (`on_arrive`, e.g. it came after `decide_by`) is not delivered either, and a message refused
        for a full mailbox is refused before its attachment is taken (the sender keeps the qubits)."""
        if self.mailbox.seen(msg):
            return  # a resend of a message already delivered (and its attachment applied)

        def take() -> None:
            if attached:
                self.on_arrive(msg.sender, attached.arrivals, attached.now_ns, None, attached.states,
                               decide_by=decide_by)

        handler = self.channel_handlers.get(msg.channel)
        if handler is not None:
            if attached:  # refused before anything is taken: the sender keeps the qubits
                raise InvalidOperation(f"channel {msg.channel!r} is this node's own and carries no qubits")
            handler(msg)
            self.mailbox.remember(msg)
            return
        self.mailbox.deliver(msg, taking=take if attached else None)

    def on_deliver_epr_outcomes(self, from_node: str, batch_id: str, outcomes: bytes, bases: bytes,
                                now_ns: int) -> None:
        self.link.on_batch(from_node, batch_id, outcomes, bases, now_ns)

    def peer_gone(self, node: str) -> None:
        """Node `node` is gone (its process refuses connections): its memory is lost. Qubits located there
        are traced out of the groups held here; qubits located here whose state it held are lost."""
        if node == self.name or node not in self.topology.node_names or self._draining:
            return
        with self._cond:
            dropped = self.held.drop_located_at(node)
            lost = [q for q, h in self.directory.holder.items() if h == node and q not in self.held]
            for q in lost:
                self.directory.lose(q, f"node {node!r}, which held its state, is gone")
            self._cond.notify_all()
        if dropped or lost:
            log.warning("node %s is gone: traced out %d qubit(s) located there, %d qubit(s) here lost",
                        node, len(dropped), len(lost))

    # ================================================================ restarts
    def announce_incarnation(self, timeout_s: float = 3.0) -> None:
        """Tell every neighbour which incarnation of this node serves now (best effort, bounded): one that
        knew an earlier incarnation treats that one as gone (`peer_gone`): what it held is lost, and no
        old id can reach a qubit of this run."""
        seq = int(self.incarnation, 16) << 8
        now = self.clock.now()
        msg = Message(self.name, INCARNATION_CHANNEL, seq, self.incarnation.encode(), now, now)
        for peer in self.topology.neighbours(self.name):
            try:
                self.peers.deliver_classical(peer, msg, None, deadline=time.monotonic() + timeout_s)
            except Exception as exc:
                log.debug("could not announce incarnation to %s: %s", peer, exc)

    def _on_incarnation(self, msg: Message) -> None:
        inc = msg.payload.decode("ascii", "replace")[:16]
        self._learn_incarnation(msg.sender, inc)

    def _learn_incarnation(self, node: str, inc: str) -> None:
        if node not in self.topology.node_names or node == self.name:
            return
        prev = self.peer_incarnations.get(node)
        self.peer_incarnations[node] = inc
        if prev is not None and prev != inc:
            log.warning("node %s restarted (incarnation %s -> %s): what its earlier run held is lost", node, prev, inc)
            self.peer_gone(node)

    # ================================================================ sessions
    def _session_ended(self, owner: str, qubits: list[str], runs: set[str], lapsed: bool) -> None:
        """A client session ended (`lapsed`: its lease ran out): free its qubits still located here, give
        back classical deliveries it never acknowledged (lapsed) or count them delivered (closed), forget
        its send ids, and free EPR halves its protocol runs left in the inbox."""
        self.channels.session_ended(owner, requeue=lapsed)
        with self._cond:
            for key in [k for k in self.link.inbox if any(k[1] == r or k[1].startswith(r + "/") for r in runs)]:
                qubits = [*qubits, *(h.qubit for h in self.link.inbox.pop(key))]
            mine = [q for q in dict.fromkeys(qubits) if q in self.directory]
        for q in mine:
            try:
                self.apply([DiscardOp(q)], deadline=deadline_in(5.0))
            except (QubitNotFound, InvalidOperation, ProtocolTimeout, ShuttingDown) as exc:
                log.debug("could not free %s of ended session %s: %s", q, session_of(owner), exc)
            except Exception as exc:
                log.warning("could not free %s of ended session %s: %s", q, session_of(owner), exc)

    # ================================================================ info
    def info(self) -> NodeInfo:
        with self._cond:
            return {
                "name": self.name,
                "virtual_time_ns": self.clock.now(),
                "qubits_in_use": len(self.directory),
                "memory_qubits": self.spec.memory_qubits,
                "neighbours": self.topology.neighbours(self.name),
                "inspect_allowed": self.allow_inspect,
                "groups_held": len(self.held.register.groups),
            }


__all__ = ["DEFAULT_DEADLINE_S", "ForwardResult", "Moved", "NodeCore", "NodeInfo", "Peers", "deadline_in"]
