"""The client's session at the nodes it talks to (see `qemu_net.node.sessions`).

A `Network` (sync or asyncio) is one client session: a random id sent as ``qnet-session`` metadata with
every call, so the qubits it allocates, the EPR halves and protocol results made for it belong to it and to
no one else. A keeper renews the session's lease at every node the client has used, every third of the
lease the node reported (in a daemon thread, or an asyncio task), and closes the session at each of them
when the network is closed: its qubits are freed at once. A client that dies without closing leaves a
lease that lapses, and the nodes free what it held.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from qemu_net._serde import sdk as w
from qemu_net.errors import QnetError

if TYPE_CHECKING:
    from qemu_net.client._transport import AsyncTransport, Transport

#: Renewal period before a node has told its lease (seconds).
INITIAL_PERIOD_S = 1.0
MIN_PERIOD_S = 0.05


def new_session_id() -> str:
    return uuid.uuid4().hex


def metadata(session_id: str) -> tuple[tuple[str, str], ...]:
    """The call metadata naming session `session_id` (every transport of a network sends it)."""
    return w.session_metadata(session_id)


class LeaseKeeper:
    """Renews one session at the transports `used()` returns, in a daemon thread, until `close`."""

    def __init__(self, session_id: str, used: Callable[[], Iterable[tuple[str, Transport]]]) -> None:
        self.session_id = session_id
        self._used = used
        self._stop = threading.Event()
        self._period = INITIAL_PERIOD_S
        self._started = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._started or self._stop.is_set():
                return
            self._started = True
            self._thread = threading.Thread(target=self._run, name=f"qnet-lease-{self.session_id[:8]}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self.renew_once()

    def renew_once(self) -> None:
        leases = []
        for _name, transport in list(self._used()):
            if self._stop.is_set():
                return
            try:
                lease = transport.renew_session(w.renew_session_request(), max(min(self._period, 5.0), 0.2))
                leases.append(w.lease_from_proto(lease))
            except QnetError:
                continue  # a node that is down or cut off: renewed on the next round, or it lapses there
        if leases:
            self._period = max(min(leases) / 3.0, MIN_PERIOD_S)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop renewing and end the session at every node used (its qubits are freed there)."""
        self._stop.set()
        for _name, transport in list(self._used()):
            with contextlib.suppress(QnetError):  # a node that is down: the lease lapses there
                transport.close_session(w.close_session_request(), timeout_s)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout_s)


class AsyncLeaseKeeper:
    """The asyncio twin of `LeaseKeeper`: one task per network, started on its first call."""

    def __init__(self, session_id: str, used: Callable[[], Iterable[tuple[str, AsyncTransport]]]) -> None:
        self.session_id = session_id
        self._used = used
        self._period = INITIAL_PERIOD_S
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def idle(self) -> bool:
        """Not renewing yet (no event loop was running when a qubit handle first needed it)."""
        return self._task is None and not self._closed

    def start(self) -> None:
        if self._task is None and not self._closed:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # started by the first call, which runs in the loop
            self._task = loop.create_task(self._run(), name="qnet-lease")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            await self.renew_once()

    async def _renew(self, transport: AsyncTransport) -> float | None:
        try:
            lease = await transport.renew_session(w.renew_session_request(), max(min(self._period, 5.0), 0.2))
            return w.lease_from_proto(lease)
        except QnetError:
            return None

    async def renew_once(self) -> None:
        leases = [x for x in await asyncio.gather(*(self._renew(ch) for _n, ch in list(self._used())))
                  if x is not None]
        if leases:
            self._period = max(min(leases) / 3.0, MIN_PERIOD_S)

    async def close(self, timeout_s: float = 2.0) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

        async def close_one(transport: AsyncTransport) -> None:
            # A node that is down (the lease lapses there) or a channel grpc.aio already shut (its own errors).
            with contextlib.suppress(Exception):
                await transport.close_session(w.close_session_request(), timeout_s)

        await asyncio.gather(*(close_one(ch) for _n, ch in list(self._used())))


__all__ = ["AsyncLeaseKeeper", "LeaseKeeper", "metadata", "new_session_id"]
