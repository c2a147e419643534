"""The asyncio client SDK: the same handles as `qemu_net.client.sync`, with `async` methods.

    async with AsyncNetwork.connect(topology) as net:
        q = await net["alice"].qubit()
        await q.h()
        print(await q.measure("X"))

Channels are created inside the running event loop (grpc.aio requires it).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.client import _wire as w
from qemu_net.client.credentials import open_aio_channel, resolve
from qemu_net.client.session import AsyncLeaseKeeper, metadata, new_session_id
from qemu_net.observability import tracing
from qemu_net.errors import InvalidOperation, QnetError
from qemu_net.security.tls import TlsCredentials
from qemu_net.network.topology import Topology, load_topology
from qemu_net._serde.status import error_from_rpc, never_sent

DEFAULT_TIMEOUT_S = 30.0


class AsyncQubit:
    __slots__ = ("id", "node")

    def __init__(self, node: AsyncNode, qid: str) -> None:
        self.node = node
        self.id = qid
        if not node.used:  # a handle on a qubit there (e.g. a far half): the session must live there too
            node.mark_used()

    def __repr__(self) -> str:
        return f"AsyncQubit({self.id!r} at {self.node.name!r})"

    async def __aenter__(self) -> AsyncQubit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.node.free([self])
        except QnetError:
            pass  # already measured, sent away or freed

    async def apply(self, gate: Any, *others: AsyncQubit | str, angle: float | None = None) -> AsyncQubit:
        await self.node.apply([w.gate_op(gate, (self, *others), angle)])
        return self

    async def h(self) -> AsyncQubit:
        return await self.apply("H")

    async def x(self) -> AsyncQubit:
        return await self.apply("X")

    async def z(self) -> AsyncQubit:
        return await self.apply("Z")

    async def rx(self, angle: float) -> AsyncQubit:
        return await self.apply("RX", angle=angle)

    async def ry(self, angle: float) -> AsyncQubit:
        return await self.apply("RY", angle=angle)

    async def rz(self, angle: float) -> AsyncQubit:
        return await self.apply("RZ", angle=angle)

    async def cnot(self, target: AsyncQubit | str) -> AsyncQubit:
        return await self.apply("CNOT", target)

    async def measure(self, basis: str = "Z", *, keep: bool = False) -> int:
        (bit,) = await self.node.apply([w.measure_op(self, basis, keep)])
        return bit

    async def wait(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass with this qubit in memory (see `Qubit.wait`)."""
        await self.node.wait([self], seconds)

    async def density_matrix(self) -> np.ndarray:
        return await self.node.inspect([self])


@dataclass(frozen=True)
class AsyncEprPair:
    pair_id: str
    local: AsyncQubit
    remote: AsyncQubit
    ready_ns: int
    attempts: int


class AsyncNode:
    def __init__(self, network: AsyncNetwork, name: str, address: str) -> None:
        self.network = network
        self.name = name
        self.address = address
        self._channel = open_aio_channel(address, name, network.tls, w.CHANNEL_OPTIONS,
                                         interceptors=tracing.aio_interceptors())
        self._stub = ng.NodeServiceStub(self._channel)
        self.used = False
        self._acks: dict[tuple[str, str], int] = {}

    async def close(self) -> None:
        await self._channel.close()

    def mark_used(self) -> None:
        """This client's session lives at this node from now on (renewed there, closed at the end)."""
        self.used = True
        self.network._lease.start()

    async def _call(self, method: str, request: Any, timeout_s: float | None = None) -> Any:
        if not self.used or self.network._lease.idle:
            self.mark_used()
        fn = getattr(self._stub, method)
        md = self.network._metadata
        give_up = time.monotonic() + (timeout_s or self.network.timeout_s)
        pause = 0.02
        while True:
            try:
                return await fn(request, timeout=max(give_up - time.monotonic(), 0.001), metadata=md)
            except grpc.aio.AioRpcError as err:
                left = give_up - time.monotonic()
                if not never_sent(err) or left <= 0:
                    raise error_from_rpc(err, where=self.name) from None
            # A busy host did not finish the connection handshake in time; the request was never sent:
            # try again after a short, growing pause, within the same timeout.
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    async def info(self) -> w.NodeInfo:
        return w.info_from_proto(await self._call("GetInfo", n.GetInfoRequest()))

    async def qubit(self) -> AsyncQubit:
        return (await self.qubits(1))[0]

    async def qubits(self, count: int) -> list[AsyncQubit]:
        r = await self._call("Allocate", n.AllocateRequest(count=count))
        return [AsyncQubit(self, q) for q in r.qubits]

    async def free(self, qubits: Sequence[AsyncQubit | str]) -> None:
        await self._call("Free", n.FreeRequest(qubits=[w.qubit_id(q) for q in qubits]))

    async def apply(self, operations: Sequence[t.Operation]) -> list[int]:
        return list((await self._call("Apply", n.ApplyRequest(operations=operations))).outcomes)

    async def measure(self, qubit: AsyncQubit | str, basis: str = "Z", *, keep: bool = False) -> int:
        return (await self.apply([w.measure_op(qubit, basis, keep)]))[0]

    async def wait(self, qubits: Sequence[AsyncQubit | str], seconds: float) -> None:
        """Let `seconds` of virtual time pass at this node with `qubits` in memory (see `Node.wait`)."""
        if not qubits:
            raise InvalidOperation("wait needs at least one qubit")
        first, *rest = qubits
        await self.apply([w.wait_op(first, seconds)])
        for q in rest:
            await self.apply([w.wait_op(q, 0.0)])

    async def inspect(self, qubits: Sequence[AsyncQubit | str]) -> np.ndarray:
        r = await self._call("Inspect", n.InspectRequest(qubits=[w.qubit_id(q) for q in qubits]))
        return w.density_from_proto(r)

    async def epr(self, peer: str, count: int = 1) -> list[AsyncEprPair]:
        r = await self._call("CreateEpr", n.CreateEprRequest(peer=peer, count=count))
        other = self.network[peer]
        return [AsyncEprPair(p.pair_id, AsyncQubit(self, p.local_qubit), AsyncQubit(other, p.remote_qubit),
                             p.ready_ns, p.attempts) for p in r.pairs]

    async def send(self, to: str, channel: str, payload: bytes, *, message_id: str = "") -> int:
        """See `qemu_net.client.Node.send` (a named message is sent at most once however often retried)."""
        req = n.SendClassicalRequest(to=to, channel=channel, payload=payload, message_id=message_id)
        return (await self._call("SendClassical", req)).seq

    async def receive(self, sender: str, channel: str, timeout_s: float = 10.0) -> bytes:
        """See `qemu_net.client.Node.receive` (acknowledged delivery)."""
        key = (sender, channel)
        req = n.ReceiveClassicalRequest(sender=sender, channel=channel, timeout_s=timeout_s, acknowledged=True,
                                        ack=self._acks.get(key, 0))
        r = await self._call("ReceiveClassical", req, timeout_s + 5)
        self._acks[key] = r.delivery_id
        return r.payload

    async def run_protocol(self, request: pr.ProtocolRequest) -> pr.ProtocolResult:
        return await self._call("RunProtocol", request, request.timeout_s + 5)


