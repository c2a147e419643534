"""Link physics against closed forms computed here, and batched sampling against Cirq."""

from __future__ import annotations

import math
import time

import cirq
import numpy as np
import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.network import physics
from qemu_net.network.topology import LinkSpec, NodeSpec
from qemu_net.quantum import states

TOL = 1e-6

#: Light in standard fiber: group index 1.468 over c = 299 792.458 km/s, in ns per km (~4897).
NS_PER_KM = 1.468e9 / 299_792.458


def _link(**kw) -> LinkSpec:
    return LinkSpec(nodes=("a", "b"), **kw)


def _within(sample_mean: float, expected: float, stderr: float) -> bool:
    return abs(sample_mean - expected) <= 4 * stderr


# ---------------------------------------------------------------------------- photon loss


@pytest.mark.parametrize(
    "length_km,alpha,eta", [(0.0, 0.2, 1.0), (10.0, 0.2, 1.0), (25.0, 0.2, 0.9), (50.0, 0.35, 0.6), (100.0, 0.16, 0.8)]
)
def test_survival_exact(length_km, alpha, eta):
    """Photon survival is 10^(-alpha L / 10) * eta_det, and agrees with LinkSpec.transmissivity."""
    expected = 10 ** (-alpha * length_km / 10) * eta
    link = _link(length_km=length_km, attenuation_db_per_km=alpha, detector_efficiency=eta)
    assert physics.photon_survival_probability(link) == pytest.approx(expected, rel=1e-12)
    assert physics.survival_probability(length_km, alpha, eta) == pytest.approx(expected, rel=1e-12)
    assert link.transmissivity == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("length_km,alpha,eta", [(10.0, 0.2, 1.0), (25.0, 0.2, 0.9), (80.0, 0.2, 0.5)])
def test_survival_sampled(length_km, alpha, eta):
    """The loss sampler's survival rate is within 4 standard errors of 10^(-aL/10) * eta."""
    p = 10 ** (-alpha * length_km / 10) * eta
    link = _link(length_km=length_km, attenuation_db_per_km=alpha, detector_efficiency=eta)
    n = 50_000
    lost = physics.sample_photon_losses(np.random.default_rng(17), link, n)
    assert lost.dtype == bool and lost.shape == (n,)
    assert _within(1 - lost.mean(), p, math.sqrt(p * (1 - p) / n))
    rng = np.random.default_rng(18)
    m = 5000
    single = sum(not physics.sample_qubit_lost(rng, link) for _ in range(m)) / m
    assert _within(single, p, math.sqrt(p * (1 - p) / m))


# ----------------------------------------------------------------------------------- timing


@pytest.mark.parametrize("length_km", [0.0, 1.0, 20.0, 150.0])
def test_classical_message_arrives_after_fiber_latency(length_km):
    """A classical message over L km arrives L n_g / c later (4.897 us/km at n_g = 1.468); an explicit
    latency overrides it."""
    link = _link(length_km=length_km)
    assert physics.classical_arrival_ns(1000.0, link) == pytest.approx(1000.0 + NS_PER_KM * length_km)
    assert physics.qubit_arrival_ns(7.0, link) == pytest.approx(7.0 + NS_PER_KM * length_km)
    fast = _link(length_km=length_km, classical_latency_ns=123.0)
    assert physics.classical_arrival_ns(1000.0, fast) == pytest.approx(1123.0)


@pytest.mark.parametrize("length_km,rate_hz", [(0.0, 1e6), (0.1, 1e6), (10.0, 1e6), (10.0, 1e3)])
def test_herald_delay_is_attempts_times_period(length_km, rate_hz):
    """Each attempt costs max(1/attempt_rate, round trip 2 L n_g / c); the herald arrives after attempts x that."""
    link = _link(length_km=length_km, attempt_rate_hz=rate_hz)
    period = max(1e9 / rate_hz, 2 * length_km * NS_PER_KM)
    assert physics.attempt_period_ns(link) == pytest.approx(period)
    for k in (1, 2, 37):
        assert physics.herald_delay_ns(link, k) == pytest.approx(k * period)


