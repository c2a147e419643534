"""A node restarted under a live client: its old qubit ids are NOT_FOUND (never a qubit of the new run),
the far half whose state the old run held is reported lost at its node (within the call's deadline,
not a hang), and the restarted node serves new pairs."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator

import pytest
from netns_harness import HERE, NetnsLab, QnetCluster, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path) -> Iterator[QnetCluster]:  # type: ignore[no-untyped-def]
    with NetnsLab(hosts=["alice", "repeater", "bob", "client"], workdir=tmp_path / "lab") as lab:
        yield QnetCluster.start(lab)


def test_old_ids_are_not_found_and_the_old_runs_groups_are_lost_after_a_restart(cluster: QnetCluster) -> None:
    lab = cluster.lab
    go = lab.workdir / "go"
    client = lab.spawn("client", [sys.executable, str(HERE / "restart_client.py"), str(cluster.topology_path),
                                  str(go)], name="restart-client", env=cluster.env)
    wait_until(lambda: "READY" in client.output(), timeout_s=120, what="client ready")
    cluster.nodes["repeater"].signal(signal.SIGKILL)
    assert cluster.nodes["repeater"].wait(15) is not None
    cluster.start_node("repeater")
    cluster.wait_serving(120, names=("repeater",))
    go.write_text("go")
    assert client.wait(180) == 0, client.output()[-3000:]
    out = json.loads(client.output().strip().splitlines()[-1])
    for key in ("old_qubit", "old_half_at_repeater"):
        assert out[key]["ok"] is False and out[key]["type"] == "QubitNotFound", out[key]
        assert "earlier run" in out[key]["message"], out[key]
    far = out["far_half_at_alice"]
    assert far["ok"] is False and far["type"] == "QubitNotFound" and "lost" in far["message"], far
    assert far["seconds"] < 15, far
    assert out["new_qubit_id"] not in out["old_ids"]
    assert all(out["new_pairs_agree"]), out
