"""Link physics: photon loss, heralded EPR generation, delivered pair states, batched EPR outcomes.

Pure numpy (no I/O, no Cirq); every random draw comes from the ``np.random.Generator`` passed in.

Photon loss
-----------
A photon survives the fiber *and* is detected with probability ``eta = 10^(-alpha L / 10) * eta_det``
(`LinkSpec.transmissivity`). A qubit sent over a link arrives after the fiber delay
``L * n_g / c`` (``group_index`` n_g, default 1.468: 4.897 us/km) and suffers the link's ``transmission_depolarize``.

Heralded EPR generation (our scheme: *one-sided, source at the source end*)
---------------------------------------------------------------------------
The source end S (by default ``link.nodes[0]``) entangles a memory qubit with a photon and sends the
photon down the fiber to the far end F, whose memory absorbs it and whose detector heralds success;
F sends the herald back to S over the classical channel. One attempt therefore

* succeeds (clicks) with probability ``p = eta + (1 - eta) * d`` where d is the dark-count probability:
  a dark count fakes a herald when the photon was lost. Given a click, a fraction
  ``q = (1 - eta) d / p`` of heralds are false, and a false herald leaves S's half uncorrelated with
  F's (maximally mixed pair), so the delivered state is ``(1 - q) rho_true + q I/4``;
* occupies the source memory for ``round_trip = L * n_g / c + link.latency_ns`` (photon out,
  herald back), and attempts cannot be faster than the source allows, so the attempt period is
  ``max(1 / attempt_rate_hz, round_trip)`` (one memory qubit per link: the next attempt starts when the
  previous herald -- or its absence -- is known).

The number of attempts is geometric with mean ``1/p``, capped by ``max_attempts`` (`sample_attempts`
returns None at the cap). The herald reaches S ``attempts * period`` after generation started
(`herald_delay_ns`). The delivered pair (qubit 0 = S's half, qubit 1 = F's half) is the source state
(`werner` or `dephased` of ``source_fidelity``), then ``depolarize(transmission_depolarize)`` on the
travelling half, then the false-herald mixing, then memory decoherence: S's half waited the round trip
in S's memory, F's half waited the herald's return trip ``link.latency_ns`` in F's memory. The state
is thus *as of the herald's arrival at S*: stamp both halves with that virtual time. Only the
successful attempt matters (each attempt re-initialises the source qubit), so the state is the same
for every pair of a link and is computed once (`EprLinkModel`).

Midpoint heralding (``heralding: single-click`` or ``double-click``)
--------------------------------------------------------------------
Both ends emit a photon entangled with their memory towards a station half-way; the station's
detectors herald and tell both ends. Each photon crosses L/2: ``eta_h = 10^(-alpha L / 20) * eta_det``.
An attempt occupies both memories for the photon's trip to the station and the herald's return,
``(L * ns_per_km + latency) / 2``, which is also what each half waits before the herald arrives.

* single-click (one photon, Cabrillo et al. 1999; Humphreys et al. 2018): each memory is in the bright
  state with population ``alpha``; exactly one click heralds, ``p = 2 alpha eta_h (1 - alpha eta_h)``
  (~ 2 alpha eta). With probability ``alpha`` both were bright and one photon was lost: the pair is
  ``|10>`` (in the frame where the ideal pair is |Phi+>), so ``rho = (1 - alpha) rho_source +
  alpha |10><10|`` and F = (1 - alpha) F_source: the fidelity-rate trade-off.
* double-click (Barrett & Kok 2005): one photon from each end is detected in each of two rounds,
  ``p = eta_h^2 / 2``; the pair is the source state (loss only lowers the rate).

Dark counts: a detection window of the station has ``d_eff = 1 - (1 - d)^2`` (two detectors).
False heralds (maximally mixed pair) occur with probability ``(1 - p) d_eff`` (source, single-click) or,
to first order, ``eta_h d_eff + d_eff^2`` (double-click: one round's photon replaced by a dark count).

SPDC multi-pair emission (``spdc_mean_pair_number`` lambda > 0, one-sided heralding)
----------------------------------------------------------------------------------
A thermal pair source emits n pairs with probability lambda^n / (1 + lambda)^(n + 1); the herald
(at least one photon detected) has probability ``lambda eta / (1 + lambda eta)``. In the
low-efficiency limit a fraction ``lambda / (1 + 2 lambda)`` of coincidences are accidental (photons of
different pairs), uncorrelated: ``rho = (1 - a) rho_source + a I/4`` -- a visibility
``(1 + lambda)/(1 + 2 lambda)`` and a QBER contribution ``a / 2`` in every basis.

Detector dead time (``detector_dead_time_ns`` tau)
--------------------------------------------------
After each click the detector is blind for tau; attempts in that time cannot herald. Every pair
therefore costs ``ceil(tau / period)`` extra attempt periods: the pair rate is
``R / (1 + R tau')`` with R = p / period and tau' = ceil(tau / period) * period, the
non-paralysable saturation (it tends to 1 / tau').

Misalignment (``misalignment_error``) is a QKD detector effect and is not applied here.

Seed contract: with the same Generator state, `sample_attempts`, `sample_photon_losses` and
`epr_batch_outcomes` return the same values on every platform numpy supports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

import numpy as np
from numpy.typing import NDArray

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import LinkSpec
from qemu_net.quantum import paulis
from qemu_net.quantum.noise import (
    apply_superop_dm,
    depolarize_kraus,
    kraus_to_superop,
    memory_superop,
)
from qemu_net.quantum.states import dephased_bell, from_tensor, to_tensor, werner_state
from qemu_net.vocab import Basis, Heralding, SourceModel

if TYPE_CHECKING:
    from qemu_net.network.topology import NodeSpec

#: Measurement basis codes used by `epr_batch_outcomes` (and the QKD pulse trains).
BASIS_Z, BASIS_X, BASIS_Y = Basis.Z.code, Basis.X.code, Basis.Y.code

# ------------------------------------------------------------------------------- photon loss


def survival_probability(length_km: float, attenuation_db_per_km: float, detector_efficiency: float = 1.0) -> float:
    """10^(-alpha L / 10) * eta_det: a photon survives L km of fiber and is detected."""
    if length_km < 0 or attenuation_db_per_km < 0 or not (0 <= detector_efficiency <= 1):
        raise InvalidOperation(
            f"need length_km >= 0, attenuation_db_per_km >= 0, detector_efficiency in [0, 1]; got "
            f"{length_km}, {attenuation_db_per_km}, {detector_efficiency}"
        )
    return 10 ** (-attenuation_db_per_km * length_km / 10) * detector_efficiency


def photon_survival_probability(link: LinkSpec) -> float:
    """The link's transmissivity eta (fiber survival times detector efficiency)."""
    return survival_probability(link.length_km, link.attenuation_db_per_km, link.detector_efficiency)


