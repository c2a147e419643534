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

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
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
from qemu_net.client.credentials import open_channel, resolve
from qemu_net.client.session import LeaseKeeper, metadata, new_session_id
from qemu_net.errors import InvalidOperation, ProtocolTimeout, QnetError
from qemu_net.security.tls import TlsCredentials
from qemu_net.network.topology import Topology, load_topology
from qemu_net._serde.status import call_until_sent
from qemu_net.observability import tracing
from qemu_net.observability.tracing import intercept_channel

DEFAULT_TIMEOUT_S = 30.0


class Qubit:
    """A handle on one qubit located at a node. Used as a context manager it is freed on exit."""

    __slots__ = ("id", "node")

    def __init__(self, node: Node, qid: str) -> None:
        self.node = node
        self.id = qid
        if not node.used:  # a handle on a qubit there (e.g. a far half): the session must live there too
            node.mark_used()

    def __repr__(self) -> str:
        return f"Qubit({self.id!r} at {self.node.name!r})"

    def __enter__(self) -> Qubit:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.node.free([self])
        except QnetError:
            pass  # already measured, sent away or freed

    def apply(self, gate: Any, *others: Qubit | str, angle: float | None = None) -> Qubit:
        self.node.apply([w.gate_op(gate, (self, *others), angle)])
        return self

    def x(self) -> Qubit:
        return self.apply("X")

    def y(self) -> Qubit:
        return self.apply("Y")

    def z(self) -> Qubit:
        return self.apply("Z")

    def h(self) -> Qubit:
        return self.apply("H")

    def s(self) -> Qubit:
        return self.apply("S")

    def t(self) -> Qubit:
        return self.apply("T")

    def rx(self, angle: float) -> Qubit:
        return self.apply("RX", angle=angle)

    def ry(self, angle: float) -> Qubit:
        return self.apply("RY", angle=angle)

    def rz(self, angle: float) -> Qubit:
        return self.apply("RZ", angle=angle)

    def cnot(self, target: Qubit | str) -> Qubit:
        return self.apply("CNOT", target)

    def cz(self, target: Qubit | str) -> Qubit:
        return self.apply("CZ", target)

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

    def density_matrix(self) -> np.ndarray:
        return self.node.inspect([self])


@dataclass(frozen=True)
class EprPair:
    pair_id: str
    local: Qubit
    remote: Qubit
    ready_ns: int
    attempts: int


