"""A node's virtual clock (integer nanoseconds). Only moves forward."""

from __future__ import annotations

import math
import threading

from qemu_net.errors import InvalidOperation


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
                self._now = _checked(t_ns)
            return self._now

    def advance_by(self, dt_ns: float) -> int:
        """Let `dt_ns` pass (a gate's duration); return the new time."""
        if not dt_ns >= 0:  # also refuses NaN
            raise InvalidOperation(f"virtual time cannot go backwards (a step of {dt_ns} ns)")
        with self._lock:
            self._now = _checked(self._now + dt_ns)
            return self._now


#: The latest virtual time a clock reaches (2^62 ns, about 146 years): it stays a valid int64 on the
#: wire with room for latencies added to it.
MAX_NS = 2**62


def _checked(t_ns: float) -> int:
    """`t_ns` as an integer time, refused (the clock unchanged) when it is not finite or past MAX_NS."""
    if not math.isfinite(t_ns) or t_ns > MAX_NS:
        raise InvalidOperation(
            f"virtual time would reach {t_ns:.6g} ns, past the clock's limit of {MAX_NS} ns (about 146 years): "
            "a rate or duration in the request is too small or too large"
        )
    return round(t_ns)
