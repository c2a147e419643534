"""QKD protocol roles over the `NodeContext` interface: decoy-state BB84 and E91/BBM92.

Each role is ``role(ctx, params) -> QkdResult`` and runs at its own node; the two ends share nothing
but the messages they exchange (`ctx.send` / `ctx.recv`, framed by `qemu_net.qkd.wire`) on two
channels named after the session: ``<session_id>/qkd/quantum`` (the pulse or pair trains, one message
per block) and ``<session_id>/qkd/classical`` (everything else, public by design).

Message flow (A = Alice, B = Bob)::

    A -> B  hello            protocol settings announced in public (block sizes, basis bias, ...)
    A -> B  train x blocks   each block: N / pulse_rate_hz of virtual time, then the link latency
    B -> A  sift             Bob's click slots and his bases (settings)
    A -> B  sift_reply       which clicks match (BB84: + intensity classes; E91: Alice's settings)
                             and the random sample positions Alice picked
    B -> A  disclosed        Bob's bits at the sample (+ decoy/vacuum, or CHSH, positions)
    A -> B  estimate         QBER, decoy bounds / CHSH and the privacy capacity -- or abort
    B <-> A cascade_*        Cascade parity questions and answers (leak counted)
    A -> B  verify           polynomial-hash seed and Alice's tag; B -> A verify_result (or abort)
    A -> B  pa               final length and the Toeplitz seed; B -> A pa_done

Either side may send ``abort`` with a reason instead; the other side stops with the same reason.

Security bound (asymptotic bounds evaluated on the measured data; finite-size statistics are not
corrected for, the margin covers only the hashing epsilons):

- decoy BB84 (GLLP): ``l = n1 (1 - h(e1U)) - leak_EC - 64 - 2 log2(1/eps_pa)`` with ``n1 = n_key *
  Q1L / Q_mu`` from the vacuum + weak decoy bounds (Ma et al. 2005);
- single-photon BB84 and E91/BBM92: ``l = n (1 - h(Q)) - leak_EC - 64 - 2 log2(1/eps_pa)``.

Sessions abort (ProtocolAborted) when the QBER exceeds ``qber_threshold`` (11% by default), when
CHSH ``S <= chsh_threshold`` (E91), when verification fails, or when no secret key is left. With
``raise_on_abort=False`` the role instead returns a `QkdResult` whose ``aborted`` field says why.
The key is never printed or logged; it is in `QkdResult.key`, which is excluded from the repr.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qemu_net.errors import InvalidOperation, NotConnected, ProtocolAborted, ProtocolTimeout
from qemu_net.network.physics import accidental_fraction
from qemu_net.qkd import wire
from qemu_net.qkd.entangled import (
    chsh_estimate,
    choose_bob_settings,
    emit_pairs,
    measure_pairs,
    visibility_from_fidelity,
    werner_state,
    PairTrain,
)
from qemu_net.qkd.postprocess import (
    VERIFICATION_BITS,
    Channel,
    RemoteAbort,
    cascade_answer,
    cascade_correct,
    new_hash_seed,
    polynomial_hash,
    security_margin_bits,
    toeplitz_hash,
)
from qemu_net.qkd.pulses import (
    SIGNAL,
    ArrivedTrain,
    DECOY,
    VACUUM,
    SourceSettings,
    detect,
    prepare_train,
    random_bases,
    random_bits,
    transmit,
)
from qemu_net.qkd.theory import binary_entropy, decoy_bounds

if TYPE_CHECKING:
    from qemu_net.network.topology import LinkSpec
    from qemu_net.protocols.context import NodeContext

_SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_MAX_SLOTS = 2**32 - 1


def _prob(name: str, p: float, *, open_hi: bool = False) -> None:
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0 <= p <= 1) or (open_hi and p >= 1):
        raise InvalidOperation(f"{name}={p!r} must be a probability in [0, 1{')' if open_hi else ']'}")


def _common_checks(p: Any, count_name: str, rate_name: str, block_name: str) -> None:
    if not isinstance(p.peer, str) or not p.peer:
        raise InvalidOperation("peer must name the other node")
    if not isinstance(p.session_id, str) or not _SESSION_RE.match(p.session_id):
        raise InvalidOperation(
            f"session_id={p.session_id!r} must be 1-64 characters of letters, digits, '.', '_', ':', '-'"
        )
    n = getattr(p, count_name)
    if not isinstance(n, int) or not 1 <= n <= _MAX_SLOTS:
        raise InvalidOperation(f"{count_name}={n!r} must be an integer in [1, 2^32-1]")
    rate = getattr(p, rate_name)
    if not (math.isfinite(rate) and rate > 0):
        raise InvalidOperation(f"{rate_name}={rate!r} must be > 0")
    block = getattr(p, block_name)
    if not isinstance(block, int) or block < 1:
        raise InvalidOperation(f"{block_name}={block!r} must be a positive integer")
    _prob("sample_fraction", p.sample_fraction, open_hi=True)
    if p.sample_size is not None and (not isinstance(p.sample_size, int) or p.sample_size < 1):
        raise InvalidOperation(f"sample_size={p.sample_size!r} must be a positive integer (or None)")
    if p.sample_size is None and p.sample_fraction <= 0:
        raise InvalidOperation("sample_fraction must be > 0 (the QBER needs a sample) unless sample_size is given")
    if not (0 < p.qber_threshold <= 0.5):
        raise InvalidOperation(f"qber_threshold={p.qber_threshold!r} must be in (0, 0.5]")
    if not isinstance(p.cascade_passes, int) or not 1 <= p.cascade_passes <= 16:
        raise InvalidOperation(f"cascade_passes={p.cascade_passes!r} must be an integer in [1, 16]")
    if not (0 < p.eps_pa < 1):
        raise InvalidOperation(f"eps_pa={p.eps_pa!r} must be in (0, 1)")
    if not (math.isfinite(p.f_ec) and p.f_ec >= 1):
        raise InvalidOperation(f"f_ec={p.f_ec!r} must be >= 1 (1 is the Shannon limit)")
    _prob("eve_fraction", p.eve_fraction)
    if not (p.timeout_s > 0):
        raise InvalidOperation(f"timeout_s={p.timeout_s!r} must be > 0")


@dataclass(frozen=True)
class BB84Params:
    """Parameters of a (decoy-state) BB84 session. Both roles take the same type; Bob uses only
    ``peer``, ``session_id``, ``cascade_passes``, ``timeout_s`` and ``raise_on_abort`` (the rest is
    announced by Alice in public)."""

    peer: str
    session_id: str = "qkd"
    n_pulses: int = 1_000_000
    pulse_rate_hz: float = 1e9
    #: Pulses per quantum-channel message.
    block_pulses: int = 1_000_000
    #: Weak coherent pulses with decoy states; False models an ideal single-photon source.
    decoy: bool = True
    mu: float = 0.5
    nu: float = 0.1
    p_signal: float = 0.7
    p_decoy: float = 0.2
    p_vacuum: float = 0.1
    p_z: float = 0.5
    #: Fraction of the sifted signal bits disclosed to estimate the QBER (ignored if sample_size set).
    sample_fraction: float = 0.1
    sample_size: int | None = None
    qber_threshold: float = 0.11
    cascade_passes: int = 4
    #: Error-correction inefficiency used only for the reported asymptotic rate estimate.
    f_ec: float = 1.16
    eps_pa: float = 1e-10
    #: Fraction of pulses an intercept-resend eavesdropper on the link attacks.
    eve_fraction: float = 0.0
    timeout_s: float = 30.0
    raise_on_abort: bool = True

    def __post_init__(self) -> None:
        _common_checks(self, "n_pulses", "pulse_rate_hz", "block_pulses")
        _ = self.source  # validates the intensities and probabilities

    @property
    def source(self) -> SourceSettings:
        return SourceSettings(mu=self.mu, nu=self.nu, p_signal=self.p_signal, p_decoy=self.p_decoy,
                              p_vacuum=self.p_vacuum, p_z=self.p_z, single_photon=not self.decoy)


@dataclass(frozen=True)
class E91Params:
    """Parameters of an E91/BBM92 session with the entangled source at Alice."""

    peer: str
    session_id: str = "qkd"
    n_pairs: int = 1_000_000
    pair_rate_hz: float = 1e8
    block_pairs: int = 1_000_000
    #: Werner visibility of the source; None derives it from the link's ``source_fidelity``.
    visibility: float | None = None
    #: Alice's probability of measuring in Z (else X).
    p_z: float = 0.5
    #: Bob's probability of a key setting (Z or X, half each); otherwise a CHSH setting (+-pi/4).
    p_key: float = 0.8
    sample_fraction: float = 0.1
    sample_size: int | None = None
    qber_threshold: float = 0.11
    chsh_threshold: float = 2.0
    cascade_passes: int = 4
    f_ec: float = 1.16
    eps_pa: float = 1e-10
    eve_fraction: float = 0.0
    timeout_s: float = 30.0
    raise_on_abort: bool = True

    def __post_init__(self) -> None:
        _common_checks(self, "n_pairs", "pair_rate_hz", "block_pairs")
        if self.visibility is not None:
            _prob("visibility", self.visibility)
        _prob("p_z", self.p_z)
        _prob("p_key", self.p_key)
        if not 0 < self.p_key < 1:
            raise InvalidOperation(f"p_key={self.p_key} must be strictly between 0 and 1 (key and CHSH both needed)")
        if not 0 < self.p_z < 1:
            raise InvalidOperation(f"p_z={self.p_z} must be strictly between 0 and 1")


@dataclass(frozen=True)
class QkdResult:
    """One node's outcome of a QKD session. ``key`` (packed bits, ``final_bits`` long) is not in the repr."""

    protocol: str
    role: str
    peer: str
    session_id: str
    n_pulses: int
    pulse_rate_hz: float
    #: Detections (clicks) at Bob.
    raw_bits: int = 0
    #: Clicks in matching bases (all intensity classes).
    sifted_bits: int = 0
    #: Key-basis bits disclosed to estimate the QBER (decoy/vacuum and CHSH disclosures not included).
    sample_bits: int = 0
    #: Bits entering error correction.
    reconciled_bits: int = 0
    final_bits: int = 0
    qber: float = float("nan")
    leaked_ec_bits: int = 0
    verification_bits: int = 0
    security_margin_bits: int = 0
    #: final_bits / reconciled_bits.
    secret_fraction: float = 0.0
    key_rate_per_pulse: float = 0.0
    #: Final bits per virtual second of this node's session (trains, latency, post-processing).
    key_rate_per_s: float = 0.0
    duration_ns: float = 0.0
    #: Errors Cascade corrected (the true error count of the reconciled key once verified).
    corrected_errors: int = 0
    #: Leak relative to the Shannon limit: leaked_ec_bits / (reconciled_bits h(corrected_errors / reconciled_bits)).
    ec_efficiency: float = float("nan")
    cascade_rounds: int = 0
    #: Decoy estimates (BB84 with decoys).
    y1_lower: float | None = None
    e1_upper: float | None = None
    #: Asymptotic GLLP / Shor-Preskill rate per pulse estimated from the measured gains (f = f_ec).
    asymptotic_rate_per_pulse: float | None = None
    gains: tuple[float, ...] | None = None
    chsh: float | None = None
    chsh_stderr: float | None = None
    aborted: str | None = None
    key: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        counts = ("n_pulses", "raw_bits", "sifted_bits", "sample_bits", "reconciled_bits", "final_bits",
                  "leaked_ec_bits", "verification_bits", "security_margin_bits", "cascade_rounds", "corrected_errors")
        for name in counts:
            if getattr(self, name) < 0:
                raise InvalidOperation(f"QkdResult.{name} must be >= 0")
        if not self.raw_bits <= self.n_pulses:
            raise InvalidOperation("QkdResult: more detections than pulses")
        if not (self.final_bits <= self.reconciled_bits <= self.sifted_bits <= self.raw_bits):
            raise InvalidOperation("QkdResult: need final <= reconciled <= sifted <= raw")
        if len(self.key) != (self.final_bits + 7) // 8:
            raise InvalidOperation("QkdResult: key length does not match final_bits")
        if self.aborted is not None and self.final_bits:
            raise InvalidOperation("QkdResult: an aborted session has no key")

    @property
    def succeeded(self) -> bool:
        return self.aborted is None and self.final_bits > 0

    @property
    def key_bits(self) -> np.ndarray:
        """The final key as a 0/1 uint8 array."""
        return np.unpackbits(np.frombuffer(self.key, dtype=np.uint8), count=self.final_bits)

    def summary(self) -> dict[str, Any]:
        """Everything but the key, JSON-ready (for `qnet run qkd --json`)."""
        out: dict[str, Any] = {}
        for f in self.__dataclass_fields__:
            if f == "key":
                continue
            v = getattr(self, f)
            out[f] = list(v) if isinstance(v, tuple) else v
        return out


