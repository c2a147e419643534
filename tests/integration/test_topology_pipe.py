"""`qnet topology chain 16 | qnet up -t -` starts a 16-node chain of node processes; `qnet down` stops it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

from qemu_net.client import Network
from qemu_net.network.topology import parse_topology

QNET = [sys.executable, "-m", "qemu_net.cli.main"]


def test_chain_of_16_from_a_pipe(tmp_path):
    """Sixteen node processes answer GetInfo with their own names and serve; the far link makes pairs."""
    env = {**os.environ, "QNET_STATE_DIR": str(tmp_path / "state")}
    qnet = " ".join(shlex.quote(x) for x in QNET)
    up = subprocess.run(f"{qnet} topology chain 16 | {qnet} up -t - --json", shell=True, capture_output=True,
                        text=True, env=env, timeout=180)  # a real shell pipe, as a user types it
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        assert info["network"] == "chain16" and len(info["nodes"]) == 16
        state = json.loads((tmp_path / "state" / "chain16.json").read_text())
        topo = parse_topology(state["topology"])
        assert topo.node_names == tuple(f"n{i}" for i in range(16))
        pids = {v["pid"] for v in state["nodes"].values()}
        assert len(pids) == 16  # one process per node
        with Network.connect(topo, timeout_s=30, tls_dir=state["tls_dir"]) as net:  # qnet up made the certificates
            assert [net[n].info().name for n in topo.node_names] == list(topo.node_names)
            # The last link works: a batch of pairs measured in Z at both ends agrees (noiseless fiber).
            batch = net["n14"].create_measure_epr("n15", 64, local_bases="Z", remote_bases="Z")
            assert (batch.outcomes == net["n15"].fetch_epr_outcomes(batch.batch_id)).all()
        status = subprocess.run([*QNET, "status", "--chain", "16", "--json"], capture_output=True, text=True,
                                env=env, timeout=60)
        assert status.returncode == 0, status.stderr
        assert [r["status"] for r in json.loads(status.stdout)["nodes"]] == ["SERVING"] * 16
    finally:
        down = subprocess.run([*QNET, "down", "--chain", "16"], capture_output=True, text=True, env=env, timeout=60)
    assert down.returncode == 0 and "stopped" in down.stdout, down.stderr
    alive = []
    for pid in pids:  # the supervisor stops and reaps every node before it exits
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert not alive, f"node processes still running after qnet down: {alive}"
