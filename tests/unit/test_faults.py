"""The fault-injection seam: plan parsing, seeded delays, delegation of every Peers method, stalled handlers."""

from __future__ import annotations

import argparse
import inspect
import threading
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from qemu_net.cli import cmd_node
from qemu_net.node import faults
from qemu_net.node.core import Peers
from qemu_net.node.faults import (
    PEER_METHODS,
    DelayedPeers,
    FaultPlan,
    FaultPlanError,
    StallInterceptor,
    delayed_peers,
    plan_from_env,
    stall_interceptors,
)


# ------------------------------------------------------------------------------------------ parsing
def test_plan_parsed_from_the_environment_variable():
    """Every key of QNET_FAULTS reaches its field; describe() round-trips."""
    p = plan_from_env({"QNET_FAULTS": " delay_ms=5, stall_ms=200,stall_p=0.02,seed=7 "})
    assert (p.delay_ms, p.stall_ms, p.stall_p, p.seed) == (5.0, 200.0, 0.02, 7)
    assert p.methods == PEER_METHODS and p.delays and p.stalls and p.enabled
    assert FaultPlan.parse(p.describe()) == p
    q = FaultPlan.parse("delay_ms=3,methods=take_group+forward")
    assert q.methods == ("forward", "take_group") and not q.stalls
    assert FaultPlan.parse(q.describe()) == q


def test_unset_or_empty_variable_means_no_plan_and_zero_plan_injects_nothing():
    assert plan_from_env({}) is None
    assert plan_from_env({"QNET_FAULTS": "  "}) is None
    p = FaultPlan.parse("seed=3")
    assert not p.enabled and not p.delays and not p.stalls
    assert not FaultPlan(stall_ms=100).stalls and not FaultPlan(stall_p=0.5).stalls  # both needed


@pytest.mark.parametrize("text,key", [
    ("delay_ms=abc", "delay_ms"),
    ("delay_ms=-1", "delay_ms"),
    ("stall_p=1.5", "stall_p"),
    ("stall_ms=fast", "stall_ms"),
    ("seed=7.5", "seed"),
    ("methods=forward+teleport", "methods"),
    ("delay=5", "delay"),
    ("delay_ms", "delay_ms"),
    ("delay_ms=1,delay_ms=2", "delay_ms"),
])
def test_bad_values_raise_a_clear_error_naming_the_key(text, key):
    with pytest.raises(FaultPlanError) as exc:
        plan_from_env({"QNET_FAULTS": text})
    assert str(exc.value).startswith("QNET_FAULTS: ") and key in str(exc.value)
    assert exc.value.grpc_code == "INVALID_ARGUMENT"


def _node_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    cmd_node.register(ap.add_subparsers())
    return ap.parse_args(["node", *argv])


def test_node_flags_override_the_environment_and_errors_name_the_flag():
    args = _node_args(["--fault-delay-ms", "12", "--fault-seed", "4"])
    p = cmd_node.fault_plan(args, {"QNET_FAULTS": "delay_ms=5,stall_ms=100,stall_p=0.1,seed=1"})
    assert (p.delay_ms, p.stall_ms, p.stall_p, p.seed) == (12.0, 100.0, 0.1, 4)
    p = cmd_node.fault_plan(_node_args(["--fault-stall-ms", "50", "--fault-stall-p", "0.2"]), {})
    assert (p.delay_ms, p.stall_ms, p.stall_p, p.seed) == (0.0, 50.0, 0.2, 0)
    assert cmd_node.fault_plan(_node_args([]), {}) is None
    assert cmd_node.fault_plan(_node_args([]), {"QNET_FAULTS": "delay_ms=2"}) == FaultPlan(delay_ms=2)
    with pytest.raises(FaultPlanError, match=r"^qnet node: --fault-stall-p: .*less than or equal to 1"):
        cmd_node.fault_plan(_node_args(["--fault-stall-p", "2"]), {})


