"""What the synchronous `Network` and the asyncio `AsyncNetwork` share, none of it I/O: how `connect` reads
its target, the client session, the node and qubit handles by name, what a node and a qubit handle keep,
and the bookkeeping of acknowledged receives and waits.

The two shells differ only where they wait (a thread or the event loop), as httpx's ``Client`` and
``AsyncClient`` share ``BaseClient``.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from qemu_net._serde import sdk as w
from qemu_net.client.credentials import resolve
from qemu_net.client.session import metadata, new_session_id
from qemu_net.errors import InvalidOperation, ProtocolTimeout, UnknownNode
from qemu_net.network.topology import Topology, load_topology
from qemu_net.observability import tracing

if TYPE_CHECKING:
    from qemu_net.security.tls import TlsCredentials

#: A call's deadline when the caller gives none.
DEFAULT_TIMEOUT_S = 30.0
#: How long past a role run's own deadline the client waits for its roles' answers.
ROLE_GRACE_S = 10.0

N = TypeVar("N", bound="NodeBase[Any, Any]")  # the node handle type
Q = TypeVar("Q")  # the qubit handle type
X = TypeVar("X")  # the transport type
W = TypeVar("W", bound="NetworkBase[Any, Any, Any]")  # the network type
G = TypeVar("G")  # what a gate call on a qubit handle returns: the handle, or an awaitable of it


R = TypeVar("R", covariant=True)


class _Lease(Protocol):
    def start(self) -> None: ...


class _Outcome(Protocol[R]):
    """A finished (or pending) role call: a thread's `Future` or an asyncio `Task`."""

    def done(self) -> bool: ...
    def exception(self) -> BaseException | None: ...
    def result(self) -> R: ...


C = TypeVar("C", bound=_Outcome[Any])  # a shell's role call: Future or Task


def connect_target(target: Topology | Mapping[str, str] | str | os.PathLike[str]
                   ) -> tuple[dict[str, str], Topology | None]:
    """The node addresses (and the topology, if given) of what `connect` was given."""
    if isinstance(target, (str, os.PathLike)):
        target = load_topology(Path(target))
    if isinstance(target, Topology):
        missing = [nd.name for nd in target.nodes if not nd.address]
        if missing:
            raise InvalidOperation(f"topology gives no address for node(s) {', '.join(missing)}: "
                                   "start it with `qnet up` and connect with the state it prints")
        return {nd.name: nd.address for nd in target.nodes if nd.address}, target
    return dict(target), None


class QubitBase(Generic[N, G]):
    """A handle on one qubit located at a node, with a shortcut per named gate (``q.h()``, ``q.cnot(t)``);
    each shell's `apply` runs the gate and returns `G` (the handle itself, or in asyncio an awaitable)."""

    __slots__ = ("id", "node")

    apply: Callable[..., G]

    def x(self) -> G:
        return self.apply("X")

    def y(self) -> G:
        return self.apply("Y")

    def z(self) -> G:
        return self.apply("Z")

    def h(self) -> G:
        return self.apply("H")

    def s(self) -> G:
        return self.apply("S")

    def t(self) -> G:
        return self.apply("T")

    def rx(self, angle: float) -> G:
        return self.apply("RX", angle=angle)

    def ry(self, angle: float) -> G:
        return self.apply("RY", angle=angle)

    def rz(self, angle: float) -> G:
        return self.apply("RZ", angle=angle)

    def cnot(self, target: QubitBase[Any, Any] | str) -> G:
        return self.apply("CNOT", target)

    def cz(self, target: QubitBase[Any, Any] | str) -> G:
        return self.apply("CZ", target)

    def __init__(self, node: N, qid: str) -> None:
        self.node = node
        self.id = qid
        if not node.used:  # a handle on a qubit there (e.g. a far half): the session must live there too
            node.mark_used()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r} at {self.node.name!r})"


