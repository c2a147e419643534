"""Closed forms for QKD key rates: what the simulation is checked against.

All rates are *per pulse* (per signal pulse for the decoy formulas) and in bits. Notation follows
Lo, Ma & Chen, PRL 94, 230504 (2005) and Ma, Qi, Zhao & Lo, PRA 72, 012326 (2005):

- ``eta``: overall transmittance (fiber x detector efficiency), ``y0``: background (dark count) yield,
  ``e_d``: misalignment error, ``e0 = 1/2``: error of a background count, ``mu``/``nu``: signal/decoy
  mean photon numbers, ``f_ec``: error-correction inefficiency (1 = Shannon limit),
  ``q``: sifting factor (1/2 for the symmetric BB84).
"""

from __future__ import annotations

import math

import numpy as np

E0 = 0.5


def binary_entropy(p: float | np.ndarray) -> float | np.ndarray:
    """h(p) = -p log2 p - (1-p) log2 (1-p), with h(0) = h(1) = 0; arguments are clipped to [0, 1]."""
    a = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -a * np.log2(a) - (1 - a) * np.log2(1 - a)
    out = np.where((a <= 0) | (a >= 1), 0.0, out)
    return float(out) if np.ndim(out) == 0 else out


def bb84_secret_fraction(qber: float) -> float:
    """Asymptotic Shor-Preskill secret fraction 1 - 2h(Q) (may be negative above ~11%)."""
    return 1.0 - 2.0 * float(binary_entropy(qber))


def transmittance(length_km: float, attenuation_db_per_km: float = 0.2, detector_efficiency: float = 1.0) -> float:
    """eta = 10^(-alpha L / 10) * eta_det (the same model as `LinkSpec.transmissivity`)."""
    return 10 ** (-attenuation_db_per_km * length_km / 10) * detector_efficiency


def gllp_key_rate(
    eta: float, y0: float, e_d: float, mu: float, f_ec: float = 1.16, q: float = 0.5
) -> float:
    """Decoy-state GLLP key rate per signal pulse with infinitely many decoys (Lo-Ma-Chen 2005).

    R = q { -Q_mu f h(E_mu) + Q_1 [1 - h(e_1)] } with Q_mu = Y0 + 1 - e^{-eta mu},
    E_mu Q_mu = e0 Y0 + e_d (1 - e^{-eta mu}), Y1 = Y0 + eta, e1 = (e0 Y0 + e_d eta)/Y1,
    Q1 = Y1 mu e^{-mu}. Returns max(R, 0).
    """
    q_mu = y0 + 1 - math.exp(-eta * mu)
    e_mu = (E0 * y0 + e_d * (1 - math.exp(-eta * mu))) / q_mu
    y1 = y0 + eta
    e1 = (E0 * y0 + e_d * eta) / y1
    q1 = y1 * mu * math.exp(-mu)
    r = q * (-q_mu * f_ec * binary_entropy(e_mu) + q1 * (1 - binary_entropy(e1)))
    return max(float(r), 0.0)


def decoy_bounds(
    q_mu: float, e_mu: float, q_nu: float, e_nu: float, y0: float, mu: float, nu: float
) -> tuple[float, float]:
    """Vacuum + weak decoy bounds (Ma et al. 2005, eqs. 34-35): (Y1 lower bound, e1 upper bound).

    Y1L = mu / (mu nu - nu^2) * (Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0)
    e1U = (E_nu Q_nu e^nu - e0 Y0) / (Y1L nu), clipped to [0, 1/2].
    `e_mu` is accepted for symmetry of the call and unused. Y1L is clipped at 0.
    """
    del e_mu
    y1l = mu / (mu * nu - nu * nu) * (
        q_nu * math.exp(nu) - q_mu * math.exp(mu) * nu * nu / (mu * mu) - (mu * mu - nu * nu) / (mu * mu) * y0
    )
    y1l = max(float(y1l), 0.0)
    if y1l <= 0:
        return 0.0, 0.5
    e1u = (e_nu * q_nu * math.exp(nu) - E0 * y0) / (y1l * nu)
    return y1l, float(min(max(e1u, 0.0), 0.5))


def decoy_rate_from_gains(
    q_mu: float, e_mu: float, q_nu: float, e_nu: float, y0: float, mu: float, nu: float,
    f_ec: float = 1.16, q: float = 0.5,
) -> float:
    """GLLP rate per signal pulse with the vacuum + weak decoy bounds applied to given gains/errors."""
    y1l, e1u = decoy_bounds(q_mu, e_mu, q_nu, e_nu, y0, mu, nu)
    q1l = y1l * mu * math.exp(-mu)
    r = q * (-q_mu * f_ec * binary_entropy(e_mu) + q1l * (1 - binary_entropy(e1u)))
    return max(float(r), 0.0)


