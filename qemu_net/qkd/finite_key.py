"""Composable finite-key bounds: how many secret bits a block of measured counts certifies.

Two analyses, both pure functions of the counts a session measured (no simulation state):

- `decoy_bb84_key_length`: decoy-state BB84 with three intensities ``mu1 > mu2 > mu3 >= 0`` (here
  signal ``mu``, weak decoy ``nu`` and vacuum), key from the Z basis, phase errors estimated from the
  X basis -- Lim, Curty, Walenta, Xu & Zbinden, PRA 89, 022307 (2014), eqs. (2)-(5) and Appendix.
  The expected detections and errors of each intensity are bounded from the observed counts with the
  multiplicative Chernoff bounds of Zhang, Zhao, Razavi & Ma, PRA 95, 012333 (2017) at failure
  probability ``eps_sec/21`` each (much tighter than Lim's Hoeffding deviation ``sqrt(n_total/2 ln(21/
  eps_sec))`` for the small vacuum and decoy classes), the vacuum and single-photon detections of the key basis and
  the single-photon errors of the test basis with the decoy inequalities, the single-photon phase
  error of the key with the random-sampling bound ``gamma``; then

      l = floor( s_Z0 + s_Z1 (1 - h(phi_Z)) - leak_EC - 6 log2(21/eps_sec) - log2(2/eps_cor) ).

  The protocol is ``eps_sec``-secret and ``eps_cor``-correct (``eps_sec + eps_cor`` secure); the ``log2(2/eps_cor)``
  term is the verification tag, replaced by the tag actually disclosed when that is longer. The
  21 in the logarithms is Lim's budget: ``eps_sec`` is split into 21 equal parts (the Hoeffding and
  sampling bounds and the smoothing/hashing terms).
- `bb84_key_length` (single-photon BB84 and entanglement-based E91/BBM92, key in Z, test in X):
  Tomamichel, Lim, Gisin & Renner, Nat. Commun. 3, 634 (2012),

      l = floor( n (1 - h(Q_X + mu)) - leak_EC - log2(2 / (eps_sec^2 eps_cor)) ),
      mu = sqrt( (n + k)/(n k) * (k + 1)/k * ln(2/eps_sec) ),

  with ``n`` key bits, ``k`` test bits and ``Q_X`` the error rate measured on the test bits.

Each returns a `FiniteKeyBound`: the length (0 when the bound is not positive, with the reason),
every intermediate estimate, the asymptotic figure for the same data (no fluctuation terms, no
epsilons), and the security budget of the block. Nothing here clips an estimate in the key's favour:
a phase-error bound at or above 1/2, or a single-photon lower bound at or below 0, gives 0 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from qemu_net.errors import InvalidOperation
from qemu_net.qkd.theory import binary_entropy

#: Lim et al. split eps_sec into 21 parts.
LIM_EPS_PARTS = 21


def _h(x: float) -> float:
    return float(binary_entropy(x))


def _check_eps(eps_sec: float, eps_cor: float) -> None:
    for name, v in (("eps_sec", eps_sec), ("eps_cor", eps_cor)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1):
            raise InvalidOperation(f"{name}={v!r} must be in (0, 1)")


@dataclass(frozen=True)
class SecurityBudget:
    """What the key of one block is secure to: ``eps_sec``-secret, ``eps_cor``-correct, and where the
    bits went (all in bits)."""

    eps_sec: float
    eps_cor: float
    #: Bits removed for privacy amplification's smoothing and hashing terms.
    pa_penalty_bits: float
    #: Verification (error-verification hash) bits disclosed for eps_cor.
    verification_bits: float
    #: Number of statistical bounds the eps_sec budget is split over.
    eps_parts: int

    @property
    def eps_total(self) -> float:
        return self.eps_sec + self.eps_cor

    def as_dict(self) -> dict[str, Any]:
        return {"eps_sec": self.eps_sec, "eps_cor": self.eps_cor, "eps_total": self.eps_total,
                "pa_penalty_bits": self.pa_penalty_bits, "verification_bits": self.verification_bits,
                "eps_parts": self.eps_parts}


@dataclass(frozen=True)
class FiniteKeyBound:
    """The outcome of a finite-key analysis of one block."""

    analysis: str
    #: Secret bits the block certifies (0 when the bound is not positive).
    length: int
    #: The bound before flooring and clipping at 0 (may be negative).
    raw_length: float
    #: The asymptotic figure for the same data (no statistical fluctuations, no epsilons; may be < 0).
    asymptotic_length: float
    #: Why there is no key (None when length > 0).
    reason: str | None
    budget: SecurityBudget
    #: Bits of the key block (raw key before error correction).
    n_key: int
    leak_ec_bits: float
    #: Lower bounds on vacuum and single-photon detections in the key, single-photon phase error bound.
    s0_lower: float = 0.0
    s1_lower: float = 0.0
    phase_error_upper: float = 0.5
    #: Everything else computed on the way (named as in the papers).
    detail: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.length < 0 or (self.length == 0) != (self.reason is not None):
            raise InvalidOperation("FiniteKeyBound: a zero length needs a reason, a positive one none")
        if self.length > self.n_key:
            raise InvalidOperation("FiniteKeyBound: more secret bits than key bits")

    def as_dict(self) -> dict[str, Any]:
        return {"analysis": self.analysis, "length": self.length, "raw_length": self.raw_length,
                "asymptotic_length": self.asymptotic_length, "reason": self.reason, "n_key": self.n_key,
                "leak_ec_bits": self.leak_ec_bits, "s0_lower": self.s0_lower, "s1_lower": self.s1_lower,
                "phase_error_upper": self.phase_error_upper, "budget": self.budget.as_dict(), **self.detail}


def _finish(analysis: str, raw: float, asym: float, n_key: int, leak: float, budget: SecurityBudget,
            reason: str | None, **kw: Any) -> FiniteKeyBound:
    length = 0
    if reason is None:
        length = min(max(math.floor(raw), 0), n_key) if math.isfinite(raw) else 0
        if length <= 0:
            reason = (f"the finite-key bound is {raw:.1f} bits (not positive) for {n_key} key bits: "
                      "statistical fluctuations, error correction and the security terms use up the key")
    return FiniteKeyBound(analysis, length, raw, asym, reason, budget, n_key, leak, **kw)


def gamma(a: float, b: float, c: float, d: float) -> float:
    """Lim et al.'s random-sampling correction gamma(a, b, c, d) for phase error b, sample sizes c, d."""
    if not (0 < b < 1) or c <= 0 or d <= 0:
        return math.inf
    arg = (c + d) / (c * d * (1 - b) * b) * (LIM_EPS_PARTS**2) / (a * a)
    if arg <= 1:
        return 0.0
    return math.sqrt((c + d) * (1 - b) * b / (c * d * math.log(2)) * math.log2(arg))