@dataclass(frozen=True)
class EprPairBase(Generic[Q]):
    """One EPR pair a node made with a neighbour: its half here (`local`) and there (`remote`)."""

    pair_id: str
    local: Q
    remote: Q
    ready_ns: int
    attempts: int


class NodeBase(Generic[W, X]):
    """A handle on one node process (its RPCs go through one transport)."""

    def __init__(self, network: W, name: str, address: str, transport: X) -> None:
        self.network = network
        self.name = name
        self.address = address
        self.transport = transport
        #: Set once this client made a call here: its session lives here (renewed, closed at the end).
        self.used = False
        #: (sender, channel) -> the delivery id of the last message received (acknowledged next time).
        self._acks: dict[tuple[str, str], int] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r} at {self.address})"

    def mark_used(self) -> None:
        """This client's session lives at this node from now on (renewed there, closed at the end)."""
        self.used = True
        self.network._lease.start()

    def _receive_request(self, sender: str, channel: str, timeout_s: float) -> Any:
        """The next receive from `sender` on `channel`, acknowledging the last message received there."""
        return w.receive_classical_request(sender, channel, timeout_s, self._acks.get((sender, channel), 0))

    def _received(self, sender: str, channel: str, r: Any) -> bytes:
        """The payload of a receive's answer; its delivery is acknowledged by the next receive there."""
        self._acks[(sender, channel)] = r.delivery_id
        return bytes(r.payload)


def _told_by(exc: BaseException | None) -> str | None:
    """The node whose abort this role's error reports (a QKD end that heard its peer's reason), if any."""
    fields = getattr(exc, "fields", None)
    if isinstance(fields, dict) and fields.get("kind") and isinstance(fields.get("peer"), str):
        return str(fields["peer"])
    return None


def causes_pending(calls: Mapping[str, C]) -> list[C]:
    """The roles still running whose abort a failed role reports: their own error is the one to raise, so the
    shell waits for them (within the run's own bound) before `role_results` chooses."""
    told = {_told_by(c.exception()) for c in calls.values() if c.done()}
    return [c for name, c in calls.items() if name in told and not c.done()]


def role_results(calls: Mapping[str, _Outcome[R]], done: Iterable[_Outcome[R]], pending: Collection[object],
                 bound_s: float) -> dict[str, R]:
    """The results by node of a role run waited for up to `bound_s`: the first role to fail ends the run (its
    error is raised); roles still running raise ProtocolTimeout.

    When several roles failed, the error raised is chosen by cause, not by which answer came first: a role
    that only reports its peer's abort gives way to that peer's own error (a QKD Bob's "alice: memory full"
    to Alice's MemoryFull); otherwise the first failed role in the run's order."""
    finished = set(map(id, done))
    failed = {name: exc for name, c in calls.items() if id(c) in finished and (exc := c.exception()) is not None}
    if failed:
        name = next(iter(failed))
        for _ in range(len(failed)):  # follow "heard from" to its source; a cycle stops after one lap
            peer = _told_by(failed[name])
            if peer is None or peer not in failed or peer == name:
                break
            name = peer
        raise failed[name]
    if pending:
        raise ProtocolTimeout(f"roles at {', '.join(n for n, c in calls.items() if c in pending)} did not "
                              f"finish within {bound_s:g} s")
    return {name: call.result() for name, call in calls.items()}


def wait_ops(qubits: Sequence[Any], seconds: float) -> list[w.Operation]:
    """The operations of a wait, one call each: the first qubit waits `seconds` (the node's clock advances
    once), every other is brought up to the same advanced time."""
    if not qubits:
        raise InvalidOperation("wait needs at least one qubit")
    first, *rest = qubits
    return [w.wait_op(first, seconds), *(w.wait_op(q, 0.0) for q in rest)]


