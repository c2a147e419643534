"""LDPC error correction (one-way, syndrome based) with the `ldpc` package's belief-propagation decoder.

The key is cut into frames of `FRAME_BITS` bits (the last frame shorter). For a QBER estimate ``q``
and a target efficiency ``f`` each frame of ``n`` bits gets a parity-check matrix of
``m = ceil(f n h(q))`` rows: a random code with column weight 3 and rows as even as possible, built
from a public seed, so both ends construct the same matrix and nothing but the seed and sizes is
sent. This is a family of codes per QBER (the rate ``1 - m/n`` follows the estimate).

Protocol (Bob corrects, Alice answers, like Cascade): Bob sends ``ldpc_start`` (seed, sizes, q);
Alice sends the syndromes ``H x_A`` of all frames at once; Bob decodes ``e`` with ``H e = H x_A + H x_B``
(syndrome BP, product-sum) and flips his bits. Frames whose decoding does not reproduce the syndrome
get a second round: Bob names them and a fresh seed, Alice sends the syndromes of an independent code
of the same size, and Bob decodes against the two codes stacked (incremental redundancy, twice the
leak for those frames). Up to `MAX_ROUNDS` rounds; a frame still failing is reported, and the
session's verification hash then aborts it. Every syndrome bit Alice sends counts as leaked.

Reported: the leak, the frame error rate of the first round (``frame_error_rate``), the frames still
failing, the rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from ldpc.bp_decoder import BpDecoder
from numpy.typing import NDArray

from qemu_net.errors import InvalidOperation, ProtocolAborted
from qemu_net.qkd import wire
from qemu_net.qkd.messages import LdpcDone, LdpcMore, LdpcStart, LdpcSyndromes

if TYPE_CHECKING:
    from qemu_net.qkd.postprocess import Channel

FRAME_BITS = 4096
COLUMN_WEIGHT = 3
MAX_ROUNDS = 3
#: Default target efficiency of the first round (the decoder then fails on a few percent of frames).
DEFAULT_F_TARGET = 1.5


def default_f_target(qber: float) -> float:
    """First-round efficiency at which these codes (column weight 3, 4096-bit frames) decode most
    frames, measured with bench/bench_qkd_reconciliation.py: high-rate codes need more margin."""
    if qber < 0.02:
        return 2.0
    if qber < 0.04:
        return 1.6
    return 1.5
_BP_ITERATIONS = 60


def _h(q: float) -> float:
    return 0.0 if q <= 0 or q >= 1 else -q * math.log2(q) - (1 - q) * math.log2(1 - q)


def rows_for(n: int, qber: float, f_target: float) -> int:
    """Syndrome bits of one frame: ceil(f n h(q)), at least 8 and below n."""
    q = min(max(qber, 1e-4), 0.5)
    return int(min(max(math.ceil(f_target * n * _h(q)), 8), n - 1))


def parity_check_matrix(n: int, m: int, seed: int, column_weight: int = COLUMN_WEIGHT) -> sp.csr_matrix:
    """An m x n binary parity-check matrix, column weight `column_weight` (distinct rows per column),
    row weights as even as possible, drawn from ``numpy.random.default_rng(seed)``."""
    if not (0 < m < n) or column_weight < 1 or column_weight > m:
        raise InvalidOperation(f"no LDPC code with n={n}, m={m}, column weight {column_weight}")
    rng = np.random.default_rng(seed)
    e = n * column_weight
    sockets = np.tile(np.arange(m), -(-e // m))[:e]
    rng.shuffle(sockets)
    rows = sockets.reshape(n, column_weight)
    rows.sort(axis=1)
    dup = np.flatnonzero((np.diff(rows, axis=1) == 0).any(axis=1))
    for j in dup:  # a few columns drew the same row twice: redraw them without repeats
        rows[j] = np.sort(rng.choice(m, column_weight, replace=False))
    cols = np.repeat(np.arange(n), column_weight)
    return sp.csr_matrix((np.ones(e, dtype=np.uint8), (rows.ravel(), cols)), shape=(m, n))


def _syndrome(h: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    syndrome: NDArray[np.uint8] = (h @ x.astype(np.int64) % 2).astype(np.uint8)
    return syndrome


def _frames(n: int) -> list[tuple[int, int]]:
    return [(s, min(s + FRAME_BITS, n)) for s in range(0, n, FRAME_BITS)]


class _Codes:
    """The matrices and decoders of one reconciliation, keyed by (round seed, frame length)."""

    def __init__(self, qber: float, f_target: float) -> None:
        self.qber = qber
        self.f_target = f_target
        self._h: dict[tuple[int, int], sp.csr_matrix] = {}
        #: (BpDecoder from `ldpc`, which ships no types; its stacked parity-check matrix)
        self._dec: dict[tuple[int, ...], tuple[Any, sp.csr_matrix]] = {}

    def matrix(self, seed: int, n: int) -> sp.csr_matrix:
        key = (seed, n)
        if key not in self._h:
            self._h[key] = parity_check_matrix(n, rows_for(n, self.qber, self.f_target), seed + n)
        return self._h[key]

    def decoder(self, seeds: tuple[int, ...], n: int) -> tuple[Any, sp.csr_matrix]:
        key = (*seeds, n)
        if key not in self._dec:
            stacked = sp.vstack([self.matrix(s, n) for s in seeds]).tocsr()
            q = min(max(self.qber, 1e-4), 0.45)
            self._dec[key] = (BpDecoder(stacked, error_rate=q, max_iter=_BP_ITERATIONS, bp_method="product_sum",
                                        schedule="parallel"), stacked)
        return self._dec[key]


@dataclass(frozen=True)
class LdpcOutcome:
    """Bob's result of an LDPC reconciliation."""

    corrected: np.ndarray
    leaked_bits: int
    rounds: int
    frames: int
    #: Frames whose first-round decoding failed, over all frames.
    frame_error_rate: float
    #: Frames still failing after the last round (the verification hash then catches them).
    frames_failed: int
    flipped: int


