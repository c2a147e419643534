"""The one table between domain errors and gRPC status codes (both directions)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from qemu_net import errors as e

_Reply = TypeVar("_Reply")

#: Domain error -> status code. Order matters only for subclasses (none today).
ERROR_TO_STATUS: dict[type[e.QnetError], grpc.StatusCode] = {
    e.TopologyError: grpc.StatusCode.INVALID_ARGUMENT,
    e.QubitNotFound: grpc.StatusCode.NOT_FOUND,
    e.WrongLocation: grpc.StatusCode.FAILED_PRECONDITION,
    e.NotColocated: grpc.StatusCode.FAILED_PRECONDITION,
    e.MemoryFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
    e.InvalidOperation: grpc.StatusCode.INVALID_ARGUMENT,
    e.UnknownNode: grpc.StatusCode.INVALID_ARGUMENT,
    e.NotConnected: grpc.StatusCode.FAILED_PRECONDITION,
    e.PeerUnavailable: grpc.StatusCode.UNAVAILABLE,
    e.ProtocolTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
    e.ProtocolAborted: grpc.StatusCode.ABORTED,
    e.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    e.KeysExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    e.KeyNotFound: grpc.StatusCode.NOT_FOUND,
    e.LimitExceeded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    e.ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    e.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
}

#: Status code -> the error type a client raises for it (the most general one of each code).
STATUS_TO_ERROR: dict[grpc.StatusCode, type[e.QnetError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: e.InvalidOperation,
    grpc.StatusCode.NOT_FOUND: e.QubitNotFound,
    grpc.StatusCode.FAILED_PRECONDITION: e.WrongLocation,
    grpc.StatusCode.RESOURCE_EXHAUSTED: e.MemoryFull,
    grpc.StatusCode.UNAVAILABLE: e.PeerUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: e.ProtocolTimeout,
    grpc.StatusCode.ABORTED: e.ProtocolAborted,
    grpc.StatusCode.PERMISSION_DENIED: e.PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: e.Unauthenticated,
}

#: Trailing metadata of a failed call: the error's class name and its typed fields (`QnetError.to_wire`),
#: so the caller rebuilds the exact type with its fields.
ERROR_TYPE_KEY = "qnet-error-type"
ERROR_FIELDS_KEY = "qnet-error-fields"


def _error_types() -> dict[str, type[e.QnetError]]:
    found: dict[str, type[e.QnetError]] = {e.QnetError.__name__: e.QnetError}
    todo: list[type[e.QnetError]] = [e.QnetError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__ == e.__name__ and sub.__name__ not in found:
                found[sub.__name__] = sub
                todo.append(sub)
    return found


_BY_NAME = _error_types()


def status_for(exc: e.QnetError) -> grpc.StatusCode:
    """The status a domain error is answered with (never UNKNOWN or INTERNAL)."""
    for cls in type(exc).__mro__:
        code = ERROR_TO_STATUS.get(cls) if issubclass(cls, e.QnetError) else None
        if code is not None:
            return code
    named = getattr(grpc.StatusCode, exc.grpc_code, None)
    if isinstance(named, grpc.StatusCode) and named not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
        return named
    return grpc.StatusCode.FAILED_PRECONDITION


def error_metadata(exc: e.QnetError) -> tuple[tuple[str, str], ...]:
    """The trailing metadata a failed call carries for `exc`."""
    return ((ERROR_TYPE_KEY, type(exc).__name__), (ERROR_FIELDS_KEY, exc.to_wire()))


_TRANSPORT_FAILURES = {
    grpc.StatusCode.UNAVAILABLE: "is unreachable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "did not answer within its deadline",
    grpc.StatusCode.CANCELLED: "cancelled the call (it is shutting down)",
}


def error_from_rpc(err: grpc.RpcError, *, where: str = "") -> e.QnetError:
    """Rebuild the domain error a node raised (or a transport failure) from a gRPC error."""
    call: Any = err  # a failed call's error is also its grpc.Call (code, details, trailing metadata)
    code = call.code() if hasattr(call, "code") else grpc.StatusCode.UNKNOWN
    details = (call.details() if hasattr(call, "details") else "") or ""
    name = fields = ""
    try:
        for k, v in call.trailing_metadata() or ():
            if k == ERROR_TYPE_KEY:
                name = v
            elif k == ERROR_FIELDS_KEY:
                fields = v
    except Exception:  # some RpcErrors carry no metadata
        name = fields = ""
    cls = _BY_NAME.get(name)
    if cls is None:
        # Transport failures (no domain error type attached): the node is gone, too slow, or its server
        # cancelled the call because it is stopping (we never cancel our own calls).
        if code in _TRANSPORT_FAILURES and not name:
            prefix = f"{where}: " if where else ""
            return e.PeerUnavailable(f"{prefix}node {_TRANSPORT_FAILURES[code]} ({details or code.name})",
                                     code=code.name)
        cls = STATUS_TO_ERROR.get(code, e.QnetError)
    exc = cls.from_wire(details or code.name, fields)
    if exc.code is None:
        exc.code = code.name
    return exc


def _unavailable_details(err: grpc.RpcError) -> str | None:
    call: Any = err  # a failed call's error is also its grpc.Call
    try:
        if call.code() != grpc.StatusCode.UNAVAILABLE:
            return None
        return str(call.details() or "").lower()
    except Exception:  # an RpcError without status
        return None


def connection_refused(err: grpc.RpcError) -> bool:
    """The address refuses connections: the process serving it is gone (not merely slow or cut off)."""
    details = _unavailable_details(err)
    return details is not None and "connection refused" in details


def never_sent(err: grpc.RpcError) -> bool:
    """The call failed while its connection was being set up, so the request never left this process
    (safe to send again, e.g. after a busy host was too slow to complete the handshake)."""
    details = _unavailable_details(err)
    return details is not None and "failed to connect" in details and "connection refused" not in details


def call_until_sent(fn: Callable[..., _Reply], request: object, timeout_s: float, where: str) -> _Reply:
    """Call a unary stub method within `timeout_s`. A call that failed while its connection was set up
    (a busy host too slow for the handshake: the request never left) is tried again after a short,
    growing pause until the timeout; anything else (a refused connection included) fails at once as the
    domain error it maps to."""
    give_up = time.monotonic() + timeout_s
    pause = 0.02
    while True:
        try:
            return fn(request, timeout=max(give_up - time.monotonic(), 0.001))
        except grpc.RpcError as err:
            left = give_up - time.monotonic()
            if not never_sent(err) or left <= 0:
                raise error_from_rpc(err, where=where) from None
        time.sleep(min(pause, left))
        pause = min(pause * 2, 1.0)