# ------------------------------------------------------------------------------- heralding


@pytest.mark.parametrize(
    "length_km,dark", [(0.0, 0.0), (10.0, 0.0), (50.0, 1e-3), (100.0, 0.02)]
)
def test_herald_probability_and_attempt_distribution(length_km, dark):
    """p = eta + (1 - eta) d; sampled attempts have mean 1/p within 4 standard errors."""
    eta = 10 ** (-0.2 * length_km / 10)
    p = eta + (1 - eta) * dark
    link = _link(length_km=length_km, dark_count_probability=dark)
    assert physics.herald_probability(link) == pytest.approx(p, rel=1e-12)
    assert physics.false_herald_fraction(link) == pytest.approx((1 - eta) * dark / p, rel=1e-12, abs=1e-15)
    rng = np.random.default_rng(23)
    n = 20_000
    k = physics.sample_attempts_batch(rng, link, n)
    sd = math.sqrt(1 - p) / p
    assert (k >= 1).all()
    assert _within(k.mean(), 1 / p, sd / math.sqrt(n) + 1e-12)
    m = 3000
    singles = np.array([physics.sample_attempts(rng, link) for _ in range(m)], dtype=float)
    assert _within(singles.mean(), 1 / p, sd / math.sqrt(m) + 1e-12)


@pytest.mark.parametrize("cap", [1, 3, 10])
def test_attempt_cap(cap):
    """With max_attempts = c the generation fails with probability (1 - p)^c; failure is None / 0."""
    link = _link(length_km=50.0, max_attempts=cap)  # p = 0.1
    p = 0.1
    fail = (1 - p) ** cap
    rng = np.random.default_rng(29)
    n = 20_000
    k = physics.sample_attempts_batch(rng, link, n)
    assert k.max() <= cap
    assert _within((k == 0).mean(), fail, math.sqrt(fail * (1 - fail) / n))
    model = physics.EprLinkModel.from_specs(link)
    outs = [model.sample(rng) for _ in range(4000)]
    assert _within(sum(o is None for o in outs) / 4000, fail, math.sqrt(fail * (1 - fail) / 4000))
    assert all(o.attempts <= cap and o.delay_ns == o.attempts * model.period_ns for o in outs if o is not None)
    assert model.give_up_delay_ns == cap * model.period_ns
    assert physics.sample_attempts(rng, _link(length_km=1e5, max_attempts=5)) is None  # p underflows to 0


# -------------------------------------------------------------------------- delivered state


def _cirq_channel_pipeline(rho0: np.ndarray, ops: list[cirq.Operation]) -> np.ndarray:
    q = cirq.LineQubit.range(2)
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    c = cirq.Circuit(ops) if ops else cirq.Circuit(cirq.IdentityGate(2).on(*q))
    return sim.simulate(c, qubit_order=q, initial_state=rho0.astype(np.complex128)).final_density_matrix


def test_ideal_link_delivers_phi_plus():
    """A perfect link (no loss noise, no memory decay) delivers |Phi+>."""
    rho = physics.epr_pair_state(_link(length_km=30.0), NodeSpec(name="a"), NodeSpec(name="b"))
    np.testing.assert_allclose(rho, states.bell_dm(), atol=1e-12)


@pytest.mark.parametrize("f_src,p_tx", [(1.0, 0.0), (0.95, 0.0), (0.9, 0.05), (0.7, 0.2), (1.0, 0.3)])
def test_werner_source_with_transmission_noise(f_src, p_tx):
    """Werner(F) then depolarize(p) on the travelling half is Werner(F') with
    F' = (1 + 3 (1 - 4(1-F)/3)(1 - 4p/3)) / 4."""
    lam = (1 - 4 * (1 - f_src) / 3) * (1 - 4 * p_tx / 3)
    f_expected = (1 + 3 * lam) / 4
    link = _link(length_km=5.0, source_fidelity=f_src, transmission_depolarize=p_tx)
    rho = physics.epr_pair_state(link)
    np.testing.assert_allclose(rho, states.werner_state(f_expected), atol=TOL)
    q = cirq.LineQubit.range(2)
    want = _cirq_channel_pipeline(states.werner_state(f_src), [cirq.depolarize(p_tx).on(q[1])])
    np.testing.assert_allclose(rho, want, atol=TOL)


