"""Fault injection: delayed and reordered peer calls, stalled handlers (off unless asked for).

A node started with a `FaultPlan` misbehaves on purpose, so that tests (and users who want to see their
protocol under stress) meet the races a busy machine or a slow network produces, on demand:

- every **outgoing peer call** (each method of the `Peers` protocol the core calls) first sleeps a random
  0..``delay_ms`` milliseconds. Concurrent calls draw different delays, so they reach their targets in
  another order than they were made: that is the reordering.
- with probability ``stall_p`` an **incoming handler** of NodeService or PeerService sleeps ``stall_ms``
  before it runs (a node that is descheduled, paging, or stuck behind a lock). The health service is
  never stalled, so probes keep seeing the node as alive.

The plan comes from the environment variable ``QNET_FAULTS`` (read when a node starts; children forked
by `qnet up` / `LocalNetwork` inherit it from the supervisor) or from `qnet node` flags::

    QNET_FAULTS="delay_ms=10,stall_ms=200,stall_p=0.02,seed=7"
    QNET_FAULTS="delay_ms=5,methods=forward+take_group"      # delay only these Peers methods

Keys: ``delay_ms`` (float >= 0), ``stall_ms`` (float >= 0), ``stall_p`` (0..1), ``seed`` (int),
``methods`` (Peers method names joined by ``+``; default all). An unknown key or a bad value raises
`FaultPlanError` naming the key.

Seed contract: each node draws its delays from its own generator, seeded by (``seed``, node name), under
a lock, and its stall decisions from a second such generator. The *sequence* of delays a node draws is
therefore reproducible; which call gets which delay depends on the order in which threads reach the
lock, which the operating system decides.

When no plan is given (or the plan injects nothing) nothing is wrapped and no interceptor is installed:
the seam costs nothing when it is off.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import grpc
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qemu_net.errors import QnetError
from qemu_net.node.core import Peers

log = logging.getLogger("qemu_net.node")

ENV_VAR = "QNET_FAULTS"

_In = TypeVar("_In")
_Out = TypeVar("_Out")

#: The outgoing peer calls the core makes: every public method of the `Peers` protocol.
PEER_METHODS: tuple[str, ...] = tuple(
    sorted(n for n, v in vars(Peers).items() if callable(v) and not n.startswith("_"))
)

#: Key in ``QNET_FAULTS`` -> field of `FaultPlan`.
_ENV_KEYS = {"delay_ms": "delay_ms", "stall_ms": "stall_ms", "stall_p": "stall_p", "seed": "seed",
             "methods": "methods"}


class FaultPlanError(QnetError):
    """A fault plan (``QNET_FAULTS`` or the `qnet node --fault-*` flags) is invalid; the message names the key."""

    grpc_code = "INVALID_ARGUMENT"


class FaultPlan(BaseModel):
    """What a node does wrong on purpose. ``FaultPlan()`` injects nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Each outgoing peer call sleeps uniformly 0..delay_ms milliseconds first.
    delay_ms: float = Field(0.0, ge=0.0, le=60_000.0)
    #: A stalled handler sleeps this long before it runs.
    stall_ms: float = Field(0.0, ge=0.0, le=60_000.0)
    #: Probability that a NodeService / PeerService handler is stalled.
    stall_p: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = 0
    #: The Peers methods that are delayed (default: all of them).
    methods: tuple[str, ...] = PEER_METHODS

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(v) - set(PEER_METHODS))
        if unknown:
            raise ValueError(f"unknown peer method(s) {', '.join(unknown)}; known: {', '.join(PEER_METHODS)}")
        if not v:
            raise ValueError("name at least one peer method")
        return tuple(sorted(set(v)))

    @property
    def delays(self) -> bool:
        return self.delay_ms > 0

    @property
    def stalls(self) -> bool:
        return self.stall_ms > 0 and self.stall_p > 0

    @property
    def enabled(self) -> bool:
        return self.delays or self.stalls

    def describe(self) -> str:
        """The plan in ``QNET_FAULTS`` syntax (paste it back into the variable to get the same plan)."""
        parts = [f"delay_ms={self.delay_ms:g}", f"stall_ms={self.stall_ms:g}", f"stall_p={self.stall_p:g}",
                 f"seed={self.seed}"]
        if self.methods != PEER_METHODS:
            parts.append("methods=" + "+".join(self.methods))
        return ",".join(parts)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, text: str, *, source: str = ENV_VAR) -> FaultPlan:
        """Parse ``key=value,key=value``; errors name `source` and the key."""
        values: dict[str, Any] = {}
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep:
                raise FaultPlanError(f"{source}: {item!r} is not key=value (keys: {', '.join(_ENV_KEYS)})")
            if key not in _ENV_KEYS:
                raise FaultPlanError(f"{source}: unknown key {key!r} (keys: {', '.join(_ENV_KEYS)})")
            if key in values:
                raise FaultPlanError(f"{source}: key {key!r} given twice")
            value = value.strip()
            values[key] = tuple(m.strip() for m in value.split("+") if m.strip()) if key == "methods" else value
        return cls.build(values, source=source)

    @classmethod
    def build(cls, values: Mapping[str, Any], *, source: str, names: Mapping[str, str] | None = None) -> FaultPlan:
        """Validate field values; an error names `source` and the key (``names`` maps field -> shown key)."""
        names = dict(names or {})
        try:
            return cls(**{_ENV_KEYS.get(k, k): v for k, v in values.items()})
        except ValidationError as exc:
            problems = []
            for e in exc.errors():
                field = str(e["loc"][0]) if e["loc"] else "?"
                got = values.get(field, e.get("input"))
                problems.append(f"{names.get(field, field)}: {e['msg']} (got {got!r})")
            raise FaultPlanError(f"{source}: " + "; ".join(problems)) from None

    def with_overrides(self, *, source: str, names: Mapping[str, str] | None = None, **values: Any) -> FaultPlan:
        """This plan with the given fields replaced (None means "keep"), validated like `build`."""
        merged = self.model_dump()
        merged.update({k: v for k, v in values.items() if v is not None})
        return FaultPlan.build(merged, source=source, names=names)


