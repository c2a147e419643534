"""Thin gRPC servicers: decode, call the node core, encode; domain errors become statuses in one place."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import grpc
import numpy as np
from google.protobuf.message import Message as PbMessage

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import peer_pb2_grpc as pg
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net._serde import quantum as convert
from qemu_net._serde.status import error_metadata, status_for
from qemu_net.errors import InvalidOperation, QnetError
from qemu_net.node import limits as lim
from qemu_net.node.channels import MAX_CHANNEL_NAME
from qemu_net.node.core import NodeCore, deadline_in
from qemu_net.node.limits import Limits, WaitSlots
from qemu_net.node.mailbox import Message
from qemu_net.node.ops import distinct_qubits
from qemu_net.node.outbox import Arriving, Attachment
from qemu_net.node.ownership import Busy, Moved
from qemu_net.node.sessions import current_owner, owner_from_metadata
from qemu_net.node.transit import PEER_ANSWER_S, Shipment
from qemu_net.security.identity import ANONYMOUS, caller_name
from qemu_net.security.peer_auth import PeerAuthorizer

log = logging.getLogger("qemu_net.node")
_T = TypeVar("_T")
_Req = TypeVar("_Req")
_Reply = TypeVar("_Reply")


class _Serving(Protocol):
    """What `rpc` reads of a servicer: the service's name and the node it serves."""

    SERVICE: str
    core: NodeCore


_S = TypeVar("_S", bound=_Serving)


def rpc(
    fn: Callable[[_S, _Req, grpc.ServicerContext], _Reply],
) -> Callable[[_S, _Req, grpc.ServicerContext], _Reply]:
    """Map domain errors to gRPC statuses (with the error type in trailing metadata); never crash."""

    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self: _S, request: _Req, context: grpc.ServicerContext) -> _Reply:
        code = "OK"
        token = None
        try:
            if self.SERVICE in _SESSION_SERVICES:  # the caller's identity and session own what it makes
                ident = caller_name(context) if self.core.authenticated else ANONYMOUS
                owner = owner_from_metadata(ident, context.invocation_metadata())
                token = current_owner.set(owner)
                self.core.sessions.touch(owner)
            return fn(self, request, context)
        except QnetError as exc:
            code = status_for(exc).name
            context.set_trailing_metadata(error_metadata(exc))
            context.abort(status_for(exc), str(exc))
        except Exception as exc:
            code = "INTERNAL"
            log.exception("internal error in %s", name)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in {name}: {type(exc).__name__}: {exc}")
        finally:
            if token is not None:
                current_owner.reset(token)
            core = self.core
            with core.metrics_lock:
                core.rpc_counts[(self.SERVICE, name, code)] += 1

    return wrapper


#: Services whose calls run for a client session (`qemu_net.node.sessions`).
_SESSION_SERVICES = frozenset({"NodeService", "SessionService"})


def _owns(core: NodeCore, qubits: Iterable[str]) -> None:
    """Refuse (PERMISSION_DENIED) a call naming a qubit of another client session."""
    core.sessions.check(current_owner.get(), qubits)


def _qubit_strings(msg: PbMessage, out: list[str], depth: int = 0) -> list[str]:
    """Every string a protocol request carries (qubit ids among them), for the ownership check."""
    if depth > 8:
        return out
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_STRING:
            if fd.is_repeated:
                out.extend(value)
            else:
                out.append(value)
        elif fd.type == fd.TYPE_MESSAGE:
            mt = fd.message_type  # set for every message field
            if mt is not None and mt.GetOptions().map_entry:
                out.extend(str(v) for v in value.values())
                out.extend(str(k) for k in value)
            elif fd.is_repeated:
                for m in value:
                    _qubit_strings(m, out, depth + 1)
            else:
                _qubit_strings(value, out, depth + 1)
    return out


#: How much earlier than the caller's deadline a handler stops, so its answer still reaches the caller.
ANSWER_MARGIN_S = 0.05


