"""QKD roles over RunProtocol: decoy-state BB84 and E91/BBM92 between node processes.

Each role decodes its request message into `qemu_net.qkd.BB84Params` / `E91Params` (unset optional
fields keep the dataclass defaults; the session id and deadline come from the ProtocolRequest), runs
the pure role from `qemu_net.qkd` over the node's `CoreContext` (pulse trains and post-processing
messages travel on the node's classical channels), and on success adds the final key to the node's key
store, from which applications fetch it through the KeyDeliveryService. The result sent back is a
`QkdSessionResult`: counts and estimates, never key material.

An aborted session raises ProtocolAborted (status ABORTED, the reason in the message) unless the
request sets ``report_abort``, in which case the result says why in ``aborted``; either way nothing
is stored. Invalid parameters at Alice are reported to Bob at once, so he fails fast instead of waiting
for a pulse train that never comes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from qemu_net._serde import protocols as wire
from qemu_net.errors import InvalidOperation, MemoryFull, QnetError
from qemu_net.node import memlimit
from qemu_net.node.context import CoreContext
from qemu_net.node.key_delivery import key_store
from qemu_net.node.roles import role
from qemu_net.qkd import (
    BB84Params,
    E91Params,
    QkdResult,
    bb84_alice,
    bb84_bob,
    e91_alice,
    e91_bob,
    footprint,
    ldpc_ec,  # noqa: F401 - loaded with the node (the ldpc package costs ~1.5 s to import)
)
from qemu_net.qkd.postprocess import Channel


def qkd_params(ctx: CoreContext, req: wire.QkdRequest) -> BB84Params | E91Params:
    """The role's parameters: the request's, with this session's id and deadline."""
    cls = BB84Params if req.protocol == "bb84" else E91Params
    return cls(**req.params, session_id=ctx.session, timeout_s=ctx.timeout_s)


def _abort_peer(ctx: CoreContext, peer: str, exc: QnetError) -> None:
    """Best effort: tell the peer's role why this end will not start, so it does not wait in vain."""
    if peer and peer != ctx.name and peer in ctx.topology.node_names:
        with contextlib.suppress(QnetError):
            Channel(ctx, peer, f"{ctx.session}/qkd/classical", ctx.timeout_s).abort(exc)


def _memory_plan(params: Any, guard: memlimit.MemoryGuard) -> tuple[Any, int]:
    """Alice's params with the block bounded by the memory left, and her session's working-set estimate."""
    e91 = isinstance(params, E91Params)
    n, block = (params.n_pairs, params.block_pairs) if e91 else (params.n_pulses, params.block_pulses)
    bounded = footprint.max_block(block, guard.available())
    if bounded != block:
        params = dataclasses.replace(params, **{"block_pairs" if e91 else "block_pulses": bounded})
    mu, nu = (0.0, 0.0) if e91 else (params.mu, params.nu)
    return params, footprint.estimate_bytes("alice", n, bounded, protocol="e91" if e91 else "bb84", mu=mu, nu=nu)


def _run(ctx: CoreContext, req: wire.QkdRequest, fn: Any) -> tuple[QkdResult, int]:
    guard = memlimit.guard()  # also installs the admission hook Bob's role asks after Alice's hello
    try:
        params = qkd_params(ctx, req)
    except InvalidOperation as exc:
        _abort_peer(ctx, req.peer, exc)
        raise
    need = 0
    if req.alice:
        params, need = _memory_plan(params, guard)
    slots = params.n_pairs if isinstance(params, E91Params) else params.n_pulses
    what = f"a {req.protocol} session of {slots} slots"
    try:
        guard.admit(what, need)
    except MemoryFull as exc:  # refused before any pulse is made; Bob hears why at once
        _abort_peer(ctx, req.peer, exc)
        raise
    with guard.reserve(what, need):
        result = fn(ctx, params)
    stored = 0
    if result.succeeded:
        key_store(ctx._core).add_result(result)
        stored = result.final_bits
    return result, stored


def _qkd_role(codec: wire.RoleCodec[wire.QkdRequest, tuple[QkdResult, int]], fn: Any) -> None:
    """Register the QKD end `fn` (a pure role of `qemu_net.qkd`) as the role `codec` decodes requests for."""
    role(codec)(lambda ctx, req: _run(ctx, req, fn))


_qkd_role(wire.BB84_ALICE, bb84_alice)
_qkd_role(wire.BB84_BOB, bb84_bob)
_qkd_role(wire.E91_ALICE, e91_alice)
_qkd_role(wire.E91_BOB, e91_bob)


__all__ = ["qkd_params"]
