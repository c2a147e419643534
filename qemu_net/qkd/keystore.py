"""A thread-safe key store for delivering QKD keys to applications (in the spirit of ETSI GS QKD 014).

Each node keeps one `KeyStore`. After a successful session, both ends add the same final key under
the same session id (`add_result`). Applications then ask for keys:

- the *master* application at one node calls ``get_keys(peer, number, size_bits)`` and receives
  ``number`` keys, each with a fresh UUID ``key_id``; the bits are marked used at once;
- the store records, for each key id, *where* the key was cut (session id, bit offset, size): a
  `KeyReservation`, which holds no key material and may cross the classical channel in the clear;
- the node forwards those reservations to the peer's store (`reservations` here,
  `accept_reservations` there), and the *slave* application at the peer fetches the identical keys
  with ``get_keys_with_ids(peer, key_ids)``. Each key is delivered once at each end, then forgotten.

To keep two masters (one at each end of a pair) from cutting the same bits, the node whose name sorts
first cuts from the start of each session's key, the other from the end. Every operation takes one
lock; nothing here logs or prints key bytes, and reprs show only counts.

Durability: a store given a ``directory`` keeps every session key and which of its bits are used in
``<directory>/<peer>/<session>.npz`` (mode 0600, written atomically after each change and before the
change is reported), and loads them when created again, so a restarted node holds exactly the
unused bits it held before. Bits cut for a request that never completed stay used: never reused.
Keys at rest are protected only by the file system (as in any key manager's store).
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qemu_net.errors import InvalidOperation, KeyNotFound, KeysExhausted
from qemu_net.qkd.delivered import DeliveredKey, KeyBytes

if TYPE_CHECKING:
    from qemu_net.qkd.roles import QkdResult

#: Limits of one request (reported by the key delivery service's status).
MIN_KEY_SIZE_BITS = 8
MAX_KEY_SIZE_BITS = 1 << 20
MAX_KEYS_PER_REQUEST = 4096


@dataclass(frozen=True)
class KeyReservation:
    """Where a delivered key was cut: enough for the peer's store to cut the same bits. No key material.
    `master` is the application identity the key was delivered to, `slave` the one alone allowed to fetch
    it at the peer ("" = any application the link admits)."""

    key_id: str
    session_id: str
    offset_bits: int
    size_bits: int
    master: str = ""
    slave: str = ""

    def __post_init__(self) -> None:
        if self.offset_bits < 0 or self.size_bits <= 0:
            raise InvalidOperation(f"key reservation {self.key_id}: bad offset/size")


#: Largest reservation message accepted, and the shape of its fields.
MAX_RESERVATION_BYTES = 1 << 20
_KEY_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9._:/-]{0,253}$")


def reservations_to_json(items: list[KeyReservation]) -> bytes:
    return json.dumps([[r.key_id, r.session_id, r.offset_bits, r.size_bits, r.master, r.slave]
                       for r in items]).encode()


def reservations_from_json(payload: bytes) -> list[KeyReservation]:
    """Parse a reservation message strictly: a flat JSON list of ``[key_id (UUID), session id, offset,
    size, master?, slave?]`` of at most `MAX_KEYS_PER_REQUEST` entries; anything else (too large, nested,
    wrong types, out of range) is InvalidOperation, never another error."""
    if len(payload) > MAX_RESERVATION_BYTES:
        raise InvalidOperation(f"malformed key reservations: more than {MAX_RESERVATION_BYTES} bytes")
    try:
        data = json.loads(payload)
    except (ValueError, TypeError, RecursionError) as exc:  # RecursionError: deeply nested JSON
        raise InvalidOperation(f"malformed key reservations: {type(exc).__name__}") from None
    if not isinstance(data, list) or not 0 < len(data) <= MAX_KEYS_PER_REQUEST:
        raise InvalidOperation(f"malformed key reservations: expected a list of 1 to {MAX_KEYS_PER_REQUEST}")
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, list) or len(item) not in (4, 6):
            raise InvalidOperation(f"malformed key reservation #{i}: expected 4 or 6 fields")
        kid, sid, off, size, *who = item
        master, slave = who or ("", "")
        if not (isinstance(kid, str) and _KEY_ID.match(kid)):
            raise InvalidOperation(f"malformed key reservation #{i}: the key id is not a UUID")
        if not (isinstance(sid, str) and 0 < len(sid) <= 128 and _NAME.match(sid)):
            raise InvalidOperation(f"malformed key reservation #{i}: bad session id")
        for v in (off, size):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1 << 40:
                raise InvalidOperation(f"malformed key reservation #{i}: offset and size are integers >= 0")
        if not MIN_KEY_SIZE_BITS <= size <= MAX_KEY_SIZE_BITS:
            raise InvalidOperation(f"malformed key reservation #{i}: size {size} out of range")
        for v in (master, slave):
            if not (isinstance(v, str) and _NAME.match(v)):
                raise InvalidOperation(f"malformed key reservation #{i}: bad application identity")
        out.append(KeyReservation(kid, sid, off, size, master, slave))
    return out


class _Session:
    __slots__ = ("bits", "used")

    def __init__(self, bits: np.ndarray) -> None:
        self.bits = bits
        self.used = np.zeros(len(bits), dtype=bool)

    def free_run(self, size: int, from_end: bool) -> int | None:
        """Offset of the run of `size` bits next to the first (or last) unused bit, if all unused."""
        free = ~self.used
        if not free.any():
            return None
        n = len(self.bits)
        lo = n - int(np.argmax(free[::-1])) - size if from_end else int(np.argmax(free))
        if lo < 0 or lo + size > n or self.used[lo:lo + size].any():
            return None
        return lo

    @property
    def unused(self) -> int:
        return int(len(self.bits) - self.used.sum())


class KeyStore:
    """Keys per peer, from QKD sessions, cut into application keys on request. Thread-safe."""

    def __init__(self, owner: str, directory: str | os.PathLike[str] | None = None) -> None:
        if not owner:
            raise InvalidOperation("a key store belongs to a node: owner must be its name")
        self.owner = owner
        self._lock = threading.Lock()
        self._sessions: dict[str, OrderedDict[str, _Session]] = {}
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self._load()
        #: master side: reservations handed out (positions only), kept until the peer took them.
        self._issued: dict[str, dict[str, KeyReservation]] = {}
        #: slave side: keys cut for reservations from the peer, waiting for the application.
        self._pending: dict[str, dict[str, KeyBytes]] = {}

    def __repr__(self) -> str:
        with self._lock:
            counts = {p: sum(s.unused for s in ss.values()) for p, ss in self._sessions.items()}
        return f"KeyStore(owner={self.owner!r}, unused_bits={counts})"

    # ---------------------------------------------------------------------------------- durability
    _SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

    def _path(self, peer: str, session_id: str) -> Path:
        assert self.directory is not None
        if not (self._SAFE.match(peer) and self._SAFE.match(session_id)) or ".." in session_id:
            raise InvalidOperation(f"cannot store session {session_id!r} with {peer!r} on disk: unsafe name")
        return self.directory / peer / f"{session_id}.npz"

    def _persist(self, peer: str, session_id: str, s: _Session) -> None:
        if self.directory is None:
            return
        path = self._path(peer, session_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, n=np.array([len(s.bits)], dtype=np.int64), bits=np.packbits(s.bits),
                     used=np.packbits(s.used))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _load(self) -> None:
        assert self.directory is not None
        if not self.directory.exists():
            return
        for peer_dir in sorted(p for p in self.directory.iterdir() if p.is_dir()):
            files = sorted(peer_dir.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)
            for f in files:
                with np.load(f, allow_pickle=False) as z:
                    n = int(z["n"][0])
                    s = _Session(np.unpackbits(z["bits"], count=n))
                    s.used = np.unpackbits(z["used"], count=n).astype(bool)
                self._sessions.setdefault(peer_dir.name, OrderedDict())[f.stem] = s

    # ---------------------------------------------------------------------------------- adding
    def add_key(self, peer: str, session_id: str, key: bytes, n_bits: int) -> None:
        """Store a session's final key (packed bits, ``n_bits`` long) shared with `peer`."""
        if n_bits <= 0 or len(key) != (n_bits + 7) // 8:
            raise InvalidOperation(f"key of {len(key)} bytes does not hold {n_bits} bits")
        bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8), count=n_bits)
        with self._lock:
            sessions = self._sessions.setdefault(peer, OrderedDict())
            if session_id in sessions:
                raise InvalidOperation(f"session {session_id!r} with {peer!r} is already in the key store")
            session = _Session(bits)
            self._persist(peer, session_id, session)
            sessions[session_id] = session

    def add_result(self, result: QkdResult) -> None:
        """Store the key of a successful session (`QkdResult`); aborted or empty sessions are refused."""
        if not result.succeeded:
            raise InvalidOperation(
                f"session {result.session_id!r} produced no key ({result.aborted or 'empty key'})"
            )
        self.add_key(result.peer, result.session_id, result.key, result.final_bits)

    def has_session(self, peer: str, session_id: str) -> bool:
        with self._lock:
            return session_id in self._sessions.get(peer, {})

    def available_bits(self, peer: str) -> int:
        with self._lock:
            return sum(s.unused for s in self._sessions.get(peer, {}).values())

    # ---------------------------------------------------------------------------------- master
    def get_keys(self, peer: str, number: int = 1, size_bits: int = 256) -> list[DeliveredKey]:
        """Cut `number` fresh keys of `size_bits` bits shared with `peer`; they are marked used.

        Raises KeysExhausted (and changes nothing) if the store cannot supply all of them."""
        _check_request(number, size_bits)
        from_end = self.owner > peer
        with self._lock:
            sessions = self._sessions.get(peer, OrderedDict())
            plan: list[tuple[str, int]] = []
            scratch = {sid: s.used.copy() for sid, s in sessions.items()}
            for _ in range(number):
                for sid, s in sessions.items():
                    saved = s.used
                    s.used = scratch[sid]
                    try:
                        off = s.free_run(size_bits, from_end)
                    finally:
                        s.used = saved
                    if off is not None:
                        scratch[sid][off:off + size_bits] = True
                        plan.append((sid, off))
                        break
                else:
                    have = sum(s.unused for s in sessions.values())
                    raise KeysExhausted(
                        f"asked for {number} keys of {size_bits} bits shared with {peer!r}, "
                        f"but only {len(plan)} such keys can be cut ({have} unused bits stored)",
                        peer=peer, number=number, size_bits=size_bits, available_bits=have,
                    )
            out = []
            issued = self._issued.setdefault(peer, {})
            for sid, off in plan:
                s = sessions[sid]
                s.used[off:off + size_bits] = True
                kid = str(uuid.uuid4())
                issued[kid] = KeyReservation(kid, sid, off, size_bits)
                out.append(DeliveredKey(kid, size_bits, KeyBytes(np.packbits(s.bits[off:off + size_bits]))))
                s.bits[off:off + size_bits] = 0  # used bits are never needed again: overwrite them
            for sid in {sid for sid, _ in plan}:
                self._persist(peer, sid, sessions[sid])
            return out

    def reservations(self, peer: str, key_ids: list[str]) -> list[KeyReservation]:
        """The positions of keys this store issued to an application (to forward to the peer's store)."""
        with self._lock:
            issued = self._issued.get(peer, {})
            missing = [k for k in key_ids if k not in issued]
            if missing:
                raise InvalidOperation(f"no key issued with id(s) {missing} for peer {peer!r}")
            return [issued.pop(k) for k in key_ids]

    # ----------------------------------------------------------------------------------- slave
    def accept_reservations(self, peer: str, items: list[KeyReservation]) -> None:
        """Cut the keys the peer's store issued, at the same positions, to await `get_keys_with_ids`."""
        with self._lock:
            sessions = self._sessions.get(peer, OrderedDict())
            pending = self._pending.setdefault(peer, {})
            for r in items:
                s = sessions.get(r.session_id)
                if s is None:
                    raise InvalidOperation(f"key {r.key_id}: session {r.session_id!r} with {peer!r} is not stored here")
                end = r.offset_bits + r.size_bits
                if end > len(s.bits) or s.used[r.offset_bits:end].any():
                    raise InvalidOperation(f"key {r.key_id}: bits {r.offset_bits}..{end} are not available")
            if any(r.key_id in pending for r in items) or len({r.key_id for r in items}) != len(items):
                raise InvalidOperation("a key id of these reservations is already waiting here: ids are used once")
            for r in items:
                s = sessions[r.session_id]
                end = r.offset_bits + r.size_bits
                s.used[r.offset_bits:end] = True
                pending[r.key_id] = KeyBytes(np.packbits(s.bits[r.offset_bits:end]))
                s.bits[r.offset_bits:end] = 0  # the bits now live only in the pending key
            for sid in {r.session_id for r in items}:
                self._persist(peer, sid, sessions[sid])

    def get_keys_with_ids(self, peer: str, key_ids: list[str]) -> list[DeliveredKey]:
        """The keys the peer's application was given, by id; each is delivered once, then forgotten."""
        if not key_ids:
            raise InvalidOperation("ask for at least one key id")
        if len(key_ids) > MAX_KEYS_PER_REQUEST or len(set(key_ids)) != len(key_ids):
            raise InvalidOperation(f"ask for at most {MAX_KEYS_PER_REQUEST} distinct key ids at once")
        with self._lock:
            pending = self._pending.get(peer, {})
            missing = [k for k in key_ids if k not in pending]
            if missing:
                raise KeyNotFound(
                    f"no key with id(s) {missing} shared with {peer!r} is waiting here "
                    "(unknown, already delivered, or its reservation not yet received)",
                    key_ids=missing, peer=peer,
                )
            out = []
            for k in key_ids:
                key = pending.pop(k)
                out.append(DeliveredKey(k, len(key) * 8, key))
            return out

    def status(self, peer: str) -> dict[str, int]:
        """ETSI-style status: unused bits and keys pending for the peer's application."""
        with self._lock:
            return {
                "stored_sessions": len(self._sessions.get(peer, {})),
                "available_bits": sum(s.unused for s in self._sessions.get(peer, {}).values()),
                "pending_keys": len(self._pending.get(peer, {})),
                "issued_unconfirmed": len(self._issued.get(peer, {})),
            }


def _check_request(number: int, size_bits: int) -> None:
    if not isinstance(number, int) or number < 1:
        raise InvalidOperation(f"number={number!r}: ask for at least one key")
    if number > MAX_KEYS_PER_REQUEST:
        raise InvalidOperation(f"number={number}: at most {MAX_KEYS_PER_REQUEST} keys per request")
    if not isinstance(size_bits, int) or size_bits < MIN_KEY_SIZE_BITS or size_bits % 8:
        raise InvalidOperation(f"size_bits={size_bits!r} must be a positive multiple of 8")
    if size_bits > MAX_KEY_SIZE_BITS:
        raise InvalidOperation(f"size_bits={size_bits} exceeds the maximum key size of {MAX_KEY_SIZE_BITS} bits")


__all__ = [
    "MAX_KEYS_PER_REQUEST",
    "MAX_KEY_SIZE_BITS",
    "MIN_KEY_SIZE_BITS",
    "DeliveredKey",
    "KeyBytes",
    "KeyReservation",
    "KeyStore",
    "KeysExhausted",
    "reservations_from_json",
    "reservations_to_json",
]
