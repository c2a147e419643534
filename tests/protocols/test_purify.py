"""BBPSSW and DEJMPS purification across real node processes, against their recurrence maps."""

from __future__ import annotations

import numpy as np
import pytest

from qemu_net.client.protocols import bell_fidelity
from qemu_net.errors import InvalidOperation, NotConnected

from .conftest import CHAIN_F, bell_coefficients, gather

# ---- closed forms, written out here independently of the library (coefficients on Phi+, Psi-, Psi+, Phi-)


def bbpssw(f):
    e = (1 - f) / 3
    p = f * f + 2 * f * e + 5 * e * e
    return p, (f * f + e * e) / p


def dejmps(c):
    a, b, cc, d = c
    n = (a + b) ** 2 + (cc + d) ** 2
    return n, ((a * a + b * b) / n, 2 * cc * d / n, (cc * cc + d * d) / n, 2 * a * b / n)


def werner(f):
    return (f, (1 - f) / 3, (1 - f) / 3, (1 - f) / 3)


def dejmps_nested(c, rounds):
    p_all = 1.0
    for r in range(rounds):
        p, c = dejmps(c)
        p_all *= p ** (2 ** (rounds - r - 1))
    return p_all, c


def bbpssw_nested(f, rounds):
    p_all = 1.0
    for r in range(rounds):
        p, f = bbpssw(f)
        p_all *= p ** (2 ** (rounds - r - 1))
    return p_all, f


def pair_state(net, pair):
    """The kept pair's two-qubit density matrix: move the second half over the (noiseless) fiber."""
    qa, qb = pair
    moved = qb.send(qa.node.name)
    rho = net[qa.node.name].inspect([qa, moved])
    net[qa.node.name].free([qa, moved])
    return rho


def first_success(net, a, b, **kw):
    for _ in range(40):
        p = net.purify(a, b, **kw)
        if p.success[0]:
            return p
    raise AssertionError("no success in 40 tries")


@pytest.mark.parametrize("method,rounds,link,expected", [
    ("dejmps", 1, "u", dejmps(werner(0.8))[1]),
    ("dejmps", 2, "u", dejmps_nested(werner(0.8), 2)[1]),
    ("dejmps", 1, "v", dejmps((0.75, 0, 0, 0.25))[1]),
    ("dejmps", 2, "v", dejmps_nested((0.75, 0, 0, 0.25), 2)[1]),
])
def test_dejmps_output_state_is_the_recurrence_map(lab_net, method, rounds, link, expected):
    """Exact Bell coefficients of the kept pair equal the DEJMPS map (Werner 0.8 and dephased 0.75 input)."""
    p = first_success(lab_net, f"{link}0", f"{link}1", method=method, rounds=rounds)
    assert p.consumed == 2**rounds
    np.testing.assert_allclose(bell_coefficients(pair_state(lab_net, p.pairs[0])), expected, atol=1e-6)


def test_bbpssw_one_round_output_fidelity_is_the_recurrence_map(lab_net):
    """BBPSSW on Werner 0.8: F' = (F^2 + e^2)/p exactly, and the output is Werner (twirled)."""
    p = first_success(lab_net, "u0", "u1", method="bbpssw", rounds=1)
    c = bell_coefficients(pair_state(lab_net, p.pairs[0]))
    assert c[0] == pytest.approx(bbpssw(0.8)[1], abs=1e-6)


def _sampled(net, a, b, method, rounds, reps, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 3, reps).astype(np.uint8)
    p = net.purify(a, b, method=method, rounds=rounds, repetitions=reps, measure_bases=["ZXY"[c] for c in codes])
    ok = p.success
    za, zb = p.outcomes
    assert np.all(za[~ok] == 255) and np.all(zb[~ok] == 255)
    return p, ok, za[ok], zb[ok], codes[ok]


