"""The asyncio client SDK: the same handles and methods as `qemu_net.client.sync`, awaited.

    async with AsyncNetwork.connect(topology) as net:
        q = await net["alice"].qubit()
        await q.h()
        print(await q.measure("X"))
        d = await net.chain(["n0", "n1", "n2"])          # the protocol suite and QKD too

Requests and results are built and read by `qemu_net._serde.sdk`, protocols run the same steps as the
synchronous client (`qemu_net.client.protocols`); only the transport is asyncio (`AsyncTransport`).
Channels are created inside the running event loop (grpc.aio requires it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from qemu_net._serde import sdk as w
from qemu_net.client import _base
from qemu_net.client._base import EprPairBase, NetworkBase, NodeBase, QubitBase
from qemu_net.client._transport import AsyncGrpcTransport, AsyncTransport
from qemu_net.client.credentials import open_aio_channel
from qemu_net.client.session import AsyncLeaseKeeper
from qemu_net.errors import QnetError
from qemu_net.observability import tracing

if TYPE_CHECKING:
    import numpy as np

    from qemu_net.client import protocols
    from qemu_net.client.qkd import KeyStatus, QkdSummary
    from qemu_net.network.topology import Topology
    from qemu_net.qkd.delivered import DeliveredKey
    from qemu_net.security.tls import TlsCredentials

T = TypeVar("T")

#: Makes the transport of one node: (node name, address) -> AsyncTransport (default: grpc.aio).
AsyncTransportFactory = Callable[[str, str], AsyncTransport]


class AsyncQubit(QubitBase["AsyncNode", Awaitable["AsyncQubit"]]):
    """A handle on one qubit located at a node. Used as an async context manager it is freed on exit."""

    __slots__ = ()

    async def __aenter__(self) -> AsyncQubit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(QnetError):  # already measured, sent away or freed
            await self.node.free([self])

    async def apply(self, gate: Any, *others: AsyncQubit | str, angle: float | None = None) -> AsyncQubit:
        """Apply `gate` (a name, a Cirq gate or a unitary) to this qubit (and `others`, e.g. a target)."""
        await self.node.gate(gate, self, *others, angle=angle)
        return self

    async def measure(self, basis: str = "Z", *, keep: bool = False) -> int:
        (bit,) = await self.node.apply([w.measure_op(self, basis, keep)])
        return bit

    async def wait(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass with this qubit in memory (see `Qubit.wait`)."""
        await self.node.wait([self], seconds)

    async def send(self, to: str) -> AsyncQubit | None:
        """Send over the quantum link to a neighbour; None if the photon was lost."""
        return await self.node.send_qubit(self, to)

    async def free(self) -> None:
        """Free this qubit at its node."""
        await self.node.free([self])

    async def density_matrix(self) -> np.ndarray:
        """This qubit's reduced density matrix (the node must run with --allow-inspect)."""
        return await self.node.inspect([self])


class AsyncEprPair(EprPairBase[AsyncQubit]):
    """One EPR pair with a neighbour: `local` here, `remote` there."""


