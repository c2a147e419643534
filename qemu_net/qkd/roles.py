"""QKD protocol roles over the `NodeContext` interface: decoy-state BB84 and E91/BBM92.

Each role is ``role(ctx, params) -> QkdResult`` and runs at its own node; the two ends share nothing
but the messages they exchange (`ctx.send` / `ctx.recv`, framed by `qemu_net.qkd.wire`) on two
channels named after the session: ``<session_id>/qkd/quantum`` (the pulse or pair trains, one message
per block) and ``<session_id>/qkd/classical`` (everything else, public by design).

One session skeleton serves every protocol (`_alice_session` / `_bob_session`): the protocol
strategy (`_Bb84` or `_E91`) only produces the raw data -- Alice's key-basis and test-basis
records, Bob's detections -- and the finite-key bound; sifting, parameter estimation, error
correction, verification and privacy amplification are common. Message flow (A = Alice, B = Bob)::

    A -> B  hello            protocol settings announced in public (block sizes, basis bias, ...)
    A -> B  train x blocks   each block: N / pulse_rate_hz of virtual time, then the link latency
    B -> A  sift             Bob's click slots and his bases (settings)
    A -> B  sift_reply       which clicks match (BB84: + intensity classes; E91: Alice's settings)
    B -> A  disclosed        Bob's bits in the test basis (X; + CHSH positions for E91)
    A -> B  estimate         test-basis QBER, the counts -- or abort
    B <-> A cascade_*        Cascade parity questions and answers (leak counted)
    A -> B  verify           polynomial-hash seeds and Alice's tags; B -> A verify_result (or abort)
    A -> B  pa               finite-key length and the Toeplitz seed; B -> A pa_done

Either side may send ``abort`` with a reason instead; the other side stops with the same reason.

Security (`qemu_net.qkd.finite_key`): the key is made of the Z-basis detections, the X-basis
detections are all disclosed to estimate the phase error. The length is the composable finite-key
bound for the block at ``eps_sec`` (secrecy) and ``eps_cor`` (correctness; the number of
verification hashes is chosen so that a collision is at most ``eps_cor``):

- decoy BB84: Lim et al. PRA 89, 022307 (2014) with Chernoff bounds on every intensity's counts;
- single-photon BB84 and E91/BBM92: Tomamichel et al. Nat. Commun. 3, 634 (2012).

A block whose bound is not positive yields no key: the session aborts with the bound's reason
(``raise_on_abort=False`` returns a `QkdResult` whose ``aborted`` field says why). The asymptotic
figure for the same counts is reported beside it (``asymptotic_bits``). Sessions also abort when the
test-basis QBER exceeds ``qber_threshold``, when CHSH ``S <= chsh_threshold`` (E91) or when
verification fails. The key is never printed or logged; it is in `QkdResult.key`, excluded from the
repr.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from qemu_net.errors import InvalidOperation, MemoryFull, NotConnected, ProtocolAborted, ProtocolTimeout
from qemu_net.network.physics import accidental_fraction
from qemu_net.protocols.results import check_probability, result_eq, result_hash, result_repr
from qemu_net.qkd import footprint, wire
from qemu_net.qkd.entangled import (
    PairTrain,
    choose_bob_settings,
    chsh_estimate,
    emit_pairs,
    measure_pairs,
    visibility_from_fidelity,
    werner_state,
)
from qemu_net.qkd.finite_key import FiniteKeyBound, bb84_key_length, decoy_bb84_key_length
from qemu_net.qkd.messages import (
    Bb84Sift,
    Bb84SiftReply,
    Disclosed,
    E91Sift,
    E91SiftReply,
    Estimate,
    Hello,
    PaDone,
    PrivacyAmplification,
    Verify,
    VerifyResult,
)
from qemu_net.qkd.postprocess import (
    VERIFICATION_BITS,
    Channel,
    RemoteAbort,
    cascade_answer,
    cascade_correct,
    new_hash_seed,
    polynomial_hash,
    toeplitz_hash,
    verification_hashes,
)
from qemu_net.qkd.pulses import (
    X_BASIS,
    Z_BASIS,
    ArrivedTrain,
    ChannelModel,
    SourceSettings,
    detect,
    prepare_train,
    random_bases,
    random_bits,
    transmit,
)
from qemu_net.qkd.theory import binary_entropy

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
    if not (0 < p.qber_threshold <= 0.5):
        raise InvalidOperation(f"qber_threshold={p.qber_threshold!r} must be in (0, 0.5]")
    if not isinstance(p.cascade_passes, int) or not 1 <= p.cascade_passes <= 16:
        raise InvalidOperation(f"cascade_passes={p.cascade_passes!r} must be an integer in [1, 16]")
    for name in ("eps_sec", "eps_cor"):
        v = getattr(p, name)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1e-3):
            raise InvalidOperation(f"{name}={v!r} must be in (0, 1e-3)")
    if not (math.isfinite(p.f_ec) and p.f_ec >= 1):
        raise InvalidOperation(f"f_ec={p.f_ec!r} must be >= 1 (1 is the Shannon limit)")
    if p.reconciliation not in RECONCILIATIONS:
        raise InvalidOperation(f"reconciliation={p.reconciliation!r}: use one of {', '.join(RECONCILIATIONS)}")
    if p.ldpc_f_target is not None and not (isinstance(p.ldpc_f_target, (int, float)) and 1.0 < p.ldpc_f_target <= 4.0):
        raise InvalidOperation(f"ldpc_f_target={p.ldpc_f_target!r} must be in (1, 4] (or None: chosen per QBER)")
    _prob("eve_fraction", p.eve_fraction)
    if not (p.timeout_s > 0):
        raise InvalidOperation(f"timeout_s={p.timeout_s!r} must be > 0")


#: Error-correction methods a session can choose.
RECONCILIATIONS = ("cascade", "ldpc")

#: The one set of source defaults (`SourceSettings` takes its defaults from here too).
DEFAULT_SOURCE = SourceSettings()


@dataclass(frozen=True, kw_only=True)
class _SessionParams:
    """What BB84 and E91 sessions share: post-processing, the finite-key security parameters, the
    eavesdropper share and how the session ends (keyword-only, after each protocol's own fields)."""

    #: Abort when the test-basis QBER (signal intensity for decoy BB84) exceeds this.
    qber_threshold: float = 0.11
    cascade_passes: int = 4
    #: Error correction: interactive Cascade, or one-way LDPC syndromes (`qemu_net.qkd.ldpc_ec`).
    reconciliation: str = "cascade"
    #: LDPC: syndrome bits per frame bit relative to h(QBER) in the first round; None chooses it from
    #: the QBER (`qemu_net.qkd.ldpc_ec.default_f_target`).
    ldpc_f_target: float | None = None
    #: Error-correction inefficiency used only for the asymptotic figure reported beside the key.
    f_ec: float = 1.16
    #: Secrecy and correctness parameters of the composable finite-key analysis.
    eps_sec: float = 1e-10
    eps_cor: float = 1e-15
    #: Fraction of pulses (pairs) an intercept-resend eavesdropper on the link attacks.
    eve_fraction: float = 0.0
    timeout_s: float = 30.0
    raise_on_abort: bool = True


@dataclass(frozen=True)
class BB84Params(_SessionParams):
    """Parameters of a (decoy-state) BB84 session. Both roles take the same type; Bob uses only
    ``peer``, ``session_id``, ``cascade_passes``, ``timeout_s`` and ``raise_on_abort`` (the rest is
    announced by Alice in public). Defaults live here and in `SourceSettings` only: the node, the SDK
    and the CLI leave unset fields unset."""

    peer: str
    session_id: str = "qkd"
    n_pulses: int = 1_000_000
    pulse_rate_hz: float = 1e9
    #: Pulses per quantum-channel message.
    block_pulses: int = 1_000_000
    #: Weak coherent pulses with decoy states; False models an ideal single-photon source.
    decoy: bool = True
    mu: float = DEFAULT_SOURCE.mu
    nu: float = DEFAULT_SOURCE.nu
    p_signal: float = DEFAULT_SOURCE.p_signal
    p_decoy: float = DEFAULT_SOURCE.p_decoy
    p_vacuum: float = DEFAULT_SOURCE.p_vacuum
    #: Probability of the Z (key) basis at both ends; the X basis is the test basis.
    p_z: float = DEFAULT_SOURCE.p_z

    def __post_init__(self) -> None:
        _common_checks(self, "n_pulses", "pulse_rate_hz", "block_pulses")
        if not 0 < self.p_z < 1:
            raise InvalidOperation(f"p_z={self.p_z} must be strictly between 0 and 1 (key and test bases both needed)")
        _ = self.source  # validates the intensities and probabilities

    @property
    def source(self) -> SourceSettings:
        return SourceSettings(mu=self.mu, nu=self.nu, p_signal=self.p_signal, p_decoy=self.p_decoy,
                              p_vacuum=self.p_vacuum, p_z=self.p_z, single_photon=not self.decoy)


@dataclass(frozen=True)
class E91Params(_SessionParams):
    """Parameters of an E91/BBM92 session with the entangled source at Alice."""

    peer: str
    session_id: str = "qkd"
    n_pairs: int = 1_000_000
    pair_rate_hz: float = 1e8
    block_pairs: int = 1_000_000
    #: Werner visibility of the source; None derives it from the link's ``source_fidelity``.
    visibility: float | None = None
    #: Alice's probability of measuring in Z (key) rather than X (test).
    p_z: float = 0.5
    #: Bob's probability of a key or test setting (Z or X, half each); otherwise a CHSH setting (+-pi/4).
    p_key: float = 0.8
    #: Abort when the CHSH value of the test settings is not above this.
    chsh_threshold: float = 2.0

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


@dataclass(frozen=True, eq=False, repr=False)
class QkdResult:
    """One node's outcome of a QKD session. ``key`` (packed bits, ``final_bits`` long) is a secret: it is not
    in the repr, so the repr of a keyless result (aborted, or ``final_bits=0``) pastes back to an equal one."""

    protocol: str
    role: str
    peer: str
    session_id: str
    n_pulses: int
    pulse_rate_hz: float
    #: Detections (clicks) at Bob.
    raw_bits: int = 0
    #: Clicks in matching bases (all intensity classes, key and test basis).
    sifted_bits: int = 0
    #: Test-basis (X) bits disclosed to estimate the phase error (CHSH disclosures not included).
    sample_bits: int = 0
    #: Key-basis (Z) bits entering error correction.
    reconciled_bits: int = 0
    final_bits: int = 0
    #: Error rate of the disclosed test-basis bits (signal intensity for decoy BB84).
    qber: float = float("nan")
    leaked_ec_bits: int = 0
    verification_bits: int = 0
    #: Bits removed for the privacy-amplification terms of the finite-key bound.
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
    #: Lower bound on the single-photon yield of the key basis (decoy BB84).
    y1_lower: float | None = None
    #: Upper bound on the single-photon phase error of the key (with its finite-size correction).
    e1_upper: float | None = None
    #: Asymptotic rate per pulse for the same counts (no fluctuations, f = f_ec).
    asymptotic_rate_per_pulse: float | None = None
    gains: tuple[float, ...] | None = None
    chsh: float | None = None
    chsh_stderr: float | None = None
    aborted: str | None = None
    #: The finite-key analysis used, its security parameters and the asymptotic length beside it.
    key_analysis: str = ""
    eps_sec: float = 0.0
    eps_cor: float = 0.0
    asymptotic_bits: float | None = None
    #: Lower bounds on vacuum and single-photon detections in the key (decoy BB84; s1 = key bits otherwise).
    s0_lower: float | None = None
    s1_lower: float | None = None
    #: How errors were corrected, and (LDPC) the share of frames the first round failed to decode.
    reconciliation: str = "cascade"
    frame_error_rate: float | None = None
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
        check_probability("QkdResult", secret_fraction=self.secret_fraction, eps_sec=self.eps_sec,
                          eps_cor=self.eps_cor)
        if not math.isnan(self.qber):
            check_probability("QkdResult", qber=self.qber)

    __repr__ = result_repr
    __eq__ = result_eq
    __hash__ = result_hash

    @property
    def succeeded(self) -> bool:
        return self.aborted is None and self.final_bits > 0

    @property
    def eps_total(self) -> float:
        """The key is eps_total-secure (composable): eps_sec + eps_cor."""
        return self.eps_sec + self.eps_cor

    @property
    def key_bits(self) -> np.ndarray:
        """The final key as a 0/1 uint8 array."""
        return np.unpackbits(np.frombuffer(self.key, dtype=np.uint8), count=self.final_bits)

    def summary(self) -> dict[str, Any]:
        """Everything but the key, JSON-ready (for `qnet run qkd --json`)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "key":
                continue
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        out["eps_total"] = self.eps_total
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
    ctx.topology.require_node(peer, what=ctx.name)
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
    st.set(eps_sec=params.eps_sec, eps_cor=params.eps_cor)
    t0 = ctx.now_ns()
    aborted: str | None = None
    #: When the session ended because the peer aborted it: whose abort it was, and its kind. The error raised
    #: below keeps them, so a client that hears this end first still reports the peer's own error.
    cause: dict[str, str] = {}
    try:
        body(ctx, params, link, quantum, classical, st)
    except RemoteAbort as exc:
        aborted = exc.message
        cause = _cause(exc)
    except ProtocolAborted as exc:
        classical.abort(exc)
        aborted = exc.message
        cause = _cause(exc)
    except (InvalidOperation, NotConnected, MemoryFull) as exc:
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
    leak = int(v.get("leaked_ec_bits", 0))
    corrected = int(v.get("corrected_errors", 0))
    h = float(binary_entropy(corrected / reconciled)) if reconciled else 0.0
    names = {f.name for f in fields(QkdResult)}
    passthrough = {k: v[k] for k in ("y1_lower", "e1_upper", "asymptotic_rate_per_pulse", "chsh", "chsh_stderr",
                                     "key_analysis", "eps_sec", "eps_cor", "asymptotic_bits", "s0_lower",
                                     "s1_lower", "sample_bits", "raw_bits", "sifted_bits", "verification_bits",
                                     "security_margin_bits", "cascade_rounds", "reconciliation",
                                     "frame_error_rate") if k in v and k in names}
    result = QkdResult(
        protocol=protocol,
        role=role,
        peer=params.peer,
        session_id=sid,
        n_pulses=n_pulses,
        pulse_rate_hz=float(v.get("pulse_rate_hz",
                                  getattr(params, "pulse_rate_hz", getattr(params, "pair_rate_hz", 0)))),
        reconciled_bits=reconciled,
        final_bits=len(final),
        qber=float(v.get("qber", float("nan"))),
        leaked_ec_bits=leak,
        secret_fraction=len(final) / reconciled if reconciled else 0.0,
        key_rate_per_pulse=len(final) / n_pulses if n_pulses else 0.0,
        key_rate_per_s=len(final) / (duration * 1e-9) if duration > 0 else 0.0,
        duration_ns=duration,
        corrected_errors=corrected,
        ec_efficiency=leak / (reconciled * h) if h > 0 and leak else float("nan"),
        gains=tuple(v["gains"]) if "gains" in v else None,
        aborted=aborted,
        key=np.packbits(final).tobytes() if len(final) else b"",
        **passthrough,
    )
    if aborted is not None and params.raise_on_abort:
        kind: dict[str, Any] = {"kind": cause["kind"]} if cause else {}
        raise ProtocolAborted(f"{protocol} session {sid!r} aborted: {aborted}", reason=aborted, result=result,
                              peer=cause.get("peer"), **kind)
    return result


def _cause(exc: ProtocolAborted) -> dict[str, str]:
    """The peer and kind of a peer's abort that `exc` reports (empty for an abort of this end's own)."""
    kind, peer = exc.fields.get("kind"), exc.fields.get("peer")
    return {"kind": kind, "peer": peer} if isinstance(kind, str) and kind and isinstance(peer, str) else {}


def _check_sift(idx: np.ndarray, n: int) -> None:
    if len(idx) and (int(idx[-1]) >= n or np.any(np.diff(idx) <= 0)):
        raise ProtocolAborted("protocol error: click slots out of range or not ascending")


def _bound_fields(bound: FiniteKeyBound, n_pulses: int) -> dict[str, Any]:
    """What both ends report about the finite-key bound (JSON-ready, sent from Alice to Bob)."""
    return {"key_analysis": bound.analysis, "asymptotic_bits": float(bound.asymptotic_length),
            "asymptotic_rate_per_pulse": max(float(bound.asymptotic_length), 0.0) / n_pulses if n_pulses else 0.0,
            "s0_lower": float(bound.s0_lower), "s1_lower": float(bound.s1_lower),
            "e1_upper": float(min(bound.phase_error_upper, 0.5)),
            "security_margin_bits": math.ceil(bound.budget.pa_penalty_bits)}


# ------------------------------------------------------------------------------- protocol strategies
def _per_class(counts: np.ndarray) -> tuple[int, int, int]:
    """Counts per intensity class (signal, decoy, vacuum) as ints, from a length-3 bincount."""
    return int(counts[0]), int(counts[1]), int(counts[2])


#: A train Bob receives: a block of pulses (BB84) or of pair halves (E91).
_Train = TypeVar("_Train", ArrivedTrain, PairTrain)


def _receive_blocks(hello: Hello, quantum: Channel, what: str, parse: Callable[[bytes], _Train],
                    measure: Callable[[_Train], tuple[np.ndarray, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bob's side of the trains, block by block: each is parsed, checked against the size the hello
    announced, acknowledged (`checkpoint`), and measured in the settings `measure` chooses for it.
    -> (click slots, Bob's bits, Bob's setting per click)."""
    n, block = hello.n, hello.block
    idx_parts, bit_parts, set_parts = [], [], []
    for start in range(0, n, block):
        train = parse(quantum.recv_raw())
        if train.n_slots != min(block, n - start):
            raise ProtocolAborted(f"protocol error: {what} train block of unexpected size")
        quantum.checkpoint()
        settings, det = measure(train)
        idx_parts.append(det.indices + start)
        bit_parts.append(det.bits)
        set_parts.append(settings[det.indices])
    return np.concatenate(idx_parts), np.concatenate(bit_parts), np.concatenate(set_parts)


