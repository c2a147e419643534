"""The SDK's logic without sockets: the requests it builds, the results it parses, the errors it raises,
and the synchronous and asyncio shells driving the same steps over in-process transports."""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
import threading
import time

import cirq
import grpc
import numpy as np
import pytest

from qemu_net import errors as e
from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net._serde import sdk as w
from qemu_net._serde.status import ERROR_TYPE_KEY
from qemu_net.client import AsyncNetwork, AsyncNode, AsyncQubit, Network, Node, Qubit, qkd
from qemu_net.client import protocols as suite
from qemu_net.client._base import QubitBase
from qemu_net.client._transport import AsyncInProcessTransport, InProcessTransport


class FakeRpcError(grpc.RpcError):
    """What a real node's failed call looks like to the client (status, details, trailing metadata)."""

    def __init__(self, code: grpc.StatusCode, details: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self._code, self._details, self._md = code, details, metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._md


# ----------------------------------------------------------------------------- import weight
def test_importing_the_sdk_loads_neither_cirq_numpy_nor_the_node():
    # qemu_net.client.qkd is what `qnet keys status|get` loads: key calls need no QKD engine either.
    code = ("import sys, json, qemu_net.client, qemu_net.client.sync, qemu_net.client.aio, qemu_net.client.qkd; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cirq', 'numpy', 'scipy', 'matplotlib') or m.startswith('qemu_net.node'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_shared_constants_agree_with_the_node():
    from qemu_net.node.limits import Limits
    from qemu_net.node.sessions import SESSION_METADATA

    assert Limits().max_message_bytes == w.DEFAULT_MAX_MESSAGE_BYTES
    assert w.SESSION_METADATA == SESSION_METADATA
    assert ("grpc.max_send_message_length", Limits().max_message_bytes) in w.CHANNEL_OPTIONS


# ----------------------------------------------------------------------------- builders
def test_named_gates_and_rotations_travel_as_names():
    assert w.gate_op("h", ["q1"]) == t.Operation(qubits=["q1"], gate=t.Gate(named=t.H))
    assert w.gate_op("CX", ["a", "b"]).gate.named == t.CNOT
    op = w.gate_op("RY", ["q"], 0.3)
    assert op.gate.rotation.axis == t.RY and op.gate.rotation.angle_rad == pytest.approx(0.3)
    with pytest.raises(e.InvalidOperation, match="needs an angle"):
        w.gate_op("RX", ["q"])
    with pytest.raises(e.InvalidOperation, match="unknown gate name 'FOO'"):
        w.gate_op("FOO", ["q"])
    with pytest.raises(e.InvalidOperation, match="finite"):
        w.gate_op("RZ", ["q"], float("nan"))


def test_cirq_gates_map_to_the_same_named_codes_as_the_node_table():
    from qemu_net._serde.quantum import NAMED_GATES

    for code, gate in NAMED_GATES.items():
        assert w.gate_to_proto(gate) == t.Gate(named=code), gate


def test_other_cirq_gates_and_matrices_travel_as_their_unitary():
    for gate in (cirq.rx(0.3), cirq.HPowGate(exponent=1, global_shift=0.5), cirq.CZ**0.5):
        m = w.gate_to_proto(gate).matrix
        got = (np.array(m.real) + 1j * np.array(m.imag)).reshape(m.dim, m.dim)
        np.testing.assert_allclose(got, cirq.unitary(gate), atol=1e-12)
    u = np.array([[0, 1j], [1j, 0]])
    m = w.gate_to_proto(u).matrix
    assert m.dim == 2 and list(m.real) == [0, 0, 0, 0] and list(m.imag) == [0, 1, 1, 0]
    with pytest.raises(e.InvalidOperation, match="square"):
        w.gate_to_proto(np.zeros((2, 3)))
    with pytest.raises(e.InvalidOperation, match="a gate is a name"):
        w.gate_to_proto(3)


def test_measure_wait_and_basis_strings():
    assert w.measure_op("q", "x", keep=True) == t.Operation(qubits=["q"], measure=t.Measure(basis=t.BASIS_X, keep=True))
    assert w.wait_op("q", 1.5e-3).wait.duration_ns == 1_500_000
    with pytest.raises(e.InvalidOperation, match="unknown basis 'W'"):
        w.measure_op("q", "W")
    with pytest.raises(e.InvalidOperation, match="0 to 1e6"):
        w.wait_op("q", -1)
    with pytest.raises(e.InvalidOperation, match="expected a qubit"):
        w.measure_op("", "Z")
    assert w.bases_bytes("y", 3) == b"\x02\x02\x02"
    assert w.bases_bytes(["Z", "x", "Y"], 3) == b"\x00\x01\x02"
    assert w.bases_bytes(np.array([2, 0, 1]), 3) == b"\x02\x00\x01"
    assert w.bases_bytes(np.array(["X", "Z"]), 2) == b"\x01\x00"
    assert w.bases_bytes(None, 5) == b""


def test_density_and_batches_are_parsed():
    rho = np.array([[0.5, 0.5j], [-0.5j, 0.5]], dtype=np.complex128)
    got = w.density_from_proto(n.InspectResponse(dim=2, density_matrix=rho.tobytes()))
    np.testing.assert_array_equal(got, rho)
    got[0, 0] = 9  # a copy, not a view of the message
    with pytest.raises(e.InvalidOperation, match="bytes"):
        w.density_from_proto(n.InspectResponse(dim=4, density_matrix=rho.tobytes()))
    b = w.batch_from_proto(n.CreateMeasureEprResponse(batch_id="b1", local_outcomes=b"\x01\x00\x01", attempts=7,
                                                      virtual_time_ns=42))
    assert (b.batch_id, b.outcomes.tolist(), b.attempts, b.virtual_time_ns) == ("b1", [1, 0, 1], 7, 42)


def test_protocol_requests_name_one_role():
    req = w.protocol_request("s1", 12.0, teleport_send=pr.TeleportSend(peer="bob", qubit="q"))
    assert req.session_id == "s1" and req.timeout_s == 12.0 and req.WhichOneof("role") == "teleport_send"
    with pytest.raises(e.InvalidOperation, match="not a protocol role"):
        w.protocol_request("s1", 1.0, no_such_role=pr.TeleportSend())
    with pytest.raises(e.InvalidOperation, match="one"):
        w.role_field({})


# ----------------------------------------------------------------------------- the synchronous shell
class FakeNode:
    """A node's state machine, enough for the shells: allocates ids, records operations, answers roles."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.next_id = 0
        self.ops: list[t.Operation] = []
        self.roles: list[pr.ProtocolRequest] = []
        self.role_answer: dict[str, pr.ProtocolResult] = {}
        self.fail: Exception | None = None

    def allocate(self, req: n.AllocateRequest) -> n.AllocateResponse:
        ids = [f"{self.name}-q{self.next_id + i}" for i in range(req.count)]
        self.next_id += req.count
        return n.AllocateResponse(qubits=ids)

    def apply(self, req: n.ApplyRequest) -> n.ApplyResponse:
        if self.fail is not None:
            raise self.fail
        self.ops.extend(req.operations)
        return n.ApplyResponse(outcomes=[1 for op in req.operations if op.WhichOneof("kind") == "measure"])

    def run_protocol(self, req: pr.ProtocolRequest) -> pr.ProtocolResult:
        self.roles.append(req)
        if self.fail is not None:
            raise self.fail
        return self.role_answer[req.WhichOneof("role")]

    def handlers(self) -> dict[str, object]:
        return {"Allocate": self.allocate, "Apply": self.apply, "RunProtocol": self.run_protocol,
                "GetInfo": lambda _r: n.NodeInfo(name=self.name, memory_qubits=8, neighbours=["x", "y"]),
                "GetStatus": lambda r: k.KeyStatus(node=self.name, peer=r.peer, stored_bits=512),
                "GetKeys": lambda r: k.KeyContainer(keys=[k.Key(key_id=f"id{i}", size_bits=r.size_bits,
                                                                 key=bytes([i]) * (r.size_bits // 8))
                                                           for i in range(r.number)])}


def make_net(names: tuple[str, ...] = ("alice", "bob")) -> tuple[Network, dict[str, FakeNode],
                                                                 dict[str, InProcessTransport]]:
    nodes = {nm: FakeNode(nm) for nm in names}
    transports = {nm: InProcessTransport(nodes[nm].handlers(), nm) for nm in names}  # type: ignore[arg-type]
    net = Network({nm: f"inproc:{nm}" for nm in names}, transport=lambda name, _addr: transports[name])
    return net, nodes, transports


def test_qubit_calls_build_the_expected_requests():
    net, nodes, transports = make_net()
    with net:
        q = net["alice"].qubit()
        assert q.id == "alice-q0" and q.node is net["alice"]
        q.h().cnot("alice-q9")
        assert q.measure("X", keep=True) == 1
        assert net["alice"].info().neighbours == ("x", "y")
    assert nodes["alice"].ops == [t.Operation(qubits=["alice-q0"], gate=t.Gate(named=t.H)),
                                  t.Operation(qubits=["alice-q0", "alice-q9"], gate=t.Gate(named=t.CNOT)),
                                  t.Operation(qubits=["alice-q0"], measure=t.Measure(basis=t.BASIS_X, keep=True))]
    rpcs = [c[0] for c in transports["alice"].calls]
    assert rpcs[:5] == ["Allocate", "Apply", "Apply", "Apply", "GetInfo"]
    assert rpcs[-1] == "Close" and transports["alice"].closed  # the session ended at the node used
    assert all(c[2] == net.timeout_s for c in transports["alice"].calls if c[0] in ("Allocate", "Apply"))
    assert not any(c[0] == "Close" for c in transports["bob"].calls)  # never used: no session there


def test_teleport_runs_both_roles_in_one_session_and_returns_the_far_handle():
    net, nodes, _ = make_net()
    nodes["bob"].role_answer["teleport_receive"] = pr.ProtocolResult(
        teleport_receive=pr.TeleportReceiveResult(qubit="bob-q7"))
    nodes["alice"].role_answer["teleport_send"] = pr.ProtocolResult()
    with net:
        q = Qubit(net["alice"], "alice-q0")
        r = net.teleport(q, "bob", timeout_s=5.0)
    assert (r.id, r.node.name) == ("bob-q7", "bob")
    (send,), (recv,) = nodes["alice"].roles, nodes["bob"].roles
    assert send.teleport_send == pr.TeleportSend(peer="bob", qubit="alice-q0")
    assert recv.teleport_receive == pr.TeleportReceive(peer="alice")
    assert send.session_id == recv.session_id and send.session_id and send.timeout_s == 5.0


def test_errors_a_node_reports_are_rebuilt_with_their_type():
    net, nodes, _ = make_net()
    with net:
        q = Qubit(net["alice"], "alice-q0")
        nodes["alice"].fail = FakeRpcError(grpc.StatusCode.NOT_FOUND, "no qubit alice-q0",
                                           ((ERROR_TYPE_KEY, "QubitNotFound"),))
        with pytest.raises(e.QubitNotFound, match="no qubit alice-q0"):
            q.h()
        nodes["alice"].fail = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Socket closed")
        with pytest.raises(e.PeerUnavailable, match="alice: node is unreachable"):
            q.measure()
        nodes["alice"].fail = e.MemoryFull("full")  # an in-process node may raise the domain error itself
        with pytest.raises(e.MemoryFull):
            q.x()
        with pytest.raises(e.InvalidOperation, match="unknown node 'carol'"):
            net["carol"]
        with pytest.raises(e.InvalidOperation, match="no handler for SendQubit"):
            q.send("bob")


def test_the_first_failing_role_ends_the_run():
    net, nodes, _ = make_net()
    nodes["alice"].fail = e.ProtocolAborted("alice gave up")
    nodes["bob"].role_answer["teleport_receive"] = pr.ProtocolResult()
    with net, pytest.raises(e.ProtocolAborted, match="alice gave up"):
        net.run_roles({"alice": {"teleport_send": pr.TeleportSend(peer="bob", qubit="q")},
                       "bob": {"teleport_receive": pr.TeleportReceive(peer="alice")}}, timeout_s=5.0)


QKD_ROLES = {"alice": {"bb84_alice": pr.Bb84Alice(peer="bob")}, "bob": {"bb84_bob": pr.Bb84Bob(peer="alice")}}
TOLD = e.ProtocolAborted("alice: no room for the session", kind="MemoryFull", peer="alice")  # Bob hears Alice's abort


def test_a_role_that_reports_its_peers_abort_gives_way_to_the_peers_own_error():
    """Bob's answer ("alice: ...") arrives first; Alice's MemoryFull 0.3 s later is the error raised."""
    net, nodes, transports = make_net()

    def alice(req: pr.ProtocolRequest) -> pr.ProtocolResult:
        threading.Event().wait(0.3)
        raise e.MemoryFull("no room for the session")

    nodes["bob"].fail = TOLD
    transports["alice"].handlers["RunProtocol"] = alice
    with net:
        t0 = time.monotonic()
        with pytest.raises(e.MemoryFull, match="no room"):
            net.run_roles(QKD_ROLES, timeout_s=5.0)
    assert 0.25 < time.monotonic() - t0 < 5.0  # waited for Alice's answer, not for the deadline


@pytest.mark.parametrize("order", [("alice", "bob"), ("bob", "alice")])
def test_the_error_raised_does_not_depend_on_which_answer_came_first(order):
    """Both roles failed: whichever order the answers are read in, the source of the abort is raised; two
    unrelated failures raise the first role's in the run's order."""
    from concurrent.futures import Future

    from qemu_net.client._base import role_results

    def failed(exc: Exception) -> Future[object]:
        f: Future[object] = Future()
        f.set_exception(exc)
        return f

    calls = {"bob": failed(TOLD), "alice": failed(e.MemoryFull("no room"))}
    with pytest.raises(e.MemoryFull):
        role_results(calls, [calls[n] for n in order], (), 5.0)
    calls = {"bob": failed(e.ProtocolAborted("bob gave up")), "alice": failed(e.MemoryFull("no room"))}
    with pytest.raises(e.ProtocolAborted, match="bob gave up"):
        role_results(calls, [calls[n] for n in order], (), 5.0)
    loop = {"bob": failed(TOLD), "alice": failed(e.ProtocolAborted("bob: x", kind="InvalidOperation", peer="bob"))}
    with pytest.raises(e.ProtocolAborted):  # each reports the other: a cycle still ends with one of them
        role_results(loop, [loop[n] for n in order], (), 5.0)


def test_keys_are_requested_and_parsed():
    net, _, transports = make_net()
    with net:
        st = net["alice"].key_status("bob")
        keys = qkd.get_keys(net["alice"], "bob", number=2, size_bits=16)
        with pytest.raises(e.InvalidOperation, match="at least one key"):
            net["alice"].get_keys("bob", number=0)
    assert (st.node, st.peer, st.stored_bits) == ("alice", "bob", 512)
    assert [(x.key_id, x.size_bits, x.key) for x in keys] == [("id0", 16, b"\x00\x00"), ("id1", 16, b"\x01\x01")]
    req = next(c[1] for c in transports["alice"].calls if c[0] == "GetKeys")
    assert (req.peer, req.number, req.size_bits) == ("bob", 2, 16)


# ----------------------------------------------------------------------------- protocol steps
class Handles:
    topology = None

    def qubit_handle(self, node: str, qid: str) -> tuple[str, str]:
        return (node, qid)


def test_chain_steps_ask_for_one_role_per_node_and_assemble_the_result():
    steps = suite.chain_steps(Handles(), ["a", "m", "b"], pairs=2, measure_bases="X", timeout_s=9.0)
    run = next(steps)
    assert set(run.roles) == {"a", "m", "b"} and run.timeout_s == 9.0
    assert run.roles["a"]["chain_node"].measure_bases == b"\x01\x01"
    assert run.roles["m"]["chain_node"].measure_bases == b""  # the middle does not measure
    assert list(run.roles["m"]["chain_node"].path) == ["a", "m", "b"]
    results = {
        "a": pr.ProtocolResult(chain_node=pr.ChainResult(outcomes=b"\x00\x01", epr_pairs=2), virtual_time_ns=5),
        "m": pr.ProtocolResult(chain_node=pr.ChainResult(epr_pairs=4, swaps=2), virtual_time_ns=9),
        "b": pr.ProtocolResult(chain_node=pr.ChainResult(outcomes=b"\x00\x01", epr_pairs=2), virtual_time_ns=7),
    }
    with pytest.raises(StopIteration) as done:
        steps.send(results)
    d = done.value.value
    assert d.path == ("a", "m", "b") and d.epr_pairs == 8 and d.swaps == 2 and d.virtual_time_ns == 9
    assert [x.tolist() for x in d.outcomes] == [[0, 1], [0, 1]]


def test_qkd_steps_build_the_two_roles_and_summarise_both_ends():
    steps = qkd.run_qkd_steps("alice", "bob", "bb84", timeout_s=3.0, session="s9", n_pulses=1000)
    run = next(steps)
    assert run.session == "s9"
    assert run.roles["alice"]["bb84_alice"].n_pulses == 1000 and run.roles["bob"]["bb84_bob"].peer == "alice"
    a = pr.QkdSessionResult(protocol="bb84", n_pulses=1000, raw_bits=500, sifted_bits=250, reconciled_bits=200,
                            final_bits=100, stored_bits=100)
    b = pr.QkdSessionResult(protocol="bb84", stored_bits=100)
    with pytest.raises(StopIteration) as done:
        steps.send({"alice": pr.ProtocolResult(bb84_alice=a), "bob": pr.ProtocolResult(bb84_bob=b)})
    s = done.value.value
    assert (s.final_bits, s.session_id, s.stored_bits_bob, s.succeeded) == (100, "s9", 100, True)
    with pytest.raises(e.InvalidOperation, match="two different nodes"):
        next(qkd.run_qkd_steps("alice", "alice"))


# ----------------------------------------------------------------------------- the asyncio shell
def test_the_asyncio_shell_drives_the_same_logic():
    nodes = {nm: FakeNode(nm) for nm in ("alice", "bob")}
    nodes["bob"].role_answer["teleport_receive"] = pr.ProtocolResult(
        teleport_receive=pr.TeleportReceiveResult(qubit="bob-q3"))
    nodes["alice"].role_answer["teleport_send"] = pr.ProtocolResult()
    transports = {nm: AsyncInProcessTransport(nodes[nm].handlers(), nm) for nm in nodes}  # type: ignore[arg-type]

    async def main() -> tuple[str, str, int]:
        async with AsyncNetwork(dict.fromkeys(nodes, "inproc"), transport=lambda name, _a: transports[name]) as net:
            q = await net["alice"].qubit()
            await q.h()
            bit = await q.measure("Y")
            r = await net.teleport(q, "bob", timeout_s=4.0)
            nodes["alice"].fail = FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "elsewhere",
                                               ((ERROR_TYPE_KEY, "WrongLocation"),))
            with pytest.raises(e.WrongLocation):
                await q.x()
            return r.id, r.node.name, bit

    assert asyncio.run(main()) == ("bob-q3", "bob", 1)
    assert nodes["alice"].ops == [t.Operation(qubits=["alice-q0"], gate=t.Gate(named=t.H)),
                                  t.Operation(qubits=["alice-q0"], measure=t.Measure(basis=t.BASIS_Y))]
    assert nodes["alice"].roles[0].session_id == nodes["bob"].roles[0].session_id
    assert transports["alice"].calls[-1][0] == "Close" and transports["alice"].closed


def test_the_asyncio_shell_also_raises_the_source_of_an_abort():
    nodes = {nm: FakeNode(nm) for nm in ("alice", "bob")}
    nodes["bob"].fail = TOLD
    transports = {nm: AsyncInProcessTransport(nodes[nm].handlers(), nm) for nm in nodes}  # type: ignore[arg-type]

    async def alice(req: pr.ProtocolRequest) -> pr.ProtocolResult:
        await asyncio.sleep(0.3)
        raise e.MemoryFull("no room for the session")

    transports["alice"]._sync.handlers["RunProtocol"] = alice

    async def main() -> None:
        async with AsyncNetwork(dict.fromkeys(nodes, "inproc"), transport=lambda name, _a: transports[name]) as net:
            with pytest.raises(e.MemoryFull, match="no room"):
                await net.run_roles(QKD_ROLES, timeout_s=5.0)

    asyncio.run(main())


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls, callable)
            if not name.startswith("_")} | {name: None for name, v in inspect.getmembers(cls)  # type: ignore[misc]
                                             if isinstance(v, property)}


@pytest.mark.parametrize("sync_cls,async_cls", [(Network, AsyncNetwork), (Node, AsyncNode), (Qubit, AsyncQubit)])
def test_the_asyncio_api_offers_everything_the_synchronous_one_does(sync_cls, async_cls):
    sync, aio = _public(sync_cls), _public(async_cls)
    assert sorted(sync) == sorted(aio)
    for name, sig in sync.items():
        if sig is None:
            continue
        params = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
        assert params == [(p.name, p.kind, p.default) for p in aio[name].parameters.values()], name
        fn = getattr(async_cls, name)
        if fn is getattr(QubitBase, name, None):
            # A gate shortcut both shells share (q.h(), q.cnot(t)): it returns what the shell's `apply`
            # returns, so in asyncio an awaitable (awaited in the asyncio flow test above).
            assert inspect.iscoroutinefunction(async_cls.apply) and not inspect.iscoroutinefunction(sync_cls.apply)
            continue
        is_async = inspect.iscoroutinefunction(fn)
        sync_only = name in ("connect", "node", "qubit_handle", "mark_used")  # no I/O: plain methods in both
        assert is_async != sync_only, name
