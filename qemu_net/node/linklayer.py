"""The link layer of one node: heralded EPR pairs with its neighbours, and the quantum channel models.

This node is the *source end* of the pairs it creates and their first holder; the far half is located
at the neighbour, which hears of it through an `Arriving` (sent at once, or deferred in the calling
role's `Outbox`). Create-and-measure batches sample both ends' outcomes in one numpy computation.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import numpy as np

from qemu_net.errors import (
    InvalidOperation,
    MemoryFull,
    NotConnected,
    ProtocolAborted,
    ProtocolTimeout,
    QnetError,
    QubitNotFound,
    ShuttingDown,
)
from qemu_net.network import physics
from qemu_net.network.topology import LinkSpec, Topology
from qemu_net.node import limits
from qemu_net.node.clock import VirtualClock
from qemu_net.node.directory import Directory
from qemu_net.node.holdings import Holdings
from qemu_net.node.outbox import Arriving, Outbox
from qemu_net.protocols.context import EprHalf
from qemu_net.quantum.noise import NoiseModel, readout_flip
from qemu_net.quantum.register import DTYPE, GroupState
from qemu_net.quantum.states import PHI_PLUS


class LinkPeers(Protocol):
    """The node-to-node calls the link layer makes (part of `qemu_net.node.core.Peers`)."""

    def arrive(self, node: str, qubits: Sequence[Arriving], now_ns: int, *, deadline: float) -> int | None: ...
    def deliver_epr_outcomes(self, node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int, *,
                             deadline: float) -> None: ...


#: Create-and-measure batches whose far end has not fetched them yet, kept per node (oldest dropped).
_BATCHES_KEPT = 64


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
        tensor: np.ndarray
        if ideal:
            tensor = PHI_PLUS.astype(DTYPE).reshape(2, 2)
        else:
            tensor = np.asarray(model.rho, dtype=DTYPE).reshape(2, 2, 2, 2)
        tensor.setflags(write=False)
        return cls(model, tensor, not ideal, physics.outcome_table(model.rho))


class LinkLayer:
    """EPR generation, the EPR inbox, create-and-measure batches and channel models of one node."""

    def __init__(
        self,
        *,
        topology: Topology,
        name: str,
        cond: threading.Condition,
        holdings: Holdings,
        directory: Directory,
        clock: VirtualClock,
        rng: np.random.Generator,
        noise: dict[str, NoiseModel],
        peers: LinkPeers,
        new_id: Callable[[], str],
        ids: Iterator[int],
        capacity: int,
        count_epr: Callable[[str, str, int], None],
        is_draining: Callable[[], bool],
        discard: Callable[[list[str], float], None] | None = None,
    ) -> None:
        self.topology, self.name = topology, name
        self._cond, self._held, self._dir = cond, holdings, directory
        self.clock, self.rng, self._noise, self._peers = clock, rng, noise, peers
        self._new_id, self._ids, self._capacity = new_id, ids, capacity
        self._count, self._draining, self._discard = count_epr, is_draining, discard
        cutoff = topology.node(name).memory_cutoff_s
        #: The memory cut-off of this node (ns), or None.
        self.cutoff_ns: int | None = None if cutoff is None else round(cutoff * 1e9)
        #: EPR halves discarded here by the memory cut-off, per peer.
        self.cutoff_discarded: collections.Counter[str] = collections.Counter()
        self._sources: dict[str, EprSource] = {}
        self._channels: dict[str, physics.QubitChannelModel] = {}
        self.inbox: dict[tuple[str, str], collections.deque[EprHalf]] = {}
        self._batches: collections.OrderedDict[str, tuple[str, bytes, bytes]] = collections.OrderedDict()

    # ---------------------------------------------------------------- models
    def link(self, peer: str) -> LinkSpec:
        if peer == self.name:
            raise InvalidOperation(f"{self.name!r} cannot make a link with itself")
        self.topology.require_node(peer)
        link = self.topology.link(self.name, peer)
        if link is None:
            raise NotConnected(f"no quantum link between {self.name!r} and {peer!r}", peer=peer)
        return link

    def source(self, peer: str) -> EprSource:
        src = self._sources.get(peer)
        if src is None:
            src = EprSource.build(self.topology, self.link(peer), self.name, peer)
            self._sources[peer] = src
        return src

    def delivered_fidelities(self) -> dict[str, float]:
        """Bell fidelity of the pairs this node delivers to each neighbour it has generated pairs with."""
        return {peer: float(src.model.fidelity) for peer, src in list(self._sources.items())}

    def channel(self, peer: str) -> physics.QubitChannelModel:
        ch = self._channels.get(peer)
        if ch is None:
            ch = physics.QubitChannelModel.from_spec(self.link(peer))
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

    # ---------------------------------------------------------------- kept pairs
    def create(self, peer: str, count: int, tag: str, outbox: Outbox | None, deadline: float) -> list[EprHalf]:
        """Generate heralded EPR pairs with a neighbour; this node is the source end and holds each pair.

        Pair i is heralded ``attempts_i * period`` after pair i-1 (the first after the current time); its
        state (`physics.EprLinkModel`) is as of its herald and both halves are stamped with that time, so
        later memory decoherence counts from it. This node's clock ends at the last herald.
        """
        if count < 1 or count > 10_000:
            raise InvalidOperation(f"count must be between 1 and 10000, got {count}")
        src = self.source(peer)
        held, d = self._held, self._dir
        with self._cond:
            free = self._capacity - len(d)
            if count > free:
                raise MemoryFull(f"quantum memory of {self.name!r} is full: {free} free, {count} needed",
                                 capacity=self._capacity)
            attempts, delays = self._sample_heralds(peer, src.model, count)
            ready = self.clock.now() + np.cumsum(delays)
            halves: list[EprHalf] = []
            arriving: list[Arriving] = []
            for k, tr in zip(attempts.tolist(), ready.tolist(), strict=True):
                t = round(tr)
                qa, qb = self._new_id(), self._new_id()
                pid = f"{self.name}>{peer}#{qa.rsplit('.', 1)[1]}"
                held.add_new(GroupState((qa, qb), src.tensor, src.mixed, (t, t)), (self.name, peer))
                d.add(qa, self.name, 2)
                halves.append(EprHalf(pid, qa, peer, t, int(k)))
                arriving.append(Arriving(qb, self.name, 2, pid, tag, t, int(k)))
            t = self.clock.advance_to(halves[-1].ready_ns)
        self._count(peer, "kept", count)
        self._count(peer, "attempts", int(attempts.sum()))
        if outbox is not None:
            # A role's pairs: the peer hears of them with our next message to it (or before we wait).
            outbox.arrivals.setdefault(peer, []).extend(arriving)
            outbox.now_ns = max(outbox.now_ns, t)
            return halves
        try:
            self._peers.arrive(peer, arriving, t, deadline=deadline)
        except Exception:
            with self._cond:
                for h, a in zip(halves, arriving, strict=True):
                    for q in (h.qubit, a.qubit):
                        if q in held:
                            held.register.discard(q)
                        held.forget(q)
                    d.remove(h.qubit)
            raise
        return halves

    @staticmethod
    def remote_halves(halves: list[EprHalf]) -> list[str]:
        """The far qubit of each pair created here (by construction the id after the local one)."""
        out = []
        for h in halves:
            prefix, n = h.qubit.rsplit(".", 1)
            out.append(f"{prefix}.{int(n) + 1}")
        return out

    def on_arrived_halves(self, from_node: str, halves: list[EprHalf], tags: list[str]) -> None:
        """Queue EPR halves a neighbour created with us (lock held)."""
        for h, tag in zip(halves, tags, strict=False):
            self.inbox.setdefault((from_node, tag), collections.deque()).append(h)

    def await_halves(self, peer: str, tag: str, count: int, deadline: float) -> list[EprHalf]:
        key = (peer, tag)
        with self._cond:
            while len(self.inbox.get(key, ())) < count:
                if self._draining():
                    raise ShuttingDown(f"node {self.name} is shutting down")
                left = deadline - time.monotonic()
                if left <= 0:
                    have = len(self.inbox.get(key, ()))
                    raise ProtocolTimeout(
                        f"waited for {count} EPR half(s) from {peer!r} tagged {tag!r} until the deadline; got {have}"
                    )
                limits.check_cancelled()
                self._cond.wait(left)
            q = self.inbox[key]
            out = [q.popleft() for _ in range(count)]
            if not q:
                del self.inbox[key]
        now = self.clock.advance_to(max(h.ready_ns for h in out))
        if self.cutoff_ns is not None:
            self._apply_cutoff(key, out, now, deadline)
        return out

    def _apply_cutoff(self, key: tuple[str, str], taken: list[EprHalf], now: int, deadline: float) -> None:
        """The memory cut-off: halves older than it on this node's timeline (``now - ready_ns``; a half's
        ``ready_ns`` is its herald on this node's clock) are discarded, traced out of their pairs (the
        partner is left as a lost half leaves it: unentangled), counted, and the request fails with
        `ProtocolAborted`. The fresh halves taken go back to the pool (the failed role's clean-up frees
        them)."""
        cutoff = self.cutoff_ns
        assert cutoff is not None
        stale = [h for h in taken if now - h.ready_ns > cutoff]
        if not stale:
            return
        peer = key[0]
        fresh = [h for h in taken if now - h.ready_ns <= cutoff]
        with self._cond:
            if fresh:
                self.inbox.setdefault(key, collections.deque()).extendleft(reversed(fresh))
            self.cutoff_discarded[peer] += len(stale)
        self._count(peer, "cutoff", len(stale))
        freed = ""
        if self._discard is not None:
            try:
                self._discard([h.qubit for h in stale], deadline)
            except QnetError as exc:  # still report the cut-off; the role's clean-up retries the free
                freed = f" (freeing them failed: {exc})"
        oldest = max(now - h.ready_ns for h in stale)
        raise ProtocolAborted(
            f"memory cut-off at {self.name!r}: {len(stale)} of {len(taken)} EPR half(s) from {peer!r} waited "
            f"longer than {cutoff / 1e9:.6g} s (the oldest {oldest / 1e9:.6g} s since its herald) and were "
            f"discarded{freed}",
            peer=peer, discarded=len(stale), cutoff_s=cutoff / 1e9,
        )

    # ---------------------------------------------------------------- create-and-measure batches
    def create_measure(
        self, peer: str, count: int, local_bases: np.ndarray, remote_bases: np.ndarray, deadline: float
    ) -> tuple[str, np.ndarray, int]:
        """Create `count` pairs and measure both halves at their herald (exact Born sampling, vectorised).

        Each pair is the link's delivered state (`physics.EprLinkModel`); outcomes are sampled from it in
        the given bases (0 = Z, 1 = X, 2 = Y, validated), then each side's readout error flips its bits.
        Both clocks end at the last herald. Returns (batch id, local outcomes, total attempts).
        """
        if count < 1 or count > 10_000_000:
            raise InvalidOperation(f"count must be between 1 and 10000000, got {count}")
        limits.check()
        src = self.source(peer)
        attempts, delays = self._sample_heralds(peer, src.model, count)
        a, b = physics.sample_outcomes(self.rng, src.table, local_bases, remote_bases)
        # readout_flip returns an array of the type it was given.
        a = cast(np.ndarray, readout_flip(a, self._noise[self.name].measure_error, self.rng))
        b = cast(np.ndarray, readout_flip(b, self._noise[peer].measure_error, self.rng))
        t = self.clock.advance_by(float(delays.sum()))
        batch_id = f"{self.name}>{peer}@{next(self._ids)}"
        self._count(peer, "measured", count)
        self._count(peer, "attempts", int(attempts.sum()))
        self._peers.deliver_epr_outcomes(
            peer, batch_id, b.tobytes(), remote_bases.tobytes(), t, deadline=deadline
        )
        return batch_id, a, int(attempts.sum())

    def on_batch(self, from_node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int) -> None:
        with self._cond:
            self._batches[batch_id] = (from_node, outcomes, bases)
            while len(self._batches) > _BATCHES_KEPT:
                self._batches.popitem(last=False)
            self._cond.notify_all()
        self.clock.advance_to(now_ns)

    def fetch_batch(self, batch_id: str, deadline: float) -> tuple[str, bytes, bytes]:
        with self._cond:
            while batch_id not in self._batches:
                if self._draining():
                    raise ShuttingDown(f"node {self.name} is shutting down")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QubitNotFound(f"no create-and-measure batch {batch_id!r} arrived at {self.name!r}")
                limits.check_cancelled()
                self._cond.wait(left)
            return self._batches.pop(batch_id)


__all__ = ["EprSource", "LinkLayer"]
