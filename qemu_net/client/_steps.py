"""Protocols without I/O: the step type every SDK protocol is written as, and what a step needs of a network.

A protocol is a generator that yields `RoleRun`s (one role per node, run together) and is sent each run's
results; the synchronous `Network` and the asyncio `AsyncNetwork` both drive it. This module is kept free of
numpy, Cirq and the protocol implementations so that light SDK paths (keys, status) import it cheaply.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from qemu_net._serde.sdk import roles as pr
    from qemu_net.client.sync import Network
    from qemu_net.network.topology import Topology

T = TypeVar("T")
Results = Mapping[str, "pr.ProtocolResult"]


@dataclass(frozen=True)
class RoleRun:
    """One step of a protocol: run these roles (node -> {oneof field: message}) together."""

    roles: Mapping[str, Mapping[str, Any]]
    timeout_s: float
    session: str | None = None


#: A protocol without I/O: yields the role runs it needs, is sent each run's results, returns its value.
Steps = Generator[RoleRun, Results, T]


class Handles(Protocol):
    """What steps need of a network (sync or asyncio): its topology and qubit handles."""

    topology: Topology | None

    def qubit_handle(self, node: str, qid: str) -> Any: ...


def drive(net: Network, steps: Steps[T]) -> T:
    """Run `steps` on a synchronous network."""
    return net._drive(steps)
