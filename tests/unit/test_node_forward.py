"""The holder's side of a forwarded batch (NodeCore.on_forward), in one process: what it reports back to
the location, and how it redirects a request that arrives after the state moved on."""

from __future__ import annotations

import time

import numpy as np
import pytest

from qemu_net.errors import ProtocolTimeout
from qemu_net.network.topology import parse_topology
from qemu_net.node.ops import GateOp, MeasureOp, distinct_qubits
from qemu_net.node.core import NodeCore

X = np.array([[0, 1], [1, 0]], dtype=complex)
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
TOPO = parse_topology({"nodes": ["a", "m", "far"], "links": [["a", "m"], ["a", "far"]]})


class FakePeers:
    def __init__(self) -> None:
        self.adopted: list = []

    def arrive(self, node, qubits, now_ns, state=None, adopt=(), *, deadline):
        pass

    def adopt_group(self, node, shipment, *, deadline):
        self.adopted.append((node, shipment.qubits))


def test_distinct_qubits_keeps_first_appearance_order():
    ops = [GateOp(X, ("b",)), GateOp(CNOT, ("a", "b")), MeasureOp("c", "Z", False), GateOp(X, ("a",))]
    assert distinct_qubits(ops) == ["b", "a", "c"]
    assert distinct_qubits(ops[:1]) == ["b"]


def test_forward_reports_group_sizes_in_qubit_order():
    """Sizes come back one per distinct qubit, in the order the location computes too; 0 for a qubit the
    batch consumed."""
    peers = FakePeers()
    core = NodeCore(TOPO, "a", peers=peers)
    (h1,) = core.create_epr("m")
    (h2,) = core.create_epr("m")
    r1, r2 = core.remote_halves([h1, h2])
    res = core.on_forward([GateOp(X, (r1,))], {}, 0)
    assert res.sizes == [2] and res.outcomes == [] and not res.moved
    # CNOT merges the two pairs (a 4-qubit group); measuring r1 then removes it.
    res = core.on_forward([GateOp(CNOT, (r2, r1)), MeasureOp(r1, "Z", False)], {}, 0)
    assert res.sizes == [3, 0] and len(res.outcomes) == 1
    assert core.register.group_size(r2) == 3
    assert peers.adopted == []  # h1, h2 are still located here: nothing to push back


def test_forward_after_the_group_moved_redirects_without_running():
    """A forward that arrives after the group migrated elsewhere runs nothing and names the new holder
    with the epoch it received the state at (the location retries there)."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    (h,) = core.create_epr("m")
    (r,) = core.remote_halves([h])
    shipment = core.on_take_group(r, "far")  # the group migrates to "far"
    assert shipment.qubits == (h.qubit, r) and shipment.epochs == (1, 1)
    res = core.on_forward([GateOp(X, (r,))], {}, 0)
    assert res.moved == {r: ("far", 1)}
    assert res.sizes == [] and res.outcomes == []
    # A location that already knows of that move (its hint is at epoch 1) is not sent back there: the
    # tombstone is no news to it, so this node waits for the state to come back (here: until the deadline).
    with pytest.raises(ProtocolTimeout):
        core.on_forward([GateOp(X, (r,))], {}, 0, min_epochs={r: 1}, deadline=time.monotonic() + 0.05)


def test_qubit_ids_of_an_earlier_run_name_no_qubit_after_a_restart():
    """Qubit ids carry the node's incarnation: after a restart (a new core of the same node) an old id
    is NOT_FOUND with a message saying why, never one of the new run's qubits."""
    from qemu_net.errors import QubitNotFound

    before = NodeCore(TOPO, "a", peers=FakePeers())
    (old,) = before.allocate(1)
    after = NodeCore(TOPO, "a", peers=FakePeers())
    (new,) = after.allocate(1)
    assert old != new and old.rsplit(".", 1)[1] == new.rsplit(".", 1)[1] == "1"
    with pytest.raises(QubitNotFound, match="earlier run of node 'a'"):
        after.apply([GateOp(X, (old,))])
    assert after.apply([MeasureOp(new, "Z", True)]) == [0]  # the new run's qubit is untouched


def test_an_arrival_is_taken_once_and_never_after_its_deadline():
    """An Arrive the receiver reaches at or after `decide_by` is refused and changes nothing; a repeat of one
    it took is acknowledged and changes nothing (a sender that heard no answer asks again to learn which)."""
    from qemu_net.node.outbox import Arriving

    core = NodeCore(TOPO, "m", peers=FakePeers())
    halves = [Arriving(f"a.x.{i}", "a", 2, f"a>m#{i}", "run/chain/0") for i in (2, 4)]
    with pytest.raises(ProtocolTimeout, match="came after its deadline; nothing was taken"):
        core.on_arrive("a", halves, 0, None, decide_by=time.monotonic() - 0.001)
    assert core.info()["qubits_in_use"] == 0 and not core.link.inbox
    core.on_arrive("a", halves, 0, None, decide_by=time.monotonic() + 5)
    assert core.info()["qubits_in_use"] == 2 and len(core.link.inbox[("a", "run/chain/0")]) == 2
    core.on_arrive("a", halves, 0, None, decide_by=time.monotonic() + 5)  # the repeat: acknowledged
    assert core.info()["qubits_in_use"] == 2 and len(core.link.inbox[("a", "run/chain/0")]) == 2
