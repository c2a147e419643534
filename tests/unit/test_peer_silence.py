"""The sender's side of a call whose answer is lost: `GrpcPeers` gives the call `PEER_ANSWER_S` beyond the
request's deadline, and when even that brings no answer it asks once more, marked as a repeat, with the
same id. Against an in-process PeerService whose first answer comes too late to be heard."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest

from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import peer_pb2_grpc as pg
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net._serde.quantum import group_to_proto
from qemu_net.errors import PeerUnavailable
from qemu_net.network.topology import parse_topology
from qemu_net.node.core import NodeCore
from qemu_net.node.ops import GateOp
from qemu_net.node.peers import GrpcPeers
from qemu_net.node.transit import PEER_ANSWER_S, Txn

X = np.array([[0, 1], [1, 0]], dtype=complex)
TOPO = parse_topology({"nodes": ["a", "m"], "links": [["a", "m"]]})


class LateFirst(pg.PeerServiceServicer):
    """Answers each method's first call only after its caller gave up (or never, with `mute`)."""

    def __init__(self, group: t.GroupState, mute: bool = False) -> None:
        self.calls: dict[str, list] = {}
        self.group = group
        self.mute = mute
        self.lock = threading.Lock()

    def _seen(self, method: str, request, context) -> bool:
        with self.lock:
            calls = self.calls.setdefault(method, [])
            calls.append((request, context.time_remaining()))
            first = len(calls) == 1
        if first or self.mute:
            time.sleep(context.time_remaining() + 0.1)  # the caller has given up by now
        return first

    def Forward(self, request, context):  # noqa: N802 - the gRPC method names
        self._seen("Forward", request, context)
        return p.ForwardResponse(sizes=bytes([1]), virtual_time_ns=5)

    def TakeGroup(self, request, context):  # noqa: N802
        self._seen("TakeGroup", request, context)
        return p.TakeGroupResponse(state=self.group)

    def AdoptGroup(self, request, context):  # noqa: N802
        self._seen("AdoptGroup", request, context)
        return p.Ack(virtual_time_ns=5)


class NoPeers:
    def arrive(self, node, qubits, now_ns, state=None, adopt=(), *, deadline):
        pass

    def update_holder(self, node, qubits, holder, sizes, epochs):
        pass


@pytest.fixture
def late():
    core = NodeCore(TOPO, "m", peers=NoPeers())
    (h,) = core.create_epr("a")
    (r,) = core.remote_halves([h])
    shipment = core.on_take_group(r, "a", txn=Txn(1, "a", 1), deadline=time.monotonic() + 5)
    made: list = []

    def start(mute: bool = False):
        servicer = LateFirst(group_to_proto(shipment), mute)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pg.add_PeerServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        peers = GrpcPeers("a", {"m": f"127.0.0.1:{port}"})
        made.append((server, peers))
        return servicer, peers, shipment

    yield start
    for server, peers in made:
        peers.close()
        server.stop(0)


def test_a_forward_without_an_answer_is_asked_again_as_a_repeat(late):
    servicer, peers, _ = late()
    t0 = time.monotonic()
    res = peers.forward("m", [GateOp(X, ("m.q.1",))], {}, 0, txn=Txn(1, "a", 1), min_epochs={},
                        deadline=t0 + 0.2)
    assert res.sizes == [1] and res.now_ns == 5
    (first, left1), (again, _left2) = servicer.calls["Forward"]
    assert PEER_ANSWER_S < left1 < PEER_ANSWER_S + 0.25  # the request's deadline plus the answer's time
    assert not first.repeat and again.repeat and again.request_id == first.request_id != 0
    assert list(again.operations) == list(first.operations)


def test_a_hand_over_without_an_answer_is_asked_again(late):
    servicer, peers, shipment = late()
    got = peers.take_group("m", shipment.qubits[1], "a", txn=Txn(1, "a", 1), wait_unpinned=False, min_epoch=0,
                           deadline=time.monotonic() + 0.2)
    assert got.qubits == shipment.qubits and got.epochs == shipment.epochs
    (first, _), (again, _) = servicer.calls["TakeGroup"]
    assert again == first


def test_a_push_without_an_answer_fails_as_silence_for_its_caller_to_resolve(late):
    """`adopt_group` is one call: its silence (DEADLINE_EXCEEDED) goes to `Ownership.push_back`, which asks
    again in the background so that the answer of the request that caused the push is not delayed."""
    servicer, peers, shipment = late()
    with pytest.raises(PeerUnavailable) as exc:
        peers.adopt_group("m", shipment, deadline=time.monotonic() + 0.2)
    assert exc.value.code == "DEADLINE_EXCEEDED" and len(servicer.calls["AdoptGroup"]) == 1
    peers.adopt_group("m", shipment, deadline=time.monotonic() + 0.2)  # the repeat is answered
    assert len(servicer.calls["AdoptGroup"]) == 2