def sample_photon_losses(rng: np.random.Generator, link: LinkSpec, k: int) -> np.ndarray:
    """For k photons sent over the link: a bool array, True where the photon was lost (k uniforms)."""
    if k < 0:
        raise InvalidOperation(f"number of photons must be >= 0, got {k}")
    return rng.random(k) >= photon_survival_probability(link)


def sample_qubit_lost(rng: np.random.Generator, link: LinkSpec) -> bool:
    """One qubit sent over the link: True if it was lost (one uniform)."""
    return bool(rng.random() >= photon_survival_probability(link))


def transmission_superop(link: LinkSpec) -> np.ndarray | None:
    """Superoperator (4x4) of the noise a travelling qubit suffers, or None if the fiber is noiseless."""
    if link.transmission_depolarize == 0:
        return None
    return kraus_to_superop(depolarize_kraus(link.transmission_depolarize))


# ---------------------------------------------------------------------------------- timing


def fiber_delay_ns(link: LinkSpec) -> float:
    """Time a photon (a qubit) needs to cross the fiber: L * n_g / c (``link.ns_per_km``)."""
    return link.length_km * link.ns_per_km


def classical_arrival_ns(send_ns: float, link: LinkSpec) -> float:
    """Virtual time at which a classical message sent at send_ns arrives: send_ns + link.latency_ns."""
    return send_ns + link.latency_ns


def qubit_arrival_ns(send_ns: float, link: LinkSpec) -> float:
    """Virtual time at which a qubit sent at send_ns arrives over the fiber."""
    return send_ns + fiber_delay_ns(link)