# -------------------------------------------------------------------------------------------- shared
class _Stats:
    """Mutable tally of a role in progress (turned into a QkdResult at the end, or on abort)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.final: np.ndarray | None = None

    def set(self, **kw: Any) -> None:
        self.values.update(kw)


def _require_link(ctx: NodeContext, peer: str) -> LinkSpec:
    if peer == ctx.name:
        raise InvalidOperation(f"{ctx.name}: a QKD session needs another node, not itself")
    if peer not in ctx.topology.node_names:
        raise NotConnected(f"{ctx.name}: unknown node {peer!r}")
    link = ctx.topology.link(ctx.name, peer)
    if link is None:
        raise NotConnected(f"{ctx.name} and {peer} share no quantum link: QKD needs a fiber between them")
    return link


def _run(protocol: str, role: str, ctx: NodeContext, params: Any, body: Any) -> QkdResult:
    link = _require_link(ctx, params.peer)
    sid = params.session_id
    quantum = Channel(ctx, params.peer, f"{sid}/qkd/quantum", params.timeout_s)
    classical = Channel(ctx, params.peer, f"{sid}/qkd/classical", params.timeout_s)
    st = _Stats()
    t0 = ctx.now_ns()
    aborted: str | None = None
    try:
        body(ctx, params, link, quantum, classical, st)
    except RemoteAbort as exc:
        aborted = exc.message
    except ProtocolAborted as exc:
        classical.abort(exc)
        aborted = exc.message
    except (InvalidOperation, NotConnected) as exc:
        if exc.fields.get("peer") != params.peer:
            classical.abort(exc)
        raise
    except ProtocolTimeout as exc:
        classical.abort(ProtocolAborted(f"{ctx.name} timed out: {exc.message}"))
        raise
    duration = float(ctx.now_ns() - t0)
    v = st.values
    n_pulses = int(v.get("n_pulses", getattr(params, "n_pulses", getattr(params, "n_pairs", 0))))
    final = st.final if (aborted is None and st.final is not None) else np.zeros(0, dtype=np.uint8)
    reconciled = int(v.get("reconciled_bits", 0))
    qber = float(v.get("qber", float("nan")))
    leak = int(v.get("leaked_ec_bits", 0))
    corrected = int(v.get("corrected_errors", 0))
    h = float(binary_entropy(corrected / reconciled)) if reconciled else 0.0
    result = QkdResult(
        protocol=protocol,
        role=role,
        peer=params.peer,
        session_id=sid,
        n_pulses=n_pulses,
        pulse_rate_hz=float(v.get("pulse_rate_hz", getattr(params, "pulse_rate_hz", getattr(params, "pair_rate_hz", 0)))),
        raw_bits=int(v.get("raw_bits", 0)),
        sifted_bits=int(v.get("sifted_bits", 0)),
        sample_bits=int(v.get("sample_bits", 0)),
        reconciled_bits=reconciled,
        final_bits=len(final),
        qber=qber,
        leaked_ec_bits=leak,
        verification_bits=int(v.get("verification_bits", 0)),
        security_margin_bits=int(v.get("security_margin_bits", 0)),
        secret_fraction=len(final) / reconciled if reconciled else 0.0,
        key_rate_per_pulse=len(final) / n_pulses if n_pulses else 0.0,
        key_rate_per_s=len(final) / (duration * 1e-9) if duration > 0 else 0.0,
        duration_ns=duration,
        corrected_errors=corrected,
        ec_efficiency=leak / (reconciled * h) if h > 0 and leak else float("nan"),
        cascade_rounds=int(v.get("cascade_rounds", 0)),
        y1_lower=v.get("y1_lower"),
        e1_upper=v.get("e1_upper"),
        asymptotic_rate_per_pulse=v.get("asymptotic_rate_per_pulse"),
        gains=tuple(v["gains"]) if "gains" in v else None,
        chsh=v.get("chsh"),
        chsh_stderr=v.get("chsh_stderr"),
        aborted=aborted,
        key=np.packbits(final).tobytes() if len(final) else b"",
    )
    if aborted is not None and params.raise_on_abort:
        raise ProtocolAborted(f"{protocol} session {sid!r} aborted: {aborted}", reason=aborted, result=result)
    return result


def _sample_count(params: Any, available: int, what: str) -> int:
    n = params.sample_size if params.sample_size is not None else int(round(params.sample_fraction * available))
    if n > available:
        raise InvalidOperation(f"sample size {n} is larger than the sifted key ({available} {what} bits)")
    return max(n, 1)


def _check_sift(idx: np.ndarray, n: int) -> None:
    if len(idx) and (int(idx[-1]) >= n or np.any(np.diff(idx) <= 0)):
        raise ProtocolAborted("protocol error: click slots out of range or not ascending")


def _secret_length(capacity: float, leak: int, margin: int) -> int:
    return int(math.floor(capacity - leak - VERIFICATION_BITS - margin))


def _finish_alice(ch: Channel, key: np.ndarray, capacity: float, params: Any, st: _Stats,
                  rng: np.random.Generator) -> None:
    leak, rounds = cascade_answer(ch, key)
    margin = security_margin_bits(params.eps_pa)
    st.set(leaked_ec_bits=leak, cascade_rounds=rounds, security_margin_bits=margin)
    seed = new_hash_seed(rng)
    ch.send("verify", {"seed": seed, "tag": polynomial_hash(key, seed)})
    meta, _ = ch.recv("verify_result")
    st.set(verification_bits=VERIFICATION_BITS, corrected_errors=int(meta["corrected_errors"]))
    m = _secret_length(capacity, leak, margin)
    if m <= 0:
        raise ProtocolAborted(
            f"no secret key left: privacy capacity {capacity:.0f} bits minus Cascade leak {leak}, "
            f"verification {VERIFICATION_BITS} and margin {margin} is {m}"
        )
    seed_bits = random_bits(len(key) + m - 1, rng)
    ch.send("pa", {"m": m}, {"seed": wire.pack_bits(seed_bits)})
    st.final = toeplitz_hash(key, seed_bits, m)
    ch.recv("pa_done")


def _finish_bob(ch: Channel, key: np.ndarray, qber: float, n_sample: int, params: Any, st: _Stats,
                rng: np.random.Generator) -> None:
    # Size Cascade's blocks for a cautious QBER (about two standard errors above the sampled one): a
    # small sample that happens to underestimate the QBER otherwise leaves errors behind.
    q_blocks = qber + 2.0 * math.sqrt(max(qber, 1.0 / n_sample) * (1 - qber) / n_sample)
    corrected, leak, rounds, flipped = cascade_correct(
        ch, key, min(q_blocks, 0.5), passes=params.cascade_passes, seed=int(rng.integers(0, 2**62))
    )
    st.set(leaked_ec_bits=leak, cascade_rounds=rounds, corrected_errors=flipped,
           security_margin_bits=security_margin_bits(params.eps_pa))
    meta, _ = ch.recv("verify")
    if polynomial_hash(corrected, int(meta["seed"])) != int(meta["tag"]):
        raise ProtocolAborted("verification failed: the keys still differ after error correction")
    ch.send("verify_result", {"ok": True, "corrected_errors": flipped})
    st.set(verification_bits=VERIFICATION_BITS)
    meta, arr = ch.recv("pa")
    m = int(meta["m"])
    if not 0 < m <= len(corrected):
        raise ProtocolAborted(f"protocol error: privacy amplification to {m} bits")
    st.final = toeplitz_hash(corrected, wire.unpack_bits(arr["seed"], len(corrected) + m - 1), m)
    ch.send("pa_done")


# --------------------------------------------------------------------------------------------- BB84
def _bb84_alice(ctx: NodeContext, p: BB84Params, link: LinkSpec, quantum: Channel, classical: Channel,
                st: _Stats) -> None:
    rng = ctx.rng
    src = p.source
    n = p.n_pulses
    st.set(n_pulses=n, pulse_rate_hz=p.pulse_rate_hz)
    classical.send("hello", {"protocol": "bb84", "n_pulses": n, "block_pulses": p.block_pulses,
                             "pulse_rate_hz": p.pulse_rate_hz, "p_z": p.p_z, "decoy": p.decoy})
    bits = np.empty(n, dtype=np.uint8)
    bases = np.empty(n, dtype=np.uint8)
    intensity = np.empty(n, dtype=np.uint8)
    for start in range(0, n, p.block_pulses):
        nb = min(p.block_pulses, n - start)
        train = prepare_train(nb, src, rng)
        arrived = transmit(train, link, eve_fraction=p.eve_fraction, rng=rng, pulse_rate_hz=p.pulse_rate_hz)
        bits[start:start + nb] = train.bits
        bases[start:start + nb] = train.bases
        intensity[start:start + nb] = train.intensity
        ctx.advance_clock(nb / p.pulse_rate_hz * 1e9)
        quantum.send_raw(arrived.to_bytes())

    _, arr = classical.recv("sift")
    idx = arr["idx"].astype(np.int64)
    _check_sift(idx, n)
    match = bases[idx] == wire.unpack_bits(arr["bases"], len(idx))
    s_idx = idx[match]
    cls = intensity[s_idx]
    sig = np.flatnonzero(cls == SIGNAL)
    other = np.flatnonzero(cls != SIGNAL)
    st.set(raw_bits=len(idx), sifted_bits=len(s_idx))
    if len(sig) == 0:
        raise ProtocolAborted("no sifted signal bits: nothing arrived to make a key from")
    n_sample = _sample_count(p, len(sig), "signal")
    sample = sig[np.sort(rng.choice(len(sig), n_sample, replace=False))]
    classical.send("sift_reply", {}, {"match": wire.pack_bits(match), "cls": cls,
                                      "sample": sample.astype(np.uint32)})
    disclosed = np.concatenate([sample, other])
    _, arr = classical.recv("disclosed")
    a_sifted = bits[s_idx]
    err = a_sifted[disclosed] != wire.unpack_bits(arr["bits"], len(disclosed))
    qber = float(err[:n_sample].mean())
    keypos = np.setdiff1d(sig, sample, assume_unique=True)
    n_key = len(keypos)
    q_sift = p.p_z**2 + (1 - p.p_z) ** 2
    h_q = float(binary_entropy(qber))
    est: dict[str, Any] = {"qber": qber}
    if p.decoy:
        sent = np.bincount(intensity, minlength=3).astype(float)
        clicks = np.bincount(intensity[idx], minlength=3).astype(float)
        gains = np.divide(clicks, sent, out=np.zeros(3), where=sent > 0)
        err_other = err[n_sample:]
        decoy_sel = cls[other] == DECOY
        e_nu = float(err_other[decoy_sel].mean()) if decoy_sel.any() else 0.5
        y1l, e1u = decoy_bounds(gains[SIGNAL], qber, gains[DECOY], e_nu, gains[VACUUM], p.mu, p.nu)
        q1l = y1l * p.mu * math.exp(-p.mu)
        frac1 = min(q1l / gains[SIGNAL], 1.0) if gains[SIGNAL] > 0 else 0.0
        asym = p.p_signal * q_sift * (q1l * (1 - float(binary_entropy(e1u))) - p.f_ec * gains[SIGNAL] * h_q)
        est.update(y1_lower=y1l, e1_upper=e1u, gains=[float(g) for g in gains])
    else:
        gain = len(idx) / n
        frac1, e1u = 1.0, qber
        asym = q_sift * gain * (1 - h_q - p.f_ec * h_q)
        est.update(e1_upper=qber)
    capacity = n_key * frac1 * (1 - float(binary_entropy(e1u)))
    margin = security_margin_bits(p.eps_pa)
    est.update(capacity=capacity, n_key=n_key, n_sample=n_sample, asymptotic_rate_per_pulse=max(asym, 0.0))
    st.set(sample_bits=n_sample, reconciled_bits=n_key, **{k: v for k, v in est.items()
                                                            if k not in ("capacity", "n_key", "n_sample")})
    if qber > p.qber_threshold:
        raise ProtocolAborted(
            f"QBER {qber:.4f} on {n_sample} sampled bits exceeds the threshold {p.qber_threshold}: "
            "eavesdropper or faulty link"
        )
    if capacity - n_key * h_q - VERIFICATION_BITS - margin <= 0:
        raise ProtocolAborted(
            f"no secret key possible: privacy capacity {capacity:.0f} bits does not cover even the "
            f"Shannon-limit error-correction leak {n_key * h_q:.0f} plus {VERIFICATION_BITS + margin} bits"
        )
    classical.send("estimate", est)
    _finish_alice(classical, a_sifted[keypos], capacity, p, st, rng)


def _bb84_bob(ctx: NodeContext, p: BB84Params, link: LinkSpec, quantum: Channel, classical: Channel,
              st: _Stats) -> None:
    del link
    rng = ctx.rng
    hello, _ = classical.recv("hello")
    if hello.get("protocol") != "bb84":
        raise ProtocolAborted(f"protocol mismatch: Alice runs {hello.get('protocol')!r}, Bob runs 'bb84'")
    n = int(hello["n_pulses"])
    block = int(hello["block_pulses"])
    p_z = float(hello["p_z"])
    st.set(n_pulses=n, pulse_rate_hz=float(hello["pulse_rate_hz"]))
    idx_parts, bit_parts, base_parts = [], [], []
    for start in range(0, n, block):
        arrived = ArrivedTrain.from_bytes(quantum.recv_raw())
        if arrived.n_slots != min(block, n - start):
            raise ProtocolAborted("protocol error: pulse train block of unexpected size")
        my_bases = random_bases(arrived.n_slots, p_z, rng)
        det = detect(arrived, my_bases, rng)
        idx_parts.append(det.indices + start)
        bit_parts.append(det.bits)
        base_parts.append(my_bases[det.indices])
    idx = np.concatenate(idx_parts)
    my_bits = np.concatenate(bit_parts)
    classical.send("sift", {}, {"idx": idx.astype(np.uint32), "bases": wire.pack_bits(np.concatenate(base_parts))})
    _, arr = classical.recv("sift_reply")
    match = wire.unpack_bits(arr["match"], len(idx)).astype(bool)
    b_sifted = my_bits[match]
    cls = arr["cls"]
    sample = arr["sample"].astype(np.int64)
    if len(cls) != len(b_sifted) or (len(sample) and int(sample.max()) >= len(b_sifted)):
        raise ProtocolAborted("protocol error: sift reply does not fit Bob's clicks")
    sig = np.flatnonzero(cls == SIGNAL)
    other = np.flatnonzero(cls != SIGNAL)
    st.set(raw_bits=len(idx), sifted_bits=len(b_sifted), sample_bits=len(sample))
    disclosed = np.concatenate([sample, other])
    classical.send("disclosed", {}, {"bits": wire.pack_bits(b_sifted[disclosed])})
    est, _ = classical.recv("estimate")
    keypos = np.setdiff1d(sig, sample, assume_unique=True)
    if len(keypos) != int(est["n_key"]):
        raise ProtocolAborted("protocol error: Alice and Bob disagree on the key positions")
    st.set(reconciled_bits=len(keypos), **{k: v for k, v in est.items() if k not in ("capacity", "n_key", "n_sample")})
    _finish_bob(classical, b_sifted[keypos], float(est["qber"]), int(est["n_sample"]), p, st, rng)


def bb84_alice(ctx: NodeContext, params: BB84Params) -> QkdResult:
    """Alice's role in (decoy-state) BB84: prepares and sends the pulse trains, leads the estimation."""
    return _run("bb84-decoy" if params.decoy else "bb84", "alice", ctx, params, _bb84_alice)


