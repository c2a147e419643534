"""Who may make a node-to-node (PeerService) call, and what each node may claim in it.

With mutual TLS the peer port accepts only callers whose certificate names a node of the topology
(no certificate: UNAUTHENTICATED; a client's or application's certificate: PERMISSION_DENIED). Each
call is then checked against that identity: a request that names its sender (``from_node`` of
Forward / Arrive / DeliverClassical / DeliverEprOutcomes, ``new_holder`` of TakeGroup, ``holder`` of
UpdateHolder) must name the caller itself, so a node can hand over, adopt or deliver only what the
protocol lets *that* node do. Qubits that arrive over a quantum link must come from a neighbour on
that link; an adopted group must be one this node does not hold already (a node holding a group is
its only holder).

On a plaintext (``--insecure``) node nobody is authenticated and nothing is checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qemu_net.errors import PermissionDenied, Unauthenticated
from qemu_net.security.identity import caller_identity


class PeerAuthorizer:
    """The identity checks of one node's PeerService. ``required=False``: plaintext, no checks."""

    def __init__(self, node: str, nodes: Iterable[str], quantum_links: Iterable[tuple[str, str]] = (), *,
                 required: bool) -> None:
        self.node = node
        self.nodes = frozenset(nodes)
        self.neighbours = frozenset(b if a == node else a for a, b in quantum_links if node in (a, b))
        self.required = required

    @classmethod
    def for_topology(cls, topology: Any, node: str, *, required: bool) -> PeerAuthorizer:
        return cls(node, topology.node_names, [tuple(link.nodes) for link in topology.links], required=required)

    def caller(self, context: Any, method: str) -> str | None:
        """The calling node's name (None on a plaintext node); raises unless it is a node of the network."""
        if not self.required:
            return None
        ident = caller_identity(context)
        if ident is None:
            raise Unauthenticated(f"{method}: the peer service of {self.node!r} needs a node certificate")
        if ident not in self.nodes:
            raise PermissionDenied(f"{method}: {ident!r} is not a node of this network")
        return ident

    def claims(self, context: Any, method: str, field: str, claimed: str) -> str | None:
        """Check that the request's `field` (its sender) names the caller itself."""
        ident = self.caller(context, method)
        if ident is not None and claimed != ident:
            raise PermissionDenied(f"{method}: caller {ident!r} may not act as {field}={claimed!r}")
        return ident

    def neighbour(self, method: str, ident: str | None) -> None:
        """Qubits travel over quantum links: only a neighbour on one may hand them to this node."""
        if ident is not None and ident != self.node and ident not in self.neighbours:
            raise PermissionDenied(f"{method}: {ident!r} shares no quantum link with {self.node!r}")

    def not_held(self, method: str, ident: str | None, qubits: Iterable[str], held: Any) -> None:
        """A group this node already holds cannot be handed to it by anyone else."""
        if ident is not None and any(q in held for q in qubits):
            raise PermissionDenied(f"{method}: {ident!r} cannot hand over a group that {self.node!r} holds")


__all__ = ["PeerAuthorizer"]
