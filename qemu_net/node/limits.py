"""Hard limits of one node: every request is checked against them and refused with a clear status.

One `Limits` model (pydantic) holds every bound; the defaults let a node with 1 GiB of memory (the
Kubernetes pod limit) survive any single request and any number of concurrent ones:

=============================  ===========================================================================
what                           how it is bounded
=============================  ===========================================================================
gRPC message size              ``max_message_bytes`` on both servers and on the SDK's and peers' channels
                               (a larger message is refused by gRPC with RESOURCE_EXHAUSTED)
classical payload              ``max_classical_bytes`` per message (RESOURCE_EXHAUSTED)
queued classical bytes         ``max_queued_classical_bytes`` per receiving node: a delivery beyond it waits
                               within the sender's deadline for the receiver to read, then is refused
                               with RESOURCE_EXHAUSTED (back-pressure, never unbounded memory)
EPR batches                    ``max_epr_batch`` pairs per CreateMeasureEpr (about 64 bytes per pair while
                               it runs: 10^6 pairs ~ 64 MB), ``max_epr_pairs`` per CreateEpr
QKD sessions                   ``max_qkd_pulses`` pulses (or pairs) per session: a node's peak RSS is
                               about 1.3 GB for a 10^8-pulse session (measured), the default cap, which
                               a finite-key block on a realistic 10 km link needs; where the node knows
                               its memory limit (a pod's), a session that would not fit is refused first
arriving group state           ``max_group_state_bytes`` per group state of a peer message, checked on
                               its qubit count before decoding (a 23-qubit state vector is 128 MiB)
long waits                     ``max_waits_per_client`` concurrent waiting calls (ReceiveClassical,
                               FetchEprOutcomes, RunProtocol) per caller identity and address, and
                               ``max_waits`` over all callers, which is kept below the server's worker
                               pool so health, GetInfo and GetStatus always find a free worker
wait timeouts                  ``timeout_s`` fields: finite, >= 0 and at most ``max_timeout_s``
=============================  ===========================================================================

Overrides come from the topology's ``limits`` mapping (validated with the topology: an error names the
key path, e.g. ``limits.max_epr_batch``) and from ``QNET_LIMIT_<FIELD>`` environment variables (e.g.
``QNET_LIMIT_MAX_EPR_BATCH=200000``), which win. Nothing here is read at import time.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor

from qemu_net.errors import InvalidOperation, LimitExceeded, ProtocolTimeout
from qemu_net.network.limits import Limits, MiB  # noqa: F401 - MiB re-exported for callers of the node module

ResourceExhausted = LimitExceeded


def finite(value: float, what: str, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False) -> float:
    """`value` if it is a finite number within [lo, hi] (or (lo, hi] with `lo_open`), else INVALID_ARGUMENT."""
    ok = math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise InvalidOperation(f"{what} must be a finite number in {'(' if lo_open else '['}{lo_s}, {hi_s}], "
                               f"got {value}")
    return value


def enum_value(value: int, enum: Any, what: str) -> int:
    """`value` if the protobuf enum type `enum` defines it, else INVALID_ARGUMENT."""
    if value not in enum.values():
        names = ", ".join(enum.keys())
        raise InvalidOperation(f"{what}: unknown value {value}; known: {names}")
    return value


class WaitSlots:
    """Admission of long waits: at most `per_client` in flight per caller and `total` over all callers.

    A wait beyond either cap is refused at once with RESOURCE_EXHAUSTED; a slot is released when the
    call ends (answered, failed or cancelled)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self._lock = threading.Lock()
        self._by_client: Counter[str] = Counter()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def slot(self, client: str, what: str) -> Iterator[None]:
        with self._lock:
            if self._by_client[client] >= self.per_client:
                raise ResourceExhausted(
                    f"{what}: {client} already has {self.per_client} waiting calls at this node (the limit "
                    "per client); let one finish first", limit=self.per_client)
            if self._in_flight >= self.total:
                raise ResourceExhausted(
                    f"{what}: this node already serves {self.total} waiting calls (its limit); try again later",
                    limit=self.total)
            self._by_client[client] += 1
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]


