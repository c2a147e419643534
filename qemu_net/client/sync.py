"""The synchronous client SDK: Network -> Node -> Qubit handles over real gRPC.

    from qemu_net.client import Network

    with Network.connect("topology.yaml") as net:        # or a Topology, or {"alice": "host:port", ...}
        alice, bob = net["alice"], net["bob"]
        q = alice.qubit()
        q.ry(0.3)
        r = net.teleport(q, "bob")                         # runs the sender role at alice, receiver at bob
        print(r.measure("Z"))

Every call has a deadline (`timeout_s`, default 30 s); every failure raises a `qemu_net.errors.QnetError`
subclass rebuilt from the gRPC status (see `qemu_net.errors` for the tree).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar

from qemu_net._serde import sdk as w
from qemu_net.client import _base
from qemu_net.client._base import EprPairBase, NetworkBase, NodeBase, QubitBase
from qemu_net.client._transport import GrpcTransport, Transport
from qemu_net.client.credentials import open_channel
from qemu_net.client.session import LeaseKeeper
from qemu_net.errors import QnetError
from qemu_net.network.topology import Topology
from qemu_net.observability import tracing
from qemu_net.observability.tracing import intercept_channel

if TYPE_CHECKING:
    import numpy as np

    from qemu_net.client import protocols
    from qemu_net.client.qkd import KeyStatus, QkdSummary
    from qemu_net.qkd.delivered import DeliveredKey
    from qemu_net.security.tls import TlsCredentials

T = TypeVar("T")

#: Makes the transport of one node: (node name, address) -> Transport (default: gRPC).
TransportFactory = Callable[[str, str], Transport]


class Qubit(QubitBase["Node", "Qubit"]):
    """A handle on one qubit located at a node. Used as a context manager it is freed on exit."""

    __slots__ = ()

    def __enter__(self) -> Qubit:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(QnetError):  # already measured, sent away or freed
            self.node.free([self])

    def apply(self, gate: Any, *others: Qubit | str, angle: float | None = None) -> Qubit:
        """Apply `gate` (a name, a Cirq gate or a unitary) to this qubit (and `others`, e.g. a target)."""
        self.node.gate(gate, self, *others, angle=angle)
        return self

    def measure(self, basis: str = "Z", *, keep: bool = False) -> int:
        (bit,) = self.node.apply([w.measure_op(self, basis, keep)])
        return bit

    def wait(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass with this qubit in memory (it decays with its node's T1/T2);
        its node's clock advances by that much."""
        self.node.wait([self], seconds)

    def send(self, to: str) -> Qubit | None:
        """Send over the quantum link to a neighbour; None if the photon was lost."""
        return self.node.send_qubit(self, to)

    def free(self) -> None:
        """Free this qubit at its node."""
        self.node.free([self])

    def density_matrix(self) -> np.ndarray:
        """This qubit's reduced density matrix (the node must run with --allow-inspect)."""
        return self.node.inspect([self])


class EprPair(EprPairBase[Qubit]):
    """One EPR pair with a neighbour: `local` here, `remote` there."""


