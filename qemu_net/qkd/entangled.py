"""Vectorised E91 / BBM92 from an entangled source: Werner pairs measured in the X-Z plane.

The source sits at Alice. For a block of N pairs in the two-qubit state ``rho`` (a Werner state
``v |Phi+><Phi+| + (1 - v) I/4`` by default), Alice measures her half at once in a setting chosen at
random, which leaves Bob's half in one of a few conditional states ``rho_B|a,x`` (computed exactly
from ``rho`` by a partial trace). The pair train sent to Bob is that small table of 2x2 density
matrices plus, per arrived slot, an index into the table: it is the exact description of the qubits
Bob receives, and Bob's role only passes it to `measure_pairs`.

Measurement settings are angles in the X-Z plane of the Bloch sphere: the observable at angle ``a``
is ``cos(a) Z + sin(a) X`` (outcome 0 for eigenvalue +1). For ``|Phi+>`` the correlation is
``E(a, b) = cos(a - b)``, for a Werner pair ``v cos(a - b)``.

- Alice's settings: 0 -> angle 0 (Z), 1 -> angle pi/2 (X).
- Bob's settings: 0 -> 0 (Z), 1 -> pi/2 (X), 2 -> pi/4, 3 -> -pi/4.

Matching settings (0,0) and (1,1) give key bits; Alice's {0, 1} with Bob's {2, 3} give the CHSH
value ``S = E(0,2) + E(0,3) + E(1,2) - E(1,3)``, which is ``2 sqrt(2) v`` for Werner pairs.

Loss and detectors as in `qemu_net.qkd.pulses`: Bob's half arrives with probability
``link.transmissivity``; a photon lands on the wrong detector with ``misalignment_error``; each
detector has ``dark_count_probability`` per slot; double clicks give a random bit. Eve (intercept-
resend on a fraction of Bob's halves) measures in Z or X at random and re-prepares her outcome.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.qkd import wire
from qemu_net.qkd.pulses import Detection, random_bits, record_clicks
from qemu_net.quantum.paulis import I, X, Z

if TYPE_CHECKING:
    from qemu_net.network.topology import LinkSpec
    from qemu_net.qkd.pulses import ChannelModel

ALICE_ANGLES = (0.0, math.pi / 2)
BOB_ANGLES = (0.0, math.pi / 2, math.pi / 4, -math.pi / 4)
_EVE_ANGLES = (0.0, math.pi / 2)

_I2, _X, _Z = I, X, Z


def werner_state(visibility: float) -> np.ndarray:
    """v |Phi+><Phi+| + (1 - v) I/4 as a 4x4 density matrix (qubit order: Alice, Bob)."""
    if not (0.0 <= visibility <= 1.0):
        raise InvalidOperation(f"visibility={visibility} must be in [0, 1]")
    phi = np.array([1, 0, 0, 1], dtype=complex) / math.sqrt(2)
    return visibility * np.outer(phi, phi.conj()) + (1 - visibility) * np.eye(4) / 4


def visibility_from_fidelity(fidelity: float) -> float:
    """Werner visibility of a pair with fidelity F to |Phi+>: v = (4F - 1)/3."""
    return (4 * fidelity - 1) / 3


def projectors(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Projectors onto outcomes 0 (+1) and 1 (-1) of cos(angle) Z + sin(angle) X."""
    obs = math.cos(angle) * _Z + math.sin(angle) * _X
    return (_I2 + obs) / 2, (_I2 - obs) / 2


def joint_probabilities(
    rho: np.ndarray, a_angles: Sequence[float] = ALICE_ANGLES, b_angles: Sequence[float] = BOB_ANGLES,
) -> np.ndarray:
    """P[a, b, x, y] = Tr[rho (Pi_a^x (x) Pi_b^y)] for every pair of settings, exactly."""
    out = np.zeros((len(a_angles), len(b_angles), 2, 2))
    for i, a in enumerate(a_angles):
        pa = projectors(a)
        for j, b in enumerate(b_angles):
            pb = projectors(b)
            for x in range(2):
                for y in range(2):
                    out[i, j, x, y] = float(np.real(np.trace(rho @ np.kron(pa[x], pb[y]))))
    return out


def chsh_from_probabilities(p: np.ndarray) -> float:
    """S from P[a, b, x, y] with Alice settings 0/1 and Bob settings 2/3."""
    e = p[:, :, 0, 0] + p[:, :, 1, 1] - p[:, :, 0, 1] - p[:, :, 1, 0]
    return float(e[0, 2] + e[0, 3] + e[1, 2] - e[1, 3])