# ------------------------------------------------------------------------------------------ delays
class RecordingPeers:
    """Implements every Peers method by recording its call; anything else is a plain attribute."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.name = "n0"
        self.addresses: dict[str, str] = {}

    def set_addresses(self, addresses):
        self.addresses.update(addresses)


for _m in PEER_METHODS:
    def _rec(self, *args, _m=_m, **kwargs):
        self.calls.append((_m, args, kwargs))
        return f"{_m}-result"

    setattr(RecordingPeers, _m, _rec)


def test_peer_methods_are_exactly_the_peers_protocol():
    """The seam derives its list from core.Peers, so a method the core adds is delayed too."""
    declared = {n for n, v in vars(Peers).items() if inspect.isfunction(v) and not n.startswith("_")}
    assert set(PEER_METHODS) == declared
    assert {"forward", "take_group", "adopt_group", "update_holder", "arrive", "deliver_classical",
            "deliver_epr_outcomes"} <= declared


def test_wrapper_delegates_every_peers_method_after_a_delay():
    """Each Peers method reaches the wrapped object with its arguments and result, after one sleep."""
    inner, slept = RecordingPeers(), []
    events: list[str] = []

    def sleep(s):
        slept.append(s)
        events.append("sleep")

    w = DelayedPeers(inner, FaultPlan(delay_ms=20, seed=1), "n0", sleep=sleep)
    for i, m in enumerate(PEER_METHODS):
        assert getattr(w, m)("peer", i, key=m) == f"{m}-result"
        events.append(m)
    assert [(c[0], c[1], c[2]) for c in inner.calls] == [(m, ("peer", i), {"key": m}) for i, m in enumerate(PEER_METHODS)]
    assert events == [e for m in PEER_METHODS for e in ("sleep", m)]
    assert len(slept) == len(PEER_METHODS) and all(0 <= s <= 0.020 for s in slept)
    # Everything that is not a Peers method is the wrapped object's own, undelayed.
    w.set_addresses({"n1": "127.0.0.1:1"})
    assert inner.addresses == {"n1": "127.0.0.1:1"} and w.name == "n0" and w.inner is inner
    assert len(slept) == len(PEER_METHODS)


def test_only_the_chosen_methods_are_delayed():
    inner, slept = RecordingPeers(), []
    w = DelayedPeers(inner, FaultPlan(delay_ms=5, methods=("forward",)), "n0", sleep=slept.append)
    w.take_group("a", "q", "b")
    assert slept == []
    w.forward("a", [], {}, 0)
    assert len(slept) == 1


def test_delays_are_seeded_per_node_and_reproducible():
    """Same seed and node: the same sequence; another node or seed: another sequence; uniform on 0..N ms."""
    def seq(seed, node, n=400):
        w = DelayedPeers(RecordingPeers(), FaultPlan(delay_ms=10, seed=seed), node, sleep=lambda s: None)
        return [w.next_delay_s() for _ in range(n)]

    a = seq(7, "n0")
    assert a == seq(7, "n0")
    assert a != seq(7, "n1") and a != seq(8, "n0")
    assert all(0 <= x <= 0.010 for x in a)
    mean = sum(a) / len(a)
    # Uniform(0, 10 ms): mean 5 ms, standard error 10/sqrt(12)/sqrt(400) ms.
    assert abs(mean - 0.005) < 4 * 0.010 / (12 ** 0.5) / 20


def test_concurrent_draws_use_the_generator_one_at_a_time():
    """Threads drawing at once get exactly the single-threaded sequence between them (no lost or doubled draw)."""
    plan = FaultPlan(delay_ms=10, seed=3)
    ref = DelayedPeers(RecordingPeers(), plan, "n0", sleep=lambda s: None)
    expected = sorted(ref.next_delay_s() for _ in range(2000))
    w = DelayedPeers(RecordingPeers(), plan, "n0", sleep=lambda s: None)
    got: list[float] = []
    lock = threading.Lock()

    def work():
        mine = [w.next_delay_s() for _ in range(500)]
        with lock:
            got.extend(mine)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert sorted(got) == expected


def test_concurrent_calls_with_different_delays_are_delivered_out_of_order():
    """Calls made in order 0..7, all sleeping at once, reach the wrapped object in the order of their drawn
    delays. The sleep here lets each call go on once every call with a shorter delay has reached the
    wrapped object, so the order is what the delays say on any machine (real sleeps a few ms apart can
    wake out of order on a loaded host)."""
    delivered = threading.Condition()

    class Notifying(RecordingPeers):
        def forward(self, *args, **kwargs):
            with delivered:
                out = RecordingPeers.forward(self, *args, **kwargs)
                delivered.notify_all()
            return out

    inner = Notifying()
    plan = FaultPlan(delay_ms=400, seed=6)
    drawn_by = DelayedPeers(RecordingPeers(), plan, "n0", sleep=lambda s: None)
    drawn = [drawn_by.next_delay_s() for _ in range(8)]
    assert len(set(drawn)) == 8
    rank = {d: r for r, d in enumerate(sorted(drawn))}
    barrier = threading.Barrier(8, timeout=20)
    drew = [threading.Event() for _ in range(8)]
    who = threading.local()

    def sleep(s):
        drew[who.i].set()
        barrier.wait()  # every call has drawn its delay: now they all "sleep" at once
        with delivered:  # wake up after every shorter sleeper has been delivered
            assert delivered.wait_for(lambda: len(inner.calls) >= rank[s], timeout=20)

    w = DelayedPeers(inner, plan, "n0", sleep=sleep)

    def call(i):
        who.i = i
        w.forward(f"n{i}", [], {}, i)

    ts = []
    for i in range(8):  # one at a time, so that call i makes the i-th draw
        t = threading.Thread(target=call, args=(i,))
        t.start()
        assert drew[i].wait(20)
        ts.append(t)
    for t in ts:
        t.join(20)
    arrived = [c[1][0] for c in inner.calls]
    assert arrived == [f"n{i}" for i in sorted(range(8), key=lambda i: drawn[i])]
    assert arrived != [f"n{i}" for i in range(8)]


def test_no_plan_or_a_plan_without_delays_wraps_nothing():
    inner = RecordingPeers()
    assert delayed_peers(inner, None, "n0") is inner
    assert delayed_peers(inner, FaultPlan(stall_ms=5, stall_p=1.0), "n0") is inner
    assert isinstance(delayed_peers(inner, FaultPlan(delay_ms=1), "n0"), DelayedPeers)
    assert stall_interceptors(None, "n0", ["x"]) == []
    assert stall_interceptors(FaultPlan(delay_ms=5), "n0", ["x"]) == []


# ------------------------------------------------------------------------------------------ stalls
class _Echo:
    """A generic unary handler for service test.Echo/Ping."""

    def __init__(self) -> None:
        self.served = 0

    def __call__(self, request: bytes, context) -> bytes:
        self.served += 1
        return request


def _server(interceptor):
    echo = _Echo()
    srv = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[interceptor])
    srv.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Echo", {"Ping": grpc.unary_unary_rpc_method_handler(echo)})])
    hs = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(hs, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    return srv, port, echo


def test_stall_interceptor_stalls_the_named_services_with_probability_p_never_health():
    """p = 0.3 over 200 calls: the stall count is Binomial(200, 0.3) (4 SE); health calls are never stalled."""
    slept: list[float] = []
    ic = StallInterceptor(FaultPlan(stall_ms=40, stall_p=0.3, seed=5), "n0", ["test.Echo"], sleep=slept.append)
    srv, port, echo = _server(ic)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            ping = ch.unary_unary("/test.Echo/Ping")
            for i in range(200):
                assert ping(bytes([i % 256]), timeout=10) == bytes([i % 256])
            hstub = health_pb2_grpc.HealthStub(ch)
            for _ in range(50):
                hstub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    finally:
        srv.stop(0).wait(5)
    assert echo.served == 200
    assert ic.stalled == len(slept) and all(s == 0.040 for s in slept)
    assert abs(ic.stalled - 60) < 4 * (200 * 0.3 * 0.7) ** 0.5


def test_stall_really_delays_the_handler():
    """p = 1, 150 ms: a call takes at least the stall."""
    import time

    ic = StallInterceptor(FaultPlan(stall_ms=150, stall_p=1.0), "n0", ["test.Echo"])
    srv, port, _ = _server(ic)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            ping = ch.unary_unary("/test.Echo/Ping")
            ping(b"x", timeout=10)  # connect first
            t0 = time.monotonic()
            ping(b"y", timeout=10)
            assert time.monotonic() - t0 >= 0.149
    finally:
        srv.stop(0).wait(5)


def _interceptors(server) -> list[str]:  # noqa: ANN001
    pipeline = server._state.interceptor_pipeline  # noqa: SLF001
    return [type(i).__name__ for i in pipeline.interceptors] if pipeline is not None else []


def test_node_server_wires_the_plan_and_reads_the_environment(monkeypatch):
    """NodeServer: no plan and no variable -> plain peers, no interceptor; QNET_FAULTS -> both installed."""
    from qemu_net.network.topology import parse_topology
    from qemu_net.node.peers import GrpcPeers
    from qemu_net.node.server import NodeServer

    topo = parse_topology({"name": "t", "nodes": ["a", "b"], "links": [["a", "b"]]})
    monkeypatch.delenv("QNET_FAULTS", raising=False)
    s = NodeServer(topo, "a", listen="127.0.0.1:0")
    try:
        assert s.faults is None and type(s.core.peers) is GrpcPeers
        # No interceptor at all: the decode guard (qemu_net.node.limits) wraps handlers as they register.
        assert _interceptors(s._public) == [] and _interceptors(s._peer) == []
    finally:
        s.drain_and_stop()
    monkeypatch.setenv("QNET_FAULTS", "delay_ms=3,stall_ms=10,stall_p=0.5,seed=2")
    s = NodeServer(topo, "a", listen="127.0.0.1:0", peer_listen="127.0.0.1:0")
    try:
        assert s.faults == FaultPlan(delay_ms=3, stall_ms=10, stall_p=0.5, seed=2)
        assert isinstance(s.core.peers, DelayedPeers) and s.core.peers.inner is s.peers
        assert s._public._state.interceptor_pipeline is not None  # noqa: SLF001
        assert s._peer._state.interceptor_pipeline is not None  # noqa: SLF001
    finally:
        s.drain_and_stop()
    # An explicit plan wins over the variable.
    s = NodeServer(topo, "a", listen="127.0.0.1:0", faults=FaultPlan())
    try:
        assert type(s.core.peers) is GrpcPeers and _interceptors(s._public) == []
    finally:
        s.drain_and_stop()


def test_module_has_no_generated_code_import():
    """The seam stays outside the protobuf boundary: service names are passed in by the server."""
    src = inspect.getsource(faults)
    assert "_pb2" not in src
