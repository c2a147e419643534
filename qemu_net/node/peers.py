"""Outgoing calls to other nodes' PeerService; gRPC errors become domain errors.

Every call carries the request's deadline (a monotonic time, set by the client that started the
request). A call that changes state at its receiver is sent with `PEER_ANSWER_S` more, the time its
answer has to come back (the receiver commits only before the request's own deadline), and a call that
heard nothing asks once more within `PEER_RESOLVE_S` (see `transit`).
"""

from __future__ import annotations

import functools
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from google.protobuf.message import Message as PbMessage
from grpc_health.v1 import health_pb2, health_pb2_grpc

from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import peer_pb2_grpc as pg
from qemu_net._serde.quantum import group_from_proto, group_to_proto, op_to_proto, txn_to_proto
from qemu_net._serde.status import connection_refused, error_from_rpc, never_sent
from qemu_net.errors import PeerUnavailable
from qemu_net.node.core import ForwardResult
from qemu_net.node.limits import Limits
from qemu_net.node.mailbox import Message
from qemu_net.node.ops import MeasureOp, Op
from qemu_net.node.outbox import Arriving, Attachment
from qemu_net.node.ownership import BUSY, Moved, TakeResult
from qemu_net.node.sessions import current_owner
from qemu_net.node.transit import PEER_ANSWER_S, PEER_RESOLVE_S, SILENCE, Shipment, Txn
from qemu_net.observability import tracing
from qemu_net.security.tls import TlsCredentials, channel_credentials, target_name_options

_Reply = TypeVar("_Reply")

#: Deadline of a node-to-node call made outside any request (holder hints).
HINT_DEADLINE_S = 5.0
#: Shortest deadline a call is sent with (a request whose deadline passed still fails fast, clearly).
_MIN_TIMEOUT_S = 0.001
#: Deadline of the probe that tells a dead peer (refusing connections) from a slow one.
PROBE_TIMEOUT_S = 2.0
#: First pause before resending a classical message whose delivery failed at once.
_RESEND_PAUSE_S = 0.02

#: The generated (unannotated) stub class, typed.
_peer_stub: Callable[[grpc.Channel], pg.PeerServiceStub] = pg.PeerServiceStub

CHANNEL_OPTIONS = [
    *Limits().grpc_options(),  # message sizes: the node's default limits (qemu_net.node.limits)
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 20_000),
]


#: How long closing waits for the connectivity pollers of watched channels to stop (each polls every 0.2 s).
POLLER_STOP_S = 1.0


def _await_pollers(channels: Sequence[grpc.Channel], deadline: float) -> None:
    """Until `deadline`, wait for the connectivity poller of each channel (gRPC's own thread, which runs
    while a channel has subscribers) to stop. gRPC keeps its state on the channel object
    (`_connectivity_state.polling`); a channel that does not is taken as having no poller."""
    for ch in channels:
        state = getattr(ch, "_connectivity_state", None)
        while getattr(state, "polling", False) and time.monotonic() < deadline:
            time.sleep(0.01)


