"""Closing a node's peer channels first lets gRPC's connectivity pollers stop. A poller that had just
checked for subscribers when the channel was unsubscribed and closed went on polling the closed
channel and raised "Cannot monitor channel state: Channel closed!" in a thread of the stopping node,
printed as a traceback on the node's stderr (seen in about 1 of 3 stops of a 64-node chain)."""

from __future__ import annotations

import threading
import time

from qemu_net.node.peers import POLLER_STOP_S, GrpcPeers

PREEMPTED_S = 0.25


class PreemptedAfterCheck:
    """Stands in for a channel's connectivity lock: when armed, the poller thread is held up right after
    it released the lock (its check for subscribers done, its next poll not yet begun), as a busy
    machine's scheduler may hold it."""

    def __init__(self, lock) -> None:
        self._lock = lock
        self.armed = False
        self.in_window = threading.Event()

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *exc):
        out = self._lock.__exit__(*exc)
        if self.armed and threading.current_thread() is not threading.main_thread():
            self.armed = False
            self.in_window.set()
            time.sleep(PREEMPTED_S)
        return out


def test_close_waits_out_a_poller_caught_between_its_check_and_its_next_poll() -> None:
    errors: list[BaseException | None] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        peers = GrpcPeers("a", {"b": "127.0.0.1:1"})
        peers.stub("b")
        (raw, _), = peers._watches
        state = raw._connectivity_state
        lock = PreemptedAfterCheck(state.lock)
        state.lock = lock
        time.sleep(0.05)
        lock.armed = True
        assert lock.in_window.wait(5), "the poller did not poll"
        t = time.monotonic()
        peers.close()
        closing = time.monotonic() - t
        time.sleep(PREEMPTED_S + 0.5)  # a poller left running on the closed channel raises by now
    finally:
        threading.excepthook = previous
    assert errors == []
    assert not state.polling
    assert closing <= POLLER_STOP_S + 0.5
