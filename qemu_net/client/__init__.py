"""The qemu_net client SDK (synchronous and asyncio).

Public API (a test asserts this list): see `__all__`. The local launcher is part of the node stack:
``from qemu_net.node.launcher import LocalNetwork`` (importing the SDK does not load it).
"""

from qemu_net._serde.sdk import BatchOutcomes, NodeInfo
from qemu_net._serde.sdk import gate_op as gate
from qemu_net._serde.sdk import measure_op as measure
from qemu_net._serde.sdk import reset_op as reset
from qemu_net.client.aio import AsyncEprPair, AsyncNetwork, AsyncNode, AsyncQubit
from qemu_net.client.sync import EprPair, Network, Node, Qubit

__all__ = [
    "AsyncEprPair",
    "AsyncNetwork",
    "AsyncNode",
    "AsyncQubit",
    "BatchOutcomes",
    "EprPair",
    "Network",
    "Node",
    "NodeInfo",
    "Qubit",
    "gate",
    "measure",
    "reset",
]
