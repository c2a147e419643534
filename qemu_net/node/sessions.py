"""Client sessions and qubit ownership at one node.

A qubit belongs to the *owner* that made it exist here: the caller identity (from its certificate,
``anonymous`` on a plaintext server) and the client session (the ``qnet-session`` metadata the SDK sends
with every call), written ``identity/session``. Qubits a client allocates, the local and far halves of
the EPR pairs it asks for, the qubits it sends away and the results of the protocol roles it runs (the
roles run in the request's thread, where `current_owner` is set; far halves carry the owner in their
``Arrive`` news) all belong to it. A call of another owner naming such a qubit is refused
(`PermissionDenied`); qubits whose owner nobody recorded (made by a node on its own) are open to all.

A session has a *lease* (`lease_s`, ``QNET_SESSION_LEASE_S``, default 120 s, so a client cut off by a
partition of a minute keeps everything), started by its first call
and renewed by every call and by the SDK's background `SessionService.Renew`. When it lapses -- the
client was killed, or cut off longer than the lease -- the node frees the session's qubits still located
here and releases its per-session state (unacknowledged classical deliveries go back to their queue,
remembered send ids are dropped, EPR halves its protocol runs did not take are freed). `Close` does the
same at once (a delivery the client already holds counts as acknowledged then).

Thread-safety: one lock of its own; the lapse callback runs on the reaper thread without it.
"""

from __future__ import annotations

import contextvars
import heapq
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from qemu_net.errors import InvalidOperation, PermissionDenied

log = logging.getLogger("qemu_net.node.sessions")

#: Metadata key carrying the client's session id.
SESSION_METADATA = "qnet-session"
#: Environment variable with the lease in seconds (nodes forked by `qnet up` inherit it).
LEASE_ENV = "QNET_SESSION_LEASE_S"
DEFAULT_LEASE_S = 120.0
MAX_SESSION_ID = 128
#: A call renews its session's lease only when the last renewal is at least this old (a tenth of the lease
#: if that is shorter): a lease never has less than that much less than `lease_s` left after a call, and a
#: busy session's calls skip the lock.
_RENEW_EVERY_S = 1.0
#: Owned qubits remembered beyond those still located here before a prune (amortised bookkeeping).
_PRUNE_SLACK = 256

#: The owner of the request being served on this thread ("" when none: a node's own work).
current_owner: contextvars.ContextVar[str] = contextvars.ContextVar("qnet_owner", default="")


def lease_from_env(environ: dict[str, str] | None = None) -> float:
    """The lease configured by ``QNET_SESSION_LEASE_S`` (a clear error naming it when it is bad)."""
    raw = (os.environ if environ is None else environ).get(LEASE_ENV, "")
    if not raw:
        return DEFAULT_LEASE_S
    try:
        value = float(raw)
    except ValueError:
        raise InvalidOperation(f"{LEASE_ENV}={raw!r}: expected a number of seconds") from None
    if not math.isfinite(value) or not 0.2 <= value <= 86_400:
        raise InvalidOperation(f"{LEASE_ENV}={raw!r}: the lease must be between 0.2 and 86400 seconds")
    return value


def owner_key(identity: str, session: str) -> str:
    return f"{identity}/{session}"


def session_of(owner: str) -> str:
    return owner.partition("/")[2]


def owner_from_metadata(identity: str, metadata: Iterable[tuple[str, object]] | None) -> str:
    """``identity/session`` from a call's metadata (session "" when the caller sent none)."""
    session = ""
    for key, value in metadata or ():
        if key == SESSION_METADATA:
            session = value.decode() if isinstance(value, bytes) else str(value)
            break
    if len(session) > MAX_SESSION_ID or "/" in session:
        raise InvalidOperation(f"a session id is at most {MAX_SESSION_ID} characters without '/'")
    return owner_key(identity, session)


@dataclass
class _Session:
    expires: float
    qubits: set[str] = field(default_factory=set)
    #: Protocol run ids (ProtocolRequest.session_id) started by this session here.
    runs: set[str] = field(default_factory=set)