def plan_from_env(environ: Mapping[str, str] | None = None) -> FaultPlan | None:
    """The plan in ``QNET_FAULTS``, or None when it is unset or empty."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if not text:
        return None
    return FaultPlan.parse(text)


def _rng(seed: int, node: str, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(node.encode()), stream])


class _Draws:
    """A seeded generator shared by threads: one draw at a time, under a lock."""

    def __init__(self, seed: int, node: str, stream: int) -> None:
        self._rng = _rng(seed, node, stream)
        self._lock = threading.Lock()

    def uniform(self, high: float) -> float:
        with self._lock:
            return float(self._rng.uniform(0.0, high))

    def chance(self, p: float) -> bool:
        with self._lock:
            return bool(self._rng.random() < p)


# ---------------------------------------------------------------------------------------- outgoing
class DelayedPeers:
    """A `Peers` that sleeps 0..delay_ms before each call it passes to the wrapped one (by delegation).

    Every other attribute (``set_addresses``, ``close``, ``name``, ...) is the wrapped object's own.
    """

    def __init__(self, inner: Any, plan: FaultPlan, node: str, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._inner = inner
        self._plan = plan
        self._draws = _Draws(plan.seed, node, 0)
        self._sleep = sleep
        for name in plan.methods:
            setattr(self, name, self._delayed(getattr(inner, name)))

    @property
    def inner(self) -> Any:
        return self._inner

    def next_delay_s(self) -> float:
        """Draw the next delay (seconds) from this node's generator."""
        return self._draws.uniform(self._plan.delay_ms) / 1000.0

    def _delayed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._sleep(self.next_delay_s())
            return fn(*args, **kwargs)

        call.__name__ = getattr(fn, "__name__", "call")
        call.__doc__ = getattr(fn, "__doc__", None)
        return call

    def __getattr__(self, name: str) -> Any:  # only reached for names not set in __init__
        return getattr(self._inner, name)


def delayed_peers(peers: Any, plan: FaultPlan | None, node: str) -> Any:
    """`peers` wrapped in `DelayedPeers` when the plan delays calls, else `peers` itself."""
    if plan is None or not plan.delays:
        return peers
    return DelayedPeers(peers, plan, node)


# ---------------------------------------------------------------------------------------- incoming
class StallInterceptor(grpc.ServerInterceptor):
    """Stalls a handler of the named services for ``stall_ms`` with probability ``stall_p``.

    The stall runs on the handler's worker thread (not on the server's polling thread), before the
    handler; calls to any other service (health, reflection, ...) pass untouched.
    """

    def __init__(self, plan: FaultPlan, node: str, services: Iterable[str], *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._plan = plan
        self._prefixes = tuple(f"/{s}/" for s in services)
        self._draws = _Draws(plan.seed, node, 1)
        self._sleep = sleep
        self.stalled = 0

    def maybe_stall(self) -> bool:
        if self._draws.chance(self._plan.stall_p):
            self.stalled += 1
            self._sleep(self._plan.stall_ms / 1000.0)
            return True
        return False

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefixes):
            return handler
        return self._wrap(handler)

    def _wrap(self, h: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        def stalled(
            behavior: Callable[[_In, grpc.ServicerContext], _Out],
        ) -> Callable[[_In, grpc.ServicerContext], _Out]:
            def run(request: _In, context: grpc.ServicerContext) -> _Out:
                self.maybe_stall()
                return behavior(request, context)

            return run

        decode, encode = h.request_deserializer, h.response_serializer
        if h.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                stalled(h.unary_unary), request_deserializer=decode, response_serializer=encode)
        if h.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                stalled(h.unary_stream), request_deserializer=decode, response_serializer=encode)
        if h.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                stalled(h.stream_unary), request_deserializer=decode, response_serializer=encode)
        assert h.stream_stream is not None  # a handler has exactly one of the four behaviours
        return grpc.stream_stream_rpc_method_handler(
            stalled(h.stream_stream), request_deserializer=decode, response_serializer=encode)


def stall_interceptors(plan: FaultPlan | None, node: str, services: Iterable[str]) -> list[grpc.ServerInterceptor]:
    """The interceptors a node's servers install: none unless the plan stalls handlers."""
    if plan is None or not plan.stalls:
        return []
    return [StallInterceptor(plan, node, services)]


def log_plan(plan: FaultPlan | None, node: str) -> None:
    """One line at start when the node injects faults (a warning: the node misbehaves on purpose)."""
    if plan is not None and plan.enabled:
        log.warning("node %s: fault injection on: %s=%s", node, ENV_VAR, plan.describe())
