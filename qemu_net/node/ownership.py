"""How a group's holder changes: the ownership protocol (see docs/design.md, "Ownership").

A group moves between holders only when an operation needs it co-located with another group (a pull
by the operation's executor, `acquire`), when a measurement leaves it located entirely at one other
node (a push-back), or when its only qubit is sent over a quantum link. The rules:

* **Pins.** An executor pins every group its operation needs, here, before running it; a pinned group
  never leaves (`TakeGroup` and push-back leave it alone) until the operation ran or gave up.
* **Wait-die.** Every operation that may pull carries a `Txn` stamp (born at its location). When it
  needs a group another operation pinned, it *waits* if it is older than every pinner, else it *dies*:
  it releases all its pins and waits, holding nothing, until the group is free, then tries again
  with the same stamp. Waits therefore only go from older to younger operations, so no cycle (no
  deadlock) can form, and the oldest operation never dies, so every operation eventually becomes the
  oldest among those it conflicts with and completes (no livelock).
* **Epochs.** Each move increments the epoch of the moved qubits; a tombstone left behind says where the
  group went and at which epoch. A request follows a tombstone only towards a newer epoch than the one
  that sent it there; an older tombstone is stale, meaning the state is on its way here, and the
  request waits for it. A chase therefore visits strictly increasing epochs: it is bounded by the
  number of moves, and each move is made by an operation that then runs.
* **Deadlines.** Every wait is a condition-variable wait bounded by the request's deadline (set by the
  client); nothing is bounded by a count of tries.
* **Answers.** A holder hands a group over, and a location adopts one, only before the request's deadline,
  which comes `PEER_ANSWER_S` before the call's own, so the answer has time to come back. A caller that
  hears nothing asks again: the holder hands the same group over again to the same operation, and a
  location acknowledges a group it adopted before, so a lost answer loses no group and holds none twice
  (unless the peer stays silent for the repeat too: see docs/design.md).

No lock is held across a remote call. Every method that takes `deadline` is a monotonic time.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from qemu_net.errors import PeerUnavailable, ProtocolTimeout, QnetError, ShuttingDown
from qemu_net.node.directory import Directory
from qemu_net.node.holdings import Holdings
from qemu_net.node.transit import PEER_ANSWER_S, PEER_RESOLVE_S, SILENCE, RecentAnswers, Shipment, Txn

log = logging.getLogger("qemu_net.node")


def _arrived_or_moved(held: Holdings, d: Directory, q: str, min_epoch: int) -> bool:
    """Whether q's group is held here or is known to have moved on past `min_epoch` (a tombstone here, or
    at q's location a newer hint naming another holder: a push-back here that was taken back)."""
    return q in held or held.moved_since(q, min_epoch) is not None or _hinted_away(d, q, min_epoch) is not None


def _hinted_away(d: Directory, q: str, min_epoch: int) -> tuple[str, int] | None:
    h = d.holder.get(q)
    if h is None or h == d.name:
        return None
    e = d.epoch.get(q, 0)
    return (h, e) if e > min_epoch else None


@dataclass(frozen=True)
class Moved:
    """The group left: it went to `holder`, which received it at `epoch`."""

    holder: str
    epoch: int


#: How long a location has to decide whether it adopts a group pushed back to it (its answer then has
#: `PEER_ANSWER_S` to come back).
PUSH_DECIDE_S = 1.0
#: At most this many bytes of states handed over are kept for repeats (oldest forgotten first).
HANDED_BYTES = 256 << 20
#: At most this many push-backs without a clear answer (or hints after one that went back) are resolved in
#: the background at once; more are resolved by the call that made them.
_RESOLVING = threading.BoundedSemaphore(16)