def ldpc_answer(ch: Channel, key: np.ndarray) -> tuple[int, int]:
    """Alice's side: send the syndromes Bob asks for until he is done. Returns (leaked bits, rounds)."""
    start = ch.recv(LdpcStart)
    n = start.n
    if n != len(key):
        raise ProtocolAborted(f"LDPC: Bob's key has {n} bits, Alice's {len(key)}")
    if not (0 < start.q < 0.5 and 1.0 < start.f <= 4.0):
        raise ProtocolAborted(f"LDPC: QBER {start.q} or efficiency {start.f} out of range")
    codes = _Codes(start.q, start.f)
    frames = _frames(n)
    leak = 0
    rounds = 0
    seed = start.seed
    ask = list(range(len(frames)))
    while True:
        rounds += 1
        syn = [_syndrome(codes.matrix(seed, frames[i][1] - frames[i][0]), key[frames[i][0]:frames[i][1]]) for i in ask]
        bits = np.concatenate(syn) if syn else np.zeros(0, dtype=np.uint8)
        leak += len(bits)
        ch.send(LdpcSyndromes(count=len(bits), s=wire.pack_bits(bits)))
        msg = ch.recv(LdpcMore, LdpcDone)
        if isinstance(msg, LdpcDone):
            return leak, rounds
        if rounds >= MAX_ROUNDS:
            raise ProtocolAborted("LDPC: more rounds asked for than allowed")
        seed = msg.seed
        ask = [int(i) for i in msg.frames]
        if any(not 0 <= i < len(frames) for i in ask):
            raise ProtocolAborted("LDPC: frame index out of range")


def ldpc_correct(ch: Channel, key: np.ndarray, qber: float, *, seed: int,
                 f_target: float = DEFAULT_F_TARGET) -> LdpcOutcome:
    """Bob's side: correct `key` towards Alice's from her syndromes."""
    b = np.array(key, dtype=np.uint8, copy=True)
    n = len(b)
    codes = _Codes(qber, f_target)
    frames = _frames(n)
    ch.send(LdpcStart(n=n, seed=int(seed), q=float(qber), f=float(f_target)))
    seeds_of = {i: [seed] for i in range(len(frames))}
    alice_syn: dict[int, list[np.ndarray]] = {i: [] for i in range(len(frames))}
    pending = list(range(len(frames)))
    leak = 0
    rounds = 0
    first_failed = 0
    flipped = 0
    round_seed = seed
    while True:
        rounds += 1
        sizes = [codes.matrix(round_seed, frames[i][1] - frames[i][0]).shape[0] for i in pending]
        reply = ch.recv(LdpcSyndromes)
        if reply.count != sum(sizes):
            raise ProtocolAborted(f"LDPC: {reply.count} syndrome bits, expected {sum(sizes)}")
        bits = wire.unpack_bits(reply.s, sum(sizes))
        leak += len(bits)
        off = 0
        failed = []
        for i, m in zip(pending, sizes, strict=True):
            ch.checkpoint()
            alice_syn[i].append(bits[off:off + m])
            off += m
            lo, hi = frames[i]
            dec, stacked = codes.decoder(tuple(seeds_of[i]), hi - lo)
            target = np.concatenate(alice_syn[i]) ^ _syndrome(stacked, b[lo:hi])
            e = np.asarray(dec.decode(target), dtype=np.uint8)
            if np.array_equal(_syndrome(stacked, e), target):
                b[lo:hi] ^= e
                flipped += int(e.sum())
            else:
                failed.append(i)
        if rounds == 1:
            first_failed = len(failed)
        if not failed or rounds >= MAX_ROUNDS:
            ch.send(LdpcDone())
            return LdpcOutcome(b, leak, rounds, len(frames), first_failed / len(frames) if frames else 0.0,
                               len(failed), flipped)
        round_seed = seed + 7919 * rounds
        for i in failed:
            seeds_of[i].append(round_seed)
        pending = failed
        ch.send(LdpcMore(seed=round_seed, frames=np.array(failed, dtype=np.uint32)))


__all__ = [
    "DEFAULT_F_TARGET",
    "FRAME_BITS",
    "LdpcOutcome",
    "default_f_target",
    "ldpc_answer",
    "ldpc_correct",
    "parity_check_matrix",
    "rows_for",
]