class Node(NodeBase["Network", Transport]):
    """A handle on one node process (its RPCs go through one `Transport`)."""

    def close(self) -> None:
        self.transport.close()

    def _t(self) -> Transport:
        if not self.used:
            self.mark_used()
        return self.transport

    # ------------------------------------------------------------------ qubits
    def info(self, timeout_s: float | None = None) -> w.NodeInfo:
        """What the node reports about itself."""
        return w.info_from_proto(self._t().get_info(w.get_info_request(), timeout_s or self.network.timeout_s))

    def qubit(self) -> Qubit:
        """One fresh qubit in |0>."""
        return self.qubits(1)[0]

    def qubits(self, count: int) -> list[Qubit]:
        """`count` fresh qubits in |0>."""
        r = self._t().allocate(w.allocate_request(count), self.network.timeout_s)
        return [Qubit(self, q) for q in w.allocated_from_proto(r)]

    def free(self, qubits: Sequence[Qubit | str]) -> None:
        """Free qubits here."""
        self._t().free(w.free_request(qubits), self.network.timeout_s)

    def apply(self, operations: Sequence[w.Operation]) -> list[int]:
        """Run a list of operations in one call (build them with `gate`, `measure`, `reset`)."""
        return w.outcomes_from_proto(self._t().apply(w.apply_request(operations), self.network.timeout_s))

    def gate(self, gate: Any, *qubits: Qubit | str, angle: float | None = None) -> None:
        """Apply one gate (no outcomes to read back)."""
        self._t().apply(w.apply_request([w.gate_op(gate, qubits, angle)]), self.network.timeout_s)

    def measure(self, qubit: Qubit | str, basis: str = "Z", *, keep: bool = False) -> int:
        """Measure a qubit here in `basis` (freed unless `keep`)."""
        return self.apply([w.measure_op(qubit, basis, keep)])[0]

    def wait(self, qubits: Sequence[Qubit | str], seconds: float) -> None:
        """Let `seconds` of virtual time pass at this node with `qubits` in memory: the clock advances once
        and each qubit decays over that time with this node's T1/T2 (one call per qubit, so qubits whose
        states other nodes hold are not gathered in one place)."""
        for op in _base.wait_ops(qubits, seconds):
            self.apply([op])

    def send_qubit(self, qubit: Qubit | str, to: str) -> Qubit | None:
        """Send a qubit to neighbour `to`; its handle there, or None if the photon was lost."""
        r = self._t().send_qubit(w.send_qubit_request(qubit, to), self.network.timeout_s)
        return Qubit(self.network[to], w.qubit_id(qubit)) if w.sent_from_proto(r) else None

    def inspect(self, qubits: Sequence[Qubit | str]) -> np.ndarray:
        """The reduced density matrix (debugging; the node must run with --allow-inspect)."""
        return w.density_from_proto(self._t().inspect(w.inspect_request(qubits), self.network.timeout_s))

    # ------------------------------------------------------------------ link layer
    def epr(self, peer: str, count: int = 1) -> list[EprPair]:
        """`count` EPR pairs with neighbour `peer` (one half here, one there)."""
        r = self._t().create_epr(w.create_epr_request(peer, count), self.network.timeout_s)
        other = self.network[peer]
        return [EprPair(p.pair_id, Qubit(self, p.local_qubit), Qubit(other, p.remote_qubit), p.ready_ns, p.attempts)
                for p in w.pairs_from_proto(r)]

    def create_measure_epr(
        self, peer: str, count: int, *, local_bases: Any = None, remote_bases: Any = None
    ) -> w.BatchOutcomes:
        """Create and measure `count` pairs with `peer` (both ends measure; this end's outcomes)."""
        req = w.create_measure_epr_request(peer, count, local_bases, remote_bases)
        return w.batch_from_proto(self._t().create_measure_epr(req, self.network.timeout_s))

    def fetch_epr_outcomes(self, batch_id: str, timeout_s: float = 10.0) -> np.ndarray:
        """The far end's outcomes of a create-and-measure batch."""
        req = w.fetch_epr_outcomes_request(batch_id, timeout_s)
        return w.fetched_from_proto(self._t().fetch_epr_outcomes(req, self.network.timeout_s))

    # ------------------------------------------------------------------ classical
    def send(self, to: str, channel: str, payload: bytes, *, message_id: str = "") -> int:
        """Send a classical message. Name it (`message_id`, unique per channel) to retry it safely after
        an error: the node sends a message it already took at most once (exactly once once it got through)."""
        req = w.send_classical_request(to, channel, payload, message_id)
        return int(self._t().send_classical(req, self.network.timeout_s).seq)

    def receive(self, sender: str, channel: str, timeout_s: float = 10.0) -> bytes:
        """The next message from `sender` on `channel`. Delivery is acknowledged: a receive whose answer
        was lost (e.g. a partition) gets the same message again on the next call, never loses it."""
        r = self._t().receive_classical(self._receive_request(sender, channel, timeout_s), timeout_s + 5)
        return self._received(sender, channel, r)

    # ------------------------------------------------------------------ protocols and keys
    def run_protocol(self, request: w.ProtocolRequest) -> w.ProtocolResult:
        """Run one protocol role here (see `Network.run_roles`)."""
        return self._t().run_protocol(request, request.timeout_s + 5)

    def key_status(self, peer: str, *, timeout_s: float | None = None) -> KeyStatus:
        """What this node holds for `peer` (ETSI GS QKD 014 "Get status")."""
        from qemu_net.client import qkd

        m = self._t().key_status(w.key_status_request(peer), timeout_s or self.network.timeout_s)
        return qkd.status_from_proto(m)

    def get_keys(self, peer: str, number: int = 1, size_bits: int = 256, *,
                 timeout_s: float | None = None) -> list[DeliveredKey]:
        """Master side: `number` fresh keys of `size_bits` shared with `peer`."""
        from qemu_net.client import qkd

        m = self._t().get_keys(w.get_keys_request(peer, number, size_bits), timeout_s or self.network.timeout_s)
        return qkd.keys_from_proto(m)

    def get_keys_with_ids(self, peer: str, key_ids: Sequence[str], *,
                          timeout_s: float | None = None) -> list[DeliveredKey]:
        """Slave side: the keys the peer's application was given, by id (each delivered once)."""
        from qemu_net.client import qkd

        req = w.get_keys_with_ids_request(peer, key_ids)
        return qkd.keys_from_proto(self._t().get_keys_with_ids(req, timeout_s or self.network.timeout_s))


