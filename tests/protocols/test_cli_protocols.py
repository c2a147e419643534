"""`qnet run` for the protocol suite (starts its own local network from the embedded topology)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

QNET = [sys.executable, "-m", "qemu_net.cli.main"]


@pytest.mark.slow
def test_qnet_run_swap_json_reports_fidelity_and_path():
    out = subprocess.run([*QNET, "run", "swap", "--json", "--shots", "60"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["protocol"] == "swap" and r["extra"]["path"] == ["alice", "repeater", "bob"]
    assert r["fidelity"] == pytest.approx(1.0) and r["extra"]["swaps"] == 60


def test_qnet_run_unknown_protocol_is_refused():
    out = subprocess.run([*QNET, "run", "warp-drive"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice" in out.stderr