class ByteBudget:
    """Bytes in use out of `capacity` (e.g. payloads being sent): a reservation beyond it waits for room until
    its deadline, then is refused with RESOURCE_EXHAUSTED. One reservation larger than the whole budget
    still runs when nothing else holds any."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, size: int, deadline: float, what: str) -> Iterator[None]:
        with self._cond:
            while self.used and self.used + size > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0 or cancelled():
                    raise LimitExceeded(f"{what}: {self.used} of {self.capacity} bytes in use; {size} more did not "
                                        "fit before the deadline", limit=self.capacity, value=size)
                self._cond.wait(min(left, 1.0))
            self.used += size
        try:
            yield
        finally:
            with self._cond:
                self.used -= size
                self._cond.notify_all()


def check_message(msg: Any, path: str = "") -> None:
    """Every float and double field set in `msg` (recursively) is finite, and every enum field holds a value
    its enum defines; INVALID_ARGUMENT naming the field otherwise."""
    for fd, value in msg.ListFields():
        name = f"{path}{fd.name}"
        t = fd.type
        if t in (fd.TYPE_DOUBLE, fd.TYPE_FLOAT):
            values = value if _repeated(fd) else (value,)
            for v in values:
                if not math.isfinite(v):
                    raise InvalidOperation(f"{name} must be a finite number, got {v}")
        elif t == fd.TYPE_ENUM:
            known = fd.enum_type.values_by_number
            for v in (value if _repeated(fd) else (value,)):
                if v not in known:
                    raise InvalidOperation(f"{name}: unknown {fd.enum_type.name} value {v}; known: "
                                           + ", ".join(fd.enum_type.values_by_name))
        elif t == fd.TYPE_MESSAGE:
            if fd.message_type.GetOptions().map_entry:
                vd = fd.message_type.fields_by_name["value"]
                if vd.type == vd.TYPE_MESSAGE:
                    for k, v in value.items():
                        check_message(v, f"{name}[{k}].")
                continue
            for i, v in enumerate(value if _repeated(fd) else (value,)):
                check_message(v, f"{name}[{i}]." if _repeated(fd) else f"{name}.")


#: The latest virtual time a peer may report (2^61 ns, about 73 years): half the clock's range, so times
#: reported by peers can never bring a node's clock near its limit (where every send would overflow it).
MAX_PEER_NS = 2**61


def check_times(msg: Any, path: str = "") -> None:
    """Every integer field named ``*_ns`` of a peer's message (recursively) is a time in [0, MAX_PEER_NS]."""
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            if fd.message_type.GetOptions().map_entry:
                continue
            for i, v in enumerate(value if fd.is_repeated else (value,)):
                check_times(v, f"{path}{fd.name}[{i}]." if fd.is_repeated else f"{path}{fd.name}.")
        elif fd.name.endswith("_ns") and fd.type in (fd.TYPE_INT64, fd.TYPE_UINT64, fd.TYPE_SINT64):
            for v in (value if fd.is_repeated else (value,)):
                if not 0 <= v <= MAX_PEER_NS:
                    raise InvalidOperation(f"{path}{fd.name}={v} is not a virtual time in [0, {MAX_PEER_NS}] ns")


def _repeated(fd: FieldDescriptor) -> bool:
    return fd.is_repeated


#: Fields of protocol roles that count pulses, pairs or shots, with the limit that bounds each.
_ROLE_COUNTS = {
    ("bb84_alice", "n_pulses"): "max_qkd_pulses", ("e91_alice", "n_pairs"): "max_qkd_pulses",
    ("bb84_alice", "block_pulses"): "max_qkd_pulses", ("e91_alice", "block_pairs"): "max_qkd_pulses",
}  # (the other roles bound their own counts, with their own messages)
#: Rates of protocol roles (Hz): positive, and at least this, so one block's virtual time stays bounded.
MIN_RATE_HZ = 1e-3
MAX_RATE_HZ = 1e15


def check_role(request: Any, limits: Limits) -> None:
    """Counts and rates of a RunProtocol request within the node's limits (RESOURCE_EXHAUSTED for counts,
    INVALID_ARGUMENT for rates out of range)."""
    which = request.WhichOneof("role")
    if which is None:
        return
    params = getattr(request, which)
    for (role, fname), limit_name in _ROLE_COUNTS.items():
        if role == which:
            limits.count(getattr(params, fname), getattr(limits, limit_name), f"{which}.{fname}")
    for fname in ("pulse_rate_hz", "pair_rate_hz"):
        if fname in params.DESCRIPTOR.fields_by_name and params.HasField(fname):
            finite(getattr(params, fname), f"{which}.{fname}", lo=MIN_RATE_HZ, hi=MAX_RATE_HZ)


def check_group(msg: Any, limits: Limits) -> None:
    """A group state from a peer is no larger than this node accepts (RESOURCE_EXHAUSTED), checked on its
    qubit count before its data is decoded."""
    n = len(msg.qubits)
    size = 16 * (4**n if msg.mixed else 2**n) if n <= 64 else 1 << 130
    if size > limits.max_group_state_bytes:
        kind = "density matrix" if msg.mixed else "state vector"
        raise LimitExceeded(f"a {n}-qubit {kind} ({size} bytes) is larger than this node accepts "
                            f"({limits.max_group_state_bytes} bytes)", limit=limits.max_group_state_bytes,
                            value=size)


class _Undecodable:
    __slots__ = ("error",)

    def __init__(self, error: str) -> None:
        self.error = error