class _Strategy:
    """What a protocol strategy is made of: its name, the sift message Bob sends and the reply Alice
    sends back (class keywords), and at Alice the node, the parameters and the link it runs on."""

    name: str
    sift_type: type[Any]
    reply_type: type[Any]

    def __init_subclass__(cls, *, name: str, sift: type[Any], reply: type[Any]) -> None:
        super().__init_subclass__()
        cls.name, cls.sift_type, cls.reply_type = name, sift, reply

    def __init__(self, ctx: NodeContext, p: Any, link: LinkSpec) -> None:
        self.p = p
        self.ctx = ctx
        self.link = link


class _Bb84(_Strategy, name="bb84", sift=Bb84Sift, reply=Bb84SiftReply):
    """Decoy-state (or single-photon) BB84: Alice prepares pulse trains, Bob detects them."""

    p: BB84Params

    # Alice
    def hello(self) -> Hello:
        p = self.p
        return Hello(protocol="bb84", n=p.n_pulses, block=p.block_pulses, rate_hz=p.pulse_rate_hz, p_z=p.p_z,
                     decoy=p.decoy, eps_sec=p.eps_sec, eps_cor=p.eps_cor, reconciliation=p.reconciliation,
                     ldpc_f=p.ldpc_f_target)

    def send_trains(self, quantum: Channel) -> None:
        p, rng = self.p, self.ctx.rng
        n = p.n_pulses
        src = p.source
        channel = ChannelModel.from_topology(self.ctx.topology, self.ctx.name, p.peer)
        self.bits = np.empty(n, dtype=np.uint8)
        self.bases = np.empty(n, dtype=np.uint8)
        self.intensity = np.empty(n, dtype=np.uint8)
        for start in range(0, n, p.block_pulses):
            nb = min(p.block_pulses, n - start)
            train = prepare_train(nb, src, rng)
            arrived = transmit(train, channel, eve_fraction=p.eve_fraction, rng=rng, pulse_rate_hz=p.pulse_rate_hz)
            self.bits[start:start + nb] = train.bits
            self.bases[start:start + nb] = train.bases
            self.intensity[start:start + nb] = train.intensity
            self.ctx.advance_clock(nb / p.pulse_rate_hz * 1e9)
            quantum.checkpoint()
            quantum.send_raw(arrived.to_bytes())

    def sift(self, msg: Bb84Sift) -> tuple[Bb84SiftReply, np.ndarray, np.ndarray, np.ndarray]:
        """-> (reply, Alice's bits at the detections, key positions, test positions)."""
        idx = msg.idx.astype(np.int64)
        _check_sift(idx, self.p.n_pulses)
        match = self.bases[idx] == wire.unpack_bits(msg.bases, len(idx))
        self.cls = self.intensity[idx]
        a_basis = self.bases[idx]
        key = np.flatnonzero(match & (a_basis == Z_BASIS))
        test = np.flatnonzero(match & (a_basis == X_BASIS))
        self.sent = np.bincount(self.intensity, minlength=3).astype(float)
        self.clicks = np.bincount(self.cls, minlength=3).astype(float)
        return Bb84SiftReply(match=wire.pack_bits(match), cls=self.cls), self.bits[idx], key, test

    def estimate(self, key: np.ndarray, test: np.ndarray, test_err: np.ndarray) -> tuple[float, float, dict[str, Any]]:
        """-> (QBER reported and checked, QBER for error correction, extra estimates)."""
        p = self.p
        if not p.decoy:
            q = float(test_err.mean()) if len(test) else 0.5
            return q, q, {}
        n_x = np.bincount(self.cls[test], minlength=3)
        m_x = np.bincount(self.cls[test][test_err], minlength=3)
        self.counts = (_per_class(np.bincount(self.cls[key], minlength=3)), _per_class(n_x), _per_class(m_x))
        q_sig = float(m_x[0] / n_x[0]) if n_x[0] else 0.5
        q_all = float(m_x.sum() / n_x.sum()) if n_x.sum() else 0.5
        gains = np.divide(self.clicks, self.sent, out=np.zeros(3), where=self.sent > 0)
        return q_sig, q_all, {"gains": [float(g) for g in gains]}

    def bound(self, n_key: int, k_test: int, test_errors: int, leak: float, verification: float,
              e_key: float | None) -> FiniteKeyBound:
        p = self.p
        if not p.decoy:
            return bb84_key_length(n_key=n_key, k_test=k_test, test_errors=test_errors, leak_ec_bits=leak,
                                   eps_sec=p.eps_sec, eps_cor=p.eps_cor, f_ec=p.f_ec, e_key=e_key,
                                   verification_bits=verification, analysis="tomamichel2012-bb84")
        n_z, n_x, m_x = self.counts
        return decoy_bb84_key_length(n_z=n_z, n_x=n_x, m_x=m_x, mus=(p.mu, p.nu, 0.0),
                                     probs=(p.p_signal, p.p_decoy, p.p_vacuum), leak_ec_bits=leak,
                                     eps_sec=p.eps_sec, eps_cor=p.eps_cor, f_ec=p.f_ec, e_z=e_key,
                                     verification_bits=verification)

    def single_photon_yield(self, bound: FiniteKeyBound) -> float | None:
        p = self.p
        if not p.decoy:
            return None
        classes = zip((p.mu, p.nu, 0.0), (p.p_signal, p.p_decoy, p.p_vacuum), strict=True)
        tau1 = sum(math.exp(-k) * k * q for k, q in classes)
        return bound.s1_lower / (p.n_pulses * p.p_z**2 * tau1)

    # Bob
    @staticmethod
    def receive_trains(ctx: NodeContext, hello: Hello, quantum: Channel,
                       readout: float) -> tuple[np.ndarray, np.ndarray, Bb84Sift, np.ndarray]:
        """-> (click slots, Bob's bits, the sift message, Bob's basis per click)."""
        if hello.p_z is None or not 0 < hello.p_z < 1:
            raise ProtocolAborted(f"protocol error: BB84 hello with p_z={hello.p_z!r}")
        p_z = hello.p_z

        def measure(arrived: ArrivedTrain) -> tuple[np.ndarray, Any]:
            my_bases = random_bases(arrived.n_slots, p_z, ctx.rng)
            return my_bases, detect(arrived, my_bases, ctx.rng, readout_error=readout)

        idx, bits, b_bases = _receive_blocks(hello, quantum, "pulse", ArrivedTrain.from_bytes, measure)
        return idx, bits, Bb84Sift(idx=idx.astype(np.uint32), bases=wire.pack_bits(b_bases)), b_bases

    @staticmethod
    def bob_positions(reply: Bb84SiftReply, b_bases: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> (key positions, test positions, extra disclosed positions) among Bob's clicks."""
        match = wire.unpack_bits(reply.match, len(b_bases)).astype(bool)
        if len(reply.cls) != len(b_bases):
            raise ProtocolAborted("protocol error: sift reply does not fit Bob's clicks")
        key = np.flatnonzero(match & (b_bases == Z_BASIS))
        test = np.flatnonzero(match & (b_bases == X_BASIS))
        return key, test, np.empty(0, dtype=np.int64)


class _E91(_Strategy, name="e91", sift=E91Sift, reply=E91SiftReply):
    """E91/BBM92: Alice holds the entangled source and measures her halves; Bob measures his."""

    p: E91Params

    def hello(self) -> Hello:
        p = self.p
        return Hello(protocol="e91", n=p.n_pairs, block=p.block_pairs, rate_hz=p.pair_rate_hz, eps_sec=p.eps_sec,
                     eps_cor=p.eps_cor, reconciliation=p.reconciliation, ldpc_f=p.ldpc_f_target)

    def send_trains(self, quantum: Channel) -> None:
        p, rng, ctx = self.p, self.ctx.rng, self.ctx
        n = p.n_pairs
        v = p.visibility if p.visibility is not None else visibility_from_fidelity(self.link.source_fidelity)
        # SPDC multi-pair emission: accidental coincidences scale the visibility by 1 - lambda/(1 + 2 lambda).
        v *= 1 - accidental_fraction(self.link)
        rho = werner_state(min(max(v, 0.0), 1.0))
        channel = ChannelModel.from_link(self.link)
        me = ctx.topology.node(ctx.name)
        g, r = 2 * float(me.gate_1q_error) / 3, float(me.measure_error)
        alice_flip = g * (1 - r) + r * (1 - g)
        self.settings = np.empty(n, dtype=np.uint8)
        self.outcomes = np.empty(n, dtype=np.uint8)
        for start in range(0, n, p.block_pairs):
            nb = min(p.block_pairs, n - start)
            blk = emit_pairs(nb, rho, channel, p_z=p.p_z, eve_fraction=p.eve_fraction, rng=rng, alice_flip=alice_flip)
            self.settings[start:start + nb] = blk.settings
            self.outcomes[start:start + nb] = blk.outcomes
            ctx.advance_clock(nb / p.pair_rate_hz * 1e9)
            quantum.checkpoint()
            quantum.send_raw(blk.train.to_bytes())

    def sift(self, msg: E91Sift) -> tuple[E91SiftReply, np.ndarray, np.ndarray, np.ndarray]:
        idx = msg.idx.astype(np.int64)
        _check_sift(idx, self.p.n_pairs)
        b_set = msg.settings
        if len(b_set) != len(idx) or (len(b_set) and int(b_set.max()) > 3):
            raise ProtocolAborted("protocol error: malformed settings from Bob")
        a_set = self.settings[idx]
        self.a_set, self.b_set = a_set, b_set
        key = np.flatnonzero((a_set == 0) & (b_set == 0))
        test = np.flatnonzero((a_set == 1) & (b_set == 1))
        self.chsh_pos = np.flatnonzero(b_set >= 2)
        return E91SiftReply(settings=wire.pack_bits(a_set)), self.outcomes[idx], key, test

    def estimate(self, key: np.ndarray, test: np.ndarray, test_err: np.ndarray,
                 chsh_bits: np.ndarray, a_bits: np.ndarray) -> tuple[float, float, dict[str, Any]]:
        q = float(test_err.mean()) if len(test) else 0.5
        s, s_err = chsh_estimate(self.a_set[self.chsh_pos], self.b_set[self.chsh_pos], a_bits[self.chsh_pos], chsh_bits)
        extra: dict[str, Any] = {"chsh": s if math.isfinite(s) else None,
                                 "chsh_stderr": s_err if math.isfinite(s_err) else None}
        if not math.isfinite(s) or s <= self.p.chsh_threshold:
            extra["abort"] = (f"CHSH S = {s:.3f} +- {s_err:.3f} does not exceed {self.p.chsh_threshold}: "
                              "no entanglement certified")
        return q, q, extra

    def bound(self, n_key: int, k_test: int, test_errors: int, leak: float, verification: float,
              e_key: float | None) -> FiniteKeyBound:
        p = self.p
        return bb84_key_length(n_key=n_key, k_test=k_test, test_errors=test_errors, leak_ec_bits=leak,
                               eps_sec=p.eps_sec, eps_cor=p.eps_cor, f_ec=p.f_ec, e_key=e_key,
                               verification_bits=verification, analysis="tomamichel2012-bbm92")

    def single_photon_yield(self, bound: FiniteKeyBound) -> float | None:
        return None

    @staticmethod
    def receive_trains(ctx: NodeContext, hello: Hello, quantum: Channel, readout: float,
                       p_key: float = 0.8) -> tuple[np.ndarray, np.ndarray, E91Sift, np.ndarray]:
        def measure(train: PairTrain) -> tuple[np.ndarray, Any]:
            my_set = choose_bob_settings(train.n_slots, p_key, ctx.rng)
            return my_set, measure_pairs(train, my_set, ctx.rng, readout_error=readout)

        idx, bits, b_set = _receive_blocks(hello, quantum, "pair", PairTrain.from_bytes, measure)
        return idx, bits, E91Sift(idx=idx.astype(np.uint32), settings=b_set), b_set

    @staticmethod
    def bob_positions(reply: E91SiftReply, b_set: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a_set = wire.unpack_bits(reply.settings, len(b_set))
        key = np.flatnonzero((a_set == 0) & (b_set == 0))
        test = np.flatnonzero((a_set == 1) & (b_set == 1))
        return key, test, np.flatnonzero(b_set >= 2)


# ------------------------------------------------------------------------------------ the skeleton
def _alice_session(strategy: Any, ctx: NodeContext, p: Any, quantum: Channel, classical: Channel,
                   st: _Stats) -> None:
    rng = ctx.rng
    hello = strategy.hello()
    n = hello.n
    st.set(n_pulses=n, pulse_rate_hz=hello.rate_hz)
    classical.send(hello)
    strategy.send_trains(quantum)
    reply, a_bits, key, test = strategy.sift(classical.recv(strategy.sift_type))
    st.set(raw_bits=len(a_bits), sifted_bits=len(key) + len(test))
    classical.send(reply)
    extra_pos = getattr(strategy, "chsh_pos", np.empty(0, dtype=np.int64))
    disclosed = wire.unpack_bits(classical.recv(Disclosed).bits, len(test) + len(extra_pos))
    test_err = a_bits[test] != disclosed[: len(test)]
    if isinstance(strategy, _E91):
        qber, q_ec, est = strategy.estimate(key, test, test_err, disclosed[len(test):], a_bits)
    else:
        qber, q_ec, est = strategy.estimate(key, test, test_err)
    n_key, k_test, m_test = len(key), len(test), int(test_err.sum())
    abort = est.pop("abort", None)
    st.set(sample_bits=k_test, reconciled_bits=n_key, qber=qber, **est)
    if abort:
        raise ProtocolAborted(abort)
    if n_key == 0:
        raise ProtocolAborted("no key-basis detections: nothing arrived to make a key from")
    if qber > p.qber_threshold:
        raise ProtocolAborted(
            f"QBER {qber:.4f} on {k_test} test-basis bits exceeds the threshold {p.qber_threshold}: "
            "eavesdropper or faulty link"
        )
    classical.send(Estimate(qber=qber, q_ec=q_ec, n_key=n_key, k_test=k_test, **est))
    # Before spending error correction: is there a key even at the Shannon limit?
    pre = strategy.bound(n_key, k_test, m_test, n_key * float(binary_entropy(q_ec)), 0.0, q_ec)
    st.set(**_bound_fields(pre, n))
    if pre.length == 0:
        raise ProtocolAborted(f"no secret key possible from this block: {pre.reason}")
    key_bits = a_bits[key]
    st.set(reconciliation=p.reconciliation)
    if p.reconciliation == "ldpc":
        from qemu_net.qkd.ldpc_ec import ldpc_answer

        leak, rounds = ldpc_answer(classical, key_bits)
    else:
        leak, rounds = cascade_answer(classical, key_bits)
    st.set(leaked_ec_bits=leak, cascade_rounds=rounds)
    k = verification_hashes(n_key, p.eps_cor)
    seeds = [new_hash_seed(rng) for _ in range(k)]
    classical.send(Verify(seeds=seeds, tags=[polynomial_hash(key_bits, s) for s in seeds]))
    vr = classical.recv(VerifyResult)
    corrected = vr.corrected_errors
    st.set(verification_bits=VERIFICATION_BITS * k, corrected_errors=corrected)
    if vr.frame_error_rate is not None:
        st.set(frame_error_rate=vr.frame_error_rate)
    bound = strategy.bound(n_key, k_test, m_test, float(leak), float(VERIFICATION_BITS * k), corrected / n_key)
    fields_ = _bound_fields(bound, n)
    y1 = strategy.single_photon_yield(bound)
    if y1 is not None:
        fields_["y1_lower"] = y1
    st.set(**fields_)
    if bound.length == 0:
        raise ProtocolAborted(f"no secret key left after error correction (leak {leak} bits): {bound.reason}")
    m = bound.length
    seed_bits = random_bits(n_key + m - 1, rng)
    classical.send(PrivacyAmplification(m=m, seed=wire.pack_bits(seed_bits), **fields_))
    classical.checkpoint()
    st.final = toeplitz_hash(key_bits, seed_bits, m)
    classical.recv(PaDone)


def _bob_session(strategy_cls: Any, ctx: NodeContext, p: Any, quantum: Channel, classical: Channel,
                 st: _Stats, **receive_kw: Any) -> None:
    rng = ctx.rng
    hello = classical.recv(Hello)
    if hello.protocol != strategy_cls.name:
        raise ProtocolAborted(f"protocol mismatch: Alice runs {hello.protocol!r}, Bob runs {strategy_cls.name!r}")
    if not (1 <= hello.n <= _MAX_SLOTS and hello.block >= 1 and hello.rate_hz > 0):
        raise ProtocolAborted("protocol error: impossible block sizes or rate in Alice's hello")
    st.set(n_pulses=hello.n, pulse_rate_hz=hello.rate_hz, eps_sec=hello.eps_sec, eps_cor=hello.eps_cor)
    footprint.admit(f"a {hello.protocol} session of {hello.n} slots",  # refused here if it cannot fit in memory
                    footprint.estimate_bytes("bob", hello.n, hello.block, protocol=hello.protocol))
    readout = float(ctx.topology.node(ctx.name).measure_error)
    idx, b_bits, sift_msg, b_choice = strategy_cls.receive_trains(ctx, hello, quantum, readout, **receive_kw)
    classical.send(sift_msg)
    key, test, extra = strategy_cls.bob_positions(classical.recv(strategy_cls.reply_type), b_choice)
    st.set(raw_bits=len(idx), sifted_bits=len(key) + len(test), sample_bits=len(test))
    classical.send(Disclosed(bits=wire.pack_bits(np.concatenate([b_bits[test], b_bits[extra]]))))
    est = classical.recv(Estimate)
    if len(key) != est.n_key or len(test) != est.k_test:
        raise ProtocolAborted("protocol error: Alice and Bob disagree on the key and test positions")
    st.set(reconciled_bits=len(key), qber=est.qber,
           **{k: getattr(est, k) for k in ("chsh", "chsh_stderr", "gains") if getattr(est, k) is not None})
    q = min(max(est.q_ec, 0.0), 0.5)
    n_t = max(len(test), 1)
    # Size Cascade's blocks for a cautious QBER (about two standard errors above the estimate).
    q_blocks = q + 2.0 * math.sqrt(max(q, 1.0 / n_t) * (1 - q) / n_t)
    method = hello.reconciliation
    fer = None
    if method == "ldpc":
        from qemu_net.qkd.ldpc_ec import default_f_target, ldpc_correct

        q_code = min(q_blocks, 0.45)
        f_target = hello.ldpc_f if hello.ldpc_f is not None else default_f_target(q_code)
        out = ldpc_correct(classical, b_bits[key], q_code, seed=int(rng.integers(0, 2**40)), f_target=f_target)
        corrected, leak, rounds, flipped, fer = out.corrected, out.leaked_bits, out.rounds, out.flipped, \
            out.frame_error_rate
    elif method == "cascade":
        corrected, leak, rounds, flipped = cascade_correct(
            classical, b_bits[key], min(q_blocks, 0.5), passes=p.cascade_passes, seed=int(rng.integers(0, 2**62)))
    else:
        raise ProtocolAborted(f"protocol error: unknown reconciliation {method!r}")
    st.set(leaked_ec_bits=leak, cascade_rounds=rounds, corrected_errors=flipped, reconciliation=method,
           frame_error_rate=fer)
    ver = classical.recv(Verify)
    seeds, tags = ver.seeds, ver.tags
    if len(seeds) != len(tags) or not seeds or any(
            polynomial_hash(corrected, s) != t for s, t in zip(seeds, tags, strict=True)):
        raise ProtocolAborted("verification failed: the keys still differ after error correction")
    classical.send(VerifyResult(ok=True, corrected_errors=flipped, frame_error_rate=fer))
    st.set(verification_bits=VERIFICATION_BITS * len(seeds))
    pa = classical.recv(PrivacyAmplification)
    m = pa.m
    if not 0 < m <= len(corrected):
        raise ProtocolAborted(f"protocol error: privacy amplification to {m} bits")
    st.set(**pa.report())
    classical.checkpoint()
    st.final = toeplitz_hash(corrected, wire.unpack_bits(pa.seed, len(corrected) + m - 1), m)
    classical.send(PaDone())


# ------------------------------------------------------------------------------------------ roles
def bb84_alice(ctx: NodeContext, params: BB84Params) -> QkdResult:
    """Alice's role in (decoy-state) BB84: prepares and sends the pulse trains, leads the estimation."""
    return _run("bb84-decoy" if params.decoy else "bb84", "alice", ctx, params,
                lambda c, p, link, q, cl, st: _alice_session(_Bb84(c, p, link), c, p, q, cl, st))


def bb84_bob(ctx: NodeContext, params: BB84Params) -> QkdResult:
    """Bob's role in (decoy-state) BB84: detects the pulse trains, sifts and corrects with Cascade."""
    return _run("bb84-decoy" if params.decoy else "bb84", "bob", ctx, params,
                lambda c, p, link, q, cl, st: _bob_session(_Bb84, c, p, q, cl, st))


def e91_alice(ctx: NodeContext, params: E91Params) -> QkdResult:
    """Alice's role in E91/BBM92: holds the entangled source, measures her halves, leads estimation."""
    return _run("e91", "alice", ctx, params,
                lambda c, p, link, q, cl, st: _alice_session(_E91(c, p, link), c, p, q, cl, st))


def e91_bob(ctx: NodeContext, params: E91Params) -> QkdResult:
    """Bob's role in E91/BBM92: measures the halves he receives, sifts and corrects with Cascade."""
    return _run("e91", "bob", ctx, params,
                lambda c, p, link, q, cl, st: _bob_session(_E91, c, p, q, cl, st, p_key=p.p_key))


__all__ = ["BB84Params", "E91Params", "QkdResult", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob"]
