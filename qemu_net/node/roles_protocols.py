"""RunProtocol registrations for the protocol suite (swapping, purification, GHZ, superdense coding,
nonlocal gates, distributed circuits). Each calls the role in `qemu_net.protocols` with the
arguments its `qemu_net._serde.protocols` codec read from the request; the role does the work."""

from __future__ import annotations

from qemu_net._serde import protocols as wire
from qemu_net.node.context import CoreContext
from qemu_net.node.roles import _require_peer, role
from qemu_net.protocols import circuits, ghz, nonlocal_gates, purify, superdense, swap


@role(wire.CHAIN_NODE)
def _chain_node(ctx: CoreContext, kw: wire.Kwargs) -> swap.ChainOutcome:
    return swap.chain_node(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.PURIFY_END)
def _purify_end(ctx: CoreContext, kw: wire.Kwargs) -> purify.PurifyOutcome:
    _require_peer(ctx, kw["peer"])
    return purify.purify_end(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.RELAY_NODE)
def _relay_node(ctx: CoreContext, kw: wire.Kwargs) -> int:
    _require_peer(ctx, kw["left"])
    _require_peer(ctx, kw["right"])
    return purify.relay_node(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.GHZ_NODE)
def _ghz_node(ctx: CoreContext, kw: wire.Kwargs) -> ghz.GhzOutcome:
    return ghz.ghz_node(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.SUPERDENSE_SEND)
def _superdense_send(ctx: CoreContext, kw: wire.Kwargs) -> superdense.SendOutcome:
    _require_peer(ctx, kw["peer"])
    return superdense.superdense_send(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.SUPERDENSE_RECEIVE)
def _superdense_receive(ctx: CoreContext, kw: wire.Kwargs) -> bytes:
    _require_peer(ctx, kw["peer"])
    return superdense.superdense_receive(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.NONLOCAL_CONTROL)
def _nonlocal_control(ctx: CoreContext, kw: wire.Kwargs) -> int:
    _require_peer(ctx, kw["peer"])
    return nonlocal_gates.nonlocal_control(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.NONLOCAL_TARGET)
def _nonlocal_target(ctx: CoreContext, kw: wire.Kwargs) -> None:
    _require_peer(ctx, kw["peer"])
    nonlocal_gates.nonlocal_target(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.TELEPORTED_GATE_HOME)
def _teleported_gate_home(ctx: CoreContext, kw: wire.Kwargs) -> int:
    _require_peer(ctx, kw["peer"])
    return nonlocal_gates.teleported_gate_home(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


@role(wire.TELEPORTED_GATE_REMOTE)
def _teleported_gate_remote(ctx: CoreContext, kw: wire.Kwargs) -> str:
    _require_peer(ctx, kw["peer"])
    return nonlocal_gates.teleported_gate_remote(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)


# ----------------------------------------------------------------------------- distributed circuits
@role(wire.CIRCUIT_RUN)
def _circuit_run(ctx: CoreContext, kw: wire.Kwargs) -> circuits.RunOutcome:
    return circuits.run_program(ctx, **kw, session=ctx.session, timeout_s=ctx.timeout_s)
