"""Starting a local network fails only for a real reason: a node that exits before it serves fails the
start at once (the supervisor watches its nodes' pidfds), and the deadline is the caller's — passed to the
supervisor, which keeps it rather than a fixed one of its own. Real launcher processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qemu_net.errors import QnetError
from qemu_net.network.topology import parse_topology
from qemu_net.node import launcher
from qemu_net.node.launcher import START_TIMEOUT_ENV, LocalNetwork, start_timeout_s
from qemu_net.security.tls import write_network_certs

TOPO = parse_topology({"name": "start", "nodes": ["a", "b", "c"], "links": [["a", "b"], ["b", "c"]]})
#: A busy 2-core machine starts three nodes in a few seconds; the deadline given is far beyond that.
FAR_S = 600.0


def _supervise(tmp_path: Path, ready_by: float, tls_dir: Path) -> dict:
    topo = tmp_path / "t.yaml"
    topo.write_text(TOPO.to_yaml())
    cmd = [sys.executable, "-m", "qemu_net.node.launcher", "--topology", str(topo), "--ready-by", repr(ready_by),
           "--tls-dir", str(tls_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        # Far below FAR_S: a supervisor that waits for its deadline fails the test here (TimeoutExpired).
        out, err = proc.communicate(timeout=FAR_S / 4)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == 1, err.decode()[-2000:]
    return json.loads(out.decode().splitlines()[0])


def test_a_node_that_exits_before_it_serves_fails_the_start_at_once(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    write_network_certs(TOPO, certs)
    (certs / "nodes" / "b.key").unlink()  # node b cannot load its credentials and exits
    report = _supervise(tmp_path, time.monotonic() + FAR_S, certs)
    assert report["ready"] is False
    assert report["error"].startswith("node b exited with status 1 before it served")


def test_the_supervisor_keeps_the_deadline_it_was_given(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    write_network_certs(TOPO, certs)
    report = _supervise(tmp_path, time.monotonic(), certs)  # a deadline already passed
    assert report == {"ready": False, "error": "the start's deadline passed before its nodes were forked"}


def test_a_start_that_misses_the_callers_deadline_says_so() -> None:
    t = time.monotonic()
    with pytest.raises(QnetError) as err:
        LocalNetwork.start(TOPO, timeout_s=0.01)
    # Whether the supervisor's own report came in time depends on the machine; the caller's deadline holds.
    assert str(err.value).startswith("local network did not start: ")
    hint = f"(a busy machine may need longer than 0.01 s: give timeout_s or ${START_TIMEOUT_ENV})"
    assert str(err.value).endswith(hint)
    assert time.monotonic() - t < 60


def test_the_start_timeout_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(START_TIMEOUT_ENV, raising=False)
    assert start_timeout_s() == launcher.READY_TIMEOUT_S
    monkeypatch.setenv(START_TIMEOUT_ENV, "0.01")
    assert start_timeout_s() == 0.01
    with pytest.raises(QnetError, match=re.escape("may need longer than 0.01 s")):
        LocalNetwork.start(TOPO, tls=False)
    for bad in ("soon", "0", "-5", "inf", "nan"):
        monkeypatch.setenv(START_TIMEOUT_ENV, bad)
        with pytest.raises(QnetError, match=rf"\${START_TIMEOUT_ENV} must be a number of seconds > 0, not '{bad}'"):
            LocalNetwork.start(TOPO, tls=False)

