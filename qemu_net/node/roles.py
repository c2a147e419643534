"""RunProtocol: which role function serves which request message, and how results are encoded.

Each protocol family registers its roles here with `role(ParamsMessage, "result_field")`; dispatch is
on the request's message type. A role runs on the calling RPC's worker thread with the request's
deadline; every wait inside it is bounded by that deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message as PbMessage

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.errors import InvalidOperation
from qemu_net.node.context import CoreContext
from qemu_net.node.core import NodeCore
from qemu_net.observability.logs import bind_session
from qemu_net.observability.tracing import role_span

RoleFn = Callable[[CoreContext, Any], PbMessage]
_ROLES: dict[type[PbMessage], tuple[RoleFn, str]] = {}


def role(params_type: type[PbMessage], result_field: str) -> Callable[[RoleFn], RoleFn]:
    def deco(fn: RoleFn) -> RoleFn:
        _ROLES[params_type] = (fn, result_field)
        return fn

    return deco


def run_protocol(core: NodeCore, request: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult:
    core.check_serving()
    if not request.session_id or len(request.session_id) > 128:
        raise InvalidOperation("a protocol request needs a session_id of 1 to 128 characters")
    which = request.WhichOneof("role")
    if which is None:
        raise InvalidOperation("the protocol request names no role")
    params = getattr(request, which)
    entry = _ROLES.get(type(params))
    if entry is None:
        raise InvalidOperation(f"this node does not implement the role {which!r}")
    fn, field = entry
    ctx = CoreContext(core, request.session_id, timeout_s=timeout_s)
    t0, v0 = time.perf_counter(), core.clock.now()
    with role_span(which, request.session_id), bind_session(request.session_id):
        try:
            result = fn(ctx, params)
            ctx.flush()
        except BaseException:
            ctx.abandon()
            raise
    out = pr.ProtocolResult(session_id=request.session_id, virtual_time_ns=core.clock.now(),
                            wall_time_s=time.perf_counter() - t0, virtual_start_ns=v0)
    getattr(out, field).CopyFrom(result)
    return out


def _require_peer(ctx: CoreContext, peer: str) -> None:
    ctx.topology.require_node(peer)


# ----------------------------------------------------------------------------- teleportation
from qemu_net.protocols import teleport as _teleport  # noqa: E402


@role(pr.TeleportSend, "teleport_send")
def _teleport_send(ctx: CoreContext, p: pr.TeleportSend) -> pr.TeleportSendResult:
    _require_peer(ctx, p.peer)
    m1, m2 = _teleport.teleport_send(ctx, peer=p.peer, qubit=p.qubit, session=ctx.session, timeout_s=ctx.timeout_s,
                                     pair_qubit=p.pair_qubit)
    return pr.TeleportSendResult(m1=m1, m2=m2)


@role(pr.TeleportReceive, "teleport_receive")
def _teleport_receive(ctx: CoreContext, p: pr.TeleportReceive) -> pr.TeleportReceiveResult:
    _require_peer(ctx, p.peer)
    q = _teleport.teleport_receive(ctx, peer=p.peer, session=ctx.session, timeout_s=ctx.timeout_s,
                                   pair_qubit=p.pair_qubit)
    return pr.TeleportReceiveResult(qubit=q)

# ----------------------------------------------------------------------------- protocol suite (issue 4)
from qemu_net.node import roles_protocols as _roles_protocols  # noqa: E402,F401
# ----------------------------------------------------------------------------- QKD (issue 5)
from qemu_net.node import roles_qkd as _roles_qkd  # noqa: E402,F401
