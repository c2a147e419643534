"""Result types of the protocol and QKD roles: frozen, invariants checked on construction, and a repr that
pastes back into Python as an equal object."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.protocols.circuits import RunOutcome
from qemu_net.protocols.ghz import GhzOutcome
from qemu_net.protocols.purify import Method, PurifyOutcome
from qemu_net.protocols.routing import Plan
from qemu_net.protocols.superdense import SendOutcome
from qemu_net.protocols.swap import ChainOutcome
from qemu_net.qkd.roles import QkdResult

_QKD = {"protocol": "bb84", "role": "alice", "peer": "b", "session_id": "s1", "n_pulses": 1000,
        "pulse_rate_hz": 1e6}

#: (a valid result, keyword changes that each break one invariant)
CASES: list[tuple[Any, list[dict[str, Any]]]] = [
    (SendOutcome(sent=5, lost=2), [{"sent": -1}, {"lost": 6}, {"sent": 1.5}]),
    (GhzOutcome(qubits=("q1", "q2"), outcomes=b"", epr_pairs=2), [{"epr_pairs": -1}, {"outcomes": b"\x02"}]),
    (GhzOutcome(outcomes=b"\x00\x01\x01", epr_pairs=6), [{"epr_pairs": -3}]),
    (PurifyOutcome(success=b"\x01\x00", outcomes=b"\x01\xff", consumed=4),
     [{"consumed": -1}, {"consumed": 1}, {"success": b"\x02\x00"}, {"outcomes": b"\x05\x00"}]),
    (ChainOutcome(qubits=("a1",), outcomes=b"", epr_pairs=1, swaps=0), [{"swaps": -1}, {"outcomes": b"\x07"}]),
    (Plan(path=("a", "b", "c"), link_fidelities=(0.97, 0.95), delivered_fidelity=0.92, method=Method.DEJMPS,
          rounds=1, expected_fidelity=0.95, success_probability=0.9),
     [{"rounds": -1}, {"success_probability": 1.5}, {"expected_fidelity": -0.1}, {"link_fidelities": (0.9,)},
      {"path": ("a",), "link_fidelities": ()}]),
    (QkdResult(**_QKD, raw_bits=100, sifted_bits=50, sample_bits=10, reconciled_bits=40, qber=0.02,
               secret_fraction=0.0, aborted="phase error too high"),
     [{"raw_bits": 2000}, {"qber": 1.2}, {"sifted_bits": -1}, {"final_bits": 8, "key": b"\x00"}]),
    (QkdResult(**_QKD), [{"eps_sec": 2.0}]),
]

def _case_id(case: object) -> str:
    return type(case).__name__ if dataclasses.is_dataclass(case) else ""


NAMESPACE = {cls.__name__: cls for cls in (SendOutcome, GhzOutcome, PurifyOutcome, ChainOutcome, Plan, QkdResult,
                                           Method)}


@pytest.mark.parametrize(("result", "broken"), CASES, ids=_case_id)
def test_repr_pastes_back_to_an_equal_result(result: Any, broken: list[dict[str, Any]]) -> None:
    """eval(repr(r)) == r (NaN fields included), with an equal hash; the repr names every field."""
    text = repr(result)
    assert text.startswith(f"{type(result).__name__}(")
    back = eval(text, dict(NAMESPACE))
    assert back == result and hash(back) == hash(result)
    for f in dataclasses.fields(result):
        if f.repr:
            assert f"{f.name}=" in text


@pytest.mark.parametrize(("result", "broken"), CASES, ids=_case_id)
def test_invariants_are_checked_and_results_are_frozen(result: Any, broken: list[dict[str, Any]]) -> None:
    """Each broken variant raises InvalidOperation; assigning a field raises FrozenInstanceError."""
    for change in broken:
        with pytest.raises(InvalidOperation):
            dataclasses.replace(result, **change)
    name = dataclasses.fields(result)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, name, getattr(result, name))


def test_a_changed_field_is_unequal() -> None:
    """Equality compares the fields: one count different, the results differ."""
    assert SendOutcome(sent=3, lost=0) != SendOutcome(sent=3, lost=1)
    assert QkdResult(**_QKD) != QkdResult(**{**_QKD, "peer": "c"})


def test_the_key_is_not_in_the_repr() -> None:
    """A QKD result's key is a secret: its repr omits it."""
    r = QkdResult(**_QKD, raw_bits=100, sifted_bits=50, reconciled_bits=40, final_bits=16, key=b"\xab\xcd",
                  secret_fraction=0.4)
    assert "key=" not in repr(r).replace("key_", "") and "\\xab" not in repr(r)


def test_a_circuit_run_outcome_is_frozen_checked_and_pastes_back() -> None:
    """A node's part of a circuit run (its tables are dicts, so it is compared, not hashed)."""
    out = RunOutcome(kept={0: "a-q1"}, measurements={"m": ([0, 2], [[0, 1], [1, 1]])}, epr_pairs=2)
    assert eval(repr(out), {"RunOutcome": RunOutcome}) == out
    with pytest.raises(dataclasses.FrozenInstanceError):
        out.epr_pairs = 3  # type: ignore[misc]
    with pytest.raises(InvalidOperation, match="one bit per qubit"):
        RunOutcome(measurements={"m": ([0, 2], [[0]])})
    with pytest.raises(InvalidOperation, match="epr_pairs"):
        RunOutcome(epr_pairs=-1)
