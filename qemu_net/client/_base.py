"""What the synchronous `Network` and the asyncio `AsyncNetwork` share, none of it I/O: how `connect` reads
its target, the client session, and the node and qubit handles by name.

The two shells differ only where they wait (a thread or the event loop), as httpx's ``Client`` and
``AsyncClient`` share ``BaseClient``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from qemu_net.client.credentials import resolve
from qemu_net.client.session import metadata, new_session_id
from qemu_net.errors import InvalidOperation, UnknownNode
from qemu_net.network.topology import Topology, load_topology

if TYPE_CHECKING:
    from qemu_net.security.tls import TlsCredentials

#: A call's deadline when the caller gives none.
DEFAULT_TIMEOUT_S = 30.0

N = TypeVar("N")  # the node handle type
Q = TypeVar("Q")  # the qubit handle type
X = TypeVar("X")  # the transport type


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


class NetworkBase(Generic[N, Q, X]):
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

    def _grpc_transport(self, name: str, address: str) -> X:
        raise NotImplementedError

    def _make_node(self, name: str, address: str, transport: X) -> N:
        raise NotImplementedError

    def _make_qubit(self, node: N, qid: str) -> Q:
        raise NotImplementedError

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


__all__ = ["DEFAULT_TIMEOUT_S", "NetworkBase", "connect_target"]

