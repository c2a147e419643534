"""A node's virtual clock (integer nanoseconds). Only moves forward."""

from __future__ import annotations

import threading


class VirtualClock:
    """Virtual time at one node. Thread-safe; never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = int(start_ns)
        self._lock = threading.Lock()

    def now(self) -> int:
        return self._now

    def advance_to(self, t_ns: float) -> int:
        """Move to at least `t_ns` (e.g. a message's arrival time); return the new time."""
        with self._lock:
            if t_ns > self._now:
                self._now = int(round(t_ns))
            return self._now

    def advance_by(self, dt_ns: float) -> int:
        """Let `dt_ns` pass (a gate's duration); return the new time."""
        if dt_ns < 0:
            raise ValueError("time cannot go backwards")
        with self._lock:
            self._now += int(round(dt_ns))
            return self._now
