"""Where the node's memory limit comes from, and how requests are admitted against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qemu_net.errors import MemoryFull
from qemu_net.node import memlimit
from qemu_net.qkd import footprint


def test_limit_from_the_downward_api_variable_wins() -> None:
    """QNET_MEMORY_LIMIT_BYTES (what the StatefulSet sets from limits.memory) is used as given."""
    assert memlimit.memory_limit_bytes({"QNET_MEMORY_LIMIT_BYTES": "1073741824"}) == 1 << 30
    with pytest.raises(MemoryFull, match="QNET_MEMORY_LIMIT_BYTES='1Gi' is not a number of bytes"):
        memlimit.memory_limit_bytes({"QNET_MEMORY_LIMIT_BYTES": "1Gi"})


def test_cgroup_v2_and_v1_limits_are_read_through_proc_self_cgroup(tmp_path: Path) -> None:
    """v2 memory.max and v1 memory.limit_in_bytes of the process's own cgroup; "max" and huge mean none."""
    (tmp_path / "pod" / "c").mkdir(parents=True)
    (tmp_path / "pod" / "c" / "memory.max").write_text("536870912\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/pod/c\n")
    assert memlimit.cgroup_limit_bytes(str(proc), str(tmp_path)) == 512 << 20
    (tmp_path / "pod" / "c" / "memory.max").write_text("max\n")
    assert memlimit.cgroup_limit_bytes(str(proc), str(tmp_path)) is None
    (tmp_path / "memory" / "k").mkdir(parents=True)
    (tmp_path / "memory" / "k" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1 "unlimited"
    proc.write_text("7:memory:/k\n1:name=systemd:/k\n")
    assert memlimit.cgroup_limit_bytes(str(proc), str(tmp_path)) is None
    (tmp_path / "memory" / "k" / "memory.limit_in_bytes").write_text("1073741824\n")
    assert memlimit.cgroup_limit_bytes(str(proc), str(tmp_path)) == 1 << 30


def test_guard_refuses_what_does_not_fit_and_counts_reservations() -> None:
    """admit raises MemoryFull naming the sizes; a reservation is seen by the next request until released."""
    rss = memlimit.resident_bytes()
    limit = int((rss + (200 << 20)) / memlimit.HEADROOM)
    g = memlimit.MemoryGuard(limit)
    g.admit("small", 50 << 20)
    with pytest.raises(MemoryFull, match=r"big needs about 1,024 MiB .* memory limit of") as info:
        g.admit("big", 1 << 30)
    assert info.value.fields["needed_bytes"] == 1 << 30 and info.value.fields["limit_bytes"] == limit
    with g.reserve("first", 120 << 20):
        with pytest.raises(MemoryFull, match="reserved by running requests 120 MiB"):
            g.admit("second", 120 << 20)
    g.admit("second", 120 << 20)  # released
    assert memlimit.MemoryGuard(None).available() is None
    memlimit.MemoryGuard(None).admit("anything", 1 << 50)


def test_footprint_estimate_and_block_bound() -> None:
    """Alice pays 3 bytes a pulse more than Bob; a block is shrunk to an eighth of what is available."""
    n, block = 10_000_000, 1_000_000
    a, b = footprint.estimate_bytes("alice", n, block), footprint.estimate_bytes("bob", n, block)
    assert a - b == 3 * n
    assert b == pytest.approx(n * 48 * (1 - 2.718281828459045 ** -0.5) + block * 40, rel=1e-6)
    assert footprint.estimate_bytes("bob", n, block, protocol="e91") == n * 48 + block * 40
    assert footprint.max_block(10_000_000, None) == 10_000_000
    assert footprint.max_block(10_000_000, 8 * 40 * 1_000_000) == 1_000_000
    assert footprint.max_block(10_000_000, 1000) == footprint.MIN_BLOCK


def test_bob_refuses_after_the_hello_and_alice_hears_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob's end checks Alice's announced size against its own limit; Alice's session ends with his reason."""
    from qemu_net.errors import ProtocolAborted
    from qemu_net.network.topology import parse_topology
    from qemu_net.qkd import BB84Params, bb84_alice, bb84_bob
    from qemu_net.qkd.local import run_local_session

    tight = memlimit.MemoryGuard(memlimit.resident_bytes() + (8 << 20))  # nothing of size fits
    monkeypatch.setattr(footprint, "ADMISSION", tight.admit)
    topo = parse_topology({"name": "m", "nodes": ["a", "b"], "links": [{"nodes": ["a", "b"], "length_km": 1}]},
                          source="t")
    roles = {"b": (bb84_bob, BB84Params(peer="a", timeout_s=30)),
             "a": (bb84_alice, BB84Params(peer="b", n_pulses=2_000_000, timeout_s=30))}
    with pytest.raises(MemoryFull, match="a bb84 session of 2000000 slots needs about"):
        run_local_session(topo, roles, join_timeout_s=60)
    roles = {"a": roles["a"], "b": roles["b"]}
    with pytest.raises(ProtocolAborted, match="memory limit"):
        run_local_session(topo, roles, join_timeout_s=60)


def test_alice_block_is_bounded_by_the_memory_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request for one huge pulse-train block is streamed in blocks of at most 1/8 of the memory left."""
    from qemu_net.node.roles_qkd import _memory_plan
    from qemu_net.qkd import BB84Params, E91Params

    monkeypatch.setattr(memlimit, "resident_bytes", lambda: 300 << 20)
    guard = memlimit.MemoryGuard(1 << 30)
    avail = int((1 << 30) * memlimit.HEADROOM) - (300 << 20)
    assert guard.available() == avail
    p, need = _memory_plan(BB84Params(peer="b", n_pulses=40_000_000, block_pulses=40_000_000), guard)
    assert p.block_pulses == avail // (8 * footprint.BLOCK_BYTES_PER_PULSE) < 40_000_000
    assert need == footprint.estimate_bytes("alice", 40_000_000, p.block_pulses)
    e, _ = _memory_plan(E91Params(peer="b", n_pairs=10_000_000, block_pairs=10_000_000), guard)
    assert e.block_pairs < 10_000_000
    unlimited, _ = _memory_plan(BB84Params(peer="b", n_pulses=1000, block_pulses=1000), memlimit.MemoryGuard(None))
    assert unlimited.block_pulses == 1000