def midpoint(link: LinkSpec) -> bool:
    """True if the link heralds at a station half-way (single- or double-click)."""
    return link.heralding != Heralding.SOURCE


def round_trip_ns(link: LinkSpec) -> float:
    """Photon out plus herald back: over the whole link (one-sided) or to the midpoint and back."""
    t = fiber_delay_ns(link) + link.latency_ns
    return t / 2 if midpoint(link) else t


def attempt_period_ns(link: LinkSpec) -> float:
    """Virtual time one EPR attempt occupies: max(1 / attempt_rate_hz, round trip)."""
    return max(1e9 / link.attempt_rate_hz, round_trip_ns(link))


def dead_time_attempts(link: LinkSpec) -> int:
    """Attempt periods lost after each click to the detector's dead time: ceil(tau / period)."""
    if link.detector_dead_time_ns <= 0:
        return 0
    return math.ceil(link.detector_dead_time_ns / attempt_period_ns(link) - 1e-12)


def saturated_pair_rate_hz(link: LinkSpec) -> float:
    """Mean heralded pairs per second: R / (1 + R tau'), R = p / period, tau' = dead attempts * period."""
    period_s = attempt_period_ns(link) * 1e-9
    p = herald_probability(link)
    if p == 0:
        return 0.0
    r = p / period_s
    return r / (1 + r * dead_time_attempts(link) * period_s)


def herald_delay_ns(link: LinkSpec, attempts: int) -> float:
    """Time from the start of generation to the herald's arrival at the source: attempts * period."""
    if attempts < 1:
        raise InvalidOperation(f"attempts must be >= 1, got {attempts}")
    return attempts * attempt_period_ns(link)


@dataclass(frozen=True)
class QubitChannelModel:
    """What a qubit sent over a link suffers, precomputed from its LinkSpec (see the module docstring).

    ``survival`` = 10^(-alpha L / 10) * eta_det; ``delay_ns`` = L * n_g / c (the fiber, not the classical
    channel's possibly overridden latency); ``superop`` = the transmission depolarising channel or None.
    """

    survival: float
    delay_ns: float
    superop: np.ndarray | None = field(repr=False, compare=False)

    @classmethod
    def from_spec(cls, link: LinkSpec) -> QubitChannelModel:
        sop = transmission_superop(link)
        if sop is not None:
            sop.setflags(write=False)
        return cls(photon_survival_probability(link), fiber_delay_ns(link), sop)

    def sample_lost(self, rng: np.random.Generator) -> bool:
        """One qubit: True if it was lost (exactly one uniform from rng)."""
        return bool(rng.random() >= self.survival)


# ------------------------------------------------------------------------------- heralding


def half_link_survival(link: LinkSpec) -> float:
    """eta_h = 10^(-alpha L / 20) * eta_det: a photon reaches the midpoint station and is detected."""
    return survival_probability(link.length_km / 2, link.attenuation_db_per_km, link.detector_efficiency)


def true_herald_probability(link: LinkSpec) -> float:
    """Per-attempt probability of a herald that came from a real photon (see the module docstring)."""
    if link.heralding == Heralding.SINGLE_CLICK:
        a_eta = link.bright_state_alpha * half_link_survival(link)
        return 2 * a_eta * (1 - a_eta)
    if link.heralding == Heralding.DOUBLE_CLICK:
        return half_link_survival(link) ** 2 / 2
    eta = photon_survival_probability(link)
    lam = link.spdc_mean_pair_number
    if lam > 0:
        return lam * eta / (1 + lam * eta)
    return eta


def false_herald_probability(link: LinkSpec) -> float:
    """Per-attempt probability of a herald made by dark counts alone."""
    d = link.dark_count_probability
    if link.heralding == Heralding.SOURCE:
        return (1 - true_herald_probability(link)) * d
    d_eff = 1 - (1 - d) ** 2
    if link.heralding == Heralding.SINGLE_CLICK:
        return (1 - true_herald_probability(link)) * d_eff
    return min(half_link_survival(link) * d_eff + d_eff**2, 1 - true_herald_probability(link))


