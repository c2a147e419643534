"""`qnet run PROTOCOL --json` names the protocol asked for and the virtual time the run took."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

QNET = [sys.executable, "-m", "qemu_net.cli.main"]
LENGTH_KM = 2.0
US_PER_KM = 4.897  # group index 1.468


def qnet(args: list[str], env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QNET, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_suite_results_name_their_protocol_and_virtual_duration(tmp_path: Path) -> None:
    """On one running network: every protocol reports its own name, a virtual duration of at least one fiber
    delay, and about the same duration when run again (a duration, not the nodes' clock reading)."""
    env = {**os.environ, "QNET_STATE_DIR": str(tmp_path / "state")}
    topo = tmp_path / "t.yaml"
    topo.write_text(f"name: runres\nnodes: [a, b, c]\nlinks:\n  - {{nodes: [a, b], length_km: {LENGTH_KM}}}\n"
                    f"  - {{nodes: [b, c], length_km: {LENGTH_KM}}}\n")
    one_way_ns = LENGTH_KM * US_PER_KM * 1e3
    up = qnet(["up", "-t", str(topo)], env)
    assert up.returncode == 0, up.stderr
    try:
        durations: dict[str, list[int]] = {}
        for protocol in ("chain", "swap", "entangle", "superdense", "nonlocal-cnot", "chain"):
            r = qnet(["run", protocol, "-t", str(topo), "--shots", "12", "--json"], env)
            assert r.returncode == 0, r.stderr
            result = json.loads(r.stdout)
            assert result["protocol"] == protocol
            assert result["virtual_time_ns"] >= 0.99 * one_way_ns, (protocol, result)
            durations.setdefault(protocol, []).append(result["virtual_time_ns"])
        # the same work again takes about as long (a clock reading would have grown by the runs in between)
        first = durations["chain"][0]
        assert all(abs(d - first) <= 0.1 * first for d in (durations["chain"][1], durations["swap"][0])), durations
    finally:
        down = qnet(["down", "-t", str(topo)], env)
    assert down.returncode == 0, down.stderr