def bb84_bob(ctx: NodeContext, params: BB84Params) -> QkdResult:
    """Bob's role in (decoy-state) BB84: detects the pulse trains, sifts and corrects with Cascade."""
    return _run("bb84-decoy" if params.decoy else "bb84", "bob", ctx, params, _bb84_bob)


# ---------------------------------------------------------------------------------------------- E91
def _e91_alice(ctx: NodeContext, p: E91Params, link: LinkSpec, quantum: Channel, classical: Channel,
               st: _Stats) -> None:
    rng = ctx.rng
    n = p.n_pairs
    v = p.visibility if p.visibility is not None else visibility_from_fidelity(link.source_fidelity)
    # SPDC multi-pair emission: accidental coincidences scale the visibility by 1 - lambda/(1 + 2 lambda).
    v *= 1 - accidental_fraction(link)
    rho = werner_state(min(max(v, 0.0), 1.0))
    st.set(n_pulses=n, pulse_rate_hz=p.pair_rate_hz)
    classical.send("hello", {"protocol": "e91", "n_pairs": n, "block_pairs": p.block_pairs,
                             "pair_rate_hz": p.pair_rate_hz})
    settings = np.empty(n, dtype=np.uint8)
    outcomes = np.empty(n, dtype=np.uint8)
    for start in range(0, n, p.block_pairs):
        nb = min(p.block_pairs, n - start)
        blk = emit_pairs(nb, rho, link, p_z=p.p_z, eve_fraction=p.eve_fraction, rng=rng)
        settings[start:start + nb] = blk.settings
        outcomes[start:start + nb] = blk.outcomes
        ctx.advance_clock(nb / p.pair_rate_hz * 1e9)
        quantum.send_raw(blk.train.to_bytes())

    _, arr = classical.recv("sift")
    idx = arr["idx"].astype(np.int64)
    _check_sift(idx, n)
    b_set = arr["settings"]
    if len(b_set) != len(idx) or (len(b_set) and int(b_set.max()) > 3):
        raise ProtocolAborted("protocol error: malformed settings from Bob")
    a_set = settings[idx]
    x = outcomes[idx]
    key_pos = np.flatnonzero(a_set == b_set)
    chsh_pos = np.flatnonzero(b_set >= 2)
    st.set(raw_bits=len(idx), sifted_bits=len(key_pos))
    if len(key_pos) == 0:
        raise ProtocolAborted("no sifted key bits: nothing arrived to make a key from")
    n_sample = _sample_count(p, len(key_pos), "key-basis")
    sample = key_pos[np.sort(rng.choice(len(key_pos), n_sample, replace=False))]
    classical.send("sift_reply", {}, {"settings": wire.pack_bits(a_set), "sample": sample.astype(np.uint32)})
    disclosed = np.concatenate([chsh_pos, sample])
    _, arr = classical.recv("disclosed")
    y = wire.unpack_bits(arr["bits"], len(disclosed))
    y_chsh, y_sample = y[: len(chsh_pos)], y[len(chsh_pos):]
    s, s_err = chsh_estimate(a_set[chsh_pos], b_set[chsh_pos], x[chsh_pos], y_chsh)
    qber = float(np.mean(x[sample] != y_sample))
    keypos = np.setdiff1d(key_pos, sample, assume_unique=True)
    n_key = len(keypos)
    h_q = float(binary_entropy(qber))
    capacity = n_key * (1 - h_q)
    margin = security_margin_bits(p.eps_pa)
    asym = len(key_pos) / n * (1 - h_q - p.f_ec * h_q)
    est = {"qber": qber, "chsh": s if math.isfinite(s) else None, "chsh_stderr": s_err if math.isfinite(s_err) else None,
           "capacity": capacity, "n_key": n_key, "n_sample": n_sample, "asymptotic_rate_per_pulse": max(asym, 0.0)}
    st.set(sample_bits=n_sample, reconciled_bits=n_key, qber=qber, chsh=est["chsh"], chsh_stderr=est["chsh_stderr"],
           asymptotic_rate_per_pulse=est["asymptotic_rate_per_pulse"])
    if not math.isfinite(s) or s <= p.chsh_threshold:
        raise ProtocolAborted(
            f"CHSH S = {s:.3f} +- {s_err:.3f} does not exceed {p.chsh_threshold}: no entanglement certified"
        )
    if qber > p.qber_threshold:
        raise ProtocolAborted(
            f"QBER {qber:.4f} on {n_sample} sampled bits exceeds the threshold {p.qber_threshold}: "
            "eavesdropper or faulty link"
        )
    if capacity - n_key * h_q - VERIFICATION_BITS - margin <= 0:
        raise ProtocolAborted(f"no secret key possible from {n_key} bits at QBER {qber:.4f}")
    classical.send("estimate", est)
    _finish_alice(classical, x[keypos], capacity, p, st, rng)


