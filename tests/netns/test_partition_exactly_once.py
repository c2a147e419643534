"""Exactly-once classical delivery across partitions, in network namespaces: while alice's client sends
numbered messages to bob's client, nftables drops everything for 30 s between (1) bob and the receiving
client, (2) alice and bob, (3) alice and the sending client, one after another; after each heal the
traffic resumes, and the receiver gets every message exactly once, in order (checked by number)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from netns_harness import HERE, NetnsLab, QnetCluster, wait_until

pytestmark = pytest.mark.slow

PARTITION_S = 30.0
N = 100


@pytest.fixture
def lab(tmp_path, nft_available) -> Iterator[NetnsLab]:  # type: ignore[no-untyped-def]
    with NetnsLab(hosts=["alice", "repeater", "bob", "client", "client2"], workdir=tmp_path / "lab") as lab:
        yield lab


def _cut(lab: NetnsLab, a: str, b: str) -> None:
    """Drop every frame between hosts a and b on the bridge (both directions)."""
    ia, ib = lab.ip[a], lab.ip[b]
    rules = ("table bridge qpart {\n  chain cut {\n    type filter hook forward priority -10; policy accept;\n"
             f"    ip saddr {ia} ip daddr {ib} counter drop\n    ip saddr {ib} ip daddr {ia} counter drop\n"
             "  }\n}\n")
    subprocess.run(["ip", "netns", "exec", lab.bridge_ns, "nft", "-f", "-"], input=rules, text=True, check=True,
                   capture_output=True, timeout=10)


def _dropped(lab: NetnsLab) -> int:
    out = subprocess.run(["ip", "netns", "exec", lab.bridge_ns, "nft", "list", "table", "bridge", "qpart"],
                         capture_output=True, text=True, timeout=10).stdout
    return sum(int(line.split("counter packets", 1)[1].split()[0]) for line in out.splitlines()
               if "counter packets" in line)


def _heal(lab: NetnsLab) -> None:
    subprocess.run(["ip", "netns", "exec", lab.bridge_ns, "nft", "delete", "table", "bridge", "qpart"],
                   capture_output=True, timeout=10)


def _count(proc, word: str) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for line in proc.output().splitlines() if line.startswith(word))


def test_messages_arrive_exactly_once_through_three_partitions(lab: NetnsLab) -> None:
    """Receiver's client, the two nodes, and the sender's client are each cut off for 30 s while messages
    flow; every message 0..N-1 is received once, in order, and each cut really dropped traffic."""
    cluster = QnetCluster.start(lab)
    deadline = 420.0
    argv = lambda action, host: [sys.executable, str(HERE / "partition_clients.py"), action,  # noqa: E731
                                 str(cluster.topology_path), str(N), str(deadline)]
    receiver = lab.spawn("client2", argv("receive", "client2"), name="receiver", env=cluster.env)
    sender = lab.spawn("client", argv("send", "client"), name="sender", env=cluster.env)
    drops = []
    for a, b in (("bob", "client2"), ("alice", "bob"), ("alice", "client")):
        before = _count(receiver, "GOT")
        wait_until(lambda: _count(receiver, "GOT") >= before + 3, timeout_s=120, what="traffic flowing")
        assert _count(sender, "SENT") < N - 10, "the stream ended before the partition: pace it slower"
        _cut(lab, a, b)
        time.sleep(PARTITION_S)
        drops.append(_dropped(lab))
        _heal(lab)
    assert sender.wait(deadline) == 0, sender.output()[-3000:]
    assert receiver.wait(120) == 0, receiver.output()[-3000:]
    sent = json.loads(sender.output().strip().splitlines()[-1])
    got = json.loads(receiver.output().strip().splitlines()[-1])
    assert not sent["gave_up"] and sent["sent"] == N, sent
    print(json.dumps({"messages": N, "received": len(got["received"]), "partition_s": PARTITION_S,
                      "dropped_frames": drops, "sender_errors": sent["errors"], "receiver_errors": got["errors"]}))
    assert got["received"] == list(range(N)), got  # none lost, none twice, in order
    assert all(d > 0 for d in drops), drops  # every partition really cut traffic
    # The partitions were felt: calls failed during them and were retried.
    assert sent["errors"] + got["errors"] > 0, (sent, got)