def chernoff_upper(x: float, beta: float) -> float:
    """Upper bound on the expectation of a count observed as ``x`` (failure probability e^-beta):
    ``x + beta + sqrt(2 beta x + beta^2)`` (multiplicative Chernoff, Zhang et al. PRA 95, 012333)."""
    return x + beta + math.sqrt(2 * beta * x + beta * beta) if beta > 0 else x


def chernoff_lower(x: float, beta: float) -> float:
    """Lower bound on the expectation of a count observed as ``x``: ``x - beta/2 - sqrt(2 beta x + beta^2/4)``
    (at least 0)."""
    return max(x - beta / 2 - math.sqrt(2 * beta * x + beta * beta / 4), 0.0) if beta > 0 else x


def _decoy_bounds(n: tuple[float, ...], mus: tuple[float, float, float],
                  probs: tuple[float, float, float], beta: float) -> dict[str, float]:
    """Chernoff bounds on one basis' counts per intensity, then the s0 and s1 lower bounds of Lim et al.
    (eqs. 2-3) on the expected counts ``e^k / p_k E[n_k]``."""
    mu1, mu2, mu3 = mus
    lo = [math.exp(k) / p * chernoff_lower(c, beta) for k, p, c in zip(mus, probs, n, strict=True)]
    hi = [math.exp(k) / p * chernoff_upper(c, beta) for k, p, c in zip(mus, probs, n, strict=True)]
    tau0 = sum(math.exp(-k) * p for k, p in zip(mus, probs, strict=True))
    tau1 = sum(math.exp(-k) * k * p for k, p in zip(mus, probs, strict=True))
    s0 = tau0 * (mu2 * lo[2] - mu3 * hi[1]) / (mu2 - mu3)
    s0 = max(s0, 0.0)
    s1 = tau1 * mu1 * (lo[1] - hi[2] - (mu2**2 - mu3**2) / mu1**2 * (hi[0] - s0 / tau0)) / (
        mu1 * (mu2 - mu3) - mu2**2 + mu3**2)
    return {"s0": s0, "s1": s1, "tau0": tau0, "tau1": tau1}