def _timeout(value: float, default: float, context: grpc.ServicerContext, limits: Limits | None = None) -> float:
    """A request's own `timeout_s` (0: `default`), refused when NaN, infinite, negative or too long, and cut
    to the caller's deadline."""
    (limits or _DEFAULT_LIMITS).timeout(value)
    timeout = value if value > 0 else default
    remaining = context.time_remaining()
    if remaining is not None:
        timeout = min(timeout, max(remaining - ANSWER_MARGIN_S, 0.0))
    return timeout


def _deadline(context: grpc.ServicerContext) -> float:
    """The request's deadline as a monotonic time: the caller's, less the answer margin (the default
    when the caller set none)."""
    # None when the caller set no deadline, as gRPC documents it (its type stubs say float).
    remaining: float | None = context.time_remaining()
    if remaining is None:
        return deadline_in(None)
    return time.monotonic() + max(remaining - ANSWER_MARGIN_S, 0.0)


_DEFAULT_LIMITS = Limits()


def _client(context: grpc.ServicerContext) -> str:
    """Who is calling, for per-client limits: the identity its certificate proves (if any) and its address."""
    try:
        name = caller_name(context)
    except Exception:
        name = None
    return f"{name or 'anonymous'}@{context.peer()}"


def _serve_wait(servicer: NodeServicer, context: grpc.ServicerContext, what: str, fn: Callable[[], _T]) -> _T:
    """Run a call that may wait long: it takes one of the node's wait slots (RESOURCE_EXHAUSTED when the
    caller or the node has too many), and ends at once when the caller cancels or goes away."""
    with servicer.waits.slot(_client(context), what), lim.call_scope(_deadline(context)) as scope:
        core = servicer.core

        def on_done() -> None:
            if context.is_active():
                return
            scope.cancelled = True
            core.wake_waiters()

        context.add_callback(on_done)
        return fn()


def _no_float_tricks(msg: PbMessage) -> None:
    """Every float of the request is finite, every enum a value it defines (INVALID_ARGUMENT otherwise)."""
    lim.check_message(msg)


#: Channels whose names start with this are the nodes' own (e.g. QKD key reservations): clients may not
#: send or read on them.
RESERVED_CHANNEL_PREFIX = "_qnet/"
#: How many (sender, channel) pairs one receive may wait on (a broadcast's receive: one per other role).
MAX_RECEIVE_ANY = 256


def _public_channel(channel: str) -> None:
    if channel.startswith(RESERVED_CHANNEL_PREFIX):
        raise InvalidOperation(f"channel names starting with {RESERVED_CHANNEL_PREFIX!r} are reserved for the nodes")


