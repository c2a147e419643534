"""The one table between domain errors and gRPC status codes (both directions)."""

from __future__ import annotations

import time

import grpc

from qemu_net import errors as e

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

#: Error type name sent as trailing metadata so clients can rebuild the exact type.
ERROR_TYPE_KEY = "qnet-error-type"
_BY_NAME = {cls.__name__: cls for cls in ERROR_TO_STATUS}


def status_for(exc: e.QnetError) -> grpc.StatusCode:
    return ERROR_TO_STATUS.get(type(exc), grpc.StatusCode.UNKNOWN)


_TRANSPORT_FAILURES = {
    grpc.StatusCode.UNAVAILABLE: "is unreachable",
    grpc.StatusCode.DEADLINE_EXCEEDED: "did not answer within its deadline",
    grpc.StatusCode.CANCELLED: "cancelled the call (it is shutting down)",
}


def error_from_rpc(err: grpc.RpcError, *, where: str = "") -> e.QnetError:
    """Rebuild the domain error a node raised (or a transport failure) from a gRPC error."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = (err.details() if hasattr(err, "details") else "") or ""
    name = ""
    try:
        for k, v in err.trailing_metadata() or ():  # type: ignore[union-attr]
            if k == ERROR_TYPE_KEY:
                name = v
    except Exception:  # noqa: BLE001 - some RpcErrors carry no metadata
        name = ""
    cls = _BY_NAME.get(name)
    if cls is None:
        # Transport failures (no domain error type attached): the node is gone, too slow, or its server
        # cancelled the call because it is stopping (we never cancel our own calls).
        if code in _TRANSPORT_FAILURES and not name:
            prefix = f"{where}: " if where else ""
            return e.PeerUnavailable(f"{prefix}node {_TRANSPORT_FAILURES[code]} ({details or code.name})",
                                     code=code.name)
        cls = STATUS_TO_ERROR.get(code, e.QnetError)
    return cls(details or code.name, code=code.name)


def _unavailable_details(err: grpc.RpcError) -> str | None:
    try:
        if err.code() != grpc.StatusCode.UNAVAILABLE:  # type: ignore[attr-defined]
            return None
        return (err.details() or "").lower()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an RpcError without status
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


def call_until_sent(fn, request, timeout_s: float, where: str):  # noqa: ANN001, ANN201 - a stub method
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