def gllp_max_distance_km(
    *, attenuation_db_per_km: float, detector_efficiency: float, y0: float, e_d: float, mu: float,
    f_ec: float = 1.16, q: float = 0.5, hi_km: float = 1000.0,
) -> float:
    """Largest fiber length at which `gllp_key_rate` is positive (bisection to 1 m)."""

    def rate(length: float) -> float:
        return gllp_key_rate(transmittance(length, attenuation_db_per_km, detector_efficiency), y0, e_d, mu, f_ec, q)

    if rate(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, hi_km
    if rate(hi) > 0:
        return hi
    while hi - lo > 1e-3:
        mid = (lo + hi) / 2
        if rate(mid) > 0:
            lo = mid
        else:
            hi = mid
    return lo


def detector_click_probabilities(m_eta: float, dark: float, e_d: float, flip: float = 0.0,
                                 readout: float = 0.0) -> tuple[float, float]:
    """(gain, error probability) of one pulse of mean photon number ``m_eta`` at Bob's two threshold
    detectors, measured in the basis it was prepared in.

    Each photon independently reaches the wrong detector with ``e_d``; each detector clicks by itself
    with ``dark``; a double click gives a random bit. ``flip`` is the probability that the whole pulse
    arrives with its polarisation flipped (a depolarising channel of Cirq probability p flips a BB84
    state with 2p/3), ``readout`` the probability that Bob's recorded bit is flipped. Then
    ``P(right detector) = 1 - (1 - dark) e^{-m_eta (1 - e_d)}``,
    ``P(wrong) = 1 - (1 - dark) e^{-m_eta e_d}``, gain ``1 - (1 - P_r)(1 - P_w)``, error
    ``P_w (1 - P_r) + P_r P_w / 2``, and a flip or a readout error swaps error and non-error clicks."""
    pr = 1 - (1 - dark) * math.exp(-m_eta * (1 - e_d))
    pw = 1 - (1 - dark) * math.exp(-m_eta * e_d)
    gain = 1 - (1 - pr) * (1 - pw)
    err = pw * (1 - pr) + pr * pw / 2
    err = (1 - flip) * err + flip * (gain - err)
    err = (1 - readout) * err + readout * (gain - err)
    return gain, err


def expected_decoy_counts(
    n_pulses: float, *, mus: tuple[float, ...], probs: tuple[float, ...], p_z: float, eta: float, dark: float,
    e_d: float, flip: float = 0.0, readout: float = 0.0,
) -> dict[str, tuple[float, ...]]:
    """Expected key-basis (Z, matched) and test-basis (X, matched) detections and errors per intensity."""
    out: dict[str, list[float]] = {"n_z": [], "m_z": [], "n_x": [], "m_x": []}
    for m, p in zip(mus, probs, strict=True):
        g, e = detector_click_probabilities(m * eta, dark, e_d, flip, readout)
        out["n_z"].append(n_pulses * p * p_z**2 * g)
        out["m_z"].append(n_pulses * p * p_z**2 * e)
        out["n_x"].append(n_pulses * p * (1 - p_z) ** 2 * g)
        out["m_x"].append(n_pulses * p * (1 - p_z) ** 2 * e)
    return {k: tuple(v) for k, v in out.items()}


def plob_bound(eta: float | np.ndarray) -> float | np.ndarray:
    """Repeaterless PLOB bound -log2(1 - eta) in secret bits per channel use (Pirandola et al. 2017)."""
    a = np.clip(np.asarray(eta, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        out = -np.log2(1 - a)  # +inf at eta = 1
    return float(out) if np.ndim(out) == 0 else out


def bb84_class_probabilities(m_eta: float, dark_count_probability: float,
                             misalignment_error: float) -> tuple[float, float]:
    """(gain, error probability) of a class of mean photon number m_eta arriving at Bob's two detectors
    (each with dark counts pd; a photon hits the wrong detector with the misalignment; a double click
    is a random bit): the model of `qemu_net.qkd.pulses`."""
    pd, ed = dark_count_probability, misalignment_error
    pc = 1 - (1 - pd) * math.exp(-m_eta * (1 - ed))
    pw = 1 - (1 - pd) * math.exp(-m_eta * ed)
    return 1 - (1 - pc) * (1 - pw), pw * (1 - pc) + pc * pw / 2


def decoy_expected_rate_and_stderr(
    eta: float, dark_count_probability: float, misalignment_error: float, *, mu: float, nu: float,
    pulses: int, p_signal: float = 0.7, p_decoy: float = 0.2, p_vacuum: float = 0.1, sample_fraction: float = 0.1,
    f_ec: float = 1.16, reps: int = 400, seed: int = 0,
) -> tuple[float, float]:
    """Vacuum + weak decoy GLLP rate per signal pulse at the expected gains, and a parametric-bootstrap
    standard error of the estimate a session of `pulses` pulses makes (signal error rate from the
    disclosed sample of the sifted signal bits, the others from all sifted bits of their class)."""
    rng = np.random.default_rng(seed)
    y0 = bb84_class_probabilities(0.0, dark_count_probability, misalignment_error)[0]
    q, e = [], []
    for m in (mu, nu):
        g, err = bb84_class_probabilities(m * eta, dark_count_probability, misalignment_error)
        q.append(g)
        e.append(err / g if g > 0 else 0.5)
    expected = decoy_rate_from_gains(q[0], e[0], q[1], e[1], y0, mu, nu, f_ec)
    n = (pulses * p_signal, pulses * p_decoy, pulses * p_vacuum)
    boot = []
    for _ in range(reps):
        gs = [rng.binomial(int(n[c]), g) / n[c] for c, g in enumerate((q[0], q[1], y0))]
        n_e_mu = max(int(n[0] * q[0] * 0.5 * sample_fraction), 1)
        n_e_nu = max(int(n[1] * q[1] * 0.5), 1)
        es = (rng.binomial(n_e_mu, e[0]) / n_e_mu, rng.binomial(n_e_nu, e[1]) / n_e_nu)
        boot.append(decoy_rate_from_gains(gs[0], es[0], gs[1], es[1], gs[2], mu, nu, f_ec))
    return expected, float(np.std(boot))


__all__ = [
    "E0",
    "bb84_class_probabilities",
    "bb84_secret_fraction",
    "binary_entropy",
    "decoy_bounds",
    "decoy_expected_rate_and_stderr",
    "decoy_rate_from_gains",
    "detector_click_probabilities",
    "expected_decoy_counts",
    "gllp_key_rate",
    "gllp_max_distance_km",
    "plob_bound",
    "transmittance",
]
