"""The qemu_net client SDK (synchronous and asyncio) and the local launcher.

Public API (a test asserts this list): see `__all__`.
"""

from qemu_net.client._wire import BatchOutcomes, NodeInfo
from qemu_net.client._wire import gate_op as gate
from qemu_net.client._wire import measure_op as measure
from qemu_net.client._wire import reset_op as reset
from qemu_net.client.aio import AsyncEprPair, AsyncNetwork, AsyncNode, AsyncQubit
from qemu_net.client.sync import EprPair, Network, Node, Qubit
from qemu_net.node.launcher import LocalNetwork

__all__ = [
    "AsyncEprPair",
    "AsyncNetwork",
    "AsyncNode",
    "AsyncQubit",
    "BatchOutcomes",
    "EprPair",
    "LocalNetwork",
    "Network",
    "Node",
    "NodeInfo",
    "Qubit",
    "gate",
    "measure",
    "reset",
]
