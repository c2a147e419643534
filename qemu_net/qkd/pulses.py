"""Vectorised BB84 pulse trains: Alice's weak coherent pulses, the fiber (and Eve), Bob's detectors.

A block of N pulses is a handful of numpy arrays and one computation; nothing loops over pulses in
Python. The physics, per pulse of mean photon number ``m`` (``mu``, ``nu`` or 0 by intensity class):

- **Fiber + detector efficiency** (`transmit`): a coherent state through a channel of transmissivity
  ``eta`` (`LinkSpec.transmissivity`, which includes the detector efficiency) stays coherent with mean
  ``m*eta``; a pulse *arrives* (>= 1 photon reaches a detector) with probability ``1 - exp(-m eta)``
  and then carries a zero-truncated Poisson number of photons. A single-photon source
  (``single_photon=True``) arrives with probability ``eta`` and carries one photon. Lost pulses are
  dropped, so the arrived train is sparse (indices into the block).
- **Intercept-resend Eve** (`transmit`, ``eve_fraction``): on each attacked pulse Eve measures the
  polarisation in a random basis (Z or X, ideally) and re-prepares it in her basis with her outcome,
  with the same photon number. Attacked pulses are chosen independently with probability
  ``eve_fraction``; attack and loss are independent, so attacking only the pulses that arrive is the
  same distribution. At ``eve_fraction=1`` the sifted QBER is 25% (plus misalignment).
- **Bob's detectors** (`detect`): two threshold detectors in Bob's basis. Each photon goes to the
  wrong detector with probability ``misalignment_error`` when Bob's basis matches the polarisation's
  and 1/2 when it does not (a coherent state's photons split independently, so this is exact); each
  detector also fires by itself with ``dark_count_probability`` per slot. A double click is assigned
  a random bit (squashing).

Seed contract: given the same `numpy.random.Generator` state and inputs, every function here returns
identical arrays (the sequence of draws is fixed); nothing reads global random state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from qemu_net.errors import InvalidOperation
from qemu_net.qkd import wire

if TYPE_CHECKING:
    from qemu_net.network.topology import LinkSpec, Topology

#: Intensity classes.
SIGNAL, DECOY, VACUUM = 0, 1, 2
#: Bases.
Z_BASIS, X_BASIS = 0, 1


#: Misalignment a QKD link has when its topology entry does not set ``misalignment_error`` (the
#: `LinkSpec` default): typical of deployed fiber systems (1-2%); 0 is a perfectly aligned link.
DEFAULT_MISALIGNMENT_ERROR = 0.015


@dataclass(frozen=True)
class ChannelModel:
    """Every imperfection between Alice's source and Bob's recorded bits, from the topology.

    - ``prep_flip``: Alice's state preparation as a single-qubit gate with depolarising error
      ``gate_1q_error`` of her node (Cirq convention): the prepared BB84 state is flipped with 2p/3;
    - ``transit_flip``: the fiber's ``transmission_depolarize`` p flips the polarisation with 2p/3;
    - ``misalignment_error``: per photon, the wrong detector (the link's value; 1.5% unless set);
    - ``dark_count_probability``, ``transmissivity`` (fiber loss x detector efficiency): the link's;
    - ``readout_error``: Bob's node's ``measure_error`` flips each recorded bit.
    """

    transmissivity: float
    dark_count_probability: float = 0.0
    misalignment_error: float = 0.0
    prep_flip: float = 0.0
    transit_flip: float = 0.0
    readout_error: float = 0.0
    #: Bob's detector dead time (the link's ``detector_dead_time_ns``).
    detector_dead_time_ns: float = 0.0

    @property
    def pulse_flip(self) -> float:
        """Probability that a pulse arrives with its polarisation flipped (preparation then fiber)."""
        a, b = self.prep_flip, self.transit_flip
        return a * (1 - b) + b * (1 - a)

    @classmethod
    def from_topology(cls, topology: Topology, alice: str, bob: str) -> ChannelModel:
        link = topology.link(alice, bob)
        if link is None:
            raise InvalidOperation(f"{alice} and {bob} share no quantum link")
        return cls.from_link(link, alice_gate_error=float(topology.node(alice).gate_1q_error),
                             bob_readout_error=float(topology.node(bob).measure_error))

    @classmethod
    def from_link(cls, link: LinkSpec, *, alice_gate_error: float = 0.0,
                  bob_readout_error: float = 0.0) -> ChannelModel:
        e_d = float(link.misalignment_error)
        return cls(transmissivity=float(link.transmissivity), dark_count_probability=float(link.dark_count_probability),
                   misalignment_error=e_d, prep_flip=2 * alice_gate_error / 3,
                   transit_flip=2 * float(link.transmission_depolarize) / 3, readout_error=bob_readout_error,
                   detector_dead_time_ns=float(getattr(link, "detector_dead_time_ns", 0.0)))


def _as_channel(link: LinkSpec | ChannelModel) -> ChannelModel:
    return link if isinstance(link, ChannelModel) else ChannelModel.from_link(link)


def _check_prob(name: str, p: float) -> None:
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 <= p <= 1.0):
        raise InvalidOperation(f"{name}={p!r} is not a probability in [0, 1]")


@dataclass(frozen=True)
class SourceSettings:
    """Alice's source: intensities (mean photon numbers) and how often each class and basis is chosen.

    Decoy BB84 uses signal ``mu``, weak decoy ``nu`` and vacuum (0) with probabilities ``p_signal``,
    ``p_decoy``, ``p_vacuum`` (summing to 1). ``single_photon=True`` models an ideal single-photon
    source: every pulse is a signal pulse carrying exactly one photon (intensities are ignored).
    """

    mu: float = 0.5
    nu: float = 0.1
    p_signal: float = 0.7
    p_decoy: float = 0.2
    p_vacuum: float = 0.1
    #: Probability of preparing (and of Bob measuring) in the Z basis, the key basis; X is the test
    #: basis. 0.6 suits blocks of about 10^6 pulses; blocks of 10^8 and more do better at 0.8-0.9.
    p_z: float = 0.6
    single_photon: bool = False

    def __post_init__(self) -> None:
        for name in ("p_signal", "p_decoy", "p_vacuum", "p_z"):
            _check_prob(name, getattr(self, name))
        if self.single_photon:
            return
        if not (math.isfinite(self.mu) and math.isfinite(self.nu)):
            raise InvalidOperation(f"intensities must be finite, got mu={self.mu}, nu={self.nu}")
        if self.nu <= 0:
            raise InvalidOperation(f"decoy intensity nu={self.nu} must be > 0 (the vacuum decoy is the third class)")
        if self.mu <= self.nu:
            raise InvalidOperation(f"signal intensity mu={self.mu} must exceed the decoy intensity nu={self.nu}")
        if self.mu > 50:
            raise InvalidOperation(f"signal intensity mu={self.mu} is not a weak coherent pulse (must be <= 50)")
        total = self.p_signal + self.p_decoy + self.p_vacuum
        if abs(total - 1.0) > 1e-9:
            raise InvalidOperation(
                f"p_signal + p_decoy + p_vacuum = {total:.6g}, must be 1 "
                f"(got {self.p_signal}, {self.p_decoy}, {self.p_vacuum})"
            )
        if self.p_signal <= 0:
            raise InvalidOperation("p_signal must be > 0: the key is made from signal pulses")

    @property
    def intensities(self) -> tuple[float, float, float]:
        return (self.mu, self.nu, 0.0)

    @property
    def class_probabilities(self) -> tuple[float, float, float]:
        if self.single_photon:
            return (1.0, 0.0, 0.0)
        return (self.p_signal, self.p_decoy, self.p_vacuum)


def random_bits(n: int, rng: np.random.Generator) -> np.ndarray:
    """n fair random bits as a uint8 0/1 array (drawn as packed bytes, then unpacked)."""
    return np.unpackbits(np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8), count=n)


def random_bases(n: int, p_z: float, rng: np.random.Generator) -> np.ndarray:
    """n bases (0 = Z, 1 = X) with P(Z) = p_z."""
    if p_z == 0.5:
        return random_bits(n, rng)
    return (rng.random(n, dtype=np.float32) >= np.float32(p_z)).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class PulseTrain:
    """Alice's prepared block: per pulse a bit, a basis and an intensity class (uint8 arrays)."""

    bits: np.ndarray
    bases: np.ndarray
    intensity: np.ndarray
    source: SourceSettings = field(default_factory=SourceSettings)

    def __post_init__(self) -> None:
        n = len(self.bits)
        if len(self.bases) != n or len(self.intensity) != n:
            raise InvalidOperation("pulse train arrays differ in length")

    @property
    def n(self) -> int:
        return len(self.bits)

    def to_bytes(self) -> bytes:
        s = self.source
        meta = {
            "kind": "pulse_train", "n": self.n, "mu": s.mu, "nu": s.nu, "p_signal": s.p_signal,
            "p_decoy": s.p_decoy, "p_vacuum": s.p_vacuum, "p_z": s.p_z, "single_photon": s.single_photon,
        }
        return wire.pack(meta, {
            "bits": wire.pack_bits(self.bits), "bases": wire.pack_bits(self.bases),
            "intensity": self.intensity.astype(np.uint8, copy=False),
        })

    @classmethod
    def from_bytes(cls, payload: bytes) -> PulseTrain:
        meta, arr = wire.unpack(payload)
        if meta.get("kind") != "pulse_train":
            raise InvalidOperation("payload is not a pulse train")
        n = int(meta["n"])
        src = SourceSettings(**{k: meta[k] for k in (
            "mu", "nu", "p_signal", "p_decoy", "p_vacuum", "p_z", "single_photon")})
        return cls(wire.unpack_bits(arr["bits"], n), wire.unpack_bits(arr["bases"], n),
                   arr["intensity"].copy(), src)


def prepare_train(n: int, source: SourceSettings, rng: np.random.Generator) -> PulseTrain:
    """Alice prepares n pulses: random bits, random bases (P(Z)=p_z), random intensity classes."""
    if n < 1:
        raise InvalidOperation(f"a pulse train needs at least one pulse, got n={n}")
    bits = random_bits(n, rng)
    bases = random_bases(n, source.p_z, rng)
    if source.single_photon:
        intensity = np.zeros(n, dtype=np.uint8)
    else:
        u = rng.random(n, dtype=np.float32)
        intensity = (u >= np.float32(source.p_signal)).view(np.uint8)
        intensity = intensity + (u >= np.float32(source.p_signal + source.p_decoy)).view(np.uint8)
    return PulseTrain(bits, bases, intensity, source)


@dataclass(frozen=True, eq=False)
class ArrivedTrain:
    """What reaches Bob's detectors: the slots (indices into the block) where >= 1 photon arrived,
    with the photon number and the polarisation (bit, basis) as it arrives (Eve may have changed it),
    plus the detector model of the link. This is the emulator's encoding of the optical signal: Bob's
    role only ever passes it to `detect`."""

    n_slots: int
    indices: np.ndarray  # uint32, ascending
    photons: np.ndarray  # uint8, >= 1
    bits: np.ndarray  # uint8
    bases: np.ndarray  # uint8
    dark_count_probability: float = 0.0
    misalignment_error: float = 0.0
    #: Number of arrived pulses Eve measured and resent (a simulation statistic, not sent to Bob).
    eve_attacked: int = 0
    #: Slots Bob's detectors stay blind after each registered click (dead time x pulse rate, rounded up).
    dead_slots: int = 0
    #: Bob's readout flip probability (his node's measure_error; set by Bob's role, not sent).
    readout_error: float = 0.0

    def to_bytes(self) -> bytes:
        meta = {"kind": "arrived_train", "n_slots": self.n_slots,
                "dark_count_probability": self.dark_count_probability,
                "misalignment_error": self.misalignment_error, "dead_slots": self.dead_slots}
        pol = (self.bits | (self.bases << 1)).astype(np.uint8)
        return wire.pack(meta, {"indices": self.indices.astype(np.uint32, copy=False),
                                "photons": self.photons.astype(np.uint8, copy=False), "pol": pol})

    @classmethod
    def from_bytes(cls, payload: bytes) -> ArrivedTrain:
        meta, arr = wire.unpack(payload)
        if meta.get("kind") != "arrived_train":
            raise InvalidOperation("payload is not an arrived pulse train")
        pol = arr["pol"]
        return cls(int(meta["n_slots"]), arr["indices"], arr["photons"], pol & 1, (pol >> 1) & 1,
                   float(meta["dark_count_probability"]), float(meta["misalignment_error"]),
                   dead_slots=int(meta.get("dead_slots", 0)))


def _ztp_cdf(m: float, kmax: int = 255) -> np.ndarray:
    """CDF of the zero-truncated Poisson(m) over k = 1..K (K where the tail is negligible)."""
    if m <= 0:
        return np.ones(1)
    k = np.arange(1, kmax + 1)
    logp = k * math.log(m) - m - np.array([math.lgamma(x + 1) for x in k])
    p = np.exp(logp) / -math.expm1(-m)
    cdf = np.cumsum(p)
    cut = int(np.searchsorted(cdf, 1 - 1e-15)) + 1
    cdf = cdf[:cut]
    cdf[-1] = 1.0
    return cdf


def _uniform_below(u_n: int, thresholds: np.ndarray, cls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask u < thresholds[cls] with one uniform per element; float32 unless precision needs 64."""
    positive = thresholds[thresholds > 0]
    mask: NDArray[np.bool_]
    if positive.size and positive.min() < 1e-3:
        mask = rng.random(u_n) < thresholds[cls]
        return mask
    mask = rng.random(u_n, dtype=np.float32) < thresholds.astype(np.float32)[cls]
    return mask


def transmit(
    train: PulseTrain, link: LinkSpec | ChannelModel, *, eve_fraction: float = 0.0, rng: np.random.Generator,
    pulse_rate_hz: float | None = None,
) -> ArrivedTrain:
    """Send a pulse train through `link` (loss, detector efficiency, preparation and fiber
    depolarisation; a `LinkSpec` is read with `ChannelModel.from_link`) with an optional
    intercept-resend attack on a fraction of pulses; returns what arrives at Bob's detectors. With
    `pulse_rate_hz`, the link's ``detector_dead_time_ns`` blinds Bob's detectors for ceil(tau x rate)
    slots after each click."""
    _check_prob("eve_fraction", eve_fraction)
    ch = _as_channel(link)
    eta = float(ch.transmissivity)
    n = train.n
    src = train.source
    if src.single_photon:
        p_arrive = np.array([eta, 0.0, 0.0])
    else:
        p_arrive = np.array([-math.expm1(-m * eta) for m in src.intensities])
    arrived = _uniform_below(n, p_arrive, train.intensity, rng)
    idx = np.flatnonzero(arrived)
    m_count = len(idx)
    cls = train.intensity[idx]
    photons = np.ones(m_count, dtype=np.uint8)
    if not src.single_photon:
        u = rng.random(m_count)
        for c, mean in enumerate(src.intensities):
            cdf = _ztp_cdf(mean * eta)
            if len(cdf) == 1:
                continue
            sel = cls == c
            photons[sel] = (np.searchsorted(cdf, u[sel], side="right") + 1).clip(1, len(cdf)).astype(np.uint8)
    bits = train.bits[idx]
    bases = train.bases[idx]
    flip = ch.pulse_flip
    if flip > 0 and m_count:
        # a depolarised BB84 state is flipped within its own basis (conjugate-basis outcomes stay 50/50)
        bits ^= (rng.random(m_count) < flip).view(np.uint8)
    attacked = 0
    if eve_fraction > 0 and m_count:
        hit = np.flatnonzero(rng.random(m_count) < eve_fraction)
        attacked = len(hit)
        eve_basis = random_bits(attacked, rng)
        guess = random_bits(attacked, rng)
        eve_bit = np.where(eve_basis == bases[hit], bits[hit], guess)
        bits[hit] = eve_bit
        bases[hit] = eve_basis
    return ArrivedTrain(
        n_slots=n, indices=idx.astype(np.uint32), photons=photons, bits=bits, bases=bases,
        dark_count_probability=float(ch.dark_count_probability),
        misalignment_error=float(ch.misalignment_error), eve_attacked=attacked,
        dead_slots=dead_slots(ch, pulse_rate_hz),
    )


def dead_slots(link: LinkSpec | ChannelModel, pulse_rate_hz: float | None) -> int:
    """ceil(detector_dead_time_ns x pulse rate): slots lost after each click (0 without a rate)."""
    tau = float(getattr(link, "detector_dead_time_ns", 0.0))
    if tau <= 0 or not pulse_rate_hz:
        return 0
    return math.ceil(tau * pulse_rate_hz * 1e-9 - 1e-12)


def apply_dead_time(clicked: np.ndarray, dead: int) -> np.ndarray:
    """Positions (into `clicked`, ascending slots) of the clicks a non-paralysable detector registers when
    it is blind for `dead` slots after each registered click: a registered rate q / (1 + q dead)."""
    if dead <= 0 or clicked.size == 0:
        return np.arange(clicked.size)
    keep = []
    i = 0
    while i < clicked.size:
        keep.append(i)
        i = int(np.searchsorted(clicked, clicked[i] + dead + 1, side="left"))
    return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Detection:
    """Bob's clicks in one block: slot indices (ascending) and the bit each click gave."""

    indices: np.ndarray  # int64
    bits: np.ndarray  # uint8
    double_clicks: int = 0


def _dark_positions(n: int, p: float, rng: np.random.Generator) -> np.ndarray:
    if p <= 0:
        return np.empty(0, dtype=np.int64)
    k = int(rng.binomial(n, p))
    if k < n // 50:
        return rng.choice(n, size=k, replace=False)
    return np.flatnonzero(rng.random(n) < p)


def detect(arrived: ArrivedTrain, bob_bases: np.ndarray, rng: np.random.Generator, *,
           readout_error: float = 0.0) -> Detection:
    """Bob's two threshold detectors measure every slot in his basis (0 = Z, 1 = X); each recorded
    bit is then flipped with ``readout_error`` (his node's measure_error)."""
    _check_prob("readout_error", readout_error)
    n = arrived.n_slots
    if len(bob_bases) != n:
        raise InvalidOperation(f"Bob chose {len(bob_bases)} bases for a block of {n} slots")
    idx = arrived.indices.astype(np.int64)
    m_count = len(idx)
    e_d = arrived.misalignment_error
    match = bob_bases[idx] == arrived.bases
    p_wrong = np.where(match, e_d, 0.5)
    ph = arrived.photons
    k_wrong = (rng.random(m_count) < p_wrong).astype(np.uint8)
    multi = np.flatnonzero(ph > 1)
    if multi.size:
        k_wrong[multi] = rng.binomial(ph[multi].astype(np.int64), p_wrong[multi]).astype(np.uint8)
    right = ph > k_wrong
    wrong = k_wrong > 0
    b = arrived.bits.astype(bool)
    c0 = np.zeros(n, dtype=bool)
    c1 = np.zeros(n, dtype=bool)
    c1[idx[right & b]] = True
    c0[idx[right & ~b]] = True
    c0[idx[wrong & b]] = True
    c1[idx[wrong & ~b]] = True
    return record_clicks(c0, c1, rng, dark_count_probability=arrived.dark_count_probability,
                         dead_slots=arrived.dead_slots, readout_error=readout_error)


def record_clicks(c0: np.ndarray, c1: np.ndarray, rng: np.random.Generator, *, dark_count_probability: float,
                  dead_slots: int = 0, readout_error: float = 0.0) -> Detection:
    """Bob's record from the photon clicks of his two detectors per slot (`c0`, `c1`, changed in place):
    dark counts added to each, slots inside a detector's dead time dropped, a double click's bit drawn at
    random, and each recorded bit flipped with ``readout_error``."""
    n = len(c0)
    c0[_dark_positions(n, dark_count_probability, rng)] = True
    c1[_dark_positions(n, dark_count_probability, rng)] = True
    clicked = np.flatnonzero(c0 | c1)
    if dead_slots:
        clicked = clicked[apply_dead_time(clicked, dead_slots)]
    bits = c1[clicked].view(np.uint8).copy()
    double = np.flatnonzero(c0[clicked] & c1[clicked])
    if double.size:
        bits[double] = random_bits(len(double), rng)
    if readout_error > 0 and len(clicked):
        bits ^= (rng.random(len(clicked)) < readout_error).view(np.uint8)
    return Detection(clicked, bits, len(double))


@dataclass(frozen=True, eq=False)
class TrainCounts:
    """Per intensity class (signal, decoy, vacuum): pulses sent, clicks, sifted clicks, sifted errors."""

    sent: np.ndarray
    clicks: np.ndarray
    sifted: np.ndarray
    errors: np.ndarray

    @property
    def gains(self) -> NDArray[np.float64]:
        gains: NDArray[np.float64] = np.divide(self.clicks, self.sent, out=np.zeros(3), where=self.sent > 0)
        return gains

    @property
    def error_rates(self) -> NDArray[np.float64]:
        rates: NDArray[np.float64] = np.divide(self.errors, self.sifted, out=np.full(3, 0.5), where=self.sifted > 0)
        return rates


def simulate_bb84_counts(
    n: int, source: SourceSettings, link: LinkSpec | ChannelModel, rng: np.random.Generator, *,
    eve_fraction: float = 0.0, block: int = 1_000_000,
) -> TrainCounts:
    """Prepare, transmit and detect n pulses (in blocks) and tally the statistics parameter
    estimation uses, with every sifted bit compared (no sampling): the pure simulation behind sweeps.
    ``errors``/``sifted`` cover both bases; `BasisCounts` via ``per_basis=True`` splits them."""
    return _simulate(n, source, link, rng, eve_fraction, block)[0]


@dataclass(frozen=True, eq=False)
class BasisCounts:
    """Matched-basis detections and errors per intensity class, split by Alice's basis (Z key, X test)."""

    sent: np.ndarray
    n_z: np.ndarray
    m_z: np.ndarray
    n_x: np.ndarray
    m_x: np.ndarray


def simulate_basis_counts(
    n: int, source: SourceSettings, link: LinkSpec | ChannelModel, rng: np.random.Generator, *,
    eve_fraction: float = 0.0, block: int = 1_000_000,
) -> BasisCounts:
    """Like `simulate_bb84_counts`, split into key-basis (Z) and test-basis (X) counts per class."""
    return _simulate(n, source, link, rng, eve_fraction, block)[1]


def _simulate(
    n: int, source: SourceSettings, link: LinkSpec | ChannelModel, rng: np.random.Generator,
    eve_fraction: float, block: int,
) -> tuple[TrainCounts, BasisCounts]:
    ch = _as_channel(link)
    sent = np.zeros(3, dtype=np.int64)
    clicks = np.zeros(3, dtype=np.int64)
    sifted = np.zeros(3, dtype=np.int64)
    errors = np.zeros(3, dtype=np.int64)
    per = {k: np.zeros(3, dtype=np.int64) for k in ("n_z", "m_z", "n_x", "m_x")}
    for start in range(0, n, block):
        nb = min(block, n - start)
        train = prepare_train(nb, source, rng)
        arrived = transmit(train, ch, eve_fraction=eve_fraction, rng=rng)
        bob_bases = random_bases(nb, source.p_z, rng)
        det = detect(arrived, bob_bases, rng, readout_error=ch.readout_error)
        sent += np.bincount(train.intensity, minlength=3)
        cls = train.intensity[det.indices]
        clicks += np.bincount(cls, minlength=3)
        match = train.bases[det.indices] == bob_bases[det.indices]
        sifted += np.bincount(cls[match], minlength=3)
        err = train.bits[det.indices][match] != det.bits[match]
        errors += np.bincount(cls[match][err], minlength=3)
        zb = train.bases[det.indices][match] == Z_BASIS
        cm = cls[match]
        per["n_z"] += np.bincount(cm[zb], minlength=3)
        per["m_z"] += np.bincount(cm[zb & err], minlength=3)
        per["n_x"] += np.bincount(cm[~zb], minlength=3)
        per["m_x"] += np.bincount(cm[~zb & err], minlength=3)
    return TrainCounts(sent, clicks, sifted, errors), BasisCounts(sent, **per)


__all__ = [
    "DECOY",
    "DEFAULT_MISALIGNMENT_ERROR",
    "SIGNAL",
    "VACUUM",
    "X_BASIS",
    "Z_BASIS",
    "ArrivedTrain",
    "BasisCounts",
    "ChannelModel",
    "Detection",
    "PulseTrain",
    "SourceSettings",
    "TrainCounts",
    "detect",
    "prepare_train",
    "random_bases",
    "random_bits",
    "simulate_basis_counts",
    "simulate_bb84_counts",
    "transmit",
]