def decoy_bb84_key_length(
    *,
    n_z: tuple[int, int, int],
    n_x: tuple[int, int, int],
    m_x: tuple[int, int, int],
    mus: tuple[float, float, float],
    probs: tuple[float, float, float],
    leak_ec_bits: float,
    eps_sec: float = 1e-10,
    eps_cor: float = 1e-15,
    f_ec: float = 1.16,
    e_z: float | None = None,
    verification_bits: float = 0.0,
) -> FiniteKeyBound:
    """Lim et al. 2014 finite-key length of decoy BB84 from the counts of one block.

    ``n_z[k]``: key-basis (Z) detections with intensity ``mus[k]`` (matched bases); ``n_x[k]`` and
    ``m_x[k]``: test-basis (X) detections and errors; ``probs``: how often each intensity was sent;
    ``leak_ec_bits``: what error correction disclosed. The asymptotic figure uses the same decoy
    inequalities without fluctuation terms and ``f_ec h(e_z)`` for error correction (``e_z`` defaults
    to the test-basis error rate)."""
    _check_eps(eps_sec, eps_cor)
    mu1, mu2, mu3 = (float(x) for x in mus)
    if not (mu1 > mu2 + mu3 and mu2 > mu3 >= 0):
        raise InvalidOperation(f"decoy analysis needs mu1 > mu2 + mu3, mu2 > mu3 >= 0; got {mus}")
    if any(p <= 0 for p in probs):
        raise InvalidOperation(f"every intensity needs a positive probability, got {probs}")
    budget = SecurityBudget(eps_sec, eps_cor, 6 * math.log2(LIM_EPS_PARTS / eps_sec),
                            max(math.log2(2 / eps_cor), verification_bits), LIM_EPS_PARTS)
    nz_tot, nx_tot, mx_tot = sum(n_z), sum(n_x), sum(m_x)
    beta = math.log(LIM_EPS_PARTS / eps_sec)
    z = _decoy_bounds(tuple(map(float, n_z)), (mu1, mu2, mu3), probs, beta)
    x = _decoy_bounds(tuple(map(float, n_x)), (mu1, mu2, mu3), probs, beta)
    # single-photon errors in the test basis (Lim eq. 4)
    m_hi2 = math.exp(mu2) / probs[1] * chernoff_upper(m_x[1], beta)
    m_lo3 = math.exp(mu3) / probs[2] * chernoff_lower(m_x[2], beta)
    v1 = x["tau1"] * (m_hi2 - m_lo3) / (mu2 - mu3)
    detail = {"s_z0": z["s0"], "s_z1": z["s1"], "s_x0": x["s0"], "s_x1": x["s1"], "v_x1": v1,
              "chernoff_beta": beta}
    # asymptotic: the same inequalities on the measured counts with no deviations
    za = _decoy_bounds(tuple(map(float, n_z)), (mu1, mu2, mu3), probs, 0.0)
    xa = _decoy_bounds(tuple(map(float, n_x)), (mu1, mu2, mu3), probs, 0.0)
    v1a = xa["tau1"] * (math.exp(mu2) / probs[1] * m_x[1] - math.exp(mu3) / probs[2] * m_x[2]) / (mu2 - mu3)
    ez = e_z if e_z is not None else (mx_tot / nx_tot if nx_tot else 0.5)
    if xa["s1"] > 0 and za["s1"] > 0:
        phi_a = min(max(v1a / xa["s1"], 0.0), 0.5)
        asym = za["s0"] + za["s1"] * (1 - _h(phi_a)) - f_ec * nz_tot * _h(ez)
    else:
        asym = -f_ec * nz_tot * _h(ez)
    detail["asymptotic_phase_error"] = v1a / xa["s1"] if xa["s1"] > 0 else 0.5
    common = {"s0_lower": z["s0"], "s1_lower": max(z["s1"], 0.0), "detail": detail}
    if z["s1"] <= 0 or x["s1"] <= 0:
        which = "key (Z)" if z["s1"] <= 0 else "test (X)"
        return _finish("lim2014-decoy-bb84", -math.inf, asym, nz_tot, leak_ec_bits, budget,
                       f"no single-photon detections certified in the {which} basis: the decoy lower bound "
                       f"is {min(z['s1'], x['s1']):.1f} after the statistical fluctuations of "
                       f"{nz_tot + nx_tot:.0f} detections (too few for this block)", **common)
    ratio = v1 / x["s1"]
    if ratio >= 0.5:
        return _finish("lim2014-decoy-bb84", -math.inf, asym, nz_tot, leak_ec_bits, budget,
                       f"single-photon phase-error bound {ratio:.3f} >= 1/2: no privacy certified",
                       phase_error_upper=0.5, **common)
    phi = ratio + gamma(eps_sec, max(ratio, 1e-12), z["s1"], x["s1"])
    detail["phase_error_observed_bound"] = ratio
    if phi >= 0.5:
        return _finish("lim2014-decoy-bb84", -math.inf, asym, nz_tot, leak_ec_bits, budget,
                       f"single-photon phase-error bound {phi:.3f} (sampled {ratio:.3f} + finite-size "
                       f"{phi - ratio:.3f}) >= 1/2: no privacy certified", phase_error_upper=0.5, **common)
    raw = z["s0"] + z["s1"] * (1 - _h(phi)) - leak_ec_bits - budget.pa_penalty_bits - budget.verification_bits
    return _finish("lim2014-decoy-bb84", raw, asym, nz_tot, leak_ec_bits, budget, None,
                   phase_error_upper=phi, **common)