@pytest.mark.parametrize("f_src", [1.0, 0.9, 0.6])
def test_dephased_source(f_src):
    """The dephased source gives F|Phi+><Phi+| + (1-F)|Phi-><Phi-|: <ZZ> = 1, <XX> = 2F - 1."""
    rho = physics.epr_pair_state(_link(source_model="dephased", source_fidelity=f_src))
    zz = np.kron(np.diag([1, -1]), np.diag([1, -1]))
    xx = np.kron([[0, 1], [1, 0]], [[0, 1], [1, 0]])
    assert np.trace(rho @ zz).real == pytest.approx(1.0, abs=TOL)
    assert np.trace(rho @ xx).real == pytest.approx(2 * f_src - 1, abs=TOL)
    assert states.bell_fidelity(rho) == pytest.approx(f_src, abs=TOL)


@pytest.mark.parametrize("length_km,dark", [(20.0, 1e-3), (60.0, 1e-2), (100.0, 0.05)])
def test_dark_counts_mix_in_white_noise(length_km, dark):
    """False heralds (fraction q = (1-eta)d/p) mix the pair with I/4: F = (1-q) * 1 + q/4."""
    eta = 10 ** (-0.2 * length_km / 10)
    q = (1 - eta) * dark / (eta + (1 - eta) * dark)
    rho = physics.epr_pair_state(_link(length_km=length_km, dark_count_probability=dark))
    np.testing.assert_allclose(rho, (1 - q) * states.bell_dm() + q * np.eye(4) / 4, atol=TOL)
    assert states.bell_fidelity(rho) == pytest.approx(1 - 3 * q / 4, abs=TOL)


@pytest.mark.parametrize(
    "length_km,t1_s,t2_s", [(10.0, 1e-3, 1e-3), (50.0, 1e-2, 2e-3), (25.0, 5e-4, 1e-3), (100.0, None, 1e-3)]
)
def test_waiting_half_decoheres_for_the_round_trip(length_km, t1_s, t2_s):
    """The source half waits 2 L n_g / c for the herald: F = (1 + e^{-t/T1} + 2 e^{-t/T2}) / 4."""
    t = 2 * length_km * NS_PER_KM * 1e-9
    e1 = 0.0 if t1_s is None else math.exp(-t / t1_s)
    f_expected = (1 + (1.0 if t1_s is None else e1) + 2 * math.exp(-t / t2_s)) / 4
    link = _link(length_km=length_km)
    model = physics.EprLinkModel.from_specs(link, NodeSpec(name="a", t1_s=t1_s, t2_s=t2_s), NodeSpec(name="b"))
    assert model.fidelity == pytest.approx(f_expected, abs=TOL)
    assert states.bell_fidelity(model.rho) == pytest.approx(f_expected, abs=TOL)


