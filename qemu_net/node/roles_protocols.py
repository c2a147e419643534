"""RunProtocol registrations for the protocol suite (swapping, purification, GHZ, superdense coding,
nonlocal gates, distributed circuits). Each calls the role in `qemu_net.protocols` with the
arguments its `qemu_net._serde.protocols` codec read from the request; the role does the work."""

from __future__ import annotations

from qemu_net._serde import protocols as wire
from qemu_net.node.roles import delegate
from qemu_net.protocols import circuits, ghz, nonlocal_gates, purify, superdense, swap

delegate(wire.CHAIN_NODE, swap.chain_node)
delegate(wire.PURIFY_END, purify.purify_end, peers=("peer",))
delegate(wire.RELAY_NODE, purify.relay_node, peers=("left", "right"))
delegate(wire.GHZ_NODE, ghz.ghz_node)
delegate(wire.SUPERDENSE_SEND, superdense.superdense_send, peers=("peer",))
delegate(wire.SUPERDENSE_RECEIVE, superdense.superdense_receive, peers=("peer",))
delegate(wire.NONLOCAL_CONTROL, nonlocal_gates.nonlocal_control, peers=("peer",))
delegate(wire.NONLOCAL_TARGET, nonlocal_gates.nonlocal_target, peers=("peer",))
delegate(wire.TELEPORTED_GATE_HOME, nonlocal_gates.teleported_gate_home, peers=("peer",))
delegate(wire.TELEPORTED_GATE_REMOTE, nonlocal_gates.teleported_gate_remote, peers=("peer",))

# ----------------------------------------------------------------------------- distributed circuits
delegate(wire.CIRCUIT_RUN, circuits.run_program)
