"""GHZ distribution across node processes and the Mermin value measured across the nodes."""

from __future__ import annotations

import itertools
from functools import reduce

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation, NotConnected

from .conftest import gather

PAULI = {"X": np.array([[0, 1], [1, 0]], dtype=complex), "Y": np.array([[0, -1j], [1j, 0]]),
         "Z": np.diag([1.0, -1.0]).astype(complex), "I": np.eye(2, dtype=complex)}


def ghz_rho(k: int, p: float = 0.0) -> np.ndarray:
    v = np.zeros(2**k, dtype=complex)
    v[0] = v[-1] = 1 / np.sqrt(2)
    rho = np.outer(v, v.conj())
    for j in range(k):  # depolarize(p) on qubit j: (1-p) rho + p/3 sum P rho P
        ops = [reduce(np.kron, [PAULI[s] if i == j else PAULI["I"] for i in range(k)]) for s in "XYZ"]
        rho = (1 - p) * rho + p / 3 * sum(o @ rho @ o for o in ops)
    return rho


def mermin_operator(k: int) -> np.ndarray:
    m = np.zeros((2**k, 2**k), dtype=complex)
    for combo in itertools.product("XY", repeat=k):
        ny = combo.count("Y")
        if ny % 2 == 0:
            m += (-1) ** (ny // 2) * reduce(np.kron, [PAULI[c] for c in combo])
    return m


@pytest.mark.parametrize("nodes,p", [(["g0", "g1", "g2"], 0.0), (["g0", "g1", "g2"], 0.1),
                                     (["g0", "g1", "g2", "g3"], 0.0), (["g2", "g1", "g3", "g0"], 0.05)])
def test_ghz_state_exact_and_mermin_closed_form(lab_net, nodes, p):
    """The gathered state is the (depolarised) GHZ state; Tr(rho M) = 2^(k-1) (1 - 4p/3)^k."""
    k = len(nodes)
    g = lab_net.ghz(nodes, depolarize=p)
    assert g.epr_pairs == k - 1
    rho = gather(lab_net, g.qubits[0])
    np.testing.assert_allclose(rho, ghz_rho(k, p), atol=1e-6)
    assert np.real(np.trace(rho @ mermin_operator(k))) == pytest.approx(2 ** (k - 1) * (1 - 4 * p / 3) ** k, abs=1e-6)


def test_mermin_measured_across_nodes_is_four_when_ideal(lab_net):
    r = lab_net.mermin(["g0", "g1", "g2"], shots_per_term=50)
    assert r.value == pytest.approx(4.0) and r.stderr == 0.0


@pytest.mark.parametrize("p", [0.05, 0.15])
def test_mermin_measured_with_depolarizing_noise_within_four_standard_errors(lab_net, p):
    r = lab_net.mermin(["g0", "g1", "g2"], shots_per_term=150, depolarize=p)
    expected = 4 * (1 - 4 * p / 3) ** 3
    assert abs(r.value - expected) < 4 * r.stderr, (r.value, r.stderr, expected)


def test_bad_ghz_requests(lab_net):
    with pytest.raises(NotConnected):
        lab_net.ghz(["g0", "x0"])
    with pytest.raises(InvalidOperation):
        lab_net.ghz(["g0", "nope"])
    with pytest.raises(InvalidOperation):
        lab_net.ghz(["g0", "g1"], shots=2, bases=["XX"])
