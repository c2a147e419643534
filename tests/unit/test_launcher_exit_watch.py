"""`_ExitWatch` (a node that exits while the network starts is noticed at once, by pidfd or by polling)
and the deadline `LocalNetwork.start` hands its supervisor. Forked children that exit at once; a stand-in
supervisor."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from qemu_net.errors import QnetError
from qemu_net.network.topology import parse_topology
from qemu_net.node import launcher
from qemu_net.node.launcher import LocalNetwork, _ExitWatch


def _child(sig: int | None = None, code: int = 0) -> int:
    pid = os.fork()
    if pid == 0:
        if sig is not None:
            os.kill(os.getpid(), sig)
        os._exit(code)
    return pid


def _watch_until_exit(watch: _ExitWatch, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while not watch.check() and time.monotonic() < deadline:
        select.select(watch.fds, [], [], watch.poll_s(deadline))


@pytest.mark.parametrize("pidfds", [True, False])
def test_an_exited_child_is_reaped_and_named(monkeypatch, pidfds: bool) -> None:
    if not pidfds:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    exits, status, killed, rt = _child(code=3), _child(code=0), _child(signal.SIGKILL), _child(signal.SIGRTMIN + 1)
    with _ExitWatch({"a": exits, "b": status, "c": killed, "d": rt}) as watch:
        assert bool(watch.fds) is (pidfds and hasattr(os, "pidfd_open"))
        deadline = time.monotonic() + 60
        while len(watch.exited) < 4 and time.monotonic() < deadline:
            _watch_until_exit(watch)
    assert watch.fds == []
    assert watch.exited == {"a": 3, "b": 0, "c": -signal.SIGKILL, "d": -(signal.SIGRTMIN + 1)}
    assert watch.why() == (
        "node a exited with status 3 before it served (its error is on the supervisor's stderr); "
        "node b exited with status 0 before it served; "
        "node c was killed by SIGKILL before it served; "
        f"node d was killed by signal {signal.SIGRTMIN + 1} before it served")
    records = {n: launcher.ProcessRecord(p) for n, p in {"a": exits, "e": os.getpid()}.items()}
    assert watch.unreaped(records) == {"e": records["e"]}  # a reaped pid is not ours to signal any more


def test_pidfds_opened_before_a_failure_are_closed(monkeypatch) -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfds here")
    real, opened = os.pidfd_open, []

    def fails_second(pid: int, flags: int = 0) -> int:
        if opened:
            raise OSError(24, "Too many open files")
        opened.append(real(pid, flags))
        return opened[-1]

    pids = [_child(), _child()]
    monkeypatch.setattr(os, "pidfd_open", fails_second)
    watch = _ExitWatch({"a": pids[0], "b": pids[1]})
    assert watch.fds == []  # falls back to polling ...
    with pytest.raises(OSError):
        os.fstat(opened[0])  # ... and holds no pidfd
    for pid in pids:
        os.waitpid(pid, 0)


def test_the_supervisor_is_given_the_callers_deadline(monkeypatch) -> None:
    seen: list[list[str]] = []
    report = 'print(\'{"ready": false, "error": "stand-in"}\', flush=True)'

    class StandIn(subprocess.Popen):
        def __init__(self, cmd, **kw) -> None:
            seen.append(cmd)
            super().__init__([sys.executable, "-c", report], **kw)

    monkeypatch.setattr(launcher.subprocess, "Popen", StandIn)
    before = time.monotonic()
    with pytest.raises(QnetError, match="stand-in"):
        LocalNetwork.start(parse_topology({"nodes": ["a", "b"], "links": [["a", "b"]]}), tls=False, timeout_s=77)
    (cmd,) = seen
    ready_by = float(cmd[cmd.index("--ready-by") + 1])
    assert before + 77 <= ready_by <= time.monotonic() + 77