class NodeServicer(ng.NodeServiceServicer):
    SERVICE = "NodeService"

    def __init__(self, core: NodeCore, run_protocol: Callable[[pr.ProtocolRequest, float], pr.ProtocolResult],
                 limits: Limits | None = None, waits: WaitSlots | None = None) -> None:
        self.core = core
        self._run_protocol = run_protocol
        self.limits = limits or _DEFAULT_LIMITS
        self.waits = waits or WaitSlots(self.limits.max_waits, self.limits.max_waits_per_client)
        self._sending = lim.ByteBudget(self.limits.max_queued_classical_bytes)

    @rpc
    def GetInfo(self, request: n.GetInfoRequest, context: grpc.ServicerContext) -> n.NodeInfo:
        return n.NodeInfo(**self.core.info())

    @rpc
    def Allocate(self, request: n.AllocateRequest, context: grpc.ServicerContext) -> n.AllocateResponse:
        return n.AllocateResponse(qubits=self.core.allocate(request.count or 1))

    @rpc
    def Free(self, request: n.FreeRequest, context: grpc.ServicerContext) -> n.FreeResponse:
        if not request.qubits:
            raise InvalidOperation("name at least one qubit to free")
        _owns(self.core, request.qubits)
        self.core.free(list(request.qubits), deadline=_deadline(context))
        return n.FreeResponse()

    @rpc
    def Apply(self, request: n.ApplyRequest, context: grpc.ServicerContext) -> n.ApplyResponse:
        ops = convert.ops_from_proto(request.operations)
        _owns(self.core, distinct_qubits(ops))
        outcomes = self.core.apply(ops, deadline=_deadline(context))
        resp = n.ApplyResponse(virtual_time_ns=self.core.clock.now())
        if outcomes:  # a gate-only batch leaves the list unset: building an empty one costs as much
            resp.outcomes.extend(outcomes)
        return resp

    @rpc
    def SendQubit(self, request: n.SendQubitRequest, context: grpc.ServicerContext) -> n.SendQubitResponse:
        if not request.qubit or not request.to:
            raise InvalidOperation("SendQubit needs a qubit and a destination node")
        _owns(self.core, (request.qubit,))
        lost, arrival = self.core.send_qubit(request.qubit, request.to, deadline=_deadline(context))
        return n.SendQubitResponse(lost=lost, arrival_ns=arrival)

    @rpc
    def CreateEpr(self, request: n.CreateEprRequest, context: grpc.ServicerContext) -> n.CreateEprResponse:
        self.limits.count(request.count, self.limits.max_epr_pairs, "CreateEpr count")
        halves = self.core.create_epr(request.peer, request.count or 1, deadline=_deadline(context))
        remote = self.core.remote_halves(halves)
        return n.CreateEprResponse(
            pairs=[
                t.EprPair(pair_id=h.pair_id, local_qubit=h.qubit, remote_qubit=r, ready_ns=h.ready_ns,
                          attempts=h.attempts)
                for h, r in zip(halves, remote, strict=False)
            ]
        )

    @rpc
    def CreateMeasureEpr(self, request: n.CreateMeasureEprRequest,
                         context: grpc.ServicerContext) -> n.CreateMeasureEprResponse:
        count = request.count
        if count < 1:
            raise InvalidOperation("count must be at least 1")
        self.limits.count(count, self.limits.max_epr_batch, "CreateMeasureEpr count")
        la = convert.bases_from_bytes(request.local_bases, count, "local_bases")
        ra = convert.bases_from_bytes(request.remote_bases, count, "remote_bases")
        batch_id, a, attempts = self.core.create_measure_epr(request.peer, count, la, ra, deadline=_deadline(context))
        return n.CreateMeasureEprResponse(
            batch_id=batch_id, local_outcomes=a.tobytes(), attempts=attempts, virtual_time_ns=self.core.clock.now()
        )

    @rpc
    def FetchEprOutcomes(self, request: n.FetchEprOutcomesRequest,
                         context: grpc.ServicerContext) -> n.FetchEprOutcomesResponse:
        if not request.batch_id:
            raise InvalidOperation("FetchEprOutcomes needs a batch_id")
        timeout = _timeout(request.timeout_s, 10.0, context, self.limits)
        peer, outcomes, bases = _serve_wait(self, context, "FetchEprOutcomes",
                                            lambda: self.core.fetch_epr_outcomes(request.batch_id, timeout))
        return n.FetchEprOutcomesResponse(peer=peer, outcomes=outcomes, bases=bases)

    @rpc
    def SendClassical(self, request: n.SendClassicalRequest, context: grpc.ServicerContext) -> n.SendClassicalResponse:
        _public_channel(request.channel)
        size = len(request.payload)
        self.limits.count(size, self.limits.max_classical_bytes, "a classical message's payload (bytes)")
        deadline = _deadline(context)
        # Payload bytes this node is sending at once are bounded: a send beyond waits for room, within its deadline.
        with self._sending.reserve(size, deadline, "classical payload bytes in flight from this node"):
            seq, arrival = self.core.send_classical(request.to, request.channel, request.payload, deadline=deadline,
                                                    message_id=request.message_id)
        return n.SendClassicalResponse(seq=seq, arrival_ns=arrival)

    @rpc
    def ReceiveClassical(self, request: n.ReceiveClassicalRequest,
                         context: grpc.ServicerContext) -> n.ReceiveClassicalResponse:
        if request.any_of:
            return self._receive_any(request, context)
        _public_channel(request.channel)
        if not request.sender or not request.channel:
            raise InvalidOperation("ReceiveClassical needs a sender and a channel")
        timeout = _timeout(request.timeout_s, 10.0, context, self.limits)
        msg = _serve_wait(self, context, "ReceiveClassical",
                          lambda: self.core.receive_classical(request.sender, request.channel, timeout,
                                                              acknowledged=request.acknowledged, ack=request.ack))
        return n.ReceiveClassicalResponse(payload=msg.payload, seq=msg.seq & 0xFFFFFFFF, arrival_ns=msg.arrival_ns,
                                          delivery_id=msg.seq, sender=msg.sender, channel=msg.channel)

    def _receive_any(self, request: n.ReceiveClassicalRequest,
                     context: grpc.ServicerContext) -> n.ReceiveClassicalResponse:
        if request.sender or request.channel or request.acknowledged or request.ack:
            raise InvalidOperation("ReceiveClassical with any_of names its channels there only, and is not "
                                   "acknowledged: leave sender, channel, acknowledged and ack unset")
        if len(request.any_of) > MAX_RECEIVE_ANY:
            raise InvalidOperation(f"any_of has {len(request.any_of)} channels; at most {MAX_RECEIVE_ANY}")
        keys = []
        for i, k in enumerate(request.any_of):
            if not k.sender or not k.channel or len(k.channel) > MAX_CHANNEL_NAME:
                raise InvalidOperation(f"any_of[{i}] needs a sender and a channel name of 1 to {MAX_CHANNEL_NAME} "
                                       "characters")
            if k.sender not in self.core.topology.node_names:
                raise InvalidOperation(f"any_of[{i}].sender is not a node of this network")
            _public_channel(k.channel)
            keys.append((k.sender, k.channel))
        if len(set(keys)) != len(keys):
            raise InvalidOperation("any_of names a (sender, channel) pair twice")
        timeout = _timeout(request.timeout_s, 10.0, context, self.limits)
        msg = _serve_wait(self, context, "ReceiveClassical", lambda: self.core.receive_classical_any(keys, timeout))
        return n.ReceiveClassicalResponse(payload=msg.payload, seq=msg.seq & 0xFFFFFFFF, arrival_ns=msg.arrival_ns,
                                          delivery_id=msg.seq, sender=msg.sender, channel=msg.channel)

    @rpc
    def Inspect(self, request: n.InspectRequest, context: grpc.ServicerContext) -> n.InspectResponse:
        _owns(self.core, request.qubits)
        rho = self.core.inspect(list(request.qubits), deadline=_deadline(context))
        return n.InspectResponse(dim=rho.shape[0],
                                 density_matrix=np.ascontiguousarray(rho, dtype=np.complex128).tobytes())

    @rpc
    def RunProtocol(self, request: pr.ProtocolRequest, context: grpc.ServicerContext) -> pr.ProtocolResult:
        _no_float_tricks(request)
        timeout = _timeout(request.timeout_s, 30.0, context, self.limits)
        lim.check_role(request, self.limits)
        which = request.WhichOneof("role")
        if which is not None:  # a role may only be handed the caller's own qubits
            _owns(self.core, _qubit_strings(getattr(request, which), []))
        if request.session_id:
            self.core.sessions.note_run(current_owner.get(), request.session_id)
        return _serve_wait(self, context, "RunProtocol", lambda: self._run_protocol(request, timeout))


