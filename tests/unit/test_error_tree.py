"""The error tree: typed fields survive the wire, every class keeps its gRPC status, UnknownNode names the nodes."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from qemu_net import errors as e
from qemu_net.network.topology import chain_topology

#: One instance of every error type, each with every one of its typed fields set to a non-default value.
SAMPLES: dict[type[e.QnetError], dict[str, Any]] = {
    e.InvalidOperation: {"parameter": "p", "value": 1.5},
    e.UnknownNode: {"node": "zz", "known": ("a", "b"), "parameter": "dst", "value": "zz"},
    e.TopologyError: {"problems": ("links[0].nodes: unknown node 'zz'",)},
    e.QubitNotFound: {"qubit": "q1"},
    e.KeyNotFound: {"key_ids": ("k1", "k2"), "peer": "b"},
    e.WrongLocation: {"qubit": "q1", "location": "b"},
    e.NotColocated: {"qubits": ("q1", "q2")},
    e.NotConnected: {"peer": "b", "reason": "unreachable", "delivered": 0.81},
    e.MemoryFull: {"capacity": 4, "needed_bytes": 10, "available_bytes": 5, "limit_bytes": 100},
    e.KeysExhausted: {"peer": "b", "number": 2, "size_bits": 256, "available_bits": 128},
    e.LimitExceeded: {"limit": 10, "value": 11},
    e.PeerUnavailable: {"peer": "b"},
    e.ShuttingDown: {},
    e.ProtocolTimeout: {"sender": "a", "channel": "c"},
    e.ProtocolAborted: {"peer": "b", "reason": "qber", "result": "partial", "attempts": 3, "max_attempts": 9,
                        "herald_probability": 0.25, "discarded": 1, "cutoff_s": 0.5},
    e.PermissionDenied: {"qubit": "q1"},
    e.Unauthenticated: {},
}


def test_every_error_type_has_a_sample() -> None:
    """The samples cover the whole tree, and each sets exactly the class's declared fields (besides code)."""
    assert set(SAMPLES) == set(e.ALL_ERRORS)
    for cls, fields in SAMPLES.items():
        assert set(fields) == set(cls.field_names) - {"code"}, cls


@pytest.mark.parametrize("cls", e.ALL_ERRORS, ids=lambda c: c.__name__)
def test_fields_round_trip_the_wire(cls: type[e.QnetError]) -> None:
    """to_wire/from_wire rebuild the same type, message and typed fields (attributes of the same names)."""
    exc = cls("it failed", code="SOME_CODE", **SAMPLES[cls])
    for name, value in SAMPLES[cls].items():
        assert getattr(exc, name) == value
    back = cls.from_wire(exc.message, exc.to_wire())
    assert type(back) is cls
    assert str(back) == "it failed"
    assert back.fields == exc.fields
    assert back.code == "SOME_CODE"
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is cls and again.fields == exc.fields


@pytest.mark.parametrize("cls", e.ALL_ERRORS, ids=lambda c: c.__name__)
def test_bad_wire_fields_fall_back_to_the_message(cls: type[e.QnetError]) -> None:
    """Unparseable or unknown fields are dropped, never raised: the type and message survive."""
    for junk in ("not json", "[1, 2]", '{"no_such_field": 1}', ""):
        back = cls.from_wire("msg", junk)
        assert type(back) is cls and back.message == "msg"


def test_grpc_codes_are_the_documented_ones() -> None:
    """Each class names the status of the module docstring's tree."""
    doc = e.__doc__ or ""
    for cls in e.ALL_ERRORS:
        line = next(x for x in doc.splitlines() if f" {cls.__name__} " in x)
        assert line.rstrip().endswith(f"[{cls.grpc_code}]"), line
        assert f"[{cls.grpc_code}]" in (cls.__doc__ or ""), cls


def test_unknown_node_is_an_invalid_operation_naming_the_nodes() -> None:
    """Topology.require_node returns the spec of a known node and raises UnknownNode for any other name."""
    topo = chain_topology(3)
    assert topo.require_node("n1").name == "n1"
    with pytest.raises(e.InvalidOperation) as info:
        topo.require_node("zz", what="teleport.dst")
    exc = info.value
    assert isinstance(exc, e.UnknownNode)
    assert exc.node == "zz" and exc.known == topo.node_names
    assert str(exc).startswith("teleport.dst: unknown node 'zz'")
    assert exc.grpc_code == "INVALID_ARGUMENT"
