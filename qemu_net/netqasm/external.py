"""What `netqasm.sdk.external` resolves to in a role process run by qemu_net.

Applications import their backend's classes from ``netqasm.sdk.external`` (``NetQASMConnection``,
``Socket``, ``BroadcastChannel``, ``get_qubit_state``), which netqasm resolves from the simulator
setting. The role runner (`qemu_net.netqasm.runner`) installs this module under that name before the
application is imported, so the unmodified application gets qemu_net's connection and sockets.
"""

from __future__ import annotations

from qemu_net.netqasm.connection import QnetBroadcastChannel as BroadcastChannel
from qemu_net.netqasm.connection import QnetConnection as NetQASMConnection
from qemu_net.netqasm.connection import QnetSocket as Socket
from qemu_net.netqasm.connection import get_qubit_state

__all__ = ["BroadcastChannel", "NetQASMConnection", "Socket", "get_qubit_state", "install"]


def install() -> None:
    """Make ``netqasm.sdk.external`` this module (call before importing an application)."""
    import sys

    import netqasm.sdk

    sys.modules["netqasm.sdk.external"] = sys.modules[__name__]
    netqasm.sdk.external = sys.modules[__name__]