class AsyncNode(NodeBase["AsyncNetwork", AsyncTransport]):
    """A handle on one node process (its RPCs go through one `AsyncTransport`)."""

    async def close(self) -> None:
        await self.transport.close()

    def _t(self) -> AsyncTransport:
        if not self.used or self.network._lease.idle:
            self.mark_used()
        return self.transport

    async def info(self, timeout_s: float | None = None) -> w.NodeInfo:
        """What the node reports about itself."""
        return w.info_from_proto(await self._t().get_info(w.get_info_request(), timeout_s or self.network.timeout_s))

    async def qubit(self) -> AsyncQubit:
        """One fresh qubit in |0>."""
        return (await self.qubits(1))[0]

    async def qubits(self, count: int) -> list[AsyncQubit]:
        """`count` fresh qubits in |0>."""
        r = await self._t().allocate(w.allocate_request(count), self.network.timeout_s)
        return [AsyncQubit(self, q) for q in w.allocated_from_proto(r)]

    async def free(self, qubits: Sequence[AsyncQubit | str]) -> None:
        """Free qubits here."""
        await self._t().free(w.free_request(qubits), self.network.timeout_s)

    async def apply(self, operations: Sequence[w.Operation]) -> list[int]:
        """Run a list of operations in one call (build them with `gate`, `measure`, `reset`)."""
        return w.outcomes_from_proto(await self._t().apply(w.apply_request(operations), self.network.timeout_s))

    async def gate(self, gate: Any, *qubits: AsyncQubit | str, angle: float | None = None) -> None:
        """Apply one gate (no outcomes to read back)."""
        await self._t().apply(w.apply_request([w.gate_op(gate, qubits, angle)]), self.network.timeout_s)

    async def measure(self, qubit: AsyncQubit | str, basis: str = "Z", *, keep: bool = False) -> int:
        """Measure a qubit here in `basis` (freed unless `keep`)."""
        return (await self.apply([w.measure_op(qubit, basis, keep)]))[0]

    async def wait(self, qubits: Sequence[AsyncQubit | str], seconds: float) -> None:
        """Let `seconds` of virtual time pass at this node with `qubits` in memory (see `Node.wait`)."""
        for op in _base.wait_ops(qubits, seconds):
            await self.apply([op])

    async def send_qubit(self, qubit: AsyncQubit | str, to: str) -> AsyncQubit | None:
        """Send a qubit to neighbour `to`; its handle there, or None if the photon was lost."""
        r = await self._t().send_qubit(w.send_qubit_request(qubit, to), self.network.timeout_s)
        return AsyncQubit(self.network[to], w.qubit_id(qubit)) if w.sent_from_proto(r) else None

    async def inspect(self, qubits: Sequence[AsyncQubit | str]) -> np.ndarray:
        """The reduced density matrix (debugging; the node must run with --allow-inspect)."""
        return w.density_from_proto(await self._t().inspect(w.inspect_request(qubits), self.network.timeout_s))

    async def epr(self, peer: str, count: int = 1) -> list[AsyncEprPair]:
        """`count` EPR pairs with neighbour `peer` (one half here, one there)."""
        r = await self._t().create_epr(w.create_epr_request(peer, count), self.network.timeout_s)
        other = self.network[peer]
        return [AsyncEprPair(p.pair_id, AsyncQubit(self, p.local_qubit), AsyncQubit(other, p.remote_qubit),
                             p.ready_ns, p.attempts) for p in w.pairs_from_proto(r)]

    async def create_measure_epr(
        self, peer: str, count: int, *, local_bases: Any = None, remote_bases: Any = None
    ) -> w.BatchOutcomes:
        """Create and measure `count` pairs with `peer` (both ends measure; this end's outcomes)."""
        req = w.create_measure_epr_request(peer, count, local_bases, remote_bases)
        return w.batch_from_proto(await self._t().create_measure_epr(req, self.network.timeout_s))

    async def fetch_epr_outcomes(self, batch_id: str, timeout_s: float = 10.0) -> np.ndarray:
        """The far end's outcomes of a create-and-measure batch."""
        req = w.fetch_epr_outcomes_request(batch_id, timeout_s)
        return w.fetched_from_proto(await self._t().fetch_epr_outcomes(req, self.network.timeout_s))

    async def send(self, to: str, channel: str, payload: bytes, *, message_id: str = "") -> int:
        """See `qemu_net.client.Node.send` (a named message is sent at most once however often retried)."""
        req = w.send_classical_request(to, channel, payload, message_id)
        return int((await self._t().send_classical(req, self.network.timeout_s)).seq)

    async def receive(self, sender: str, channel: str, timeout_s: float = 10.0) -> bytes:
        """See `qemu_net.client.Node.receive` (acknowledged delivery)."""
        r = await self._t().receive_classical(self._receive_request(sender, channel, timeout_s), timeout_s + 5)
        return self._received(sender, channel, r)

    async def run_protocol(self, request: w.ProtocolRequest) -> w.ProtocolResult:
        """Run one protocol role here (see `AsyncNetwork.run_roles`)."""
        return await self._t().run_protocol(request, request.timeout_s + 5)

    async def key_status(self, peer: str, *, timeout_s: float | None = None) -> KeyStatus:
        """What this node holds for `peer` (ETSI GS QKD 014 "Get status")."""
        from qemu_net.client import qkd

        m = await self._t().key_status(w.key_status_request(peer), timeout_s or self.network.timeout_s)
        return qkd.status_from_proto(m)

    async def get_keys(self, peer: str, number: int = 1, size_bits: int = 256, *,
                       timeout_s: float | None = None) -> list[DeliveredKey]:
        """Master side: `number` fresh keys of `size_bits` shared with `peer`."""
        from qemu_net.client import qkd

        req = w.get_keys_request(peer, number, size_bits)
        return qkd.keys_from_proto(await self._t().get_keys(req, timeout_s or self.network.timeout_s))

    async def get_keys_with_ids(self, peer: str, key_ids: Sequence[str], *,
                                timeout_s: float | None = None) -> list[DeliveredKey]:
        """Slave side: the keys the peer's application was given, by id (each delivered once)."""
        from qemu_net.client import qkd

        req = w.get_keys_with_ids_request(peer, key_ids)
        return qkd.keys_from_proto(await self._t().get_keys_with_ids(req, timeout_s or self.network.timeout_s))