def _conditional_states(rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alice's marginals P[a, x] and Bob's conditional states T[a*2 + x] (2x2)."""
    r = rho.reshape(2, 2, 2, 2)  # [a_row, b_row, a_col, b_col]
    marg = np.zeros((len(ALICE_ANGLES), 2))
    table = np.zeros((2 * len(ALICE_ANGLES), 2, 2), dtype=complex)
    for i, a in enumerate(ALICE_ANGLES):
        for x, proj in enumerate(projectors(a)):
            # Tr_A[(P (x) I) rho] = sum_{a,a'} P[a', a] rho[a, b, a', b']
            rb = np.einsum("ca,abcd->bd", proj, r)
            p = float(np.real(np.trace(rb)))
            marg[i, x] = p
            table[2 * i + x] = rb / p if p > 0 else np.eye(2) / 2
    return marg, table


@dataclass(frozen=True, eq=False)
class PairTrain:
    """Bob's halves as they arrive: a table of conditional 2x2 states and, per arrived slot, its index."""

    n_slots: int
    states: np.ndarray  # (k, 2, 2) complex128
    indices: np.ndarray  # uint32 arrived slots
    state_index: np.ndarray  # uint8
    dark_count_probability: float = 0.0
    misalignment_error: float = 0.0

    def to_bytes(self) -> bytes:
        meta = {"kind": "pair_train", "n_slots": self.n_slots,
                "dark_count_probability": self.dark_count_probability,
                "misalignment_error": self.misalignment_error}
        return wire.pack(meta, {"states": self.states.astype(np.complex128),
                                "indices": self.indices.astype(np.uint32, copy=False),
                                "state_index": self.state_index.astype(np.uint8, copy=False)})

    @classmethod
    def from_bytes(cls, payload: bytes) -> PairTrain:
        meta, arr = wire.unpack(payload)
        if meta.get("kind") != "pair_train":
            raise InvalidOperation("payload is not a pair train")
        if arr["states"].ndim != 3 or arr["states"].shape[1:] != (2, 2):
            raise InvalidOperation("pair train state table must have shape (k, 2, 2)")
        if len(arr["state_index"]) and int(arr["state_index"].max()) >= len(arr["states"]):
            raise InvalidOperation("pair train refers to a state outside its table")
        return cls(int(meta["n_slots"]), arr["states"], arr["indices"], arr["state_index"],
                   float(meta["dark_count_probability"]), float(meta["misalignment_error"]))


@dataclass(frozen=True, eq=False)
class SourceBlock:
    """Alice's side of a block: her settings and outcomes for every slot, and the train for Bob."""

    settings: np.ndarray  # uint8 0/1 (Z/X)
    outcomes: np.ndarray  # uint8
    train: PairTrain


def depolarize_qubit(rho: np.ndarray, p: float) -> np.ndarray:
    """Cirq's depolarising channel on one qubit: (1 - 4p/3) rho + (4p/3) I/2 (same as
    (1 - p) rho + p/3 (X rho X + Y rho Y + Z rho Z))."""
    depolarized: np.ndarray = (1 - 4 * p / 3) * rho + (4 * p / 3) * np.trace(rho) * _I2 / 2
    return depolarized


def emit_pairs(
    n: int, rho: np.ndarray, link: LinkSpec | ChannelModel, *, p_z: float = 0.5, eve_fraction: float = 0.0,
    rng: np.random.Generator, alice_flip: float = 0.0,
) -> SourceBlock:
    """Alice's source emits n pairs, measures her halves, and sends Bob's through `link` (a `LinkSpec`
    or a `ChannelModel`: loss, the fiber's depolarisation of Bob's half, misalignment, dark counts).

    ``alice_flip`` flips Alice's recorded outcomes (her gate error before measuring, 2p/3, and her
    readout error, combined); Bob's readout error is applied by `measure_pairs`."""
    from qemu_net.qkd.pulses import _as_channel

    ch = _as_channel(link)
    if n < 1:
        raise InvalidOperation(f"a pair train needs at least one pair, got n={n}")
    if not 0.0 <= eve_fraction <= 1.0:
        raise InvalidOperation(f"eve_fraction={eve_fraction} is not a probability in [0, 1]")
    marg, table = _conditional_states(rho)
    if ch.transit_flip > 0:
        p_dep = 1.5 * ch.transit_flip  # the ChannelModel stores 2p/3
        table = np.array([depolarize_qubit(t, p_dep) for t in table])
    settings = (rng.random(n, dtype=np.float32) >= np.float32(p_z)).astype(np.uint8)
    u = rng.random(n)
    outcomes = (u >= marg[settings, 0]).astype(np.uint8)
    state_idx = (2 * settings + outcomes).astype(np.uint8)
    if alice_flip > 0:
        # recorded after the state Bob gets is fixed: a flip of Alice's record only
        outcomes ^= (rng.random(n) < alice_flip).view(np.uint8)
    eta = float(ch.transmissivity)
    arrived = np.flatnonzero(rng.random(n) < eta)
    sidx = state_idx[arrived]
    if eve_fraction > 0 and len(arrived):
        eve_states: list[np.ndarray] = []
        for a in _EVE_ANGLES:
            eve_states.extend(projectors(a))
        base = len(table)
        table = np.concatenate([table, np.array(eve_states)])
        hit = np.flatnonzero(rng.random(len(arrived)) < eve_fraction)
        e_basis = random_bits(len(hit), rng)
        p0 = np.array([[float(np.real(np.trace(t @ projectors(a)[0]))) for a in _EVE_ANGLES] for t in table])
        e_out = (rng.random(len(hit)) >= p0[sidx[hit], e_basis]).astype(np.uint8)
        sidx[hit] = base + 2 * e_basis + e_out
    train = PairTrain(n, table, arrived.astype(np.uint32), sidx.astype(np.uint8),
                      float(ch.dark_count_probability), float(ch.misalignment_error))
    return SourceBlock(settings, outcomes, train)


def choose_bob_settings(n: int, p_key: float, rng: np.random.Generator) -> np.ndarray:
    """Bob's settings: Z or X with probability p_key/2 each, pi/4 or -pi/4 with (1 - p_key)/2 each."""
    u = rng.random(n, dtype=np.float32)
    edges = np.array([p_key / 2, p_key, p_key + (1 - p_key) / 2], dtype=np.float32)
    return np.searchsorted(edges, u, side="right").astype(np.uint8)


def measure_pairs(train: PairTrain, bob_settings: np.ndarray, rng: np.random.Generator, *,
                  readout_error: float = 0.0) -> Detection:
    """Bob measures every slot with his settings (indices into `BOB_ANGLES`); each recorded bit is
    flipped with ``readout_error``."""
    n = train.n_slots
    if len(bob_settings) != n:
        raise InvalidOperation(f"Bob chose {len(bob_settings)} settings for a block of {n} slots")
    p0 = np.array([[float(np.real(np.trace(t @ projectors(b)[0]))) for b in BOB_ANGLES] for t in train.states])
    idx = train.indices.astype(np.int64)
    m = len(idx)
    y = (rng.random(m) >= p0[train.state_index, bob_settings[idx]]).astype(np.uint8)
    flip = rng.random(m) < train.misalignment_error
    y ^= flip.astype(np.uint8)
    c0 = np.zeros(n, dtype=bool)
    c1 = np.zeros(n, dtype=bool)
    c1[idx[y == 1]] = True
    c0[idx[y == 0]] = True
    return record_clicks(c0, c1, rng, dark_count_probability=train.dark_count_probability,
                         readout_error=readout_error)


def chsh_estimate(a_set: np.ndarray, b_set: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """CHSH S and its standard error from coincidences with Alice settings 0/1 and Bob settings 2/3."""
    s = 0.0
    var = 0.0
    for a, b, sign in ((0, 2, 1), (0, 3, 1), (1, 2, 1), (1, 3, -1)):
        sel = (a_set == a) & (b_set == b)
        k = int(sel.sum())
        if k == 0:
            return float("nan"), float("inf")
        e = float(np.mean(1.0 - 2.0 * (x[sel] ^ y[sel])))
        s += sign * e
        var += max(1 - e * e, 1.0 / k) / k
    return s, math.sqrt(var)


__all__ = [
    "ALICE_ANGLES",
    "BOB_ANGLES",
    "PairTrain",
    "SourceBlock",
    "choose_bob_settings",
    "chsh_estimate",
    "chsh_from_probabilities",
    "depolarize_qubit",
    "emit_pairs",
    "joint_probabilities",
    "measure_pairs",
    "projectors",
    "visibility_from_fidelity",
    "werner_state",
]