def test_full_pipeline_matches_cirq_channels():
    """Source, transmission, dark counts and both memories together equal the same Cirq channel sequence."""
    link = _link(length_km=40.0, source_fidelity=0.93, transmission_depolarize=0.04, dark_count_probability=5e-3)
    na = NodeSpec(name="a", t1_s=2e-3, t2_s=1e-3)
    nb = NodeSpec(name="b", t1_s=1e-3, t2_s=1.5e-3)
    rho = physics.epr_pair_state(link, na, nb)
    eta = 10 ** (-0.2 * 40 / 10)
    q = (1 - eta) * 5e-3 / (eta + (1 - eta) * 5e-3)
    qs = cirq.LineQubit.range(2)
    after_tx = _cirq_channel_pipeline(states.werner_state(0.93), [cirq.depolarize(0.04).on(qs[1])])
    mixed = (1 - q) * after_tx + q * np.eye(4) / 4

    def mem(t_s: float, t1: float, t2: float, qubit: cirq.Qid) -> list[cirq.Operation]:
        g = 1 - math.exp(-t_s / t1)
        lam = math.exp(-t_s / t2) / math.sqrt(1 - g)
        return [cirq.amplitude_damp(g).on(qubit), cirq.phase_damp(1 - lam**2).on(qubit)]

    t_rt = 2 * 40 * NS_PER_KM * 1e-9
    t_back = 40 * NS_PER_KM * 1e-9
    want = _cirq_channel_pipeline(mixed, mem(t_rt, 2e-3, 1e-3, qs[0]) + mem(t_back, 1e-3, 1.5e-3, qs[1]))
    np.testing.assert_allclose(rho, want, atol=TOL)
    model = physics.EprLinkModel.from_specs(link, na, nb)
    np.testing.assert_allclose(model.rho, rho)
    pair = model.sample(np.random.default_rng(0))
    assert pair is not None and pair.rho is not model.rho
    np.testing.assert_allclose(pair.rho, rho)


# --------------------------------------------------------------------- batched measurement


