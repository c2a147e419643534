"""The ownership protocol's rules at one holder, in one process: pins, wait-die, and epoch-ordered
tombstones (docs/design.md, "Ownership")."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qemu_net.errors import ProtocolTimeout
from qemu_net.network.topology import parse_topology
from qemu_net.node.core import NodeCore
from qemu_net.node.ownership import BUSY, Moved
from qemu_net.node.transit import Txn

TOPO = parse_topology({"nodes": ["a", "m", "far"], "links": [["a", "m"], ["a", "far"]]})


class FakePeers:
    def arrive(self, node, qubits, now_ns, state=None, adopt=(), *, deadline):
        pass

    def update_holder(self, node, qubits, holder, sizes, epochs):
        pass


def pair(core: NodeCore) -> tuple[str, str]:
    (h,) = core.create_epr("m")
    (r,) = core.remote_halves([h])
    return h.qubit, r


def soon(s: float = 2.0) -> float:
    return time.monotonic() + s


OLD, MID, YOUNG = Txn(1, "a", 1), Txn(2, "m", 1), Txn(3, "far", 1)


def test_a_younger_request_for_a_pinned_group_dies_and_an_older_one_waits():
    """Wait-die: the younger requester is told BUSY at once; the older one waits until the pin is
    released and then gets the group; the group never leaves while pinned."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    q, r = pair(core)
    with core._cond:
        core.held.pin(q, MID)
    assert core.on_take_group(r, "far", txn=YOUNG, deadline=soon()) is BUSY
    got: dict[str, object] = {}
    waiter = threading.Thread(target=lambda: got.setdefault("x", core.on_take_group(r, "far", txn=OLD,
                                                                                      deadline=soon(10))))
    waiter.start()
    time.sleep(0.2)
    assert waiter.is_alive() and q in core.register  # still pinned: nothing moved
    core.ownership.release(MID)
    waiter.join(5)
    shipment = got["x"]
    assert shipment.qubits == (q, r) and shipment.epochs == (1, 1)
    assert q not in core.register


def test_a_died_request_waits_holding_nothing_until_the_group_is_free():
    """After BUSY the younger requester asks again with wait_unpinned: it waits for the pin to go even
    though it is younger, and then gets the group."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    q, r = pair(core)
    with core._cond:
        core.held.pin(q, OLD)
    with pytest.raises(ProtocolTimeout):
        core.on_take_group(r, "far", txn=YOUNG, wait_unpinned=True, deadline=soon(0.2))
    threading.Timer(0.2, core.ownership.release, args=(OLD,)).start()
    shipment = core.on_take_group(r, "far", txn=YOUNG, wait_unpinned=True, deadline=soon(10))
    assert shipment.qubits == (q, r)


def test_tombstones_redirect_only_towards_a_newer_epoch():
    """A group shipped at epoch 1 leaves a tombstone (far, 1): a caller that knows epoch 0 is redirected
    there; a caller that already knows epoch 1 is not sent back and waits for the state instead."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    q, r = pair(core)
    core.on_take_group(r, "far", txn=OLD, deadline=soon())
    assert core.on_take_group(r, "m", txn=MID, min_epoch=0, deadline=soon()) == Moved("far", 1)
    with pytest.raises(ProtocolTimeout):
        core.on_take_group(r, "m", txn=MID, min_epoch=1, deadline=soon(0.1))


def test_the_state_coming_back_is_served_and_its_epochs_keep_growing():
    """A group that comes back (adopted at epoch 2) is served to the next caller at epoch 3."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    q, r = pair(core)
    shipment = core.on_take_group(r, "far", txn=OLD, deadline=soon())
    back = type(shipment)(shipment.state, shipment.locations, tuple(e + 1 for e in shipment.epochs))
    threading.Timer(0.2, core.ownership.adopt, args=(back,)).start()
    again = core.on_take_group(r, "m", txn=MID, min_epoch=1, deadline=soon(10))  # waits for the return
    assert again.epochs == (3, 3)
    np.testing.assert_allclose(again.state.tensor, shipment.state.tensor)


def test_a_pinned_group_is_not_pushed_back():
    """Push-back skips a group that is pinned or waited for; it is pushed once free."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    q, r = pair(core)
    with core._cond:
        core.held.located_at[q] = "m"  # both halves now located at m: a push-back candidate
        core.held.pin(q, OLD)
        assert core.held.pushable([q]) == []
    core.ownership.release(OLD)
    with core._cond:
        assert core.held.pushable([q]) == [(q, "m")]
