"""The decode guard (`qemu_net.node.limits.GuardedServer`): handlers are wrapped once, as they register."""

from __future__ import annotations

import grpc
import pytest

from qemu_net.node import limits


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


class _Recorder:
    """What a grpc.Server is told by the registration functions."""

    def __init__(self) -> None:
        self.generic: list[grpc.GenericRpcHandler] = []
        self.registered: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    def add_generic_rpc_handlers(self, handlers):  # noqa: ANN001, ANN201
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service, handlers):  # noqa: ANN001, ANN201
        self.registered[service] = handlers


class _Aborted(Exception):
    pass


class _Context:
    def abort(self, code, details):  # noqa: ANN001, ANN201
        raise _Aborted(code, details)


def _decode(data: bytes) -> bytes:
    if data.startswith(b"bad"):
        raise ValueError("not a message")
    return data


def _handlers() -> dict[str, grpc.RpcMethodHandler]:
    return {"Echo": grpc.unary_unary_rpc_method_handler(lambda req, ctx: req, request_deserializer=_decode),
            "Stream": grpc.stream_unary_rpc_method_handler(lambda it, ctx: b"", request_deserializer=_decode)}


def test_registered_and_generic_handlers_refuse_undecodable_requests_as_invalid_argument():
    server = _Recorder()
    guarded = limits.GuardedServer(server)  # type: ignore[arg-type]
    handlers = _handlers()
    guarded.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.S", handlers),))
    guarded.add_registered_method_handlers("t.S", handlers)
    echo_registered = server.registered["t.S"]["Echo"]
    echo_generic = server.generic[0].service(_Details("/t.S/Echo"))
    for h in (echo_registered, echo_generic):
        req = h.request_deserializer(b"ok")
        assert h.unary_unary(req, _Context()) == b"ok"
        bad = h.request_deserializer(b"bad bytes")
        with pytest.raises(_Aborted) as err:
            h.unary_unary(bad, _Context())
        assert err.value.args[0] == grpc.StatusCode.INVALID_ARGUMENT and "/t.S/Echo" in err.value.args[1]
    # A streaming request is not wrapped (its messages are decoded one by one by gRPC).
    assert server.registered["t.S"]["Stream"] is handlers["Stream"]


def test_the_generic_path_builds_each_wrapper_once_and_remembers_no_unknown_method():
    server = _Recorder()
    limits.GuardedServer(server).add_generic_rpc_handlers(  # type: ignore[arg-type]
        (grpc.method_handlers_generic_handler("t.S", _handlers()),))
    generic = server.generic[0]
    first = generic.service(_Details("/t.S/Echo"))
    assert generic.service(_Details("/t.S/Echo")) is first
    for i in range(1000):  # a flood of made-up method names
        assert generic.service(_Details(f"/t.S/Nope{i}")) is None
    assert list(generic._wrapped) == ["/t.S/Echo"]  # noqa: SLF001