def _correlator(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    s = 1 - 2 * (a.astype(np.int64) ^ b.astype(np.int64))
    return float(s.mean()), float(s.std(ddof=1) / math.sqrt(len(s)))


@pytest.mark.parametrize("f", [1.0, 0.9, 0.6, 0.25])
def test_batch_outcomes_werner_correlations(f):
    """For a Werner pair <ZZ> = <XX> = (4F-1)/3 and <YY> = -(4F-1)/3; marginals are unbiased."""
    rng = np.random.default_rng(31)
    n = 60_000
    ba = rng.integers(0, 3, n)
    bb = ba.copy()
    a, b = physics.epr_batch_outcomes(rng, states.werner_state(f), ba, bb)
    assert a.dtype == np.uint8 and b.dtype == np.uint8
    c = (4 * f - 1) / 3
    for basis, expected in ((0, c), (1, c), (2, -c)):
        m = ba == basis
        mean, se = _correlator(a[m], b[m])
        assert _within(mean, expected, max(se, 1 / m.sum())), (basis, mean, expected)
        assert _within(a[m].mean(), 0.5, 0.5 / math.sqrt(m.sum()))
    # mismatched bases are uncorrelated for a Werner state
    ba2 = np.zeros(20_000, dtype=np.uint8)
    a2, b2 = physics.epr_batch_outcomes(rng, states.werner_state(f), ba2, ba2 + 1)
    mean, se = _correlator(a2, b2)
    assert _within(mean, 0.0, se)


def _cirq_probabilities(rho: np.ndarray, basis_a: int, basis_b: int) -> np.ndarray:
    q = cirq.LineQubit.range(2)
    change = {0: [], 1: [cirq.H], 2: [cirq.S**-1, cirq.H]}
    ops = [g.on(q[0]) for g in change[basis_a]] + [g.on(q[1]) for g in change[basis_b]]
    final = _cirq_channel_pipeline(rho, ops)
    return np.real(np.diag(final))


def _asymmetric_pair() -> np.ndarray:
    link = _link(length_km=30.0, source_fidelity=0.9, transmission_depolarize=0.05)
    return physics.epr_pair_state(link, NodeSpec(name="a", t1_s=2e-4, t2_s=1e-4), NodeSpec(name="b"))


def test_outcome_table_is_cirq_born_rule():
    """The 9 x 4 table equals Cirq's basis change + Z-measurement probabilities (exact, 1e-6)."""
    rng = np.random.default_rng(4)
    a = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    random_rho = a @ a.conj().T / np.trace(a @ a.conj().T)
    for rho in (_asymmetric_pair(), random_rho):
        table = physics.outcome_table(rho)
        for ba in range(3):
            for bb in range(3):
                np.testing.assert_allclose(table[3 * ba + bb], _cirq_probabilities(rho, ba, bb), atol=TOL)


@pytest.mark.parametrize("basis_a,basis_b", [(0, 0), (1, 2), (2, 1), (1, 1)])
def test_batch_outcomes_agree_with_per_pair_cirq_measurement(basis_a, basis_b):
    """Joint-outcome frequencies from the batch path and from Cirq's per-shot measurement agree
    (two-sample, within 4 standard errors) for a state with biased marginals."""
    rho = _asymmetric_pair()
    n = 4000
    q = cirq.LineQubit.range(2)
    change = {0: [], 1: [cirq.H], 2: [cirq.S**-1, cirq.H]}
    basis_change = cirq.Circuit([g.on(q[0]) for g in change[basis_a]] + [g.on(q[1]) for g in change[basis_b]])
    # Cirq's run() cannot start from a density matrix: simulate the basis change, then sample shots.
    final = _cirq_channel_pipeline(rho, list(basis_change.all_operations()))
    shots = cirq.sample_density_matrix(final, [0, 1], repetitions=n, seed=np.random.RandomState(6))
    cirq_idx = 2 * shots[:, 0].astype(int) + shots[:, 1].astype(int)
    rng = np.random.default_rng(7)
    a, b = physics.epr_batch_outcomes(rng, rho, np.full(n, basis_a), np.full(n, basis_b))
    ours_idx = 2 * a.astype(int) + b
    for k in range(4):
        p1, p2 = (ours_idx == k).mean(), (cirq_idx == k).mean()
        pool = (p1 + p2) / 2
        se = math.sqrt(max(pool * (1 - pool), 1 / n) * 2 / n)
        assert abs(p1 - p2) <= 4 * se, (k, p1, p2)


def test_batch_outcomes_are_reproducible_and_fast():
    """Same seed -> same outcomes; 10,000 pairs sample in well under 10 ms."""
    rho = _asymmetric_pair()
    bases = np.random.default_rng(1).integers(0, 3, (2, 10_000))
    r1 = physics.epr_batch_outcomes(np.random.default_rng(99), rho, bases[0], bases[1])
    r2 = physics.epr_batch_outcomes(np.random.default_rng(99), rho, bases[0], bases[1])
    np.testing.assert_array_equal(r1[0], r2[0])
    np.testing.assert_array_equal(r1[1], r2[1])
    rng = np.random.default_rng(0)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        physics.epr_batch_outcomes(rng, rho, bases[0], bases[1])
        times.append(time.perf_counter() - t0)
    assert sorted(times)[3] < 10e-3  # measured ~1 ms on the 2-core machine


# ---------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: physics.epr_batch_outcomes(np.random.default_rng(), states.bell_dm(), [0, 3], [0, 0]), "basis codes"),
        (lambda: physics.epr_batch_outcomes(np.random.default_rng(), states.bell_dm(), [0, 1], [0]), "equal length"),
        (lambda: physics.outcome_table(2 * states.bell_dm()), "not a density matrix: trace 2"),
        (lambda: physics.outcome_table(np.eye(2) / 2), r"two-qubit density matrix \(4x4\)"),
        (lambda: physics.herald_delay_ns(_link(), 0), "attempts must be >= 1"),
        (lambda: physics.sample_photon_losses(np.random.default_rng(), _link(), -1), "must be >= 0"),
        (lambda: physics.survival_probability(-1.0, 0.2), "length_km >= 0"),
        (lambda: physics.EprLinkModel.from_specs(_link(), source="c"), "'c' is not an end of link"),
        (lambda: physics.EprLinkModel.from_specs(_link(), NodeSpec(name="z")), "'z' is not an end of link"),
    ],
)
def test_invalid_inputs_raise_clear_errors(call, match):
    """Bad bases, states, attempt counts and link ends raise InvalidOperation with a clear message."""
    with pytest.raises(InvalidOperation, match=match):
        call()