class PeerServicer(pg.PeerServiceServicer):
    SERVICE = "PeerService"

    def __init__(self, core: NodeCore, auth: PeerAuthorizer | None = None, limits: Limits | None = None) -> None:
        self.core = core
        #: Identity checks against the caller's certificate (qemu_net.security.peer_auth); none without TLS.
        self.auth = auth or PeerAuthorizer(core.name, (), required=False)
        self.limits = limits or _DEFAULT_LIMITS

    @rpc
    def Forward(self, request: p.ForwardRequest, context: grpc.ServicerContext) -> p.ForwardResponse:
        self.auth.claims(context, "Forward", "from_node", request.from_node)
        if not 0 <= request.virtual_time_ns <= lim.MAX_PEER_NS:
            raise InvalidOperation(f"virtual_time_ns={request.virtual_time_ns} is not a virtual time")
        ops = convert.ops_from_proto(request.operations)
        pull_from = request.pull_from
        min_epochs = request.min_epochs
        rebase = request.rebase_ns
        res = self.core.on_forward(ops, dict(pull_from) if pull_from else {}, request.virtual_time_ns,
                                   txn=convert.txn_from_proto(request.txn),
                                   min_epochs=dict(min_epochs) if min_epochs else None,
                                   deadline=_deadline(context) - PEER_ANSWER_S,
                                   rebase=dict(rebase) if rebase else None,
                                   request=(request.from_node, request.request_id) if request.request_id else None,
                                   repeat=request.repeat)
        # Hot path: fields left empty are not set at all (building an empty map or list costs as much).
        resp = p.ForwardResponse(sizes=bytes(res.sizes), virtual_time_ns=res.now_ns)
        if res.outcomes:
            resp.outcomes.extend(res.outcomes)
        if res.moved:
            resp.moved.update({q: h for q, (h, _e) in res.moved.items()})
            resp.moved_epochs.update({q: e for q, (_h, e) in res.moved.items()})
        return resp

    @rpc
    def TakeGroup(self, request: p.TakeGroupRequest, context: grpc.ServicerContext) -> p.TakeGroupResponse:
        if not request.qubit or not request.new_holder:
            raise InvalidOperation("TakeGroup needs a qubit and the new holder")
        self.core.topology.require_node(request.new_holder, what="TakeGroup")
        self.auth.claims(context, "TakeGroup", "new_holder", request.new_holder)
        got = self.core.on_take_group(request.qubit, request.new_holder, txn=convert.txn_from_proto(request.txn),
                                      wait_unpinned=request.wait_unpinned, min_epoch=request.min_epoch,
                                      deadline=_deadline(context) - PEER_ANSWER_S)
        if isinstance(got, Moved):
            return p.TakeGroupResponse(moved_to=got.holder, moved_epoch=got.epoch)
        if isinstance(got, Busy):
            return p.TakeGroupResponse(busy=True)
        return p.TakeGroupResponse(state=convert.group_to_proto(got))

    @rpc
    def AdoptGroup(self, request: t.GroupState, context: grpc.ServicerContext) -> p.Ack:
        ident = self.auth.caller(context, "AdoptGroup")
        lim.check_group(request, self.limits)
        lim.check_times(request)
        shipment = convert.group_from_proto(request)
        if not self.core.repeats_a_push(shipment):  # a repeat changes nothing: acknowledged below
            self.auth.not_held("AdoptGroup", ident, request.qubits, self.core.held)
        self.core.on_adopt_group(shipment, decide_by=_deadline(context) - PEER_ANSWER_S)
        return p.Ack(virtual_time_ns=self.core.clock.now())

    @rpc
    def UpdateHolder(self, request: p.UpdateHolderRequest, context: grpc.ServicerContext) -> p.Ack:
        self.auth.claims(context, "UpdateHolder", "holder", request.holder)
        self.core.on_update_holder(list(request.qubits), request.holder, dict(request.group_sizes),
                                   dict(request.epochs))
        return p.Ack(virtual_time_ns=self.core.clock.now())

    @rpc
    def Arrive(self, request: p.ArriveRequest, context: grpc.ServicerContext) -> p.Ack:
        ident = self.auth.claims(context, "Arrive", "from_node", request.from_node)
        lim.check_times(request)
        arriving, state, adopt = _arrive_from_proto(request, self.limits)
        _check_arrival(self.auth, "Arrive", ident, request, self.core, arriving, adopt)
        self.core.on_arrive(request.from_node, arriving, request.virtual_time_ns, state, adopt,
                            decide_by=_deadline(context) - PEER_ANSWER_S)
        return p.Ack(virtual_time_ns=self.core.clock.now())

    @rpc
    def DeliverClassical(self, request: p.ClassicalMessage, context: grpc.ServicerContext) -> p.Ack:
        ident = self.auth.claims(context, "DeliverClassical", "from_node", request.from_node)
        self.limits.count(len(request.payload), self.limits.max_classical_bytes,
                          "a classical message's payload (bytes)")
        if not request.from_node or not request.channel:
            raise InvalidOperation("a classical message needs its sender and channel")
        lim.check_times(request)
        msg = Message(request.from_node, request.channel, request.seq, request.payload, request.sent_ns,
                      request.arrival_ns)
        attached = None
        if request.HasField("attached"):
            arriving, _state, adopt = _arrive_from_proto(request.attached, self.limits)
            if not self.core.mailbox.seen(msg):  # a resend changes nothing: dropped below
                _check_arrival(self.auth, "DeliverClassical", ident, request.attached, self.core, arriving, adopt)
            attached = Attachment(arriving, adopt, request.attached.virtual_time_ns)
        deadline = _deadline(context)
        with lim.call_scope(deadline):  # a full mailbox makes the delivery wait within this deadline
            self.core.on_deliver_classical(msg, attached, decide_by=deadline - PEER_ANSWER_S)
        return p.Ack(virtual_time_ns=self.core.clock.now())

    @rpc
    def DeliverEprOutcomes(self, request: p.EprOutcomes, context: grpc.ServicerContext) -> p.Ack:
        self.auth.neighbour("DeliverEprOutcomes",
                            self.auth.claims(context, "DeliverEprOutcomes", "from_node", request.from_node))
        lim.check_times(request)
        self.limits.count(len(request.outcomes), self.limits.max_epr_batch, "EPR outcomes per batch")
        self.core.on_deliver_epr_outcomes(
            request.from_node, request.batch_id, request.outcomes, request.bases, request.virtual_time_ns
        )
        return p.Ack(virtual_time_ns=self.core.clock.now())