class Node:
    """A handle on one node process."""

    def __init__(self, network: Network, name: str, address: str) -> None:
        self.network = network
        self.name = name
        self.address = address
        self._channel = intercept_channel(open_channel(address, name, network.tls, w.CHANNEL_OPTIONS))
        self._stub = ng.NodeServiceStub(self._channel)
        #: Set once this client made a call here: its session lives here (renewed, closed at the end).
        self.used = False
        #: (sender, channel) -> the delivery id of the last message received (acknowledged next time).
        self._acks: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"Node({self.name!r} at {self.address})"

    def close(self) -> None:
        self._channel.close()

    def mark_used(self) -> None:
        """This client's session lives at this node from now on (renewed there, closed at the end)."""
        self.used = True
        self.network._lease.start()

    def _call(self, method: str, request: Any, timeout_s: float | None = None) -> Any:
        if not self.used:
            self.mark_used()
        fn = getattr(self._stub, method)
        md = self.network._metadata
        return call_until_sent(lambda req, timeout: fn(req, timeout=timeout, metadata=md), request,
                               timeout_s or self.network.timeout_s, self.name)

    # ------------------------------------------------------------------ qubits
    def info(self, timeout_s: float | None = None) -> w.NodeInfo:
        return w.info_from_proto(self._call("GetInfo", n.GetInfoRequest(), timeout_s))

    def qubit(self) -> Qubit:
        return self.qubits(1)[0]

    def qubits(self, count: int) -> list[Qubit]:
        r = self._call("Allocate", n.AllocateRequest(count=count))
        return [Qubit(self, q) for q in r.qubits]

    def free(self, qubits: Sequence[Qubit | str]) -> None:
        self._call("Free", n.FreeRequest(qubits=[w.qubit_id(q) for q in qubits]))

    def apply(self, operations: Sequence[t.Operation]) -> list[int]:
        """Run a list of operations in one call (build them with `gate`, `measure`, `reset`)."""
        return list(self._call("Apply", n.ApplyRequest(operations=operations)).outcomes)

    def gate(self, gate: Any, *qubits: Qubit | str, angle: float | None = None) -> None:
        # Not via apply(): a gate has no outcomes to read back (one protobuf access less per call).
        self._call("Apply", n.ApplyRequest(operations=[w.gate_op(gate, qubits, angle)]))

    def measure(self, qubit: Qubit | str, basis: str = "Z", *, keep: bool = False) -> int:
        return self.apply([w.measure_op(qubit, basis, keep)])[0]

    def wait(self, qubits: Sequence[Qubit | str], seconds: float) -> None:
        """Let `seconds` of virtual time pass at this node with `qubits` in memory: the clock advances once
        and each qubit decays over that time with this node's T1/T2 (one call per qubit, so qubits whose
        states other nodes hold are not gathered in one place)."""
        if not qubits:
            raise InvalidOperation("wait needs at least one qubit")
        first, *rest = qubits
        self.apply([w.wait_op(first, seconds)])
        for q in rest:
            self.apply([w.wait_op(q, 0.0)])  # brought up to the same (advanced) time

    def send_qubit(self, qubit: Qubit | str, to: str) -> Qubit | None:
        r = self._call("SendQubit", n.SendQubitRequest(qubit=w.qubit_id(qubit), to=to))
        return None if r.lost else Qubit(self.network[to], w.qubit_id(qubit))

    def inspect(self, qubits: Sequence[Qubit | str]) -> np.ndarray:
        """The reduced density matrix (debugging; the node must run with --allow-inspect)."""
        return w.density_from_proto(self._call("Inspect", n.InspectRequest(qubits=[w.qubit_id(q) for q in qubits])))

    # ------------------------------------------------------------------ link layer
    def epr(self, peer: str, count: int = 1) -> list[EprPair]:
        r = self._call("CreateEpr", n.CreateEprRequest(peer=peer, count=count))
        other = self.network[peer]
        return [EprPair(p.pair_id, Qubit(self, p.local_qubit), Qubit(other, p.remote_qubit), p.ready_ns, p.attempts)
                for p in r.pairs]

    def create_measure_epr(
        self, peer: str, count: int, *, local_bases: Any = None, remote_bases: Any = None
    ) -> w.BatchOutcomes:
        req = n.CreateMeasureEprRequest(peer=peer, count=count, local_bases=w.bases_bytes(local_bases, count),
                                        remote_bases=w.bases_bytes(remote_bases, count))
        r = self._call("CreateMeasureEpr", req)
        return w.BatchOutcomes(r.batch_id, np.frombuffer(r.local_outcomes, dtype=np.uint8), r.attempts,
                               r.virtual_time_ns)

    def fetch_epr_outcomes(self, batch_id: str, timeout_s: float = 10.0) -> np.ndarray:
        r = self._call("FetchEprOutcomes", n.FetchEprOutcomesRequest(batch_id=batch_id, timeout_s=timeout_s))
        return np.frombuffer(r.outcomes, dtype=np.uint8)

    # ------------------------------------------------------------------ classical
    def send(self, to: str, channel: str, payload: bytes, *, message_id: str = "") -> int:
        """Send a classical message. Name it (`message_id`, unique per channel) to retry it safely after
        an error: the node sends a message it already took at most once (exactly once once it got through)."""
        req = n.SendClassicalRequest(to=to, channel=channel, payload=payload, message_id=message_id)
        return self._call("SendClassical", req).seq

    def receive(self, sender: str, channel: str, timeout_s: float = 10.0) -> bytes:
        """The next message from `sender` on `channel`. Delivery is acknowledged: a receive whose answer
        was lost (e.g. a partition) gets the same message again on the next call, never loses it."""
        key = (sender, channel)
        req = n.ReceiveClassicalRequest(sender=sender, channel=channel, timeout_s=timeout_s, acknowledged=True,
                                        ack=self._acks.get(key, 0))
        r = self._call("ReceiveClassical", req, timeout_s + 5)
        self._acks[key] = r.delivery_id
        return r.payload

    # ------------------------------------------------------------------ protocols
    def run_protocol(self, request: pr.ProtocolRequest) -> pr.ProtocolResult:
        return self._call("RunProtocol", request, request.timeout_s + 5)


