"""Qubits belong to the client session that made them: another client (another session, same
identity on a plaintext network) is refused with PERMISSION_DENIED on every call that names them, and
the victim's qubit is unchanged afterwards."""

from __future__ import annotations

import numpy as np
import pytest

from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net.client import Network
from qemu_net.errors import PermissionDenied
from qemu_net.network.topology import parse_topology

TOPO = {"name": "owners", "nodes": ["alice", "bob"], "links": [["alice", "bob"]]}


def _ry_state(theta: float) -> np.ndarray:
    psi = np.array([np.cos(theta / 2), np.sin(theta / 2)], dtype=complex)
    return np.outer(psi, psi.conj())


def _topology():
    return parse_topology(TOPO)  # ideal hardware (the defaults): states are exact


def test_another_session_cannot_free_operate_measure_send_or_inspect_a_qubit(start_network):
    """A second client gets PERMISSION_DENIED for Free, Apply (gate and measure), SendQubit, Inspect and a
    protocol role handed the qubit; the owner's qubit keeps exactly the state it prepared."""
    local, victim = start_network(_topology(), allow_inspect=True)
    q = victim["alice"].qubit()
    q.ry(0.7)
    with Network.connect(local.topology, timeout_s=10) as mallory:
        attacks = {
            "free": lambda: mallory["alice"].free([q.id]),
            "gate": lambda: mallory["alice"].gate("X", q.id),
            "measure": lambda: mallory["alice"].measure(q.id),
            "send": lambda: mallory["alice"].send_qubit(q.id, "bob"),
            "inspect": lambda: mallory["alice"].inspect([q.id]),
            "teleport role": lambda: mallory["alice"].run_protocol(pr.ProtocolRequest(
                session_id="steal", timeout_s=5, teleport_send=pr.TeleportSend(peer="bob", qubit=q.id))),
        }
        for name, attack in attacks.items():
            with pytest.raises(PermissionDenied, match="another client session"):
                attack()
            # After each attempt the owner still has its qubit, untouched.
            np.testing.assert_allclose(victim["alice"].inspect([q.id]), _ry_state(0.7), atol=1e-6, err_msg=name)
        # The attacker's own qubits are its own: it may use them.
        mine = mallory["alice"].qubit()
        mine.x()
        assert mine.measure() == 1
    assert victim["alice"].info().qubits_in_use == 1
    q.ry(-0.7)
    assert q.measure() == 0


def test_epr_halves_and_teleport_results_belong_to_the_session_that_asked(start_network):
    """Both halves of a pair a client made (the far one at the peer too) and the qubit a teleport delivered
    are that client's: a second client may not measure them; the owner's results are intact."""
    local, victim = start_network(_topology(), allow_inspect=True)
    (pair,) = victim["alice"].epr("bob")
    q = victim["alice"].qubit()
    q.x()
    moved = victim.teleport(q, "bob")
    with Network.connect(local.topology, timeout_s=10) as mallory:
        for qid in (pair.local.id, pair.remote.id, moved.id):
            node = "alice" if qid == pair.local.id else "bob"
            with pytest.raises(PermissionDenied):
                mallory[node].measure(qid)
    assert moved.measure() == 1
    assert pair.local.measure() == pair.remote.measure()