def _e91_bob(ctx: NodeContext, p: E91Params, link: LinkSpec, quantum: Channel, classical: Channel,
             st: _Stats) -> None:
    del link
    rng = ctx.rng
    hello, _ = classical.recv("hello")
    if hello.get("protocol") != "e91":
        raise ProtocolAborted(f"protocol mismatch: Alice runs {hello.get('protocol')!r}, Bob runs 'e91'")
    n = int(hello["n_pairs"])
    block = int(hello["block_pairs"])
    st.set(n_pulses=n, pulse_rate_hz=float(hello["pair_rate_hz"]))
    idx_parts, bit_parts, set_parts = [], [], []
    for start in range(0, n, block):
        train = PairTrain.from_bytes(quantum.recv_raw())
        if train.n_slots != min(block, n - start):
            raise ProtocolAborted("protocol error: pair train block of unexpected size")
        my_set = choose_bob_settings(train.n_slots, p.p_key, rng)
        det = measure_pairs(train, my_set, rng)
        idx_parts.append(det.indices + start)
        bit_parts.append(det.bits)
        set_parts.append(my_set[det.indices])
    idx = np.concatenate(idx_parts)
    y = np.concatenate(bit_parts)
    b_set = np.concatenate(set_parts)
    classical.send("sift", {}, {"idx": idx.astype(np.uint32), "settings": b_set})
    _, arr = classical.recv("sift_reply")
    a_set = wire.unpack_bits(arr["settings"], len(idx))
    sample = arr["sample"].astype(np.int64)
    key_pos = np.flatnonzero(a_set == b_set)
    chsh_pos = np.flatnonzero(b_set >= 2)
    if len(sample) and (not np.all(np.isin(sample, key_pos))):
        raise ProtocolAborted("protocol error: sample positions outside the sifted key")
    st.set(raw_bits=len(idx), sifted_bits=len(key_pos), sample_bits=len(sample))
    classical.send("disclosed", {}, {"bits": wire.pack_bits(y[np.concatenate([chsh_pos, sample])])})
    est, _ = classical.recv("estimate")
    keypos = np.setdiff1d(key_pos, sample, assume_unique=True)
    if len(keypos) != int(est["n_key"]):
        raise ProtocolAborted("protocol error: Alice and Bob disagree on the key positions")
    st.set(reconciled_bits=len(keypos), qber=est["qber"], chsh=est["chsh"], chsh_stderr=est["chsh_stderr"],
           asymptotic_rate_per_pulse=est["asymptotic_rate_per_pulse"])
    _finish_bob(classical, y[keypos], float(est["qber"]), int(est["n_sample"]), p, st, rng)


def e91_alice(ctx: NodeContext, params: E91Params) -> QkdResult:
    """Alice's role in E91/BBM92: holds the entangled source, measures her halves, leads estimation."""
    return _run("e91", "alice", ctx, params, _e91_alice)


def e91_bob(ctx: NodeContext, params: E91Params) -> QkdResult:
    """Bob's role in E91/BBM92: measures the halves he receives, sifts and corrects with Cascade."""
    return _run("e91", "bob", ctx, params, _e91_bob)


__all__ = ["BB84Params", "E91Params", "QkdResult", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob"]
