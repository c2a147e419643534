"""RunProtocol: which role function serves which role, with the request's deadline.

Each protocol family registers its roles here with `role(codec)`, a `qemu_net._serde.protocols`
codec that reads the role's request into plain values and writes its result; dispatch is on the
request's message type. A role runs on the calling RPC's worker thread with the request's deadline;
every wait inside it is bounded by that deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from qemu_net._serde import protocols as wire
from qemu_net.errors import InvalidOperation
from qemu_net.node.context import CoreContext
from qemu_net.node.core import NodeCore
from qemu_net.observability.logs import bind_session
from qemu_net.observability.tracing import role_span

P = TypeVar("P")
R = TypeVar("R")
RoleFn = Callable[[CoreContext, Any], Any]
_ROLES: dict[wire.RoleCodec[Any, Any], RoleFn] = {}


def role(codec: wire.RoleCodec[P, R]) -> Callable[[Callable[[CoreContext, P], R]], Callable[[CoreContext, P], R]]:
    """Register the decorated function as the role `codec` decodes requests for."""
    def deco(fn: Callable[[CoreContext, P], R]) -> Callable[[CoreContext, P], R]:
        _ROLES[codec] = fn
        return fn

    return deco


def delegate(codec: wire.RoleCodec[wire.Kwargs, R], fn: Callable[..., R], *, peers: tuple[str, ...] = ()) -> None:
    """Register `fn` (a role of `qemu_net.protocols`) as the role `codec` decodes requests for: it is called
    with the decoded arguments, the request's session and deadline, once the nodes the arguments name under
    `peers` are known to be in the topology."""
    def run(ctx: CoreContext, kw: wire.Kwargs) -> R:
        for key in peers:
            _require_peer(ctx, kw[key])
        return fn(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)

    _ROLES[codec] = run


def run_protocol(core: NodeCore, request: wire.ProtocolRequest, timeout_s: float) -> wire.ProtocolResult:
    """Run the role a ProtocolRequest names to its end and return the ProtocolResult."""
    core.check_serving()
    if not request.session_id or len(request.session_id) > 128:
        raise InvalidOperation("a protocol request needs a session_id of 1 to 128 characters")
    which, codec, params = wire.role_from_proto(request)
    fn = _ROLES.get(codec)
    if fn is None:
        raise InvalidOperation(f"this node does not implement the role {which!r}")
    ctx = CoreContext(core, request.session_id, timeout_s=timeout_s)
    t0, v0 = time.perf_counter(), core.clock.now()
    with role_span(which, request.session_id), bind_session(request.session_id):
        try:
            result = codec.encode(fn(ctx, codec.decode(params)))
            ctx.flush()
        except BaseException:
            ctx.abandon()
            raise
    return wire.protocol_result_to_proto(request.session_id, codec, result, virtual_time_ns=core.clock.now(),
                                         wall_time_s=time.perf_counter() - t0, virtual_start_ns=v0)


def _require_peer(ctx: CoreContext, peer: str) -> None:
    ctx.topology.require_node(peer)


# ----------------------------------------------------------------------------- teleportation
from qemu_net.protocols import teleport as _teleport  # noqa: E402 - the roles register after `role` exists

delegate(wire.TELEPORT_SEND, _teleport.teleport_send, peers=("peer",))
delegate(wire.TELEPORT_RECEIVE, _teleport.teleport_receive, peers=("peer",))


# ----------------------------------------------------------------------------- the other protocol families
from qemu_net.node import roles_protocols as _roles_protocols  # noqa: E402,F401 - registers its roles on import
from qemu_net.node import roles_qkd as _roles_qkd  # noqa: E402,F401 - registers its roles on import