class GuardedServer:
    """A `grpc.Server` as the services' ``add_*_to_server`` functions see it: every unary-request handler
    they register is wrapped once, at registration, so that a request whose bytes are not a valid message
    of its method's type is refused with INVALID_ARGUMENT (gRPC's own answer would be INTERNAL,
    "Exception deserializing request!"). Nothing runs per call but the wrapped handler itself: no
    interceptor, so a server without tracing or injected stalls keeps gRPC's registered-method path."""

    def __init__(self, server: grpc.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_GuardedGeneric(h) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]],
                                       ) -> None:
        self._server.add_registered_method_handlers(
            service, {m: _guard(h, f"/{service}/{m}") for m, h in handlers.items()})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class _GuardedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose handlers come out guarded (each method's built once)."""

    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        got = self._wrapped.get(method)
        if got is not None:
            return got
        handler = self._inner.service(handler_call_details)
        if handler is None:  # not a method of this service (nothing is remembered for unknown names)
            return None
        wrapped = self._wrapped[method] = _guard(handler, method)
        return wrapped


def _guard(handler: grpc.RpcMethodHandler[Any, Any], method: str) -> grpc.RpcMethodHandler[Any, Any]:
    if handler.request_streaming or handler.request_deserializer is None:
        return handler
    return _guarded(handler, handler.request_deserializer, method)


#: glibc's mallopt parameter M_ARENA_MAX.
_M_ARENA_MAX = -8


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Let glibc's malloc use at most `arenas` arenas (call before the server's threads start). By default
    each of up to 8 x cores threads gets its own arena, and each keeps the freed buffers of the large
    messages it received: the node's RSS then creeps up by about a message per arena (measured: 187 ->
    500 MB over five refused 128 MiB messages; with 2 arenas it stays near 300 MB, memory being reused)."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc
        return False


def _guarded(handler: grpc.RpcMethodHandler[Any, Any], decode: Callable[[bytes], Any],
             method: str) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` (of a unary-request method, whose requests `decode` reads) with a decode error refused."""

    def safe_decode(data: bytes) -> Any:
        try:
            return decode(data)
        except Exception as exc:
            return _Undecodable(f"{type(exc).__name__}: {exc}")

    def refuse(request: _Undecodable, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      f"{method}: the request is not a valid message of the method's type ({request.error[:200]})")

    def guarded(inner: Callable[[Any, grpc.ServicerContext], Any] | None) -> Callable[[Any, grpc.ServicerContext], Any]:
        assert inner is not None  # the behaviour of a unary-request method (checked once per method)

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            if isinstance(request, _Undecodable):
                refuse(request, context)
            return inner(request, context)

        return call

    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(guarded(handler.unary_stream), request_deserializer=safe_decode,
                                                    response_serializer=handler.response_serializer)
    return grpc.unary_unary_rpc_method_handler(guarded(handler.unary_unary), request_deserializer=safe_decode,
                                               response_serializer=handler.response_serializer)


class CallScope:
    """One call being served: its deadline and whether its caller cancelled. Waits on the serving thread
    (`current`) end as soon as either happens (`check`)."""

    __slots__ = ("cancelled", "deadline")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.cancelled = False


_local = threading.local()


@contextmanager
def call_scope(deadline: float) -> Iterator[CallScope]:
    """Serve one call on this thread within `deadline` (a monotonic time)."""
    scope = CallScope(deadline)
    outer = getattr(_local, "scope", None)
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = outer


def current() -> CallScope | None:
    return getattr(_local, "scope", None)


def cancelled() -> bool:
    """The caller of the call this thread serves has gone (cancelled, or its connection closed)."""
    scope = getattr(_local, "scope", None)
    return scope is not None and scope.cancelled


def check_cancelled() -> None:
    """Raise ProtocolTimeout when the caller of the call this thread serves went away."""
    scope = getattr(_local, "scope", None)
    if scope is not None and scope.cancelled:
        raise ProtocolTimeout("the caller cancelled the call")


def check() -> None:
    """Raise ProtocolTimeout when the call this thread serves was cancelled or is past its deadline
    (cooperative checks in long loops; a no-op outside a call)."""
    scope = getattr(_local, "scope", None)
    if scope is None:
        return
    if scope.cancelled:
        raise ProtocolTimeout("the caller cancelled the call")
    if time.monotonic() > scope.deadline:
        raise ProtocolTimeout("the call's deadline passed")


__all__ = [
    "MAX_PEER_NS",
    "ByteBudget",
    "CallScope",
    "GuardedServer",
    "Limits",
    "ResourceExhausted",
    "WaitSlots",
    "call_scope",
    "cancelled",
    "cap_malloc_arenas",
    "check",
    "check_cancelled",
    "check_group",
    "check_message",
    "check_role",
    "check_times",
    "current",
    "enum_value",
    "finite",
]
