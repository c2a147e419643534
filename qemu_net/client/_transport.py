"""The SDK's transport seam: one typed method per RPC, and the implementations behind it.

`Transport` (synchronous) and `AsyncTransport` (asyncio) are what the shells in `qemu_net.client.sync` and
`qemu_net.client.aio` call; messages are built and read by `qemu_net._serde.sdk`. The gRPC transports
are the only SDK code that touches generated stubs (each stub method is named once, here); the in-process
transports hand every request to a Python callable, so the SDK's logic is tested without sockets:

    t = InProcessTransport({"Allocate": lambda req: AllocateResponse(qubits=["q0"])})
    net = Network({"alice": "inproc"}, transport=lambda name, address, net: t)

Every failure is raised as a `qemu_net.errors.QnetError` (rebuilt from the gRPC status by
`qemu_net._serde.status.error_from_rpc`).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Protocol, cast

import grpc

from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net._proto.v1 import keys_pb2_grpc as kg
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import session_pb2 as s
from qemu_net._proto.v1 import session_pb2_grpc as sg
from qemu_net._serde.status import call_until_sent, error_from_rpc, never_sent
from qemu_net.errors import InvalidOperation

Metadata = tuple[tuple[str, str], ...]


class Transport(Protocol):
    """The RPCs of one node, synchronous. `timeout_s` bounds each call (never None)."""

    def get_info(self, req: n.GetInfoRequest, timeout_s: float) -> n.NodeInfo: ...
    def allocate(self, req: n.AllocateRequest, timeout_s: float) -> n.AllocateResponse: ...
    def free(self, req: n.FreeRequest, timeout_s: float) -> n.FreeResponse: ...
    def apply(self, req: n.ApplyRequest, timeout_s: float) -> n.ApplyResponse: ...
    def send_qubit(self, req: n.SendQubitRequest, timeout_s: float) -> n.SendQubitResponse: ...
    def inspect(self, req: n.InspectRequest, timeout_s: float) -> n.InspectResponse: ...
    def create_epr(self, req: n.CreateEprRequest, timeout_s: float) -> n.CreateEprResponse: ...
    def create_measure_epr(self, req: n.CreateMeasureEprRequest, timeout_s: float) -> n.CreateMeasureEprResponse: ...
    def fetch_epr_outcomes(self, req: n.FetchEprOutcomesRequest, timeout_s: float) -> n.FetchEprOutcomesResponse: ...
    def send_classical(self, req: n.SendClassicalRequest, timeout_s: float) -> n.SendClassicalResponse: ...
    def receive_classical(self, req: n.ReceiveClassicalRequest, timeout_s: float) -> n.ReceiveClassicalResponse: ...
    def run_protocol(self, req: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult: ...
    def renew_session(self, req: s.RenewSessionRequest, timeout_s: float) -> s.SessionLease: ...
    def close_session(self, req: s.CloseSessionRequest, timeout_s: float) -> s.SessionLease: ...
    def key_status(self, req: k.KeyStatusRequest, timeout_s: float) -> k.KeyStatus: ...
    def get_keys(self, req: k.GetKeysRequest, timeout_s: float) -> k.KeyContainer: ...
    def get_keys_with_ids(self, req: k.GetKeysWithIdsRequest, timeout_s: float) -> k.KeyContainer: ...
    def close(self) -> None: ...


class AsyncTransport(Protocol):
    """The RPCs of one node, asyncio (the same methods as `Transport`, awaited)."""

    async def get_info(self, req: n.GetInfoRequest, timeout_s: float) -> n.NodeInfo: ...
    async def allocate(self, req: n.AllocateRequest, timeout_s: float) -> n.AllocateResponse: ...
    async def free(self, req: n.FreeRequest, timeout_s: float) -> n.FreeResponse: ...
    async def apply(self, req: n.ApplyRequest, timeout_s: float) -> n.ApplyResponse: ...
    async def send_qubit(self, req: n.SendQubitRequest, timeout_s: float) -> n.SendQubitResponse: ...
    async def inspect(self, req: n.InspectRequest, timeout_s: float) -> n.InspectResponse: ...
    async def create_epr(self, req: n.CreateEprRequest, timeout_s: float) -> n.CreateEprResponse: ...
    async def create_measure_epr(self, req: n.CreateMeasureEprRequest,
                                 timeout_s: float) -> n.CreateMeasureEprResponse: ...
    async def fetch_epr_outcomes(self, req: n.FetchEprOutcomesRequest,
                                 timeout_s: float) -> n.FetchEprOutcomesResponse: ...
    async def send_classical(self, req: n.SendClassicalRequest, timeout_s: float) -> n.SendClassicalResponse: ...
    async def receive_classical(self, req: n.ReceiveClassicalRequest,
                                timeout_s: float) -> n.ReceiveClassicalResponse: ...
    async def run_protocol(self, req: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult: ...
    async def renew_session(self, req: s.RenewSessionRequest, timeout_s: float) -> s.SessionLease: ...
    async def close_session(self, req: s.CloseSessionRequest, timeout_s: float) -> s.SessionLease: ...
    async def key_status(self, req: k.KeyStatusRequest, timeout_s: float) -> k.KeyStatus: ...
    async def get_keys(self, req: k.GetKeysRequest, timeout_s: float) -> k.KeyContainer: ...
    async def get_keys_with_ids(self, req: k.GetKeysWithIdsRequest, timeout_s: float) -> k.KeyContainer: ...
    async def close(self) -> None: ...


# ----------------------------------------------------------------------------- gRPC, synchronous
class GrpcTransport:
    """`Transport` over a `grpc.Channel`: a call whose request never left (a busy host too slow for the
    handshake) is sent again within its timeout; any other failure raises its domain error at once."""

    def __init__(self, channel: grpc.Channel, name: str, metadata: Metadata) -> None:
        self.channel = channel
        self.name = name
        node = ng.NodeServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated
        sessions = sg.SessionServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated
        keys = kg.KeyDeliveryServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated
        md = metadata
        self._get_info = partial(node.GetInfo, metadata=md)
        self._allocate = partial(node.Allocate, metadata=md)
        self._free = partial(node.Free, metadata=md)
        self._apply = partial(node.Apply, metadata=md)
        self._send_qubit = partial(node.SendQubit, metadata=md)
        self._inspect = partial(node.Inspect, metadata=md)
        self._create_epr = partial(node.CreateEpr, metadata=md)
        self._create_measure_epr = partial(node.CreateMeasureEpr, metadata=md)
        self._fetch_epr_outcomes = partial(node.FetchEprOutcomes, metadata=md)
        self._send_classical = partial(node.SendClassical, metadata=md)
        self._receive_classical = partial(node.ReceiveClassical, metadata=md)
        self._run_protocol = partial(node.RunProtocol, metadata=md)
        self._renew = partial(sessions.Renew, metadata=md)
        self._close_session = partial(sessions.Close, metadata=md)
        self._key_status = partial(keys.GetStatus, metadata=md)
        self._get_keys = partial(keys.GetKeys, metadata=md)
        self._get_keys_with_ids = partial(keys.GetKeysWithIds, metadata=md)

    def get_info(self, req: n.GetInfoRequest, timeout_s: float) -> n.NodeInfo:
        return cast("n.NodeInfo", call_until_sent(self._get_info, req, timeout_s, self.name))

    def allocate(self, req: n.AllocateRequest, timeout_s: float) -> n.AllocateResponse:
        return cast("n.AllocateResponse", call_until_sent(self._allocate, req, timeout_s, self.name))

    def free(self, req: n.FreeRequest, timeout_s: float) -> n.FreeResponse:
        return cast("n.FreeResponse", call_until_sent(self._free, req, timeout_s, self.name))

    def apply(self, req: n.ApplyRequest, timeout_s: float) -> n.ApplyResponse:
        return cast("n.ApplyResponse", call_until_sent(self._apply, req, timeout_s, self.name))

    def send_qubit(self, req: n.SendQubitRequest, timeout_s: float) -> n.SendQubitResponse:
        return cast("n.SendQubitResponse", call_until_sent(self._send_qubit, req, timeout_s, self.name))

    def inspect(self, req: n.InspectRequest, timeout_s: float) -> n.InspectResponse:
        return cast("n.InspectResponse", call_until_sent(self._inspect, req, timeout_s, self.name))

    def create_epr(self, req: n.CreateEprRequest, timeout_s: float) -> n.CreateEprResponse:
        return cast("n.CreateEprResponse", call_until_sent(self._create_epr, req, timeout_s, self.name))

    def create_measure_epr(self, req: n.CreateMeasureEprRequest, timeout_s: float) -> n.CreateMeasureEprResponse:
        return cast("n.CreateMeasureEprResponse", call_until_sent(self._create_measure_epr, req, timeout_s, self.name))

    def fetch_epr_outcomes(self, req: n.FetchEprOutcomesRequest, timeout_s: float) -> n.FetchEprOutcomesResponse:
        return cast("n.FetchEprOutcomesResponse", call_until_sent(self._fetch_epr_outcomes, req, timeout_s, self.name))

    def send_classical(self, req: n.SendClassicalRequest, timeout_s: float) -> n.SendClassicalResponse:
        return cast("n.SendClassicalResponse", call_until_sent(self._send_classical, req, timeout_s, self.name))

    def receive_classical(self, req: n.ReceiveClassicalRequest, timeout_s: float) -> n.ReceiveClassicalResponse:
        return cast("n.ReceiveClassicalResponse", call_until_sent(self._receive_classical, req, timeout_s, self.name))

    def run_protocol(self, req: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult:
        return cast("pr.ProtocolResult", call_until_sent(self._run_protocol, req, timeout_s, self.name))

    def renew_session(self, req: s.RenewSessionRequest, timeout_s: float) -> s.SessionLease:
        try:  # one attempt: a node that is down is renewed on the next round, or the lease lapses there
            return cast("s.SessionLease", self._renew(req, timeout=timeout_s))
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=self.name) from None

    def close_session(self, req: s.CloseSessionRequest, timeout_s: float) -> s.SessionLease:
        try:
            return cast("s.SessionLease", self._close_session(req, timeout=timeout_s))
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=self.name) from None
        except ValueError as err:  # the channel is already closed
            raise InvalidOperation(f"{self.name}: {err}") from None

    def key_status(self, req: k.KeyStatusRequest, timeout_s: float) -> k.KeyStatus:
        return cast("k.KeyStatus", call_until_sent(self._key_status, req, timeout_s, self.name))

    def get_keys(self, req: k.GetKeysRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", call_until_sent(self._get_keys, req, timeout_s, self.name))

    def get_keys_with_ids(self, req: k.GetKeysWithIdsRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", call_until_sent(self._get_keys_with_ids, req, timeout_s, self.name))

    def close(self) -> None:
        self.channel.close()


# ----------------------------------------------------------------------------- gRPC, asyncio
class AsyncGrpcTransport:
    """`AsyncTransport` over a `grpc.aio.Channel` (same retry rule as `GrpcTransport`)."""

    def __init__(self, channel: grpc.aio.Channel, name: str, metadata: Metadata) -> None:
        self.channel = channel
        self.name = name
        self._md = metadata
        self._node = ng.NodeServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated
        self._sessions = sg.SessionServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated
        self._keys = kg.KeyDeliveryServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated

    async def _call(self, fn: Callable[..., Awaitable[Any]], req: Any, timeout_s: float, *,
                    retry: bool = True) -> Any:
        give_up = time.monotonic() + timeout_s
        pause = 0.02
        while True:
            try:
                return await fn(req, timeout=max(give_up - time.monotonic(), 0.001), metadata=self._md)
            except grpc.aio.AioRpcError as err:
                left = give_up - time.monotonic()
                if not retry or not never_sent(err) or left <= 0:
                    raise error_from_rpc(err, where=self.name) from None
            # The request never left (a busy host did not finish the handshake): again after a short,
            # growing pause, within the same timeout.
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    async def get_info(self, req: n.GetInfoRequest, timeout_s: float) -> n.NodeInfo:
        return cast("n.NodeInfo", await self._call(self._node.GetInfo, req, timeout_s))

    async def allocate(self, req: n.AllocateRequest, timeout_s: float) -> n.AllocateResponse:
        return cast("n.AllocateResponse", await self._call(self._node.Allocate, req, timeout_s))

    async def free(self, req: n.FreeRequest, timeout_s: float) -> n.FreeResponse:
        return cast("n.FreeResponse", await self._call(self._node.Free, req, timeout_s))

    async def apply(self, req: n.ApplyRequest, timeout_s: float) -> n.ApplyResponse:
        return cast("n.ApplyResponse", await self._call(self._node.Apply, req, timeout_s))

    async def send_qubit(self, req: n.SendQubitRequest, timeout_s: float) -> n.SendQubitResponse:
        return cast("n.SendQubitResponse", await self._call(self._node.SendQubit, req, timeout_s))

    async def inspect(self, req: n.InspectRequest, timeout_s: float) -> n.InspectResponse:
        return cast("n.InspectResponse", await self._call(self._node.Inspect, req, timeout_s))

    async def create_epr(self, req: n.CreateEprRequest, timeout_s: float) -> n.CreateEprResponse:
        return cast("n.CreateEprResponse", await self._call(self._node.CreateEpr, req, timeout_s))

    async def create_measure_epr(self, req: n.CreateMeasureEprRequest,
                                 timeout_s: float) -> n.CreateMeasureEprResponse:
        return cast("n.CreateMeasureEprResponse", await self._call(self._node.CreateMeasureEpr, req, timeout_s))

    async def fetch_epr_outcomes(self, req: n.FetchEprOutcomesRequest,
                                 timeout_s: float) -> n.FetchEprOutcomesResponse:
        return cast("n.FetchEprOutcomesResponse", await self._call(self._node.FetchEprOutcomes, req, timeout_s))

    async def send_classical(self, req: n.SendClassicalRequest, timeout_s: float) -> n.SendClassicalResponse:
        return cast("n.SendClassicalResponse", await self._call(self._node.SendClassical, req, timeout_s))

    async def receive_classical(self, req: n.ReceiveClassicalRequest,
                                timeout_s: float) -> n.ReceiveClassicalResponse:
        return cast("n.ReceiveClassicalResponse", await self._call(self._node.ReceiveClassical, req, timeout_s))

    async def run_protocol(self, req: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult:
        return cast("pr.ProtocolResult", await self._call(self._node.RunProtocol, req, timeout_s))

    async def renew_session(self, req: s.RenewSessionRequest, timeout_s: float) -> s.SessionLease:
        return cast("s.SessionLease", await self._call(self._sessions.Renew, req, timeout_s, retry=False))

    async def close_session(self, req: s.CloseSessionRequest, timeout_s: float) -> s.SessionLease:
        return cast("s.SessionLease", await self._call(self._sessions.Close, req, timeout_s, retry=False))

    async def key_status(self, req: k.KeyStatusRequest, timeout_s: float) -> k.KeyStatus:
        return cast("k.KeyStatus", await self._call(self._keys.GetStatus, req, timeout_s))

    async def get_keys(self, req: k.GetKeysRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", await self._call(self._keys.GetKeys, req, timeout_s))

    async def get_keys_with_ids(self, req: k.GetKeysWithIdsRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", await self._call(self._keys.GetKeysWithIds, req, timeout_s))

    async def close(self) -> None:
        await self.channel.close()


# ----------------------------------------------------------------------------- in process
#: RPC method name (as the service defines it) -> the transport method that carries it.
RPC_METHODS = {
    "GetInfo": "get_info", "Allocate": "allocate", "Free": "free", "Apply": "apply", "SendQubit": "send_qubit",
    "Inspect": "inspect", "CreateEpr": "create_epr", "CreateMeasureEpr": "create_measure_epr",
    "FetchEprOutcomes": "fetch_epr_outcomes", "SendClassical": "send_classical",
    "ReceiveClassical": "receive_classical", "RunProtocol": "run_protocol", "Renew": "renew_session",
    "Close": "close_session", "GetStatus": "key_status", "GetKeys": "get_keys", "GetKeysWithIds": "get_keys_with_ids",
}

Handler = Callable[[Any], Any]


class InProcessTransport:
    """`Transport` that hands each request to a Python callable (``{"Apply": fn, ...}``, keyed by RPC
    name); no sockets. A handler raises a `QnetError` (or a `grpc.RpcError`, mapped as a real node's
    status would be) to fail the call. Every call is recorded in `calls` as (rpc, request, timeout_s).
    An RPC with no handler fails with `InvalidOperation`; ``Renew``/``Close`` default to a 30 s lease."""

    def __init__(self, handlers: Mapping[str, Handler], name: str = "node") -> None:
        unknown = sorted(set(handlers) - set(RPC_METHODS))
        if unknown:
            raise InvalidOperation(f"no RPC named {', '.join(unknown)}; known: {', '.join(sorted(RPC_METHODS))}")
        self.name = name
        self.handlers = {"Renew": lambda _req: s.SessionLease(lease_s=30.0),
                         "Close": lambda _req: s.SessionLease(lease_s=0.0), **handlers}
        self.calls: list[tuple[str, Any, float]] = []
        self.closed = False

    def _handle(self, rpc: str, req: Any, timeout_s: float) -> Any:
        self.calls.append((rpc, req, timeout_s))
        fn = self.handlers.get(rpc)
        if fn is None:
            raise InvalidOperation(f"{self.name}: this in-process node has no handler for {rpc}")
        try:
            return fn(req)
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=self.name) from None

    def get_info(self, req: n.GetInfoRequest, timeout_s: float) -> n.NodeInfo:
        return cast("n.NodeInfo", self._handle("GetInfo", req, timeout_s))

    def allocate(self, req: n.AllocateRequest, timeout_s: float) -> n.AllocateResponse:
        return cast("n.AllocateResponse", self._handle("Allocate", req, timeout_s))

    def free(self, req: n.FreeRequest, timeout_s: float) -> n.FreeResponse:
        return cast("n.FreeResponse", self._handle("Free", req, timeout_s))

    def apply(self, req: n.ApplyRequest, timeout_s: float) -> n.ApplyResponse:
        return cast("n.ApplyResponse", self._handle("Apply", req, timeout_s))

    def send_qubit(self, req: n.SendQubitRequest, timeout_s: float) -> n.SendQubitResponse:
        return cast("n.SendQubitResponse", self._handle("SendQubit", req, timeout_s))

    def inspect(self, req: n.InspectRequest, timeout_s: float) -> n.InspectResponse:
        return cast("n.InspectResponse", self._handle("Inspect", req, timeout_s))

    def create_epr(self, req: n.CreateEprRequest, timeout_s: float) -> n.CreateEprResponse:
        return cast("n.CreateEprResponse", self._handle("CreateEpr", req, timeout_s))

    def create_measure_epr(self, req: n.CreateMeasureEprRequest, timeout_s: float) -> n.CreateMeasureEprResponse:
        return cast("n.CreateMeasureEprResponse", self._handle("CreateMeasureEpr", req, timeout_s))

    def fetch_epr_outcomes(self, req: n.FetchEprOutcomesRequest, timeout_s: float) -> n.FetchEprOutcomesResponse:
        return cast("n.FetchEprOutcomesResponse", self._handle("FetchEprOutcomes", req, timeout_s))

    def send_classical(self, req: n.SendClassicalRequest, timeout_s: float) -> n.SendClassicalResponse:
        return cast("n.SendClassicalResponse", self._handle("SendClassical", req, timeout_s))

    def receive_classical(self, req: n.ReceiveClassicalRequest, timeout_s: float) -> n.ReceiveClassicalResponse:
        return cast("n.ReceiveClassicalResponse", self._handle("ReceiveClassical", req, timeout_s))

    def run_protocol(self, req: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult:
        return cast("pr.ProtocolResult", self._handle("RunProtocol", req, timeout_s))

    def renew_session(self, req: s.RenewSessionRequest, timeout_s: float) -> s.SessionLease:
        return cast("s.SessionLease", self._handle("Renew", req, timeout_s))

    def close_session(self, req: s.CloseSessionRequest, timeout_s: float) -> s.SessionLease:
        return cast("s.SessionLease", self._handle("Close", req, timeout_s))

    def key_status(self, req: k.KeyStatusRequest, timeout_s: float) -> k.KeyStatus:
        return cast("k.KeyStatus", self._handle("GetStatus", req, timeout_s))

    def get_keys(self, req: k.GetKeysRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", self._handle("GetKeys", req, timeout_s))

    def get_keys_with_ids(self, req: k.GetKeysWithIdsRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", self._handle("GetKeysWithIds", req, timeout_s))

    def close(self) -> None:
        self.closed = True


class AsyncInProcessTransport:
    """`AsyncTransport` over the same handlers as `InProcessTransport` (a handler may be sync or async)."""

    def __init__(self, handlers: Mapping[str, Handler], name: str = "node") -> None:
        self._sync = InProcessTransport(handlers, name)
        self.name = name

    @property
    def calls(self) -> list[tuple[str, Any, float]]:
        return self._sync.calls

    @property
    def closed(self) -> bool:
        return self._sync.closed

    async def _handle(self, rpc: str, req: Any, timeout_s: float) -> Any:
        out = self._sync._handle(rpc, req, timeout_s)
        if inspect.isawaitable(out):
            try:
                out = await out
            except grpc.RpcError as err:
                raise error_from_rpc(err, where=self.name) from None
        return out

    async def get_info(self, req: n.GetInfoRequest, timeout_s: float) -> n.NodeInfo:
        return cast("n.NodeInfo", await self._handle("GetInfo", req, timeout_s))

    async def allocate(self, req: n.AllocateRequest, timeout_s: float) -> n.AllocateResponse:
        return cast("n.AllocateResponse", await self._handle("Allocate", req, timeout_s))

    async def free(self, req: n.FreeRequest, timeout_s: float) -> n.FreeResponse:
        return cast("n.FreeResponse", await self._handle("Free", req, timeout_s))

    async def apply(self, req: n.ApplyRequest, timeout_s: float) -> n.ApplyResponse:
        return cast("n.ApplyResponse", await self._handle("Apply", req, timeout_s))

    async def send_qubit(self, req: n.SendQubitRequest, timeout_s: float) -> n.SendQubitResponse:
        return cast("n.SendQubitResponse", await self._handle("SendQubit", req, timeout_s))

    async def inspect(self, req: n.InspectRequest, timeout_s: float) -> n.InspectResponse:
        return cast("n.InspectResponse", await self._handle("Inspect", req, timeout_s))

    async def create_epr(self, req: n.CreateEprRequest, timeout_s: float) -> n.CreateEprResponse:
        return cast("n.CreateEprResponse", await self._handle("CreateEpr", req, timeout_s))

    async def create_measure_epr(self, req: n.CreateMeasureEprRequest,
                                 timeout_s: float) -> n.CreateMeasureEprResponse:
        return cast("n.CreateMeasureEprResponse", await self._handle("CreateMeasureEpr", req, timeout_s))

    async def fetch_epr_outcomes(self, req: n.FetchEprOutcomesRequest,
                                 timeout_s: float) -> n.FetchEprOutcomesResponse:
        return cast("n.FetchEprOutcomesResponse", await self._handle("FetchEprOutcomes", req, timeout_s))

    async def send_classical(self, req: n.SendClassicalRequest, timeout_s: float) -> n.SendClassicalResponse:
        return cast("n.SendClassicalResponse", await self._handle("SendClassical", req, timeout_s))

    async def receive_classical(self, req: n.ReceiveClassicalRequest,
                                timeout_s: float) -> n.ReceiveClassicalResponse:
        return cast("n.ReceiveClassicalResponse", await self._handle("ReceiveClassical", req, timeout_s))

    async def run_protocol(self, req: pr.ProtocolRequest, timeout_s: float) -> pr.ProtocolResult:
        return cast("pr.ProtocolResult", await self._handle("RunProtocol", req, timeout_s))

    async def renew_session(self, req: s.RenewSessionRequest, timeout_s: float) -> s.SessionLease:
        return cast("s.SessionLease", await self._handle("Renew", req, timeout_s))

    async def close_session(self, req: s.CloseSessionRequest, timeout_s: float) -> s.SessionLease:
        return cast("s.SessionLease", await self._handle("Close", req, timeout_s))

    async def key_status(self, req: k.KeyStatusRequest, timeout_s: float) -> k.KeyStatus:
        return cast("k.KeyStatus", await self._handle("GetStatus", req, timeout_s))

    async def get_keys(self, req: k.GetKeysRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", await self._handle("GetKeys", req, timeout_s))

    async def get_keys_with_ids(self, req: k.GetKeysWithIdsRequest, timeout_s: float) -> k.KeyContainer:
        return cast("k.KeyContainer", await self._handle("GetKeysWithIds", req, timeout_s))

    async def close(self) -> None:
        self._sync.close()


__all__ = ["AsyncGrpcTransport", "AsyncInProcessTransport", "AsyncTransport", "GrpcTransport", "InProcessTransport",
           "Transport"]
