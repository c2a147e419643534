"""The `qnet` CLI as a user runs it: up / status / run --json / down, and readable config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import qemu_net.client

QNET = [sys.executable, "-m", "qemu_net.cli.main"]


def qnet(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QNET, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["QNET_STATE_DIR"] = str(tmp_path / "state")
    return e


def test_up_status_run_down(tmp_path, env):
    """A network started with `qnet up` serves `qnet run` and stops with `qnet down`."""
    topo = tmp_path / "t.yaml"
    topo.write_text("name: clitest\nnodes: [alice, bob]\nlinks: [[alice, bob]]\n")
    t0 = time.monotonic()
    up = qnet("up", "-t", str(topo), "--json", env=env)
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    assert set(info["nodes"]) == {"alice", "bob"}
    try:
        st = qnet("status", "-t", str(topo), "--json", env=env)
        assert st.returncode == 0, st.stderr
        report = json.loads(st.stdout)
        assert report["running"] is True and report["supervisor"]["pid"] == info_pid(env)
        assert {r["status"] for r in report["nodes"]} == {"SERVING"}
        assert {r["process"] for r in report["nodes"]} == {"running"}
        run = qnet("run", "teleport", "-t", str(topo), "--shots", "50", "--json", env=env)
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        for key in ("protocol", "shots", "fidelity", "stderr", "wall_time_s", "virtual_time_ns"):
            assert key in result
        assert result["protocol"] == "teleport" and result["shots"] == 50
        assert result["fidelity"] == pytest.approx(1.0)
    finally:
        down = qnet("down", "-t", str(topo), env=env)
    assert down.returncode == 0, down.stderr
    assert time.monotonic() - t0 < 280  # start, run, stop: bounded (a busy 2-core host needs minutes)
    assert qnet("status", "-t", str(topo), env=env).returncode == 1


def info_pid(env: dict[str, str]) -> int:
    """The supervisor pid in the one state file `qnet up` wrote into this test's state directory."""
    (path,) = [p for p in os.listdir(env["QNET_STATE_DIR"]) if p.endswith(".json")]
    with open(os.path.join(env["QNET_STATE_DIR"], path)) as f:
        return int(json.load(f)["supervisor"]["pid"])


def test_topology_errors_name_the_key_path_without_traceback(tmp_path, env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [alice, bob]\nlinks:\n  - nodes: [alice, carol]\n  - nodes: [alice, bob]\n    length_km: -3\n")
    r = qnet("run", "teleport", "-t", str(bad), env=env)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "links[1].length_km" in r.stderr or "links[0].nodes" in r.stderr


def test_public_sdk_surface_is_curated():
    assert sorted(qemu_net.client.__all__) == sorted([
        "AsyncEprPair", "AsyncNetwork", "AsyncNode", "AsyncQubit", "BatchOutcomes", "EprPair",
        "Network", "Node", "NodeInfo", "Qubit", "gate", "measure", "reset",
    ])


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)  # zombie: exited
    except FileNotFoundError:
        return True


def test_nodes_stop_when_the_process_that_started_them_dies():
    """A LocalNetwork's supervisor and nodes exit when their starter is killed (no orphaned nodes)."""
    script = (
        "import json, time\n"
        "from qemu_net.node.launcher import LocalNetwork\n"
        "from qemu_net.network.topology import parse_topology\n"
        "n = LocalNetwork.start(parse_topology({'name': 'orphan', 'nodes': ['a', 'b'], 'links': [['a', 'b']]}))\n"
        "print(json.dumps([n.process.pid, n.pid('a'), n.pid('b')]), flush=True)\n"
        "time.sleep(120)\n"
    )
    starter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(starter.stdout.readline())
    finally:
        starter.kill()
        starter.wait(10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.1)
    assert all(_gone(p) for p in pids), f"still running: {[p for p in pids if not _gone(p)]}"


def test_demo_runs_on_the_embedded_default(env):
    """`qnet demo`, the README's main job, runs every step on the embedded default network and exits 0: its QKD
    session certifies a finite key, both ends hand out the same keys, and the figures are realistic (not ideal)."""
    r = qnet("demo", env={**env, "COLUMNS": "250"}, timeout=280)  # wide: rich does not wrap a cell
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = " ".join(r.stdout.split())
    assert "fetched them by id: identical" in out, out[-2000:]
    assert "all node processes stopped" in out
    assert "│ teleport " in r.stdout and "1.000 ± 0.000" not in out  # the default network is realistic