class Sessions:
    """Owners of the qubits located at one node, and the leases of client sessions."""

    def __init__(self, *, lease_s: float, located: Callable[[str], bool],
                 on_end: Callable[[str, list[str], set[str], bool], None]) -> None:
        """`located(q)`: q is still located here. `on_end(owner, qubits, runs, lapsed)` releases what a
        session left (called without this object's lock, on the reaper thread for a lapse)."""
        self.lease_s = lease_s
        self._renew_every = min(_RENEW_EVERY_S, lease_s / 10)
        self._located = located
        self._on_end = on_end
        self._lock = threading.Condition()
        self._owners: dict[str, str] = {}
        self._sessions: dict[str, _Session] = {}
        self._heap: list[tuple[float, str]] = []
        self._next_prune = _PRUNE_SLACK
        self._closed = False
        self._reaper: threading.Thread | None = None

    # ---------------------------------------------------------------- leases
    def touch(self, owner: str) -> None:
        """A call of `owner` arrived: start or renew its session's lease (sessionless owners have none)."""
        if owner.endswith("/"):
            return
        now = time.monotonic()
        s = self._sessions.get(owner)  # a lease renewed within the last second is left as it is (no lock)
        if s is not None and s.expires - now > self.lease_s - self._renew_every:
            return
        with self._lock:
            self._session(owner).expires = now + self.lease_s

    def _session(self, owner: str) -> _Session:
        """`owner`'s session, started with a fresh lease if it has none here (lock held). A session can
        start here without a call of its own: a peer made a qubit for it (the far half of its pair)."""
        s = self._sessions.get(owner)
        if s is None:
            expires = time.monotonic() + self.lease_s
            s = self._sessions[owner] = _Session(expires)
            heapq.heappush(self._heap, (expires, owner))
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="qnet-session-reaper", daemon=True)
                self._reaper.start()
            self._lock.notify()
        return s  # a renewed lease's heap entry is checked against `expires` when it comes due

    def note_run(self, owner: str, run_id: str) -> None:
        with self._lock:
            s = self._sessions.get(owner)
            if s is not None and len(s.runs) < 10_000:
                s.runs.add(run_id)

    def close(self, owner: str) -> int:
        """End `owner`'s session now; returns how many of its qubits were still located here."""
        with self._lock:
            s = self._sessions.pop(owner, None)
            qubits = self._drop(owner, s)
        if s is not None:
            self._on_end(owner, qubits, s.runs, False)
        return len(qubits)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _drop(self, owner: str, s: _Session | None) -> list[str]:
        """Forget a session's qubits (lock held); returns those still located here."""
        if s is None:
            return []
        out = []
        for q in s.qubits:
            if self._owners.get(q) == owner:
                del self._owners[q]
                if self._located(q):
                    out.append(q)
        return out

    def _reap(self) -> None:
        while True:
            with self._lock:
                while not self._closed:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._lock.wait(timeout=(self._heap[0][0] - now) if self._heap else None)
                if self._closed:
                    return
                _, owner = heapq.heappop(self._heap)
                s = self._sessions.get(owner)
                if s is None:
                    continue
                if s.expires > time.monotonic():
                    heapq.heappush(self._heap, (s.expires, owner))
                    continue
                del self._sessions[owner]
                qubits = self._drop(owner, s)
            log.info("session %s lapsed: freeing %d qubit(s)", owner, len(qubits))
            try:
                self._on_end(owner, qubits, s.runs, True)
            except Exception:
                log.exception("could not release lapsed session %s", owner)

    # ---------------------------------------------------------------- ownership
    def claim(self, owner: str, qubits: Sequence[str]) -> None:
        """`qubits` (located here) now belong to `owner` ("" = nobody)."""
        if not owner or not qubits:
            return
        with self._lock:
            s = None if owner.endswith("/") else self._session(owner)
            for q in qubits:
                self._owners[q] = owner
            if s is not None:
                s.qubits.update(qubits)
            if len(self._owners) > self._next_prune:
                self._prune()

    def _prune(self) -> None:
        """Forget owners of qubits that left (measured, freed, sent away); amortised (lock held)."""
        gone = [q for q in self._owners if not self._located(q)]
        for q in gone:
            owner = self._owners.pop(q)
            s = self._sessions.get(owner)
            if s is not None:
                s.qubits.discard(q)
        self._next_prune = 2 * len(self._owners) + _PRUNE_SLACK  # next prune after the map doubled

    def owner_of(self, q: str) -> str:
        with self._lock:
            return self._owners.get(q, "")

    def check(self, owner: str, qubits: Iterable[str]) -> None:
        """Refuse (`PermissionDenied`) if any of `qubits` belongs to an owner other than `owner`."""
        with self._lock:
            owners = self._owners
            for q in qubits:
                o = owners.get(q)
                if o is not None and o != owner:
                    if not self._located(q):  # it left: whatever the call does, it is not this owner's
                        continue
                    raise PermissionDenied(
                        f"qubit {q!r} belongs to another client session; a client may only use its own qubits",
                        qubit=q,
                    )

    def owned(self, owner: str) -> int:
        with self._lock:
            s = self._sessions.get(owner)
            return sum(1 for q in s.qubits if self._located(q)) if s else 0

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"sessions": len(self._sessions), "owned_qubits": len(self._owners)}


__all__ = ["DEFAULT_LEASE_S", "LEASE_ENV", "SESSION_METADATA", "Sessions", "current_owner", "lease_from_env",
           "owner_from_metadata", "owner_key", "session_of"]
