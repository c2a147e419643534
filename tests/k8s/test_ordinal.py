"""A pod whose ordinal (or a node whose name) is not in the topology exits at once, with its own code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from qemu_net.cli.cmd_node import EXIT_NOT_IN_TOPOLOGY
from tests.k8s.nodeproc import REPO


@pytest.fixture
def topology(tmp_path: Path) -> Path:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump({"name": "three", "nodes": [
        {"name": n, "address": f"127.0.0.1:{i + 1}"} for i, n in enumerate(("alice", "repeater", "bob"))]}))
    return path


def _run(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})
    return proc, time.monotonic() - t0


def test_name_not_in_topology_exits_78_before_loading_the_simulator(topology: Path) -> None:
    """QNET_NODE_NAME=carol with nodes alice, repeater, bob: exit 78, a message naming the nodes and the fix."""
    proc, took = _run([sys.executable, "-X", "importtime", "-m", "qemu_net.cli.main", "node", "--topology",
                       str(topology)], {"QNET_NODE_NAME": "carol"})
    assert proc.returncode == EXIT_NOT_IN_TOPOLOGY == 78
    assert "node 'carol' is not in the topology (nodes: alice, repeater, bob)" in proc.stderr
    assert "re-rendering the deployment from a larger topology" in proc.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "qemu_net.network.topology" in imported  # the listing is real
    assert not {"cirq", "qemu_net.node.server"} & imported  # exits before the node's heavy imports
    assert took < 60


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare (UTS namespace)")
def test_pod_ordinal_beyond_the_topology_exits_78(topology: Path) -> None:
    """Hostname qnet-3 (a fourth pod after `kubectl scale`) with a 3-node topology: exit 78 at once."""
    script = f"hostname qnet-3 && exec {sys.executable} -m qemu_net.cli.main node --topology {topology}"
    proc, took = _run(["unshare", "--uts", "sh", "-c", script], {"QNET_NODE_NAME": ""})
    assert proc.returncode == 78, proc.stderr
    assert "hostname 'qnet-3' has no StatefulSet ordinal within the topology" in proc.stderr
    assert "This node is not in the topology (3 nodes)" in proc.stderr
    # ... while ordinal 2 is a node (bob): it gets past name resolution (and fails later on its port 3).
    ok = f"hostname qnet-2 && exec {sys.executable} -m qemu_net.cli.main node --topology {topology} --listen 127.0.0.1:0 --insecure"
    with subprocess.Popen(["unshare", "--uts", "sh", "-c", ok], stderr=subprocess.PIPE, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), "QNET_NODE_NAME": ""}) as p:
        line = ""
        deadline = time.monotonic() + 180
        while "serving on port" not in line and time.monotonic() < deadline:
            line = p.stderr.readline()
            if not line:
                break
        p.terminate()
        p.wait(30)
    assert "node bob serving on port" in line
    assert took < 60
