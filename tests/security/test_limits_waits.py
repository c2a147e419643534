"""Long waits cannot starve a node: health, GetInfo and GetStatus stay fast with 48 waits in flight,
waits beyond the per-client and per-node caps are refused with RESOURCE_EXHAUSTED, a cancelled wait ends
at once, and a QKD role stops using CPU within a second of its deadline."""

from __future__ import annotations

import statistics
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2

from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net._proto.v1 import keys_pb2_grpc as kg
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.network.topology import parse_topology
from qemu_net.node.limits import Limits
from tests.conftest import running
from tests.security.limits_support import assert_healthy, channel, cpu_s, health_stub, node_stub

TOPO = parse_topology({"name": "waits", "nodes": ["alice", "bob"],
                       "links": [{"nodes": ["alice", "bob"], "length_km": 1}]})
LIMITS = Limits()


@pytest.fixture(scope="module")
def local():
    with running(TOPO) as (local, _net):
        yield local


def own_connection(local, name: str) -> grpc.Channel:
    """A channel with its own connection (channels of one process otherwise share one, i.e. one client)."""
    return channel(local, name, options=[("grpc.use_local_subchannel_pool", 1)])


def start_waits(stubs: list[ng.NodeServiceStub], count: int, timeout_s: float = 60.0) -> list[grpc.Future]:
    """`count` ReceiveClassical waits spread over `stubs` (each stub its own connection, i.e. its own client)."""
    req = n.ReceiveClassicalRequest(sender="alice", channel="never", timeout_s=timeout_s)
    return [stubs[i % len(stubs)].ReceiveClassical.future(req, timeout=timeout_s + 10) for i in range(count)]


def settled(futures: list[grpc.Future], within_s: float) -> dict[str, int]:
    """How the futures that finished within `within_s` ended (code name -> count)."""
    end = time.monotonic() + within_s
    out: dict[str, int] = {}
    for f in futures:
        try:
            f.exception(timeout=max(end - time.monotonic(), 0.0))
        except grpc.FutureTimeoutError:
            continue
        code = f.code().name
        out[code] = out.get(code, 0) + 1
    return out


def wait_slots_free(local, within_s: float = 5.0) -> dict[str, int]:
    """Probe with one short wait until it is admitted (it then times out: DEADLINE_EXCEEDED) or `within_s` passes."""
    end = time.monotonic() + within_s
    while True:
        got = settled(start_waits([node_stub(local, "bob")], 1, timeout_s=0.3), 5.0)
        if got == {"DEADLINE_EXCEEDED": 1} or time.monotonic() > end:
            return got


def latencies(call, count: int = 20) -> list[float]:
    out = []
    for _ in range(count):
        t0 = time.monotonic()
        call()
        out.append(time.monotonic() - t0)
    return out


def test_48_long_waits_leave_health_getinfo_and_getstatus_fast(local):
    """48 long waits made GetInfo and health time out for 40 s. Now waits beyond the caps are refused at once
    (RESOURCE_EXHAUSTED) and the ones admitted leave workers free: health, GetInfo and GetStatus answer in
    well under 100 ms (median; every one under a second on this loaded machine)."""
    wait_slots_free(local)
    channels = [own_connection(local, "bob") for _ in range(4)]
    stubs = [ng.NodeServiceStub(ch) for ch in channels]
    futures = start_waits(stubs, 48)
    try:
        refused = settled(futures, 10.0)
        # 4 clients x 12 waits: within the per-client cap; beyond the node's cap the rest are refused.
        assert refused == {"RESOURCE_EXHAUSTED": 48 - LIMITS.max_waits}, refused
        health, info = health_stub(local, "bob"), node_stub(local, "bob")
        keys = kg.KeyDeliveryServiceStub(channel(local, "bob"))
        for name, call in [
            ("health", lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=5)),
            ("GetInfo", lambda: info.GetInfo(n.GetInfoRequest(), timeout=5)),
            ("GetStatus", lambda: keys.GetStatus(k.KeyStatusRequest(peer="alice"), timeout=5)),
        ]:
            lat = latencies(call)
            assert statistics.median(lat) < 0.1, (name, lat)
            assert max(lat) < 1.0, (name, lat)
        # The admitted waits are still waiting.
        assert sum(not f.done() for f in futures) == LIMITS.max_waits
    finally:
        for f in futures:
            f.cancel()
        for ch in channels:
            ch.close()


def test_one_client_gets_at_most_its_share_of_waits(local):
    wait_slots_free(local)
    stub = node_stub(local, "bob")
    futures = start_waits([stub], LIMITS.max_waits_per_client + 4)
    try:
        assert settled(futures, 10.0) == {"RESOURCE_EXHAUSTED": 4}
    finally:
        for f in futures:
            f.cancel()


def test_cancelled_waits_end_at_once_and_free_their_slots(local):
    """A cancelled caller's wait ends at once: right after cancelling a full set of waits, as many new
    ones are admitted again (none refused)."""
    for _round in range(3):
        channels = [own_connection(local, "bob") for _ in range(3)]
        stubs = [ng.NodeServiceStub(ch) for ch in channels]
        futures = start_waits(stubs, LIMITS.max_waits, timeout_s=300)
        time.sleep(1.0)
        assert not any(f.done() for f in futures), settled(futures, 0)
        t0 = time.monotonic()
        for f in futures:
            f.cancel()
        # The node notices the cancellations and frees the slots: a new full set is admitted within a second
        # or two (a refused wait answers at once, so a slot still taken shows up as RESOURCE_EXHAUSTED).
        got = wait_slots_free(local, 5.0)
        assert got == {"DEADLINE_EXCEEDED": 1}, got
        assert time.monotonic() - t0 < 5.0
        for ch in channels:
            ch.close()
    assert_healthy(local, "bob")


def test_qkd_role_stops_using_cpu_within_a_second_of_its_deadline(local):
    """A QKD role kept burning CPU 18 s after its caller's deadline. Now both roles stop within a second:
    from 1 s after the deadline on, neither node uses more than a fraction of a CPU second."""
    deadline_s = 3.0
    roles = {
        "alice": pr.ProtocolRequest(session_id="cpu", timeout_s=deadline_s, bb84_alice=pr.Bb84Alice(
            peer="bob", n_pulses=30_000_000, reconciliation="ldpc")),
        "bob": pr.ProtocolRequest(session_id="cpu", timeout_s=deadline_s, bb84_bob=pr.Bb84Bob(peer="alice")),
    }
    codes: dict[str, str] = {}

    def run(name: str) -> None:
        try:
            node_stub(local, name).RunProtocol(roles[name], timeout=deadline_s)
            codes[name] = "OK"
        except grpc.RpcError as err:
            codes[name] = err.code().name

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(name,)) for name in roles]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert set(codes.values()) <= {"DEADLINE_EXCEEDED", "UNAVAILABLE", "ABORTED"}, codes
    time.sleep(max(0.0, t0 + deadline_s + 1.0 - time.monotonic()))
    pids = {name: local.pid(name) for name in roles}
    before = {name: cpu_s(pid) for name, pid in pids.items()}
    time.sleep(3.0)
    used = {name: cpu_s(pid) - before[name] for name, pid in pids.items()}
    assert all(u < 0.3 for u in used.values()), used
    for name in roles:
        assert_healthy(local, name)
