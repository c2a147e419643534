"""Outgoing calls to other nodes' PeerService, each with a deadline; gRPC errors become domain errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import grpc

from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import peer_pb2_grpc as pg
from qemu_net.errors import PeerUnavailable
from qemu_net.node.convert import MeasureOp, Op, group_from_proto, group_to_proto, op_to_proto
from qemu_net.node.core import Arriving, Attachment, ForwardResult
from qemu_net.node.mailbox import Message
from qemu_net.node.status import error_from_rpc
from qemu_net.quantum.register import GroupState

#: Deadline of one node-to-node call.
PEER_DEADLINE_S = 10.0
#: Classical messages are retried (same id, so never delivered twice) until this deadline.
CLASSICAL_DEADLINE_S = 10.0

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 20_000),
]


class GrpcPeers:
    """Channels to peers by name, created lazily from an address book."""

    def __init__(self, name: str, addresses: dict[str, str], *, deadline_s: float = PEER_DEADLINE_S) -> None:
        self.name = name
        self._addresses = dict(addresses)
        self._stubs: dict[str, pg.PeerServiceStub] = {}
        self._channels: list[grpc.Channel] = []
        self._lock = threading.Lock()
        self.deadline_s = deadline_s

    def set_addresses(self, addresses: dict[str, str]) -> None:
        with self._lock:
            self._addresses.update(addresses)

    def stub(self, node: str) -> pg.PeerServiceStub:
        s = self._stubs.get(node)
        if s is not None:
            return s
        with self._lock:
            s = self._stubs.get(node)
            if s is None:
                addr = self._addresses.get(node)
                if not addr:
                    raise PeerUnavailable(f"no address known for node {node!r}")
                ch = grpc.insecure_channel(addr, options=CHANNEL_OPTIONS)
                self._channels.append(ch)
                s = pg.PeerServiceStub(ch)
                self._stubs[node] = s
        return s

    def close(self) -> None:
        with self._lock:
            for ch in self._channels:
                ch.close()
            self._channels.clear()
            self._stubs.clear()

    def _call(self, node: str, method: str, request, *, deadline: float | None = None, ready: bool = False):
        fn = getattr(self.stub(node), method)
        try:
            return fn(request, timeout=deadline or self.deadline_s, wait_for_ready=ready)
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=f"{self.name} -> {node} ({method})") from None

    # ------------------------------------------------------------------ Peers protocol
    def forward(self, node: str, ops: Sequence[Op], pull_from: dict[str, str], now_ns: int) -> ForwardResult:
        # Hot path (every operation on a qubit whose state another node holds): empty fields stay unset.
        req = p.ForwardRequest(from_node=self.name, operations=[op_to_proto(o) for o in ops], virtual_time_ns=now_ns)
        if pull_from:
            req.pull_from.update(pull_from)
        r = self._call(node, "Forward", req)
        sizes = r.sizes
        if not sizes:  # nothing ran: the groups moved on
            return ForwardResult([], [], r.virtual_time_ns, dict(r.moved))
        measures = any(isinstance(o, MeasureOp) for o in ops)
        return ForwardResult(list(r.outcomes) if measures else [], list(sizes), r.virtual_time_ns)

    def take_group(self, node: str, qubit: str, new_holder: str) -> tuple[GroupState, list[str]] | str:
        r = self._call(node, "TakeGroup", p.TakeGroupRequest(qubit=qubit, new_holder=new_holder))
        if r.moved_to:
            return r.moved_to
        return group_from_proto(r.state)

    def adopt_group(self, node: str, state: GroupState, locations: list[str]) -> None:
        self._call(node, "AdoptGroup", group_to_proto(state, locations))

    def update_holder(self, node: str, qubits: list[str], holder: str, sizes: dict[str, int]) -> None:
        self._call(node, "UpdateHolder", p.UpdateHolderRequest(qubits=qubits, holder=holder, group_sizes=sizes))

    def arrive(
        self,
        node: str,
        qubits: Sequence[Arriving],
        now_ns: int,
        state: tuple[GroupState, list[str]] | None = None,
        adopt: Sequence[tuple[GroupState, list[str]]] = (),
    ) -> None:
        self._call(node, "Arrive", self._arrive_request(qubits, now_ns, state, adopt))

    def _arrive_request(
        self,
        qubits: Sequence[Arriving],
        now_ns: int,
        state: tuple[GroupState, list[str]] | None = None,
        adopt: Sequence[tuple[GroupState, list[str]]] = (),
    ) -> p.ArriveRequest:
        req = p.ArriveRequest(
            from_node=self.name,
            virtual_time_ns=now_ns,
            qubits=[
                p.ArrivingQubit(
                    qubit=a.qubit,
                    holder=a.holder,
                    group_size=a.group_size,
                    pair_id=a.pair_id,
                    tag=a.tag,
                    ready_ns=a.ready_ns,
                    attempts=a.attempts,
                )
                for a in qubits
            ],
        )
        if state is not None:
            req.state.CopyFrom(group_to_proto(*state))
        req.adopt.extend(group_to_proto(*g) for g in adopt)
        return req

    def deliver_classical(self, node: str, msg: Message, attached: Attachment | None = None) -> None:
        req = p.ClassicalMessage(
            from_node=msg.sender,
            channel=msg.channel,
            seq=msg.seq,
            payload=msg.payload,
            sent_ns=msg.sent_ns,
            arrival_ns=msg.arrival_ns,
        )
        if attached:
            req.attached.CopyFrom(self._arrive_request(attached.arrivals, attached.now_ns, adopt=attached.states))
        # wait_for_ready: a message waits out a reconnect instead of failing; a call that failed after it
        # may have been delivered is sent again with the same id, which the receiver drops as a duplicate.
        give_up = time.monotonic() + CLASSICAL_DEADLINE_S
        while True:
            left = give_up - time.monotonic()
            try:
                self._call(node, "DeliverClassical", req, deadline=max(left, 0.001), ready=True)
                return
            except PeerUnavailable:
                if left <= 0.5:
                    raise

    def deliver_epr_outcomes(self, node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int) -> None:
        req = p.EprOutcomes(from_node=self.name, batch_id=batch_id, outcomes=outcomes, bases=bases, virtual_time_ns=now_ns)
        self._call(node, "DeliverEprOutcomes", req)
