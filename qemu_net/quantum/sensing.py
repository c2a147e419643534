"""Distributed phase estimation: closed forms and estimators (pure numpy, no I/O).

k sensor nodes each see the same phase phi (a field acting on every sensor's qubit as Rz(phi)).

* **Entangled**: a GHZ state (|0..0> + |1..1>)/sqrt(2) over the k nodes picks up the phase k phi; every
  node measures X and the parity has mean ``V cos(k phi)``. At the working point k phi = pi/2 one
  state gives a phase uncertainty ``1 / (k V)`` (per state; /sqrt(n) for n states): the Heisenberg
  scaling 1/k when V = 1.
* **Unentangled**: k independent |+> probes, each ``<X> = v cos(phi)``; one round of k probes gives
  ``1 / (sqrt(k) v)``: the standard quantum limit 1/sqrt(k).

Noise: a GHZ state fused from k - 1 Werner link pairs of visibility w = (4F - 1)/3 keeps a parity
visibility ``w^(k-1)`` (a maximally mixed pair leaves the child's qubit uncorrelated: parity mean 0);
memory dephasing during the interrogation multiplies each qubit's coherence by ``c = e^(-t/T2)``, so
``V = w^(k-1) c^k`` and ``v = c``. The advantage of entanglement is gone where ``k V <= sqrt(k) v``.

Estimators (`estimate`): the fringe visibility from calibration shots at phi = 0 (mean parity, its
standard error sqrt((1 - V^2)/n)), the per-state uncertainty 1/(k V_hat); and, from shots at the
working point split into blocks, the spread of the per-block phase estimates
phi_b = (pi/2 - arcsin(P_b / V_hat)) / k, which should be 1 / (k V sqrt(B)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def werner_visibility(fidelity: float) -> float:
    return (4 * fidelity - 1) / 3


def ghz_visibility(k: int, link_fidelity: float = 1.0, coherence: float = 1.0) -> float:
    """V = w^(k-1) c^k for a GHZ state over k nodes fused from k - 1 Werner pairs."""
    if k < 1:
        raise ValueError("k >= 1")
    return werner_visibility(link_fidelity) ** (k - 1) * coherence**k


def heisenberg_uncertainty(k: int, link_fidelity: float = 1.0, coherence: float = 1.0) -> float:
    """Per-GHZ-state phase uncertainty at the working point: 1 / (k V)."""
    return 1 / (k * ghz_visibility(k, link_fidelity, coherence))


def sql_uncertainty(k: int, coherence: float = 1.0) -> float:
    """Per round of k unentangled probes: 1 / (sqrt(k) c)."""
    return 1 / (math.sqrt(k) * coherence)


def depolarize_for_coherence(coherence: float) -> float:
    """The depolarising probability p with 1 - 4p/3 = c: the same equatorial-plane coherence loss as
    dephasing for a time t with c = e^(-t/T2) (indistinguishable by X/Y-plane measurements)."""
    if not 0 <= coherence <= 1:
        raise ValueError("coherence must be in [0, 1]")
    return 0.75 * (1 - coherence)


@dataclass(frozen=True)
class SensingEstimate:
    k: int
    visibility: float
    visibility_stderr: float
    #: Per-state (entangled) or per-round (unentangled) phase uncertainty from the visibility.
    uncertainty: float
    uncertainty_stderr: float
    #: Spread of block phase estimates, scaled to one state / round (sqrt(B) * std); and its SE.
    block_uncertainty: float
    block_uncertainty_stderr: float


def estimate(k: int, calibration: np.ndarray, working: np.ndarray, *, block: int, probes_per_round: int = 1,
             phase_multiplier: int | None = None) -> SensingEstimate:
    """From parities (+1/-1): `calibration` at phi = 0, `working` at the working point (shape rounds x
    probes_per_round for unentangled probes, one column for GHZ states).

    `phase_multiplier`: k for a GHZ state (phase k phi), 1 for independent probes."""
    m = k if phase_multiplier is None else phase_multiplier
    cal = np.asarray(calibration, dtype=float).ravel()
    v = float(cal.mean())
    if v <= 0.05:
        raise ValueError(f"fringe visibility {v:.3f} is too small to estimate a phase (noise erased the signal)")
    v_se = math.sqrt(max(1 - v * v, 0.0) / cal.size)
    n_probe = probes_per_round
    unc = 1 / (m * v * math.sqrt(n_probe))
    unc_se = unc * v_se / v
    w = np.asarray(working, dtype=float).reshape(-1, n_probe)
    blocks = w.shape[0] // block
    if blocks < 2:
        raise ValueError("need at least two blocks of working-point shots")
    means = w[: blocks * block].reshape(blocks, block * n_probe).mean(axis=1)
    phis = (math.pi / 2 - np.arcsin(np.clip(means / v, -1, 1))) / m
    spread = float(phis.std(ddof=1)) * math.sqrt(block)
    spread_se = spread / math.sqrt(2 * (blocks - 1))
    return SensingEstimate(k, v, v_se, unc, unc_se, spread, spread_se)


# ----------------------------------------------------------------------------- entangled clock comparison
# Two clocks (nodes A, B) accumulate phases theta_A, theta_B on their qubits (Rz); their offset is
# Delta = theta_A - theta_B. Both also see a *common-mode* phase delta that changes from shot to shot (the
# shared reference's phase noise), uniform on [0, 2 pi).
#
# * Entangled: the pair (|01> + |10>)/sqrt(2) (a link pair |Phi+> with X on B) picks up exp(i (theta_A -
#   theta_B)) between its two terms, and delta cancels; X at both nodes: <X_A X_B> = w cos(Delta), with the
#   link's Werner visibility w = (4F - 1)/3.
# * Unentangled: |+> at each node; <X> = cos(theta + delta) each, so E_delta[X_A X_B] = cos(Delta) / 2: the
#   common-mode noise halves the fringe.
# An offset near Delta = pi/2 is estimated from n shots of parity mean P as arccos(P / visibility), with
# uncertainty sqrt(1 - P^2) / (visibility sin(Delta) sqrt(n)); entanglement gains 2w in fringe visibility
# (a factor 1/(2w) in phase uncertainty at the working point with visibility-limited parities).


def clock_parity_entangled(offset_rad: float, link_fidelity: float = 1.0) -> float:
    """<X_A X_B> of the entangled clock comparison: w cos(Delta)."""
    return werner_visibility(link_fidelity) * math.cos(offset_rad)


def clock_parity_unentangled(offset_rad: float) -> float:
    """E over a uniform common-mode phase of <X_A><X_B> for two |+> probes: cos(Delta) / 2."""
    return math.cos(offset_rad) / 2


def clock_offset_estimate(parities: np.ndarray, visibility: float) -> tuple[float, float]:
    """Delta in [0, pi] from +-1 parities of fringe `visibility` (arccos(P / V)), with its standard error."""
    n = len(parities)
    if n < 2 or not 0 < visibility <= 1:
        raise ValueError("need at least 2 parities and a visibility in (0, 1]")
    p = float(np.mean(parities))
    se_p = math.sqrt(max(1 - p * p, 1e-12) / n)
    x = min(max(p / visibility, -1.0), 1.0)
    slope = visibility * math.sqrt(max(1 - x * x, 1e-12))
    return math.acos(x), se_p / slope


__all__ = ["SensingEstimate", "clock_offset_estimate", "clock_parity_entangled", "clock_parity_unentangled",
           "depolarize_for_coherence", "estimate", "ghz_visibility", "heisenberg_uncertainty", "sql_uncertainty",
           "werner_visibility"]