def correlations(c):
    """<ZZ>, <XX>, <YY> of the Bell-diagonal state with coefficients c on (Phi+, Psi-, Psi+, Phi-)."""
    a, b, cc, d = c
    return a + d - b - cc, a - d + cc - b, -a + d + cc - b


@pytest.mark.parametrize("method,rounds,reps", [("dejmps", 1, 300), ("bbpssw", 1, 300), ("dejmps", 2, 300),
                                                ("bbpssw", 2, 300)])
def test_success_probability_and_fidelity_sampled(lab_net, method, rounds, reps):
    """Success rate and output fidelity (from Z/X/Y correlations) within 4 standard errors of the maps.
    The standard errors come from the closed form, not from the sample: with ~40 kept pairs per basis an
    observed correlation of exactly +-1 is common, and a sample variance of 0 would make the bound
    meaningless."""
    p, ok, za, zb, codes = _sampled(lab_net, "u0", "u1", method, rounds, reps, seed=rounds * 10 + len(method))
    if method == "dejmps":
        p_exp, c = dejmps_nested(werner(0.8), rounds)
        f_exp = c[0]
    else:
        p_exp, f_exp = bbpssw_nested(0.8, rounds)
        c = werner(f_exp)  # BBPSSW twirls its output
    se_p = np.sqrt(p_exp * (1 - p_exp) / reps)
    assert abs(ok.mean() - p_exp) < 4 * se_p, (ok.mean(), p_exp)
    f, _ = bell_fidelity(za, zb, codes)
    # f = 1/4 + (<XX> - <YY> + <ZZ>)/4 from +-1 samples: Var = sum over bases of (1 - E^2) / n_b / 16.
    var = sum((1 - e * e) / (codes == k).sum() for k, e in enumerate(correlations(c))) / 16
    se = float(np.sqrt(var))
    assert abs(f - f_exp) < 4 * se, (f, se, f_exp)
    assert p.consumed == reps * 2**rounds
    assert lab_net["u0"].info().qubits_in_use == 0 and lab_net["u1"].info().qubits_in_use == 0


def test_hopeless_input_fails_cleanly(lab_net):
    """Fidelity 0.3 input: rounds fail often, nothing crashes, every qubit is released."""
    p = lab_net.purify("w0", "w1", method="dejmps", rounds=2, repetitions=40, measure_bases="Z")
    assert 0 <= p.success_rate < 1
    p = lab_net.purify("w0", "w1", method="bbpssw", rounds=1, repetitions=1)
    if p.pairs[0] is not None:
        lab_net["w0"].free([p.pairs[0][0]])
        lab_net["w1"].free([p.pairs[0][1]])
    assert lab_net["w0"].info().qubits_in_use == 0 and lab_net["w1"].info().qubits_in_use == 0


def test_purify_pairs_delivered_by_a_chain_through_relays(lab_net):
    """Pairs swapped along c0-c1-c2 (no classical link c0-c2): messages travel through a relay at c1."""
    f0 = 0.25 + 0.75 * ((4 * CHAIN_F - 1) / 3) ** 2
    for _ in range(20):
        d = lab_net.chain(["c0", "c1", "c2"], pairs=2)
        p = lab_net.purify("c0", "c2", method="dejmps", rounds=1, pairs=d.pairs, route=["c0", "c1", "c2"])
        if p.success[0]:
            break
    else:
        raise AssertionError("no success")
    rho = gather(lab_net, list(p.pairs[0]))
    assert bell_coefficients(rho)[0] == pytest.approx(dejmps(werner(f0))[1][0], abs=1e-6)


def test_bad_purification_requests(lab_net):
    with pytest.raises(InvalidOperation, match="rounds"):
        lab_net.purify("u0", "u1", rounds=0)
    with pytest.raises(InvalidOperation, match="method"):
        lab_net.purify("u0", "u1", method="nope")
    with pytest.raises(NotConnected, match="no quantum link"):
        lab_net.purify("u0", "v1", rounds=1)
