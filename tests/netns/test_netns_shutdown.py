"""Graceful shutdown across hosts: SIGTERM mid-protocol fails calls promptly with a clear status, and a
restarted node rejoins the network."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import pytest
from netns_harness import NetnsLab, QnetCluster, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path) -> Iterator[QnetCluster]:  # type: ignore[no-untyped-def]
    with NetnsLab(hosts=["alice", "repeater", "bob", "client"], workdir=tmp_path / "lab") as lab:
        yield QnetCluster.start(lab)


def _result(proc) -> dict:  # type: ignore[no-untyped-def]
    lines = [ln for ln in proc.output().splitlines() if ln.startswith("{")]
    assert lines, proc.output()[-3000:]
    return json.loads(lines[-1])


def test_sigterm_fails_in_flight_call_promptly_and_restarted_node_rejoins(cluster: QnetCluster) -> None:
    """An in-flight role at a node that gets SIGTERM ends with UNAVAILABLE 'shutting down' well within
    its deadline; the node exits 0 within seconds; restarted, it serves new protocol runs."""
    client = cluster.lab.spawn("client", cluster.client_argv("inflight", 30), name="inflight", env=cluster.env)
    wait_until(lambda: "WAITING" in client.output(), timeout_s=60, what="client call started")
    time.sleep(1.0)  # let the call reach the repeater's role
    repeater = cluster.nodes["repeater"]
    t_term = time.monotonic()
    repeater.signal(signal.SIGTERM)
    assert client.wait(40) == 0, client.output()
    out = _result(client)
    assert out["ok"] is False, out
    err = out["error"]
    assert err["code"] == "UNAVAILABLE", err
    assert "shutting down" in err["message"], err
    assert err["seconds"] < out["deadline_s"], err
    rc = repeater.wait(15)
    stop_s = time.monotonic() - t_term
    assert rc == 0 and stop_s < 15, (rc, stop_s, repeater.output()[-2000:])

    cluster.start_node("repeater")
    cluster.wait_serving(120, names=("repeater",))
    again = cluster.client("teleport", 2, timeout_s=180)
    assert min(again["fidelities"]) > 0.999, again


def test_sigterm_mid_protocol_loop_fails_peer_call_within_deadline(cluster: QnetCluster) -> None:
    """While teleports alice -> repeater run back to back, SIGTERM to the repeater makes the current
    run fail with a clear status before its 20 s deadline (never hang); after a restart runs succeed."""
    client = cluster.lab.spawn("client", cluster.client_argv("loop", 400), name="loop", env=cluster.env)
    wait_until(lambda: "DONE 3" in client.output(), timeout_s=120, what="three teleports done")
    cluster.nodes["repeater"].signal(signal.SIGTERM)
    assert client.wait(60) == 0, client.output()[-3000:]
    out = _result(client)
    assert out["error"] is not None and out["done"] >= 3, out
    err = out["error"]
    assert err["code"] in ("UNAVAILABLE", "DEADLINE_EXCEEDED"), err
    assert err["seconds"] <= out["deadline_s"] + 5, err
    assert err["message"], err
    assert cluster.nodes["repeater"].wait(15) == 0

    cluster.start_node("repeater")
    cluster.wait_serving(120, names=("repeater",))
    again = cluster.client("teleport", 3, timeout_s=180)
    assert min(again["fidelities"]) > 0.999, again