class Network(NetworkBase["Node", Qubit, Transport]):
    """Handles on every node of a network. Use `Network.connect(...)`; close it (or use `with`).

    `transport` makes each node's transport from (name, address); default: a gRPC channel (with `tls`)."""

    def __init__(self, addresses: Mapping[str, str], *, topology: Topology | None = None,
                 timeout_s: float = _base.DEFAULT_TIMEOUT_S, tls: TlsCredentials | None = None,
                 transport: TransportFactory | None = None) -> None:
        super().__init__(addresses, topology=topology, timeout_s=timeout_s, tls=tls, transport=transport)
        self._lease: LeaseKeeper = LeaseKeeper(self.session_id, self._used_transports)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _make_node(self, name: str, address: str, transport: Transport) -> Node:
        return Node(self, name, address, transport)

    def _make_qubit(self, node: Node, qid: str) -> Qubit:
        return Qubit(node, qid)

    def _grpc_transport(self, name: str, address: str) -> Transport:
        channel = intercept_channel(open_channel(address, name, self.tls, w.CHANNEL_OPTIONS))
        return GrpcTransport(channel, name, self._metadata)

    def close(self) -> None:
        """End the session at every node used (its qubits are freed there) and close the channels."""
        self._lease.close()
        for node in self._nodes.values():
            node.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ running roles
    def run_roles(self, roles: Mapping[str, Mapping[str, Any]], *, timeout_s: float = 30.0,
                  session: str | None = None) -> dict[str, w.ProtocolResult]:
        """Run one role per node concurrently (each in its own node process); return results by node.

        `roles` maps node name -> the ProtocolRequest oneof field and message, e.g.
        ``{"alice": {"teleport_send": TeleportSend(...)}}``. The first role to fail ends the run.
        """
        requests, span = self._role_run(roles, timeout_s, session)
        with span:
            return self._run_roles(requests, timeout_s)

    def _run_roles(self, requests: Mapping[str, w.ProtocolRequest], timeout_s: float) -> dict[str, w.ProtocolResult]:
        nodes = {name: self[name] for name in requests}
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="qnet-roles")
            pool = self._pool
        futures = {name: pool.submit(tracing.wrap_context(nodes[name].run_protocol), req)
                   for name, req in requests.items()}
        # The first role to fail ends the run: the others would only wait out their deadlines.
        bound = time.monotonic() + timeout_s + _base.ROLE_GRACE_S
        done, pending = wait(futures.values(), timeout=timeout_s + _base.ROLE_GRACE_S, return_when=FIRST_EXCEPTION)
        if causes := _base.causes_pending(futures):  # a role reported its peer's abort: hear the peer's own error
            more, pending = wait(causes, timeout=max(bound - time.monotonic(), 0.0))
            done, pending = done | more, {f for f in futures.values() if not f.done()}
        return _base.role_results(futures, done, pending, timeout_s + _base.ROLE_GRACE_S)

    def _drive(self, steps: protocols.Steps[T]) -> T:
        """Run a protocol's steps (`qemu_net.client.protocols`): each role run it asks for, in turn."""
        try:
            call = next(steps)
            while True:
                call = steps.send(self.run_roles(call.roles, timeout_s=call.timeout_s, session=call.session))
        except StopIteration as done:
            value: T = done.value
            return value

    def teleport(self, qubit: Qubit, to: str, *, pair: tuple[Qubit, Qubit] | None = None,
                 timeout_s: float = 30.0) -> Qubit:
        """Teleport `qubit` to node `to` (sender role at the qubit's node, receiver role at `to`).

        `pair`: an existing pair (half at the qubit's node, half at `to`), e.g. one `chain` delivered between
        non-neighbours; the two roles then need only a classical channel. Default: a new link pair."""
        from qemu_net.client import protocols

        delivered: Qubit = self._drive(protocols.teleport_steps(self, qubit, to, pair=pair, timeout_s=timeout_s))
        return delivered

    # ------------------------------------------------------------------ protocol suite (client/protocols.py)
    def chain(self, path: Sequence[str], **kw: Any) -> protocols.ChainDelivery:
        """Deliver end-to-end pairs along a path by swapping (see `qemu_net.client.protocols.chain`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.chain_steps(self, path, **kw))

    def swap(self, a: str, middle: str, b: str, **kw: Any) -> protocols.ChainDelivery:
        """Entanglement swapping at `middle`: a pair a--b (see `qemu_net.client.protocols.swap`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.chain_steps(self, [a, middle, b], **kw))

    def purify(self, a: str, b: str, **kw: Any) -> protocols.Purification:
        """Purify pairs between a and b (see `qemu_net.client.protocols.purify`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.purify_steps(self, a, b, **kw))

    def entangle(self, a: str, b: str, *, min_fidelity: float, **kw: Any) -> protocols.EntangledPair:
        """A pair between a and b with fidelity >= min_fidelity: route, swap, purify as needed."""
        from qemu_net.client import protocols

        return self._drive(protocols.entangle_steps(self, a, b, min_fidelity=min_fidelity, **kw))

    def ghz(self, nodes: Sequence[str], **kw: Any) -> protocols.GhzStates:
        """GHZ states over `nodes` (see `qemu_net.client.protocols.ghz`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.ghz_steps(self, nodes, **kw))

    def mermin(self, nodes: Sequence[str], **kw: Any) -> protocols.MerminResult:
        """The Mermin value of GHZ states over `nodes` (see `qemu_net.client.protocols.mermin`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.mermin_steps(self, nodes, **kw))

    def superdense(self, a: str, b: str, messages: Sequence[int] | bytes, **kw: Any) -> np.ndarray:
        """Superdense coding of 2-bit messages from a to b (see `qemu_net.client.protocols.superdense`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.superdense_steps(self, a, b, messages, **kw))

    def nonlocal_cnot(self, control: Qubit, target: Qubit, **kw: Any) -> int:
        """CNOT across two nodes with one EPR pair; returns the pairs consumed."""
        from qemu_net.client import protocols

        return self._drive(protocols.nonlocal_controlled_steps(self, control, target, None, **kw))

    def nonlocal_controlled(self, control: Qubit, target: Qubit, u: Any, **kw: Any) -> int:
        """Controlled-U across two nodes with one EPR pair; returns the pairs consumed."""
        from qemu_net.client import protocols

        return self._drive(protocols.nonlocal_controlled_steps(self, control, target, u, **kw))

    def teleported_gate(self, home: Qubit, remote: Qubit, u: Any, **kw: Any) -> Qubit:
        """A 4x4 unitary on (home, remote) by teleporting `remote` there and back."""
        from qemu_net.client import protocols

        moved: Qubit = self._drive(protocols.teleported_gate_steps(self, home, remote, u, **kw))
        return moved

    def run_circuit(self, circuit: Any, assignment: Mapping[Any, str], **kw: Any) -> protocols.CircuitResult:
        """Run a cirq circuit distributed over nodes (see `qemu_net.client.protocols.run_circuit`)."""
        from qemu_net.client import protocols

        return self._drive(protocols.run_circuit_steps(self, circuit, assignment, **kw))

    def run_qkd(self, alice: str, bob: str, protocol: str = "bb84", **kw: Any) -> QkdSummary:
        """A QKD session between `alice` and `bob` (see `qemu_net.client.qkd.run_qkd`)."""
        from qemu_net.client import qkd

        return self._drive(qkd.run_qkd_steps(alice, bob, protocol, **kw))