def herald_probability(link: LinkSpec) -> float:
    """Per-attempt click probability: true heralds plus dark-count heralds.

    One-sided, single-emitter source: eta + (1 - eta) * dark_count_probability.
    """
    return true_herald_probability(link) + false_herald_probability(link)


def false_herald_fraction(link: LinkSpec) -> float:
    """Fraction of heralds that were dark counts (0 when there is no click)."""
    p = herald_probability(link)
    if p == 0:
        return 0.0
    return false_herald_probability(link) / p


def accidental_fraction(link: LinkSpec) -> float:
    """SPDC accidental-coincidence fraction lambda / (1 + 2 lambda) (0 for a single-emitter source)."""
    lam = link.spdc_mean_pair_number
    if lam <= 0 or midpoint(link):
        return 0.0
    return lam / (1 + 2 * lam)


@overload
def _geometric(rng: np.random.Generator, p: float, cap: int, size: None = None) -> int: ...
@overload
def _geometric(rng: np.random.Generator, p: float, cap: int, size: int) -> NDArray[np.int64]: ...
def _geometric(rng: np.random.Generator, p: float, cap: int, size: int | None = None) -> NDArray[np.int64] | int:
    if p <= 0:
        return np.zeros(size, dtype=np.int64) if size is not None else 0
    k = rng.geometric(p, size=size)
    if size is None:
        return int(k) if k <= cap else 0
    k = np.asarray(k, dtype=np.int64)
    k[k > cap] = 0
    return k


def sample_attempts(rng: np.random.Generator, link: LinkSpec) -> int | None:
    """Attempts until the first herald (geometric, mean 1/p); None if more than max_attempts were needed.

    On None the link spent ``max_attempts * attempt_period_ns(link)`` for nothing. One draw from rng.
    """
    k = _geometric(rng, herald_probability(link), link.max_attempts)
    return int(k) or None


def sample_attempts_batch(rng: np.random.Generator, link: LinkSpec, n: int) -> np.ndarray:
    """Attempts for n successive pairs (int64 array); 0 marks a pair that hit the max_attempts cap."""
    return _geometric(rng, herald_probability(link), link.max_attempts, size=n)


def source_state(link: LinkSpec) -> np.ndarray:
    """The EPR source's pair (4x4): Werner or dephased Bell state of source_fidelity."""
    if link.source_model == SourceModel.WERNER:
        return werner_state(link.source_fidelity)
    if link.source_model == SourceModel.DEPHASED:
        return dephased_bell(link.source_fidelity)
    raise InvalidOperation(f"unknown EPR source model {link.source_model!r}; known: "
                           + ", ".join(m.value for m in SourceModel))


def epr_pair_state(
    link: LinkSpec,
    source_node: NodeSpec | None = None,
    far_node: NodeSpec | None = None,
    *,
    source_wait_ns: float | None = None,
    far_wait_ns: float | None = None,
) -> np.ndarray:
    """The delivered pair's density matrix (4x4; qubit 0 at the source end, qubit 1 at the far end).

    Source state -> single-click contamination (1 - alpha) rho + alpha |10><10| (single-click only) ->
    SPDC accidentals (1 - a) rho + a I/4 -> depolarize(transmission_depolarize) on qubit 1 ->
    false-herald mixing with I/4 -> memory decoherence of qubit 0 for ``source_wait_ns`` (default: the
    round trip; midpoint: to the station and back) with source_node's T1/T2 and of qubit 1 for
    ``far_wait_ns`` (default: link.latency_ns; midpoint: the same as qubit 0) with far_node's. A node of
    None has a perfect memory.
    """
    rho = to_tensor(source_state(link))
    if link.heralding == Heralding.SINGLE_CLICK:
        a = link.bright_state_alpha
        bright = np.zeros((4, 4), dtype=np.complex128)
        bright[2, 2] = 1.0  # |10>: both bright, one photon lost (in the frame of |Phi+>)
        rho = (1 - a) * rho + a * to_tensor(bright)
    acc = accidental_fraction(link)
    if acc > 0:
        rho = (1 - acc) * rho + acc * to_tensor(np.eye(4, dtype=np.complex128) / 4)
    sop = transmission_superop(link)
    if sop is not None:
        rho = apply_superop_dm(rho, sop, (1,))
    q = false_herald_fraction(link)
    if q > 0:
        rho = (1 - q) * rho + q * to_tensor(np.eye(4, dtype=np.complex128) / 4)
    far_default = round_trip_ns(link) if midpoint(link) else link.latency_ns
    waits = (
        round_trip_ns(link) if source_wait_ns is None else source_wait_ns,
        far_default if far_wait_ns is None else far_wait_ns,
    )
    for axis, (node, wait) in enumerate(zip((source_node, far_node), waits, strict=True)):
        if node is not None and wait > 0 and (node.t1_s is not None or node.t2_s is not None):
            rho = apply_superop_dm(rho, memory_superop(wait, node.t1_s, node.t2_s), (axis,))
    return np.ascontiguousarray(from_tensor(rho))