class AsyncNetwork:
    def __init__(self, addresses: Mapping[str, str], *, topology: Topology | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, tls: TlsCredentials | None = None) -> None:
        if not addresses:
            raise InvalidOperation("a network needs at least one node address")
        self.topology = topology
        self.timeout_s = timeout_s
        #: The client certificate every channel presents (None: plaintext); see `qemu_net.client.credentials`.
        self.tls = tls
        #: This client's session at every node (qemu_net.client.session).
        self.session_id = new_session_id()
        self._metadata = metadata(self.session_id)
        self._nodes = {name: AsyncNode(self, name, addr) for name, addr in addresses.items()}
        self._lease = AsyncLeaseKeeper(self.session_id,
                                       lambda: [(nd.name, nd._channel) for nd in self._nodes.values() if nd.used])

    @classmethod
    def connect(cls, target: Topology | Mapping[str, str] | str | os.PathLike[str], *,
                timeout_s: float = DEFAULT_TIMEOUT_S, tls_dir: str | os.PathLike[str] | None = None,
                identity: str | None = None, insecure: bool = False) -> AsyncNetwork:
        """Like `Network.connect` (same TLS choice); call it inside the running event loop."""
        if isinstance(target, (str, os.PathLike)):
            target = load_topology(Path(target))
        if isinstance(target, Topology):
            addresses = {nd.name: nd.address for nd in target.nodes if nd.address}
            return cls(addresses, topology=target, timeout_s=timeout_s,
                       tls=resolve(addresses, tls_dir=tls_dir, identity=identity, insecure=insecure,
                                   network=target.name))
        return cls(dict(target), timeout_s=timeout_s,
                   tls=resolve(dict(target), tls_dir=tls_dir, identity=identity, insecure=insecure))

    def __getitem__(self, name: str) -> AsyncNode:
        try:
            return self._nodes[name]
        except KeyError:
            raise InvalidOperation(f"unknown node {name!r}; nodes: {', '.join(self._nodes)}") from None

    async def close(self) -> None:
        await self._lease.close()  # the session ends at every node used: its qubits are freed there
        await asyncio.gather(*(nd.close() for nd in self._nodes.values()))

    async def __aenter__(self) -> AsyncNetwork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run_roles(self, roles: Mapping[str, dict[str, Any]], *, timeout_s: float = 30.0,
                        session: str | None = None) -> dict[str, pr.ProtocolResult]:
        session = session or w.new_session()
        names = list(roles)
        if tracing.enabled():  # one span for the whole run (gather's tasks inherit its context)
            with tracing.span("protocol run", session=session):
                results = await asyncio.gather(
                    *(self[name].run_protocol(w.protocol_request(session, timeout_s, **roles[name])) for name in names)
                )
            return dict(zip(names, results))
        results = await asyncio.gather(
            *(self[name].run_protocol(w.protocol_request(session, timeout_s, **roles[name])) for name in names)
        )
        return dict(zip(names, results))

    async def teleport(self, qubit: AsyncQubit, to: str, *, timeout_s: float = 30.0) -> AsyncQubit:
        src = qubit.node.name
        res = await self.run_roles(
            {to: {"teleport_receive": pr.TeleportReceive(peer=src)},
             src: {"teleport_send": pr.TeleportSend(peer=to, qubit=qubit.id)}},
            timeout_s=timeout_s,
        )
        return AsyncQubit(self[to], res[to].teleport_receive.qubit)
