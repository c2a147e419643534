"""gRPC errors without a domain error type (transport failures) become PeerUnavailable with a clear
message; a domain error type in trailing metadata is rebuilt exactly."""

from __future__ import annotations

import grpc
import pytest

from qemu_net import errors as e
from qemu_net._serde.status import ERROR_TYPE_KEY, error_from_rpc, status_for


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, metadata=()) -> None:  # type: ignore[no-untyped-def]
        self._code, self._details, self._md = code, details, metadata

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self):  # type: ignore[no-untyped-def]
        return self._md


@pytest.mark.parametrize("code,words", [
    (grpc.StatusCode.UNAVAILABLE, "unreachable"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "deadline"),
    (grpc.StatusCode.CANCELLED, "shutting down"),  # a stopping server cancels calls in flight
])
def test_transport_failures_are_peer_unavailable(code, words):
    err = error_from_rpc(FakeRpcError(code, "Socket closed"), where="a -> b (Forward)")
    assert isinstance(err, e.PeerUnavailable)
    assert status_for(err) == grpc.StatusCode.UNAVAILABLE
    assert words in str(err) and "a -> b (Forward)" in str(err) and "Socket closed" in str(err)


def test_domain_error_type_is_rebuilt_even_with_a_transport_code():
    md = ((ERROR_TYPE_KEY, "ShuttingDown"),)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "node r is shutting down", md))
    assert type(err) is e.ShuttingDown and str(err) == "node r is shutting down"


def test_the_rebuilt_error_carries_the_status_name_it_came_with():
    md = ((ERROR_TYPE_KEY, "MemoryFull"),)
    err = error_from_rpc(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "no room", md))
    assert type(err) is e.MemoryFull
    assert err.code == "RESOURCE_EXHAUSTED" and err.fields["code"] == "RESOURCE_EXHAUSTED"
    plain = error_from_rpc(FakeRpcError(grpc.StatusCode.NOT_FOUND, "no such qubit"))
    assert plain.fields["code"] == "NOT_FOUND"


# --------------------------------------------------------------------------- through a real gRPC server
class _Core:
    """What the `rpc` wrapper needs of a node core: its per-RPC counters."""

    def __init__(self) -> None:
        import collections
        import threading

        self.metrics_lock = threading.Lock()
        self.rpc_counts: collections.Counter[tuple[str, str, str]] = collections.Counter()


def _serve(raise_exc: Exception):  # type: ignore[no-untyped-def]
    from concurrent import futures

    from qemu_net._proto.v1 import keys_pb2_grpc as kg
    from qemu_net.node.servicers import rpc

    class Keys(kg.KeyDeliveryServiceServicer):
        SERVICE = "test.Keys"

        def __init__(self) -> None:
            self.core = _Core()

        @rpc
        def GetKeys(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802 - the RPC's name
            raise raise_exc

    servicer = Keys()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    kg.add_KeyDeliveryServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port, servicer


@pytest.mark.parametrize("exc, status", [
    (e.KeysExhausted("only 256 bits for bob", peer="bob", number=2, size_bits=256, available_bits=256),
     grpc.StatusCode.RESOURCE_EXHAUSTED),
    (e.TopologyError("bad topology", problems=("links.0: unknown node 'x'",)), grpc.StatusCode.INVALID_ARGUMENT),
    (e.QnetError("a bare domain error", what="x"), grpc.StatusCode.FAILED_PRECONDITION),
])
def test_error_type_and_fields_survive_a_real_call(exc, status):
    """The servicer answers the error's status (never UNKNOWN/INTERNAL) with its type and typed fields in
    trailing metadata; the caller rebuilds the exact type with the same fields and message."""
    from qemu_net._proto.v1 import keys_pb2 as k
    from qemu_net._proto.v1 import keys_pb2_grpc as kg

    server, port, servicer = _serve(exc)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            with pytest.raises(grpc.RpcError) as info:
                kg.KeyDeliveryServiceStub(ch).GetKeys(k.GetKeysRequest(), timeout=30)
        assert info.value.code() == status
        got = error_from_rpc(info.value)
    finally:
        server.stop(None)
    assert type(got) is type(exc) and str(got) == str(exc)
    assert {k_: v for k_, v in got.fields.items() if k_ != "code"} == {k_: v for k_, v in exc.fields.items() if k_ != "code"}
    assert got.code == status.name  # the status it came with
    assert got.fields["code"] == status.name
    if isinstance(exc, e.TopologyError):
        assert isinstance(got, e.TopologyError) and got.problems == exc.problems
    assert servicer.core.rpc_counts[("test.Keys", "GetKeys", status.name)] == 1


def test_a_subclass_not_in_the_table_takes_its_parents_status():
    class Narrow(e.InvalidOperation):
        pass

    assert status_for(Narrow("x")) == grpc.StatusCode.INVALID_ARGUMENT