class Busy:
    """A `TakeGroup` answer: an older operation pins the group (wait-die: the caller dies)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BUSY"


BUSY = Busy()

TakeResult = Shipment | Moved | Busy


class OwnershipPeers(Protocol):
    """The node-to-node calls that move groups (part of `qemu_net.node.core.Peers`)."""

    def take_group(self, node: str, qubit: str, new_holder: str, *, txn: Txn, wait_unpinned: bool,
                   min_epoch: int, deadline: float) -> TakeResult: ...
    def adopt_group(self, node: str, shipment: Shipment, *, deadline: float) -> None: ...
    def update_holder(self, node: str, qubits: list[str], holder: str, sizes: dict[str, int],
                      epochs: dict[str, int]) -> None: ...


class Ownership:
    """Pulls, hand-overs and push-backs of one node's groups, under the node's condition variable."""

    def __init__(
        self,
        name: str,
        cond: threading.Condition,
        holdings: Holdings,
        directory: Directory,
        peers: OwnershipPeers,
        is_draining: Callable[[], bool],
    ) -> None:
        self.name = name
        self._cond = cond
        self._held = holdings
        self._dir = directory
        self._peers = peers
        self._draining = is_draining
        self._seq = itertools.count(1)
        #: Groups handed over, by (operation, qubit asked for, new holder), for that operation's repeat.
        self._handed: RecentAnswers[tuple[Txn, str, str], Shipment] = RecentAnswers(
            cap=65536, max_weight=HANDED_BYTES, weigh=lambda sh: sh.state.tensor.nbytes)
        #: Groups other nodes pushed here, by (first qubit, its epoch): a move's epochs are new, so this
        #: names one push, and its repeat is acknowledged without taking the state twice.
        self._adopted: RecentAnswers[tuple[str, int], bool] = RecentAnswers()

    def new_txn(self) -> Txn:
        return Txn(time.time_ns(), self.name, next(self._seq))

    # ---------------------------------------------------------------- waiting
    def wait(self, ready: Callable[[], bool], deadline: float, what: Callable[[], str]) -> None:
        """Wait (lock held) until `ready()`, the node drains, or the deadline passes (then raise)."""
        cond = self._cond
        while not ready():
            if self._draining():
                raise ShuttingDown(f"node {self.name} is shutting down")
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolTimeout(f"at {self.name!r}: {what()} within the request's deadline")
            cond.wait(left)

    def _wait_free(self, q: str, txn: Txn, deadline: float) -> None:
        """Wait (lock held) until no operation but `txn` pins q's group, or q's group left."""
        held = self._held
        held.waiting[q] += 1
        try:
            self.wait(lambda: q not in held or not held.pinners(q, txn), deadline,
                      lambda: f"the group of {q!r} stayed pinned by another operation")
        finally:
            held.waiting[q] -= 1
            if not held.waiting[q]:
                del held.waiting[q]

    def release(self, txn: Txn) -> None:
        with self._cond:
            if self._held.release(txn):
                self._cond.notify_all()

    # ---------------------------------------------------------------- pulling (the executor's side)
    def acquire(
        self,
        txn: Txn,
        qubits: Sequence[str],
        hints: Mapping[str, str],
        min_epochs: Mapping[str, int],
        deadline: float,
    ) -> None:
        """Make this node hold, pinned for `txn`, the group of every qubit in `qubits`.

        `hints` names where each qubit's group is believed held (absent: here); `min_epochs` the epoch
        of that belief. On return every group is here and pinned; the caller runs its operation and
        then calls `release(txn)` whatever happens.
        """
        held, cond = self._held, self._cond
        while True:
            missing = None
            with cond:
                for q in qubits:
                    if q in held:
                        others = held.pinners(q, txn)
                        if others:
                            if not txn.older_than_all(others) and held.release(txn):
                                cond.notify_all()  # die: hold nothing while we wait
                            self._wait_free(q, txn, deadline)
                            break  # look at everything again
                        held.pin(q, txn)
                    else:
                        missing = q
                        break
                else:
                    return
                if missing is not None:
                    moved = held.moved_since(missing, min_epochs.get(missing, 0))
                    if moved is not None:
                        holder, epoch = moved
                    else:
                        holder, epoch = hints.get(missing, self.name), min_epochs.get(missing, 0)
            if missing is not None:
                self._pull(txn, missing, holder, epoch, deadline)

    def _pull(self, txn: Txn, q: str, holder: str, min_epoch: int, deadline: float) -> None:
        """Bring q's group here (pinned for txn), following it from `holder` towards newer epochs."""
        held, cond = self._held, self._cond
        wait_unpinned = False
        while True:
            if holder == self.name:
                with cond:
                    if q in held:
                        return
                    moved = held.moved_since(q, min_epoch) or _hinted_away(self._dir, q, min_epoch)
                    if moved is None:
                        # It is on its way here: wait for it, or for news that it went on.
                        self.wait(functools.partial(_arrived_or_moved, held, self._dir, q, min_epoch), deadline,
                                  lambda: f"the state of {q!r} did not arrive")
                        continue
                    holder, min_epoch = moved
                continue
            got = self._peers.take_group(
                holder, q, self.name, txn=txn, wait_unpinned=wait_unpinned, min_epoch=min_epoch, deadline=deadline
            )
            if isinstance(got, Moved):
                holder, min_epoch = got.holder, got.epoch
                continue
            if isinstance(got, Busy):
                self.release(txn)  # die: ask again holding nothing, and wait until it is free
                wait_unpinned = True
                continue
            self.adopt(got, pin_for=txn, from_holder=holder)
            return

    def adopt(self, shipment: Shipment, *, pin_for: Txn | None = None, from_holder: str = "",
              decide_by: float | None = None) -> None:
        """Hold a group that arrived here; tell its qubits' other locations (a hint only, best effort).

        With `decide_by` (a group pushed here by another node's call): a repeat of a group adopted before
        is acknowledged and changes nothing; one that reaches the lock at or after `decide_by` is refused
        (`ProtocolTimeout`) and changes nothing."""
        held, cond = self._held, self._cond
        notify: dict[str, list[str]] = {}
        size = len(shipment.qubits)
        with cond:
            if decide_by is not None:
                if self.pushed_before(shipment):
                    return
                if time.monotonic() >= decide_by:
                    raise ProtocolTimeout(f"at {self.name!r}: the group of {shipment.qubits[0]!r} came after "
                                          "its deadline; nothing was taken")
                self.record_push(shipment)
            held.receive(shipment)
            if pin_for is not None:
                held.pin(shipment.qubits[0], pin_for)
            for x, loc, e in zip(shipment.qubits, shipment.locations, shipment.epochs, strict=False):
                if loc == self.name:
                    self._dir.hint(x, self.name, e, size)
                elif loc != from_holder:
                    notify.setdefault(loc, []).append(x)
            cond.notify_all()
        epochs = dict(zip(shipment.qubits, shipment.epochs, strict=False))
        for node, xs in notify.items():
            try:
                self._peers.update_holder(
                    node, xs, self.name, dict.fromkeys(xs, size), {x: epochs[x] for x in xs}
                )
            except QnetError as exc:  # a hint: the tombstones still lead there
                log.debug("holder hint to %s failed: %s", node, exc)

    def pushed_before(self, shipment: Shipment) -> bool:
        """Whether this node took `shipment` from a push before (lock held; see `_adopted`)."""
        return bool(self._adopted.get((shipment.qubits[0], shipment.epochs[0])))

    def record_push(self, shipment: Shipment) -> None:
        self._adopted.put((shipment.qubits[0], shipment.epochs[0]), True)

    # ---------------------------------------------------------------- handing over (the holder's side)
    def on_take_group(
        self, q: str, new_holder: str, txn: Txn, *, wait_unpinned: bool, min_epoch: int, deadline: float
    ) -> TakeResult:
        held, cond = self._held, self._cond
        with cond:
            while True:
                if q not in held:
                    again = self._handed.pop((txn, q, new_holder))
                    if again is not None and held.tomb.get(q) == (new_holder, again.epochs[again.qubits.index(q)]):
                        return again  # handed over before; the answer was lost
                    moved = held.moved_since(q, min_epoch) or _hinted_away(self._dir, q, min_epoch)
                    if moved is not None:
                        return Moved(*moved)
                    self.wait(functools.partial(_arrived_or_moved, held, self._dir, q, min_epoch), deadline,
                              lambda: f"the state of {q!r} did not arrive")
                    continue
                others = held.pinners(q, txn)
                if others:
                    if not (wait_unpinned or txn.older_than_all(others)):
                        return BUSY
                    self._wait_free(q, txn, deadline)
                    continue
                if time.monotonic() >= deadline:
                    raise ProtocolTimeout(f"at {self.name!r}: the request for {q!r} came too late to hand it over")
                shipment = held.ship(q, new_holder)
                self._handed.put((txn, q, new_holder), shipment)
                size = len(shipment.qubits)
                for x, loc, e in zip(shipment.qubits, shipment.locations, shipment.epochs, strict=False):
                    if loc == self.name:
                        self._dir.hint(x, new_holder, e, size)
                return shipment

    def on_adopt(self, shipment: Shipment, *, decide_by: float | None = None) -> None:
        self.adopt(shipment, decide_by=decide_by)

    def on_update_holder(self, qubits: Sequence[str], holder: str, sizes: Mapping[str, int],
                         epochs: Mapping[str, int]) -> None:
        held, d = self._held, self._dir
        with self._cond:
            for q in qubits:
                if q not in held:
                    d.hint(q, holder, epochs.get(q, 0), sizes.get(q))
            self._cond.notify_all()

    # ---------------------------------------------------------------- push-back
    def push_back(self, candidates: Sequence[str], deadline: float) -> None:
        """Send movable groups located entirely at one other node to that node. An optimisation: the
        location has `PUSH_DECIDE_S` to decide (a push-back is not part of the request that caused it, so
        a hurried request does not make it refused), and none is sent unless the request's `deadline`
        leaves time for that and for its answer, so the request's own answer is not delayed past it.

        If the location refuses, the group stays here as a move back (`take_back`). If it does not answer,
        it is asked again in the background (a repeat of a push it took is acknowledged), and the group
        stays in flight meanwhile: a request for it waits at the location as for any group on its way."""
        if deadline - time.monotonic() < PUSH_DECIDE_S + PEER_ANSWER_S:
            return
        with self._cond:
            ships = [(loc, self._held.ship(q, loc)) for q, loc in self._held.pushable(candidates)]
        for loc, shipment in ships:
            try:
                self._peers.adopt_group(loc, shipment, deadline=time.monotonic() + PUSH_DECIDE_S)
            except PeerUnavailable as exc:
                if exc.code not in SILENCE:
                    self.take_back([shipment], loc)
                elif _RESOLVING.acquire(blocking=False):
                    threading.Thread(target=self._resolve_push, args=(loc, shipment, True), daemon=True,
                                     name=f"push-{loc}").start()
                else:
                    self._resolve_push(loc, shipment, False)
            except QnetError as exc:
                log.debug("push-back of %s to %s refused (kept here): %s", shipment.qubits, loc, exc)
                self.take_back([shipment], loc)

    def _resolve_push(self, loc: str, shipment: Shipment, slot: bool) -> None:
        """A push-back that got no answer: ask again; keep the group here if even that fails."""
        try:
            self._peers.adopt_group(loc, shipment, deadline=time.monotonic() + PEER_RESOLVE_S)
        except QnetError as exc:
            log.debug("push-back of %s to %s unresolved (kept here): %s", shipment.qubits, loc, exc)
            self.take_back([shipment], loc)
        finally:
            if slot:
                _RESOLVING.release()

    def take_back(self, shipments: Sequence[Shipment], loc: str) -> None:
        """Hold again groups shipped to `loc` that it did not take (the one rollback of a hand-over): as a
        move back, with newer epochs, and `loc` is told (best effort) where they are, since a request may
        have followed their tombstone there meanwhile and be waiting for them."""
        if not shipments:
            return
        hint: dict[str, int] = {}
        sizes: dict[str, int] = {}
        with self._cond:
            for sh in shipments:
                back = Shipment(sh.state, sh.locations, tuple(e + 1 for e in sh.epochs))
                self._held.receive(back)
                for x, xloc, e in zip(back.qubits, back.locations, back.epochs, strict=True):
                    if xloc == loc:
                        hint[x], sizes[x] = e, len(back.qubits)
            self._cond.notify_all()
        if hint:
            if _RESOLVING.acquire(blocking=False):
                threading.Thread(target=self._hint_back, args=(loc, hint, sizes, True), daemon=True,
                                 name=f"hint-{loc}").start()
            else:
                self._hint_back(loc, hint, sizes, False)

    def _hint_back(self, loc: str, hint: dict[str, int], sizes: dict[str, int], slot: bool) -> None:
        try:
            self._peers.update_holder(loc, list(hint), self.name, sizes, hint)
        except QnetError as exc:  # unreachable: requests there fail as they do for a gone peer
            log.debug("holder hint to %s after a hand-over it did not take failed: %s", loc, exc)
        finally:
            if slot:
                _RESOLVING.release()


__all__ = ["BUSY", "Busy", "Moved", "Ownership", "TakeResult"]