@dataclass(frozen=True)
class HeraldedPair:
    """One successful generation: how many attempts, when the herald arrived, the pair's state."""

    attempts: int
    #: Virtual time from the start of generation to the herald's arrival at the source end.
    delay_ns: float
    #: 4x4 density matrix (qubit 0 = source end); a fresh array the caller may keep.
    rho: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.delay_ns < 0:
            raise ValueError(f"invalid HeraldedPair(attempts={self.attempts}, delay_ns={self.delay_ns})")


@dataclass(frozen=True)
class EprLinkModel:
    """Everything a link needs per EPR pair, precomputed from its LinkSpec and the two nodes.

    ``source`` is the name of the end holding qubit 0 of `rho` (the end that emits and waits the round
    trip); the far end is the other.
    """

    link: LinkSpec
    source: str
    p_herald: float
    false_herald_fraction: float
    period_ns: float
    round_trip_ns: float
    max_attempts: int
    rho: np.ndarray = field(repr=False, compare=False)
    #: Attempt periods each pair loses to the detector's dead time after the previous click.
    dead_attempts: int = 0

    @classmethod
    def from_specs(
        cls,
        link: LinkSpec,
        source_node: NodeSpec | None = None,
        far_node: NodeSpec | None = None,
        *,
        source: str | None = None,
    ) -> EprLinkModel:
        src = source if source is not None else (source_node.name if source_node is not None else link.nodes[0])
        if src not in link.nodes:
            raise InvalidOperation(f"source {src!r} is not an end of link {link.nodes}")
        for node in (source_node, far_node):
            if node is not None and node.name not in link.nodes:
                raise InvalidOperation(f"node {node.name!r} is not an end of link {link.nodes}")
        rho = epr_pair_state(link, source_node, far_node)
        rho.setflags(write=False)
        return cls(
            link=link,
            source=src,
            p_herald=herald_probability(link),
            false_herald_fraction=false_herald_fraction(link),
            period_ns=attempt_period_ns(link),
            round_trip_ns=round_trip_ns(link),
            max_attempts=link.max_attempts,
            rho=rho,
            dead_attempts=dead_time_attempts(link),
        )

    @property
    def mean_attempts(self) -> float:
        return math.inf if self.p_herald == 0 else 1 / self.p_herald

    @property
    def fidelity(self) -> float:
        """Fidelity of the delivered pair with |Phi+>."""
        return float(np.real(self.rho[0, 0] + self.rho[3, 3] + self.rho[0, 3] + self.rho[3, 0]) / 2)

    @property
    def give_up_delay_ns(self) -> float:
        """Virtual time spent when generation fails at the attempt cap."""
        return self.max_attempts * self.period_ns

    def sample(self, rng: np.random.Generator) -> HeraldedPair | None:
        """One pair: sampled attempts and delay, and a copy of the state; None at the attempt cap."""
        k = _geometric(rng, self.p_herald, self.max_attempts)
        if not k:
            return None
        return HeraldedPair(attempts=int(k), delay_ns=(int(k) + self.dead_attempts) * self.period_ns,
                            rho=self.rho.copy())

    def sample_batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Attempts (int64, 0 = capped) and herald delays (float64, from each pair's own start) for n pairs.

        A delay includes the attempts lost to the detector's dead time (`dead_attempts`) before the pair."""
        k = _geometric(rng, self.p_herald, self.max_attempts, size=n)
        k = np.asarray(k, dtype=np.int64)
        delays = (np.where(k > 0, k, self.max_attempts) + self.dead_attempts) * self.period_ns
        return k, delays


# ---------------------------------------------------------------------- batched measurement

#: Unitary applied before a Z measurement to measure in Z, X, Y (indexed by basis code): outcome 0 <-> +1.
BASIS_CHANGE = tuple(paulis.BASIS_CHANGE[b] for b in Basis)


def outcome_table(rho_pair: np.ndarray) -> np.ndarray:
    """Born probabilities P[3*basis_a + basis_b, 2*a + b] (shape (9, 4)) of a two-qubit state."""
    m = from_tensor(np.asarray(rho_pair, dtype=np.complex128))
    if m.shape != (4, 4):
        raise InvalidOperation(f"expected a two-qubit density matrix (4x4), got shape {np.shape(rho_pair)}")
    tr = np.trace(m).real
    if abs(tr - 1) > 1e-6 or not np.allclose(m, m.conj().T, atol=1e-8):
        raise InvalidOperation(f"not a density matrix: trace {tr:.6g}, Hermitian {np.allclose(m, m.conj().T)}")
    table = np.empty((9, 4))
    for ba in range(3):
        for bb in range(3):
            u = np.kron(BASIS_CHANGE[ba], BASIS_CHANGE[bb])
            table[3 * ba + bb] = np.real(np.einsum("ij,jk,ik->i", u, m, u.conj()))
    table = np.clip(table, 0, None)
    probabilities: NDArray[np.float64] = table / table.sum(axis=1, keepdims=True)
    return probabilities


def sample_outcomes(
    rng: np.random.Generator, table: np.ndarray, bases_a: np.ndarray, bases_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sample joint outcomes from an `outcome_table`; one uniform per pair. Returns (a, b) as uint8."""
    ba = np.asarray(bases_a)
    bb = np.asarray(bases_b)
    if ba.shape != bb.shape or ba.ndim != 1:
        raise InvalidOperation(f"bases_a and bases_b must be 1-D arrays of equal length, got {ba.shape}, {bb.shape}")
    if ba.size and (ba.min() < 0 or ba.max() > 2 or bb.min() < 0 or bb.max() > 2):
        raise InvalidOperation("basis codes must be 0 (Z), 1 (X) or 2 (Y)")
    combo = ba.astype(np.intp) * 3 + bb
    cdf = np.cumsum(table, axis=1)[combo]  # (N, 4)
    u = rng.random(ba.size)
    idx = (u >= cdf[:, 0]).astype(np.uint8)
    idx += u >= cdf[:, 1]
    idx += u >= cdf[:, 2]
    np.minimum(idx, 3, out=idx)
    return idx >> 1, idx & 1


def epr_batch_outcomes(
    rng: np.random.Generator, rho_pair: np.ndarray, bases_a: np.ndarray, bases_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Measure N copies of a two-qubit state, pair i in bases (bases_a[i], bases_b[i]) (0=Z, 1=X, 2=Y).

    Exact Born sampling: the 9 x 4 outcome probabilities are computed once from rho, then one uniform
    per pair picks the joint outcome. Returns two uint8 arrays (0 = eigenvalue +1).
    """
    return sample_outcomes(rng, outcome_table(rho_pair), bases_a, bases_b)


__all__ = [
    "BASIS_CHANGE",
    "BASIS_X",
    "BASIS_Y",
    "BASIS_Z",
    "EprLinkModel",
    "HeraldedPair",
    "QubitChannelModel",
    "accidental_fraction",
    "attempt_period_ns",
    "classical_arrival_ns",
    "dead_time_attempts",
    "epr_batch_outcomes",
    "epr_pair_state",
    "false_herald_fraction",
    "false_herald_probability",
    "fiber_delay_ns",
    "half_link_survival",
    "herald_delay_ns",
    "herald_probability",
    "midpoint",
    "outcome_table",
    "photon_survival_probability",
    "qubit_arrival_ns",
    "round_trip_ns",
    "sample_attempts",
    "sample_attempts_batch",
    "sample_outcomes",
    "sample_photon_losses",
    "sample_qubit_lost",
    "saturated_pair_rate_hz",
    "source_state",
    "survival_probability",
    "transmission_superop",
    "true_herald_probability",
]