class NetworkBase(ABC, Generic[N, Q, X]):
    """Node handles by name over one client session; the shells supply how a node, a qubit handle and a
    default transport are made."""

    def __init__(self, addresses: Mapping[str, str], *, topology: Topology | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, tls: TlsCredentials | None = None,
                 transport: Callable[[str, str], X] | None = None) -> None:
        if not addresses:
            raise InvalidOperation("a network needs at least one node address")
        self.topology = topology
        self.timeout_s = timeout_s
        #: The client certificate every channel presents (None: plaintext); see `qemu_net.client.credentials`.
        self.tls = tls
        #: This client's session at every node (qemu_net.client.session): what it makes belongs to it.
        self.session_id = new_session_id()
        self._metadata = metadata(self.session_id)
        make = transport or self._grpc_transport
        self._nodes: dict[str, N] = {name: self._make_node(name, addr, make(name, addr))
                                     for name, addr in addresses.items()}

    #: Renews this client's session at every node used (the shell's lease keeper).
    _lease: _Lease

    def _used_transports(self) -> list[tuple[str, X]]:
        """(name, transport) of every node this client's session lives at: what the lease keeper renews."""
        return [(nd.name, nd.transport) for nd in self._nodes.values() if nd.used]

    def _role_run(self, roles: Mapping[str, Mapping[str, Any]], timeout_s: float, session: str | None
                  ) -> tuple[dict[str, w.ProtocolRequest], contextlib.AbstractContextManager[Any]]:
        """The requests of one role run (one session for all its roles) and the span to run them in: one
        span for the whole run, which every role at every node joins (none when tracing is off)."""
        session = session or w.new_session()
        requests = {name: w.protocol_request(session, timeout_s, **role) for name, role in roles.items()}
        if not tracing.enabled():
            return requests, contextlib.nullcontext()
        return requests, tracing.span("protocol run", session=session, roles=",".join(sorted(
            f"{n}:{w.role_field(r)}" for n, r in roles.items())))

    @abstractmethod
    def _grpc_transport(self, name: str, address: str) -> X:
        """The default transport of node `name` at `address` (a gRPC channel of this shell's kind)."""

    @abstractmethod
    def _make_node(self, name: str, address: str, transport: X) -> N:
        """This shell's handle on one node."""

    @abstractmethod
    def _make_qubit(self, node: N, qid: str) -> Q:
        """This shell's handle on qubit `qid` at `node`."""

    @classmethod
    def connect(cls, target: Topology | Mapping[str, str] | str | os.PathLike[str], *,
                timeout_s: float = DEFAULT_TIMEOUT_S, tls_dir: str | os.PathLike[str] | None = None,
                identity: str | None = None, insecure: bool = False) -> Self:
        """Connect to a running network given its topology (with addresses), a file, or {name: address}.

        TLS: the certificate directory `tls_dir` (identity `identity`, default ``client``), else
        ``$QNET_TLS_DIR``, else the one of a network this process started; ``insecure=True``: plaintext."""
        addresses, topology = connect_target(target)
        return cls(addresses, topology=topology, timeout_s=timeout_s,
                   tls=resolve(addresses, tls_dir=tls_dir, identity=identity, insecure=insecure,
                               network=topology.name if topology is not None else None))

    def __getitem__(self, name: str) -> N:
        try:
            return self._nodes[name]
        except KeyError:
            raise UnknownNode(f"unknown node {name!r}; nodes: {', '.join(self._nodes)}", node=name,
                              known=list(self._nodes)) from None

    def node(self, name: str) -> N:
        """The handle on node `name` (same as ``net[name]``)."""
        return self[name]

    def __iter__(self) -> Iterator[N]:
        return iter(self._nodes.values())

    @property
    def names(self) -> list[str]:
        """The node names, in the order given."""
        return list(self._nodes)

    def qubit_handle(self, node: str, qid: str) -> Q:
        """A handle on qubit `qid` located at `node` (e.g. one a protocol left there)."""
        return self._make_qubit(self[node], qid)


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ROLE_GRACE_S",
    "EprPairBase",
    "NetworkBase",
    "NodeBase",
    "QubitBase",
    "causes_pending",
    "connect_target",
    "role_results",
    "wait_ops",
]
