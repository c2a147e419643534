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