def _check_arrival(auth: PeerAuthorizer, method: str, ident: str | None, request: p.ArriveRequest,
                   core: NodeCore, arriving: Sequence[Arriving], adopt: Sequence[Shipment]) -> None:
    """Qubits arrive only from a quantum-link neighbour; no state this node holds is handed to it (but the
    repeat of an arrival it took, which changes nothing, is acknowledged)."""
    if ident is None:
        return
    if request.qubits:
        auth.neighbour(method, ident)
    if core.repeats_an_arrival(arriving, adopt):
        return
    auth.not_held(method, ident, [q for g in (request.state, *request.adopt) for q in g.qubits], core.held)


def _arrive_from_proto(request: p.ArriveRequest,
                       limits: Limits) -> tuple[list[Arriving], Shipment | None, list[Shipment]]:
    if request.HasField("state"):
        lim.check_group(request.state, limits)
    for g in request.adopt:
        lim.check_group(g, limits)
    arriving = [
        Arriving(a.qubit, a.holder, a.group_size or 1, a.pair_id, a.tag, a.ready_ns, a.attempts or 1, a.owner)
        for a in request.qubits
    ]
    state = convert.group_from_proto(request.state) if request.HasField("state") else None
    adopt = [convert.group_from_proto(g) for g in request.adopt]
    return arriving, state, adopt
