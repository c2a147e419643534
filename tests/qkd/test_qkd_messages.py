"""Typed post-processing messages: round trips, and malformed frames refused with a clear error."""

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation, ProtocolAborted
from qemu_net.qkd import messages as m
from qemu_net.qkd import wire
from qemu_net.qkd.local import LocalContext, LocalHub
from qemu_net.qkd.postprocess import Channel

from helpers_qkd import two_nodes


def test_round_trip_keeps_types_and_arrays():
    q = m.CascadeQuery(pass_index=2, lo=np.array([0, 4], dtype=np.uint32), hi=np.array([4, 8], dtype=np.uint32))
    back = m.decode(q.encode())
    assert isinstance(back, m.CascadeQuery) and back.pass_index == 2 and back.hi.tolist() == [4, 8]
    e = m.decode(m.Estimate(qber=0.02, q_ec=0.03, n_key=10, k_test=4, gains=[0.1, 0.01, 0.0]).encode())
    assert e == m.Estimate(qber=0.02, q_ec=0.03, n_key=10, k_test=4, gains=[0.1, 0.01, 0.0])


@pytest.mark.parametrize("meta, fragment", [
    ({"op": "teleport"}, "unknown QKD message"),
    ({"op": "estimate", "qber": 0.1, "q_ec": 0.1, "n_key": 3}, "missing field k_test"),
    ({"op": "estimate", "qber": 0.1, "q_ec": 0.1, "n_key": 3, "k_test": 1, "evil": 1}, "unexpected field"),
    ({"op": "estimate", "qber": "0.1", "q_ec": 0.1, "n_key": 3, "k_test": 1}, "must be a number"),
    ({"op": "verify", "seeds": [1, True], "tags": [1, 2]}, "must be an integer"),
    ({"op": "disclosed", "bits": [1, 0]}, "must be an array"),
])
def test_malformed_messages_are_refused(meta, fragment):
    with pytest.raises(InvalidOperation, match=fragment):
        m.decode(wire.pack(meta))


def test_a_channel_turns_unexpected_or_malformed_messages_into_protocol_errors():
    hub = LocalHub(two_nodes(length_km=1))
    a, b = Channel(LocalContext(hub, "alice"), "bob", "c", 5), Channel(LocalContext(hub, "bob"), "alice", "c", 5)
    a.send(m.PaDone())
    with pytest.raises(ProtocolAborted, match="expected estimate"):
        b.recv(m.Estimate)
    a.send_raw(wire.pack({"op": "estimate", "qber": None}))
    with pytest.raises(ProtocolAborted, match="protocol error"):
        b.recv(m.Estimate)
    a.abort(ProtocolAborted("QBER too high"))
    with pytest.raises(ProtocolAborted, match="QBER too high"):
        b.recv(m.Estimate)