class Network:
    """Handles on every node of a network. Use `Network.connect(...)`; close it (or use `with`)."""

    def __init__(self, addresses: Mapping[str, str], *, topology: Topology | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, tls: TlsCredentials | None = None) -> None:
        if not addresses:
            raise InvalidOperation("a network needs at least one node address")
        self.topology = topology
        self.timeout_s = timeout_s
        #: The client certificate every channel presents (None: plaintext); see `qemu_net.client.credentials`.
        self.tls = tls
        #: This client's session at every node (qemu_net.client.session): what it makes belongs to it.
        self.session_id = new_session_id()
        self._metadata = metadata(self.session_id)
        self._nodes = {name: Node(self, name, addr) for name, addr in addresses.items()}
        self._lease = LeaseKeeper(self.session_id,
                                  lambda: [(nd.name, nd._channel) for nd in self._nodes.values() if nd.used])
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def connect(cls, target: Topology | Mapping[str, str] | str | os.PathLike[str], *,
                timeout_s: float = DEFAULT_TIMEOUT_S, tls_dir: str | os.PathLike[str] | None = None,
                identity: str | None = None, insecure: bool = False) -> Network:
        """Connect to a running network given its topology (with addresses), a file, or {name: address}.

        TLS: the certificate directory `tls_dir` (identity `identity`, default ``client``), else
        ``$QNET_TLS_DIR``, else the one of a network this process started; ``insecure=True``: plaintext."""
        if isinstance(target, (str, os.PathLike)):
            target = load_topology(Path(target))
        if isinstance(target, Topology):
            missing = [nd.name for nd in target.nodes if not nd.address]
            if missing:
                raise InvalidOperation(f"topology gives no address for node(s) {', '.join(missing)}: "
                                       "start it with `qnet up` and connect with the state it prints")
            addresses = {nd.name: nd.address for nd in target.nodes}
            return cls(addresses, topology=target, timeout_s=timeout_s,
                       tls=resolve(addresses, tls_dir=tls_dir, identity=identity, insecure=insecure,
                                   network=target.name))
        return cls(dict(target), timeout_s=timeout_s,
                   tls=resolve(dict(target), tls_dir=tls_dir, identity=identity, insecure=insecure))

    def __getitem__(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise InvalidOperation(f"unknown node {name!r}; nodes: {', '.join(self._nodes)}") from None

    def node(self, name: str) -> Node:
        return self[name]

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    @property
    def names(self) -> list[str]:
        return list(self._nodes)

    def close(self) -> None:
        self._lease.close()  # the session ends at every node used: its qubits are freed there
        for node in self._nodes.values():
            node.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ running roles
    def run_roles(self, roles: Mapping[str, dict[str, Any]], *, timeout_s: float = 30.0,
                  session: str | None = None) -> dict[str, pr.ProtocolResult]:
        """Run one role per node concurrently (each in its own node process); return results by node.

        `roles` maps node name -> the ProtocolRequest oneof field and message, e.g.
        ``{"alice": {"teleport_send": TeleportSend(...)}}``.
        """
        session = session or w.new_session()
        if tracing.enabled():  # one span for the whole run: every role at every node joins its trace
            with tracing.span("protocol run", session=session, roles=",".join(sorted(
                    f"{n}:{next(iter(r))}" for n, r in roles.items()))):
                return self._run_roles(roles, timeout_s, session)
        return self._run_roles(roles, timeout_s, session)

    def _run_roles(self, roles: Mapping[str, dict[str, Any]], timeout_s: float,
                   session: str) -> dict[str, pr.ProtocolResult]:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="qnet-roles")
        futures = {name: self._pool.submit(tracing.wrap_context(self[name].run_protocol),
                                           w.protocol_request(session, timeout_s, **role))
                   for name, role in roles.items()}
        # The first role to fail ends the run: the others would only wait out their deadlines.
        done, pending = wait(futures.values(), timeout=timeout_s + 10, return_when=FIRST_EXCEPTION)
        for fut in done:
            if fut.exception() is not None:
                raise fut.exception()  # type: ignore[misc]
        if pending:
            raise ProtocolTimeout(f"roles at {', '.join(n for n, f in futures.items() if f in pending)} did not "
                                  f"finish within {timeout_s + 10:g} s")
        return {name: fut.result() for name, fut in futures.items()}

    def teleport(self, qubit: Qubit, to: str, *, pair: tuple[Qubit, Qubit] | None = None,
                 timeout_s: float = 30.0) -> Qubit:
        """Teleport `qubit` to node `to` (sender role at the qubit's node, receiver role at `to`).

        `pair`: an existing pair (half at the qubit's node, half at `to`), e.g. one `chain` delivered between
        non-neighbours; the two roles then need only a classical channel. Default: a new link pair."""
        src = qubit.node.name
        mine, theirs = (pair[0].id, pair[1].id) if pair is not None else ("", "")
        res = self.run_roles(
            {to: {"teleport_receive": pr.TeleportReceive(peer=src, pair_qubit=theirs)},
             src: {"teleport_send": pr.TeleportSend(peer=to, qubit=qubit.id, pair_qubit=mine)}},
            timeout_s=timeout_s,
        )
        return Qubit(self[to], res[to].teleport_receive.qubit)

    # ------------------------------------------------------------------ protocol suite (client/protocols.py)
    def chain(self, path: Sequence[str], **kw: Any):
        """Deliver end-to-end pairs along a path by swapping (see `qemu_net.client.protocols.chain`)."""
        from qemu_net.client import protocols

        return protocols.chain(self, path, **kw)

    def swap(self, a: str, middle: str, b: str, **kw: Any):
        from qemu_net.client import protocols

        return protocols.swap(self, a, middle, b, **kw)

    def purify(self, a: str, b: str, **kw: Any):
        from qemu_net.client import protocols

        return protocols.purify(self, a, b, **kw)

    def entangle(self, a: str, b: str, *, min_fidelity: float, **kw: Any):
        """A pair between a and b with fidelity >= min_fidelity: route, swap, purify as needed."""
        from qemu_net.client import protocols

        return protocols.entangle(self, a, b, min_fidelity=min_fidelity, **kw)

    def ghz(self, nodes: Sequence[str], **kw: Any):
        from qemu_net.client import protocols

        return protocols.ghz(self, nodes, **kw)

    def mermin(self, nodes: Sequence[str], **kw: Any):
        from qemu_net.client import protocols

        return protocols.mermin(self, nodes, **kw)

    def superdense(self, a: str, b: str, messages: Sequence[int] | bytes, **kw: Any):
        from qemu_net.client import protocols

        return protocols.superdense(self, a, b, messages, **kw)

    def nonlocal_cnot(self, control: Qubit, target: Qubit, **kw: Any) -> int:
        from qemu_net.client import protocols

        return protocols.nonlocal_cnot(self, control, target, **kw)

    def nonlocal_controlled(self, control: Qubit, target: Qubit, u: Any, **kw: Any) -> int:
        from qemu_net.client import protocols

        return protocols.nonlocal_controlled(self, control, target, u, **kw)

    def teleported_gate(self, home: Qubit, remote: Qubit, u: Any, **kw: Any) -> Qubit:
        from qemu_net.client import protocols

        return protocols.teleported_gate(self, home, remote, u, **kw)

    def run_circuit(self, circuit: Any, assignment: Mapping[Any, str], **kw: Any):
        """Run a cirq circuit distributed over nodes (see `qemu_net.client.protocols.run_circuit`)."""
        from qemu_net.client import protocols

        return protocols.run_circuit(self, circuit, assignment, **kw)