def bb84_key_length(
    *, n_key: int, k_test: int, test_errors: int, leak_ec_bits: float, eps_sec: float = 1e-10,
    eps_cor: float = 1e-15, f_ec: float = 1.16, e_key: float | None = None, verification_bits: float = 0.0,
    analysis: str = "tomamichel2012-bb84",
) -> FiniteKeyBound:
    """Tomamichel et al. 2012 finite-key length for BB84 with single photons or E91/BBM92 pairs."""
    _check_eps(eps_sec, eps_cor)
    budget = SecurityBudget(eps_sec, eps_cor, 2 * math.log2(1 / eps_sec),
                            max(math.log2(2 / eps_cor), verification_bits), 2)
    q = test_errors / k_test if k_test else 0.5
    ek = e_key if e_key is not None else q
    asym = n_key * (1 - _h(q)) - f_ec * n_key * _h(ek)
    if n_key <= 0 or k_test <= 0:
        return _finish(analysis, -math.inf, asym, max(n_key, 0), leak_ec_bits, budget,
                       f"no {'key' if n_key <= 0 else 'test'} bits: the block is empty in that basis")
    mu = math.sqrt((n_key + k_test) / (n_key * k_test) * (k_test + 1) / k_test * math.log(2 / eps_sec))
    detail = {"test_qber": q, "sampling_deviation": mu}
    if q + mu >= 0.5:
        return _finish(analysis, -math.inf, asym, n_key, leak_ec_bits, budget,
                       f"phase-error bound {q + mu:.3f} (test QBER {q:.4f} + sampling {mu:.4f} on {k_test} "
                       "test bits) >= 1/2: no privacy certified", s1_lower=float(n_key), detail=detail)
    raw = n_key * (1 - _h(q + mu)) - leak_ec_bits - budget.pa_penalty_bits - budget.verification_bits
    return _finish(analysis, raw, asym, n_key, leak_ec_bits, budget, None, s1_lower=float(n_key),
                   phase_error_upper=q + mu, detail=detail)


__all__ = [
    "LIM_EPS_PARTS",
    "FiniteKeyBound",
    "SecurityBudget",
    "bb84_key_length",
    "chernoff_lower",
    "chernoff_upper",
    "decoy_bb84_key_length",
    "gamma",
]
