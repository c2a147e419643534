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

import dataclasses
import math
from typing import Any

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.errors import InvalidOperation, MemoryFull, QnetError
from qemu_net.node import memlimit
from qemu_net.node.context import CoreContext
from qemu_net.node.key_delivery import key_store
from qemu_net.node.roles import role
from qemu_net.qkd import BB84Params, E91Params, QkdResult, bb84_alice, bb84_bob, e91_alice, e91_bob
from qemu_net.qkd import footprint
from qemu_net.qkd import ldpc_ec  # noqa: F401 - loaded with the node (the ldpc package costs ~1.5 s to import)
from qemu_net.qkd.postprocess import Channel

_BB84_OPTIONAL = ("pulse_rate_hz", "mu", "nu", "p_signal", "p_decoy", "p_vacuum", "p_z", "qber_threshold",
                  "eps_sec", "eps_cor", "ldpc_f_target", "f_ec")
_E91_OPTIONAL = ("pair_rate_hz", "visibility", "p_z", "qber_threshold", "chsh_threshold", "eps_sec", "eps_cor",
                 "ldpc_f_target", "f_ec")


def _optional(msg: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(msg, n) for n in names if msg.HasField(n)}


def _common(ctx: CoreContext, msg: Any, report_abort: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"peer": msg.peer, "session_id": ctx.session, "timeout_s": ctx.timeout_s,
                           "raise_on_abort": not report_abort}
    if msg.cascade_passes:
        out["cascade_passes"] = msg.cascade_passes
    return out


def bb84_params(ctx: CoreContext, msg: pr.Bb84Alice | pr.Bb84Bob) -> BB84Params:
    kw = _common(ctx, msg, msg.report_abort)
    if isinstance(msg, pr.Bb84Alice):
        kw.update(_optional(msg, _BB84_OPTIONAL), decoy=not msg.single_photon, eve_fraction=msg.eve_fraction)
        if msg.reconciliation:
            kw["reconciliation"] = msg.reconciliation
        if msg.n_pulses:
            kw["n_pulses"] = msg.n_pulses
        if msg.block_pulses:
            kw["block_pulses"] = msg.block_pulses
    return BB84Params(**kw)


def e91_params(ctx: CoreContext, msg: pr.E91Alice | pr.E91Bob) -> E91Params:
    kw = _common(ctx, msg, msg.report_abort)
    if isinstance(msg, pr.E91Alice):
        kw.update(_optional(msg, _E91_OPTIONAL), eve_fraction=msg.eve_fraction)
        if msg.reconciliation:
            kw["reconciliation"] = msg.reconciliation
        if msg.n_pairs:
            kw["n_pairs"] = msg.n_pairs
        if msg.block_pairs:
            kw["block_pairs"] = msg.block_pairs
    elif msg.HasField("p_key"):
        kw["p_key"] = msg.p_key
    return E91Params(**kw)


def result_to_proto(result: QkdResult, stored_bits: int) -> pr.QkdSessionResult:
    """Every field of the session summary (the key is not part of it)."""
    out = pr.QkdSessionResult(stored_bits=stored_bits)
    for name, value in result.summary().items():
        if name == "session_id" or value is None:
            continue
        if name == "gains":
            out.gains.extend(float(g) for g in value)
        elif name in ("qber", "ec_efficiency") and not math.isfinite(value):
            setattr(out, name, float("nan"))
        elif name == "eps_total":
            continue
        else:
            setattr(out, name, value)
    return out


def _abort_peer(ctx: CoreContext, peer: str, exc: QnetError) -> None:
    """Best effort: tell the peer's role why this end will not start, so it does not wait in vain."""
    if peer and peer != ctx.name and peer in ctx.topology.node_names:
        try:
            Channel(ctx, peer, f"{ctx.session}/qkd/classical", ctx.timeout_s).abort(exc)
        except QnetError:
            pass


def _memory_plan(params: Any, guard: memlimit.MemoryGuard) -> tuple[Any, int]:
    """Alice's params with the block bounded by the memory left, and her session's working-set estimate."""
    e91 = isinstance(params, E91Params)
    n, block = (params.n_pairs, params.block_pairs) if e91 else (params.n_pulses, params.block_pulses)
    bounded = footprint.max_block(block, guard.available())
    if bounded != block:
        params = dataclasses.replace(params, **{"block_pairs" if e91 else "block_pulses": bounded})
    mu, nu = (0.0, 0.0) if e91 else (params.mu, params.nu)
    return params, footprint.estimate_bytes("alice", n, bounded, protocol="e91" if e91 else "bb84", mu=mu, nu=nu)


def _run(ctx: CoreContext, msg: Any, make_params: Any, fn: Any) -> pr.QkdSessionResult:
    guard = memlimit.guard()  # also installs the admission hook Bob's role asks after Alice's hello
    try:
        params = make_params(ctx, msg)
    except InvalidOperation as exc:
        _abort_peer(ctx, msg.peer, exc)
        raise
    need = 0
    if isinstance(msg, (pr.Bb84Alice, pr.E91Alice)):
        params, need = _memory_plan(params, guard)
    what = f"a {msg.DESCRIPTOR.name} session of {getattr(params, 'n_pulses', getattr(params, 'n_pairs', 0))} slots"
    try:
        guard.admit(what, need)
    except MemoryFull as exc:  # refused before any pulse is made; Bob hears why at once
        _abort_peer(ctx, msg.peer, exc)
        raise
    with guard.reserve(what, need):
        result = fn(ctx, params)
    stored = 0
    if result.succeeded:
        key_store(ctx._core).add_result(result)  # noqa: SLF001 - the role runs inside this node's process
        stored = result.final_bits
    return result_to_proto(result, stored)


@role(pr.Bb84Alice, "bb84_alice")
def _bb84_alice(ctx: CoreContext, p: pr.Bb84Alice) -> pr.QkdSessionResult:
    return _run(ctx, p, bb84_params, bb84_alice)


@role(pr.Bb84Bob, "bb84_bob")
def _bb84_bob(ctx: CoreContext, p: pr.Bb84Bob) -> pr.QkdSessionResult:
    return _run(ctx, p, bb84_params, bb84_bob)


@role(pr.E91Alice, "e91_alice")
def _e91_alice(ctx: CoreContext, p: pr.E91Alice) -> pr.QkdSessionResult:
    return _run(ctx, p, e91_params, e91_alice)


@role(pr.E91Bob, "e91_bob")
def _e91_bob(ctx: CoreContext, p: pr.E91Bob) -> pr.QkdSessionResult:
    return _run(ctx, p, e91_params, e91_bob)


__all__ = ["bb84_params", "e91_params", "result_to_proto"]