class GrpcPeers:
    """Channels to peers by name, created lazily from an address book."""

    def __init__(self, name: str, addresses: dict[str, str], *, tls: TlsCredentials | None = None) -> None:
        self.name = name
        #: With TLS, every peer channel presents this node's certificate and checks the peer's names the
        #: node it dials (whatever its address); None: plaintext.
        self._tls = tls
        self._creds = channel_credentials(tls) if tls is not None else None
        self._addresses = dict(addresses)
        self._stubs: dict[str, pg.PeerServiceStub] = {}
        self._channels: list[grpc.Channel] = []
        self._lock = threading.Lock()
        #: Called (outside any lock) with a peer's name when its address refuses connections.
        self.on_peer_gone: Callable[[str], None] | None = None
        self._health: dict[str, health_pb2_grpc.HealthStub] = {}
        self._probing: set[str] = set()
        self._watches: list[tuple[grpc.Channel, Callable[[grpc.ChannelConnectivity], None]]] = []
        self._closed = False
        #: Ids of forwarded batches: unique per run of this node (a random start), so a receiver never
        #: takes a batch of an earlier run for a repeat.
        self._request_ids = itertools.count(secrets.randbits(62) + 1)

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
                # Traced when OTEL_TRACES_EXPORTER asks for it (else the channel itself).
                if self._creds is not None:
                    raw = grpc.secure_channel(addr, self._creds, options=CHANNEL_OPTIONS + target_name_options(node))
                else:
                    raw = grpc.insecure_channel(addr, options=CHANNEL_OPTIONS)
                ch = tracing.intercept_channel(raw)
                self._channels.append(ch)
                s = _peer_stub(ch)
                self._stubs[node] = s
                self._health[node] = health_pb2_grpc.HealthStub(ch)
                watch = functools.partial(self._on_state, node)
                raw.subscribe(watch, try_to_connect=False)
                self._watches.append((raw, watch))
        return s

    def _on_state(self, node: str, state: grpc.ChannelConnectivity) -> None:
        """A connection to `node` was lost (the channel left READY): probe once whether the peer is gone,
        so state held for a dead peer is reclaimed even if no request of ours is addressed to it."""
        if state not in (grpc.ChannelConnectivity.IDLE, grpc.ChannelConnectivity.TRANSIENT_FAILURE):
            return
        with self._lock:
            if node in self._probing or self._closed:
                return
            self._probing.add(node)
        threading.Thread(target=self._probe, args=(node,), name=f"probe-{node}", daemon=True).start()

    def _probe(self, node: str) -> None:
        try:
            self._health[node].Check(health_pb2.HealthCheckRequest(), timeout=PROBE_TIMEOUT_S)
        except grpc.RpcError as err:
            if connection_refused(err) and self.on_peer_gone is not None and not self._closed:
                self.on_peer_gone(node)
        except ValueError:  # the channel was closed meanwhile (this node is stopping)
            pass
        finally:
            with self._lock:
                self._probing.discard(node)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            watched = [ch for ch, _ in self._watches]
            for ch, watch in self._watches:
                ch.unsubscribe(watch)
            self._watches.clear()
            channels = list(self._channels)
            self._channels.clear()
            self._stubs.clear()
        # A watched channel's poller thread raises ("Cannot monitor channel state: Channel closed!") if the
        # channel is closed between two of its polls; once unsubscribed it stops at its next poll (every
        # 0.2 s), so wait for that, bounded, before closing.
        _await_pollers(watched, time.monotonic() + POLLER_STOP_S)
        for ch in channels:
            ch.close()

    def _call(self, node: str, rpc: Callable[..., _Reply], request: PbMessage, deadline: float, *,
              ready: bool = False) -> _Reply:
        """One call, bounded by `deadline`. A peer whose address refuses connections is gone: that fails at
        once (and is reported to `on_peer_gone`). A connection that could not be set up in time (a busy
        host) never carried the request, so the call then waits for the channel instead, up to the
        deadline; a call that may have reached the peer is never sent twice."""
        pause = _RESEND_PAUSE_S
        while True:
            try:
                return rpc(request, timeout=max(deadline - time.monotonic(), _MIN_TIMEOUT_S), wait_for_ready=ready)
            except grpc.RpcError as err:
                if connection_refused(err):
                    if self.on_peer_gone is not None:
                        self.on_peer_gone(node)
                elif never_sent(err):
                    # Try again after a short, growing pause (each try tells a dead peer from a slow one).
                    left = deadline - time.monotonic()
                    if left > 0:
                        time.sleep(min(pause, left))
                        pause = min(pause * 2, 1.0)
                        continue
                raise error_from_rpc(err, where=f"{self.name} -> {node} ({type(request).__name__})") from None

    # ------------------------------------------------------------------ Peers protocol
    def forward(self, node: str, ops: Sequence[Op], pull_from: dict[str, str], now_ns: int, *, txn: Txn,
                min_epochs: dict[str, int], deadline: float, rebase: dict[str, int] | None = None) -> ForwardResult:
        # Hot path (every operation on a qubit whose state another node holds): empty fields stay unset.
        req = p.ForwardRequest(from_node=self.name, operations=[op_to_proto(o) for o in ops], virtual_time_ns=now_ns,
                               request_id=next(self._request_ids))
        if pull_from:
            # The receiver will pull: it needs the operation's stamp (wait-die). A receiver that must pull
            # although we believed it held everything stamps the operation itself.
            req.pull_from.update(pull_from)
            req.txn.CopyFrom(txn_to_proto(txn))
        if min_epochs:
            req.min_epochs.update(min_epochs)
        if rebase:
            req.rebase_ns.update(rebase)
        # Without an answer, the repeat is answered with the outcomes of the run, or refused if it did not
        # run (it cannot run any more): never run twice.
        r = self._committing(node, self.stub(node).Forward, req, deadline, mark_repeat=True)
        sizes = r.sizes
        if not sizes:  # nothing ran: the groups moved on
            epochs = r.moved_epochs
            return ForwardResult([], [], r.virtual_time_ns, {q: (h, epochs.get(q, 0)) for q, h in r.moved.items()})
        measures = any(isinstance(o, MeasureOp) for o in ops)
        return ForwardResult(list(r.outcomes) if measures else [], list(sizes), r.virtual_time_ns)

    def take_group(self, node: str, qubit: str, new_holder: str, *, txn: Txn, wait_unpinned: bool,
                   min_epoch: int, deadline: float) -> TakeResult:
        req = p.TakeGroupRequest(qubit=qubit, new_holder=new_holder, txn=txn_to_proto(txn),
                                 wait_unpinned=wait_unpinned, min_epoch=min_epoch)
        # Without an answer, the holder hands the same group over again to the repeat from the same
        # operation, so the state is not lost with the answer.
        r = self._committing(node, self.stub(node).TakeGroup, req, deadline)
        if r.busy:
            return BUSY
        if r.moved_to:
            return Moved(r.moved_to, r.moved_epoch)
        return group_from_proto(r.state)

    def adopt_group(self, node: str, shipment: Shipment, *, deadline: float) -> None:
        # No answer (PeerUnavailable, DEADLINE_EXCEEDED): the caller asks again (`Ownership.push_back`).
        self._call(node, self.stub(node).AdoptGroup, group_to_proto(shipment), deadline + PEER_ANSWER_S)

    def update_holder(self, node: str, qubits: list[str], holder: str, sizes: dict[str, int],
                      epochs: dict[str, int]) -> None:
        req = p.UpdateHolderRequest(qubits=qubits, holder=holder, group_sizes=sizes, epochs=epochs)
        self._call(node, self.stub(node).UpdateHolder, req, time.monotonic() + HINT_DEADLINE_S)

    def arrive(
        self,
        node: str,
        qubits: Sequence[Arriving],
        now_ns: int,
        state: Shipment | None = None,
        adopt: Sequence[Shipment] = (),
        *,
        deadline: float,
    ) -> int:
        req = self._arrive_request(qubits, now_ns, state, adopt)
        try:
            reply: p.Ack = self._call(node, self.stub(node).Arrive, req, deadline + PEER_ANSWER_S)
        except PeerUnavailable as exc:
            if not (qubits or adopt) or exc.code not in SILENCE:
                raise
            # No answer: the receiver took it or refused it by now. Ask again: a repeat is acknowledged if
            # it was taken, and taken now if it was not, so the halves exist there either way.
            reply = self._ask_again(node, self.stub(node).Arrive, req, exc)
        return reply.virtual_time_ns

    def _committing(self, node: str, rpc: Callable[..., _Reply], request: PbMessage, deadline: float, *,
                    mark_repeat: bool = False) -> _Reply:
        """A call that changes the receiver's state: `PEER_ANSWER_S` for its answer beyond `deadline`, then,
        if it heard nothing, one repeat (marked as such with `mark_repeat`) to learn what was done."""
        try:
            return self._call(node, rpc, request, deadline + PEER_ANSWER_S)
        except PeerUnavailable as exc:
            if exc.code not in SILENCE:
                raise
            if mark_repeat:
                request.repeat = True  # type: ignore[attr-defined]
            return self._ask_again(node, rpc, request, exc)

    def _ask_again(self, node: str, rpc: Callable[..., _Reply], request: PbMessage, silence: PeerUnavailable,
                   *, ready: bool = False) -> _Reply:
        """Repeat a call that changes the receiver's state and got no answer, within `PEER_RESOLVE_S`; if
        the peer cannot be reached even now, the first failure (`silence`) is raised."""
        try:
            return self._call(node, rpc, request, time.monotonic() + PEER_RESOLVE_S + PEER_ANSWER_S, ready=ready)
        except PeerUnavailable:
            raise silence from None

    def _arrive_request(
        self,
        qubits: Sequence[Arriving],
        now_ns: int,
        state: Shipment | None = None,
        adopt: Sequence[Shipment] = (),
    ) -> p.ArriveRequest:
        owner = current_owner.get()  # qubits nobody claimed belong to the session this call serves
        req = p.ArriveRequest(from_node=self.name, virtual_time_ns=now_ns, qubits=[
            p.ArrivingQubit(qubit=a.qubit, holder=a.holder, group_size=a.group_size, pair_id=a.pair_id, tag=a.tag,
                            ready_ns=a.ready_ns, attempts=a.attempts, owner=a.owner or owner)
            for a in qubits
        ])
        if state is not None:
            req.state.CopyFrom(group_to_proto(state))
        req.adopt.extend(group_to_proto(g) for g in adopt)
        return req

    def deliver_classical(self, node: str, msg: Message, attached: Attachment | None = None, *,
                          deadline: float) -> None:
        req = p.ClassicalMessage(from_node=msg.sender, channel=msg.channel, seq=msg.seq, payload=msg.payload,
                                 sent_ns=msg.sent_ns, arrival_ns=msg.arrival_ns)
        if attached:
            req.attached.CopyFrom(self._arrive_request(attached.arrivals, attached.now_ns, adopt=attached.states))
        # wait_for_ready: a message waits out a reconnect (or lost packets) instead of failing; a call that
        # failed after it may have been delivered is sent again with the same id, which the receiver drops
        # as a duplicate. Retries stop only at the caller's deadline.
        # With qubits attached, the receiver decides `PEER_ANSWER_S` before the call's deadline whether it
        # takes them (see `arrive`), and a send that heard nothing asks once more to learn which it was.
        extra = PEER_ANSWER_S if attached else 0.0
        pause = _RESEND_PAUSE_S
        while True:
            try:
                self._call(node, self.stub(node).DeliverClassical, req, deadline + extra, ready=True)
                return
            except PeerUnavailable as exc:
                left = deadline + extra - time.monotonic()
                if left <= 0:
                    if attached and (attached.arrivals or attached.states) and exc.code in SILENCE:
                        # a repeat is dropped as a duplicate if it was delivered, delivered now if not
                        self._ask_again(node, self.stub(node).DeliverClassical, req, exc, ready=True)
                        return
                    raise
                # A failure that came back at once (e.g. the peer's server is stopping): resend after a
                # short, growing pause rather than at once; never past the deadline.
                time.sleep(min(pause, left))
                pause = min(pause * 2, 1.0)

    def deliver_epr_outcomes(self, node: str, batch_id: str, outcomes: bytes, bases: bytes, now_ns: int, *,
                             deadline: float) -> None:
        req = p.EprOutcomes(from_node=self.name, batch_id=batch_id, outcomes=outcomes, bases=bases,
                            virtual_time_ns=now_ns)
        self._call(node, self.stub(node).DeliverEprOutcomes, req, deadline)
