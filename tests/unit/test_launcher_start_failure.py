"""A local network that does not start fails with `QnetError` naming why, also when its killed supervisor
is slow to exit (a busy machine): that wait once raised `subprocess.TimeoutExpired` after 5 s, hiding
the reason. The supervisor here is a stand-in process that reports a failed start; its exit after
SIGKILL is made slow by holding `wait` back."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import pytest

from qemu_net.errors import QnetError
from qemu_net.network.topology import parse_topology
from qemu_net.node import launcher
from qemu_net.node.launcher import LocalNetwork

TOPO = parse_topology({"nodes": ["a", "b"], "links": [["a", "b"]]})
REPORT = 'print(\'{"ready": false, "error": "node b did not serve in time"}\', flush=True); import time; time.sleep(60)'


class SlowToExit(subprocess.Popen):
    """The stand-in supervisor; its first waits time out as if SIGKILL took long to take effect."""

    started: ClassVar[list[SlowToExit]] = []
    waits: ClassVar[list[float | None]] = []

    def __init__(self, cmd, **kw) -> None:
        super().__init__([sys.executable, "-c", REPORT], **kw)
        SlowToExit.started.append(self)

    def wait(self, timeout: float | None = None) -> int:
        SlowToExit.waits.append(timeout)
        if len(SlowToExit.waits) == 1:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return super().wait(timeout)


@pytest.mark.parametrize("slow", [False, True])
def test_a_failed_start_says_why_even_when_the_supervisor_is_slow_to_exit(monkeypatch, slow: bool) -> None:
    SlowToExit.started.clear()
    SlowToExit.waits.clear()
    if not slow:
        SlowToExit.waits.append(None)  # the first wait is the real one
    monkeypatch.setattr(launcher.subprocess, "Popen", SlowToExit)
    with pytest.raises(QnetError) as err:
        LocalNetwork.start(TOPO, tls=False, timeout_s=60)
    msg = str(err.value)
    assert msg.startswith("local network did not start: node b did not serve in time")
    assert ("had not exited 30 s after SIGKILL" in msg) is slow
    (proc,) = SlowToExit.started
    assert subprocess.Popen.wait(proc, 10) == -9  # it was killed, and nothing else is left running