class AsyncNetwork(NetworkBase["AsyncNode", AsyncQubit, AsyncTransport]):
    """Handles on every node of a network, asyncio. Use `AsyncNetwork.connect(...)` (same targets, checks
    and TLS choice as `Network.connect`) inside the running event loop; close it (or use ``async with``).
    `transport` as in `Network`."""

    def __init__(self, addresses: Mapping[str, str], *, topology: Topology | None = None,
                 timeout_s: float = _base.DEFAULT_TIMEOUT_S, tls: TlsCredentials | None = None,
                 transport: AsyncTransportFactory | None = None) -> None:
        super().__init__(addresses, topology=topology, timeout_s=timeout_s, tls=tls, transport=transport)
        self._lease: AsyncLeaseKeeper = AsyncLeaseKeeper(self.session_id, self._used_transports)

    def _make_node(self, name: str, address: str, transport: AsyncTransport) -> AsyncNode:
        return AsyncNode(self, name, address, transport)

    def _make_qubit(self, node: AsyncNode, qid: str) -> AsyncQubit:
        return AsyncQubit(node, qid)

    def _grpc_transport(self, name: str, address: str) -> AsyncTransport:
        channel = open_aio_channel(address, name, self.tls, w.CHANNEL_OPTIONS, interceptors=tracing.aio_interceptors())
        return AsyncGrpcTransport(channel, name, self._metadata)

    async def close(self) -> None:
        """End the session at every node used (its qubits are freed there) and close the channels."""
        await self._lease.close()
        await asyncio.gather(*(nd.close() for nd in self._nodes.values()))

    async def __aenter__(self) -> AsyncNetwork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ running roles
    async def run_roles(self, roles: Mapping[str, Mapping[str, Any]], *, timeout_s: float = 30.0,
                        session: str | None = None) -> dict[str, w.ProtocolResult]:
        """Run one role per node concurrently (each in its own node process); return results by node.
        The first role to fail ends the run (the others are cancelled), as in `Network.run_roles`."""
        requests, span = self._role_run(roles, timeout_s, session)
        with span:  # the tasks inherit its context
            return await self._run_roles(requests, timeout_s)

    async def _run_roles(self, requests: Mapping[str, w.ProtocolRequest],
                         timeout_s: float) -> dict[str, w.ProtocolResult]:
        nodes = {name: self[name] for name in requests}
        tasks = {name: asyncio.ensure_future(nodes[name].run_protocol(req)) for name, req in requests.items()}
        bound = time.monotonic() + timeout_s + _base.ROLE_GRACE_S
        try:
            done, pending = await asyncio.wait(tasks.values(), timeout=timeout_s + _base.ROLE_GRACE_S,
                                               return_when=asyncio.FIRST_EXCEPTION)
            if causes := _base.causes_pending(tasks):  # a role reported its peer's abort: hear the peer's own error
                more, _ = await asyncio.wait(causes, timeout=max(bound - time.monotonic(), 0.0))
                done, pending = done | more, {t for t in tasks.values() if not t.done()}
            return _base.role_results(tasks, done, pending, timeout_s + _base.ROLE_GRACE_S)
        finally:
            for task in tasks.values():
                task.cancel()

    async def _drive(self, steps: protocols.Steps[T]) -> T:
        """Run a protocol's steps (`qemu_net.client.protocols`): each role run it asks for, in turn."""
        try:
            call = next(steps)
            while True:
                call = steps.send(await self.run_roles(call.roles, timeout_s=call.timeout_s, session=call.session))
        except StopIteration as done:
            value: T = done.value
            return value

    async def teleport(self, qubit: AsyncQubit, to: str, *, pair: tuple[AsyncQubit, AsyncQubit] | None = None,
                       timeout_s: float = 30.0) -> AsyncQubit:
        """Teleport `qubit` to node `to` (see `Network.teleport`)."""
        from qemu_net.client import protocols

        delivered: AsyncQubit = await self._drive(protocols.teleport_steps(self, qubit, to, pair=pair,
                                                                           timeout_s=timeout_s))
        return delivered

    # ------------------------------------------------------------------ protocol suite (client/protocols.py)
    async def chain(self, path: Sequence[str], **kw: Any) -> protocols.ChainDelivery:
        """Deliver end-to-end pairs along a path by swapping (see `qemu_net.client.protocols.chain`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.chain_steps(self, path, **kw))

    async def swap(self, a: str, middle: str, b: str, **kw: Any) -> protocols.ChainDelivery:
        """Entanglement swapping at `middle`: a pair a--b (see `qemu_net.client.protocols.swap`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.chain_steps(self, [a, middle, b], **kw))

    async def purify(self, a: str, b: str, **kw: Any) -> protocols.Purification:
        """Purify pairs between a and b (see `qemu_net.client.protocols.purify`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.purify_steps(self, a, b, **kw))

    async def entangle(self, a: str, b: str, *, min_fidelity: float, **kw: Any) -> protocols.EntangledPair:
        """A pair between a and b with fidelity >= min_fidelity: route, swap, purify as needed."""
        from qemu_net.client import protocols

        return await self._drive(protocols.entangle_steps(self, a, b, min_fidelity=min_fidelity, **kw))

    async def ghz(self, nodes: Sequence[str], **kw: Any) -> protocols.GhzStates:
        """GHZ states over `nodes` (see `qemu_net.client.protocols.ghz`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.ghz_steps(self, nodes, **kw))

    async def mermin(self, nodes: Sequence[str], **kw: Any) -> protocols.MerminResult:
        """The Mermin value of GHZ states over `nodes` (see `qemu_net.client.protocols.mermin`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.mermin_steps(self, nodes, **kw))

    async def superdense(self, a: str, b: str, messages: Sequence[int] | bytes, **kw: Any) -> np.ndarray:
        """Superdense coding of 2-bit messages from a to b (see `qemu_net.client.protocols.superdense`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.superdense_steps(self, a, b, messages, **kw))

    async def nonlocal_cnot(self, control: AsyncQubit, target: AsyncQubit, **kw: Any) -> int:
        """CNOT across two nodes with one EPR pair; returns the pairs consumed."""
        from qemu_net.client import protocols

        return await self._drive(protocols.nonlocal_controlled_steps(self, control, target, None, **kw))

    async def nonlocal_controlled(self, control: AsyncQubit, target: AsyncQubit, u: Any, **kw: Any) -> int:
        """Controlled-U across two nodes with one EPR pair; returns the pairs consumed."""
        from qemu_net.client import protocols

        return await self._drive(protocols.nonlocal_controlled_steps(self, control, target, u, **kw))

    async def teleported_gate(self, home: AsyncQubit, remote: AsyncQubit, u: Any, **kw: Any) -> AsyncQubit:
        """A 4x4 unitary on (home, remote) by teleporting `remote` there and back."""
        from qemu_net.client import protocols

        moved: AsyncQubit = await self._drive(protocols.teleported_gate_steps(self, home, remote, u, **kw))
        return moved

    async def run_circuit(self, circuit: Any, assignment: Mapping[Any, str], **kw: Any) -> protocols.CircuitResult:
        """Run a cirq circuit distributed over nodes (see `qemu_net.client.protocols.run_circuit`)."""
        from qemu_net.client import protocols

        return await self._drive(protocols.run_circuit_steps(self, circuit, assignment, **kw))

    async def run_qkd(self, alice: str, bob: str, protocol: str = "bb84", **kw: Any) -> QkdSummary:
        """A QKD session between `alice` and `bob` (see `qemu_net.client.qkd.run_qkd`)."""
        from qemu_net.client import qkd

        return await self._drive(qkd.run_qkd_steps(alice, bob, protocol, **kw))
