"""The node's memory limit, and admission of requests whose working set could approach it.

Where the limit comes from, first found wins:

1. ``QNET_MEMORY_LIMIT_BYTES`` - Kubernetes passes the container's ``limits.memory`` here through the
   downward API (``resourceFieldRef``; the rendered StatefulSet does), in bytes;
2. the process's cgroup: v2 ``memory.max``, else v1 ``memory.limit_in_bytes`` (what Docker/podman
   ``--memory`` and a kubelet set), read through /proc/self/cgroup;
3. none: nothing is refused for memory.

A request that may allocate a lot (a QKD session: `qemu_net.qkd.footprint`) asks `MemoryGuard.admit`
first: it is refused with `MemoryFull` (gRPC RESOURCE_EXHAUSTED) when the process's resident set plus
what running sessions have reserved plus the new estimate would pass `HEADROOM` of the limit, so the
kernel's OOM killer never has to act. Refusal is immediate (before any pulse is made) and says how much
was asked, how much the limit allows, and the largest request of that kind that would fit now.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from qemu_net.errors import MemoryFull

#: Fraction of the limit the node lets itself reach (the rest absorbs estimate error and gRPC buffers).
HEADROOM = 0.85
_UNLIMITED = 1 << 60
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _parse_limit(text: str) -> int | None:
    text = text.strip()
    if not text or text == "max":
        return None
    value = int(text)
    return value if 0 < value < _UNLIMITED else None


def cgroup_limit_bytes(proc_cgroup: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> int | None:
    """The memory limit of this process's cgroup (v2 memory.max or v1 memory.limit_in_bytes), or None."""
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    candidates: list[Path] = []
    for line in lines:
        hid, controllers, path = ([*line.split(":", 2), "", ""])[:3]
        rel = path.lstrip("/")
        if hid == "0" and controllers == "":  # cgroup v2 (unified)
            candidates += [Path(root) / rel / "memory.max", Path(root) / "unified" / rel / "memory.max"]
        elif "memory" in controllers.split(","):
            candidates.append(Path(root) / "memory" / rel / "memory.limit_in_bytes")
    limits = []
    for c in candidates:
        try:
            v = _parse_limit(c.read_text())
        except (OSError, ValueError):
            continue
        if v is not None:
            limits.append(v)
    return min(limits) if limits else None


def memory_limit_bytes(environ: dict[str, str] | None = None) -> int | None:
    """The limit this node must stay under (see the module docstring), or None if there is none."""
    env = os.environ if environ is None else environ
    raw = env.get("QNET_MEMORY_LIMIT_BYTES", "").strip()
    if raw:
        try:
            v = _parse_limit(raw)
        except ValueError:
            raise MemoryFull(f"QNET_MEMORY_LIMIT_BYTES={raw!r} is not a number of bytes") from None
        if v is not None:
            return v
    return cgroup_limit_bytes()


def resident_bytes() -> int:
    """This process's resident set size."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


class MemoryGuard:
    """Admission control against one limit (None: admit everything)."""

    def __init__(self, limit_bytes: int | None) -> None:
        self.limit_bytes = limit_bytes
        self._reserved = 0
        self._lock = threading.Lock()

    def available(self) -> int | None:
        """Bytes a new request may still use, or None without a limit."""
        if self.limit_bytes is None:
            return None
        return max(0, int(self.limit_bytes * HEADROOM) - resident_bytes() - self._reserved)

    def admit(self, what: str, nbytes: int) -> None:
        """Raise MemoryFull unless `nbytes` more fit under the limit now."""
        avail = self.available()
        if avail is not None and nbytes > avail:
            raise MemoryFull(
                f"{what} needs about {_mib(nbytes)} but this node's memory limit of {_mib(self.limit_bytes or 0)} "
                f"leaves {_mib(avail)} (resident {_mib(resident_bytes())}, reserved by running requests "
                f"{_mib(self._reserved)}): make the request smaller (about {avail / max(nbytes, 1):.2f} of it "
                "fits) or give the node more memory",
                needed_bytes=nbytes, available_bytes=avail, limit_bytes=self.limit_bytes,
            )

    @contextlib.contextmanager
    def reserve(self, what: str, nbytes: int) -> Iterator[None]:
        """Admit `nbytes` and hold them for the duration of the block (concurrent requests see them)."""
        with self._lock:
            self.admit(what, nbytes)
            self._reserved += nbytes
        try:
            yield
        finally:
            with self._lock:
                self._reserved -= nbytes


_GUARDS: list[MemoryGuard] = []  # the process's guard, once made
_GUARD_LOCK = threading.Lock()


def guard() -> MemoryGuard:
    """The process's guard, created on first use from `memory_limit_bytes`, and installed as the QKD
    admission hook (`qemu_net.qkd.footprint.ADMISSION`)."""
    with _GUARD_LOCK:
        if not _GUARDS:
            from qemu_net.qkd import footprint

            made = MemoryGuard(memory_limit_bytes())
            footprint.ADMISSION = made.admit
            _GUARDS.append(made)
        return _GUARDS[0]


__all__ = ["HEADROOM", "MemoryGuard", "cgroup_limit_bytes", "guard", "memory_limit_bytes", "resident_bytes"]
