"""Classical post-processing: the message channel, Cascade, universal-hash verification, Toeplitz
privacy amplification.

Everything that crosses between Alice and Bob goes through a `Channel` (framed bytes over
`NodeContext.send`/`recv`); the two sides of Cascade are separate functions that share nothing but
those messages. Only parities, hash tags, seeds and positions are ever sent; key bits never are.

Cascade (Brassard & Salvail 1993, with the batched binary search of later implementations): pass 1
uses blocks of ``k1 = ceil(0.73 / Q)`` bits in the original order, every later pass doubles the block
size and applies a public random permutation (derived from a seed Bob sends). Bob (the corrector)
asks for Alice's parities of all blocks in a pass, then binary-searches every block whose parity
differs, all of them at once, one message round per halving. Each error he fixes flips the parity of
the blocks containing it in the earlier passes, which are searched again (the cascade), always
batching the odd blocks of the lowest such pass (distinct blocks of one pass hold distinct errors).
Every parity Alice reveals counts as one leaked bit.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from qemu_net.errors import InvalidOperation, NotConnected, ProtocolAborted, QnetError
from qemu_net.qkd import wire
from qemu_net.qkd.messages import (
    Abort,
    CascadeBlocks,
    CascadeDone,
    CascadeParities,
    CascadeQuery,
    CascadeStart,
    Message,
    decode,
)

if TYPE_CHECKING:
    from qemu_net.protocols.context import NodeContext

_P61 = (1 << 61) - 1
#: Bits disclosed by verification: the 61-bit tag, counted as 64.
VERIFICATION_BITS = 64
_REMOTE_ERRORS: dict[str, type[QnetError]] = {
    "ProtocolAborted": ProtocolAborted,
    "InvalidOperation": InvalidOperation,
    "NotConnected": NotConnected,
}


class RemoteAbort(ProtocolAborted):
    """Raised on one side when the peer aborted the session and told us why (``fields['kind']``)."""


class Channel:
    """Framed, typed messages to one peer on one classical channel name, every wait bounded."""

    def __init__(self, ctx: NodeContext, peer: str, channel: str, timeout_s: float) -> None:
        self.ctx = ctx
        self.peer = peer
        self.channel = channel
        self.timeout_s = timeout_s
        self.messages_sent = 0
        self.bytes_sent = 0

    def send(self, msg: Message) -> None:
        self.send_raw(msg.encode())

    def send_raw(self, payload: bytes) -> None:
        self.ctx.send(self.peer, self.channel, payload)
        self.messages_sent += 1
        self.bytes_sent += len(payload)

    def recv_raw(self) -> bytes:
        return self.ctx.recv(self.peer, self.channel, timeout_s=self.timeout_s)

    def checkpoint(self) -> None:
        """Stop (ProtocolTimeout) once the role's deadline passed or its caller went away: long computations
        call this between steps. A context without deadlines (`check_deadline`) makes it a no-op."""
        check = getattr(self.ctx, "check_deadline", None)
        if check is not None:
            check()

    def recv(self, *types: type[Message]) -> Any:
        """The next message, which must be one of `types` (an `Abort` raises the peer's error)."""
        try:
            msg = decode(self.recv_raw())
        except InvalidOperation as exc:
            raise ProtocolAborted(f"protocol error on {self.channel!r} from {self.peer}: {exc.message}") from None
        if isinstance(msg, Abort):
            if msg.kind == "ProtocolAborted":
                raise RemoteAbort(msg.reason, kind=msg.kind, peer=self.peer)
            raise _REMOTE_ERRORS.get(msg.kind, ProtocolAborted)(f"{self.peer}: {msg.reason}", kind=msg.kind,
                                                                 peer=self.peer)
        if types and not isinstance(msg, types):
            raise ProtocolAborted(
                f"protocol error on {self.channel!r}: expected {'/'.join(t.TAG for t in types)} from {self.peer}, "
                f"got {msg.TAG!r}"
            )
        return msg

    def abort(self, exc: QnetError) -> None:
        """Tell the peer why we stop (best effort); the caller then raises `exc`."""
        with contextlib.suppress(QnetError):
            self.send(Abort(kind=type(exc).__name__, reason=exc.message))


# ------------------------------------------------------------------------------------------ Cascade
def cascade_block_sizes(n: int, qber: float, passes: int) -> list[int]:
    """k1 = ceil(0.73/Q) (Q floored at 0.1%), doubling each pass, each at most n."""
    k1 = max(4, math.ceil(0.73 / max(qber, 1e-3)))
    return [max(1, min(n, k1 * 2**i)) for i in range(passes)]


def _permutation(n: int, seed: int, i: int) -> np.ndarray | None:
    if i == 0:
        return None
    return np.random.default_rng([seed, i]).permutation(n)


def _ordered(x: np.ndarray, perm: np.ndarray | None) -> np.ndarray:
    return x if perm is None else x[perm]


def _block_parities(x: np.ndarray, k: int) -> np.ndarray:
    n = len(x)
    nb = -(-n // k)
    pad = nb * k - n
    if pad:
        x = np.concatenate([x, np.zeros(pad, dtype=x.dtype)])
    parities: np.ndarray = np.bitwise_xor.reduce(x.reshape(nb, k), axis=1)
    return parities


def _prefix(x: np.ndarray) -> np.ndarray:
    out = np.zeros(len(x) + 1, dtype=np.uint8)
    np.bitwise_xor.accumulate(x, out=out[1:])
    return out


def cascade_answer(ch: Channel, key: np.ndarray) -> tuple[int, int]:
    """Alice's side of Cascade: answer Bob's parity questions about `key` until he is done.

    Returns (leaked bits, rounds)."""
    start = ch.recv(CascadeStart)
    n = start.n
    if n != len(key):
        raise ProtocolAborted(f"Cascade: Bob's key has {n} bits, Alice's {len(key)}")
    seed = start.seed
    sizes = start.sizes
    if any(k < 1 for k in sizes):
        raise ProtocolAborted("Cascade: block sizes must be positive")
    prefixes: dict[int, np.ndarray] = {}
    leak = 0
    rounds = 0

    def prefix(i: int) -> np.ndarray:
        if i not in prefixes:
            prefixes[i] = _prefix(_ordered(key, _permutation(n, seed, i)))
        return prefixes[i]

    while True:
        msg = ch.recv(CascadeBlocks, CascadeQuery, CascadeDone)
        if isinstance(msg, CascadeDone):
            return leak, rounds
        i = msg.pass_index
        if not 0 <= i < len(sizes):
            raise ProtocolAborted(f"Cascade: pass {i} out of range")
        rounds += 1
        if isinstance(msg, CascadeBlocks):
            p = prefix(i)
            k = sizes[i]
            ends = np.minimum(np.arange(k, n + k, k), n)
            starts = np.arange(0, n, k)
            par = p[ends] ^ p[starts]
        else:
            lo = msg.lo.astype(np.int64)
            hi = msg.hi.astype(np.int64)
            if len(lo) != len(hi) or (len(lo) and (lo.min() < 0 or hi.max() > n or np.any(hi <= lo))):
                raise ProtocolAborted("Cascade: malformed parity query")
            p = prefix(i)
            par = p[hi] ^ p[lo]
        leak += len(par)
        ch.send(CascadeParities(count=len(par), p=wire.pack_bits(par)))


def cascade_correct(
    ch: Channel, key: np.ndarray, qber: float, *, passes: int, seed: int
) -> tuple[np.ndarray, int, int, int]:
    """Bob's side of Cascade: correct `key` towards Alice's.

    Returns (corrected key, leaked bits, rounds, bits flipped)."""
    b = np.array(key, dtype=np.uint8, copy=True)
    n = len(b)
    sizes = cascade_block_sizes(n, qber, passes)
    ch.send(CascadeStart(n=n, seed=int(seed), sizes=[int(k) for k in sizes]))
    perms = [_permutation(n, seed, i) for i in range(passes)]
    known: list[np.ndarray] = []
    leak = 0
    rounds = 0
    flipped = 0

    def ask(msg: Message, count: int) -> np.ndarray:
        nonlocal leak, rounds
        ch.send(msg)
        reply = ch.recv(CascadeParities)
        if reply.count != count:
            raise ProtocolAborted(f"Cascade: {reply.count} parities for {count} questions")
        leak += count
        rounds += 1
        return wire.unpack_bits(reply.p, count)

    for i in range(passes):
        k = sizes[i]
        nb = -(-n // k)
        known.append(ask(CascadeBlocks(pass_index=i), nb))
        while True:
            ch.checkpoint()
            j = -1
            odd = np.empty(0, dtype=np.int64)
            for jj in range(i + 1):
                odd = np.flatnonzero(_block_parities(_ordered(b, perms[jj]), sizes[jj]) != known[jj])
                if odd.size:
                    j = jj
                    break
            if j < 0:
                break
            kj = sizes[j]
            lo = odd * kj
            hi = np.minimum(lo + kj, n)
            mine = _prefix(_ordered(b, perms[j]))
            while True:
                act = np.flatnonzero(hi - lo > 1)
                if not act.size:
                    break
                mid = (lo[act] + hi[act]) // 2
                theirs = ask(CascadeQuery(pass_index=j, lo=lo[act].astype(np.uint32), hi=mid.astype(np.uint32)),
                             len(act))
                differ = theirs != (mine[mid] ^ mine[lo[act]])
                hi[act[differ]] = mid[differ]
                lo[act[~differ]] = mid[~differ]
            perm = perms[j]
            pos = np.unique(lo if perm is None else perm[lo])
            b[pos] ^= 1
            flipped += len(pos)
    ch.send(CascadeDone())
    return b, leak, rounds, flipped


# ------------------------------------------------------------------------------------- verification
def polynomial_hash(bits: np.ndarray, seed: int) -> int:
    """Universal hash: the key as 32-bit words w_1..w_L and its length evaluated as a polynomial at
    ``seed`` modulo the prime 2^61 - 1. Two different keys collide with probability <= (L+1)/2^61."""
    r = int(seed) % _P61
    if r == 0:
        raise InvalidOperation("verification seed must be non-zero modulo 2^61-1")
    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
    pad = (-len(packed)) % 4
    if pad:
        packed = np.concatenate([packed, np.zeros(pad, dtype=np.uint8)])
    h = 0
    for w in packed.view(">u4").tolist():
        h = (h * r + w) % _P61
    return (h * r + len(bits)) % _P61


def new_hash_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(1, _P61, dtype=np.int64))


def polynomial_collision_bound(n_bits: int) -> float:
    """Probability that two different keys of ``n_bits`` share one `polynomial_hash` tag: (L + 1)/(2^61 - 1)
    with L the number of 32-bit words."""
    return (-(-n_bits // 32) + 1) / _P61


def verification_hashes(n_bits: int, eps_cor: float) -> int:
    """How many independent polynomial hashes make a collision of two different keys at most eps_cor."""
    if not 0 < eps_cor < 1:
        raise InvalidOperation(f"eps_cor={eps_cor!r} must be in (0, 1)")
    p = polynomial_collision_bound(n_bits)
    return max(1, math.ceil(math.log(eps_cor) / math.log(p)))


# ------------------------------------------------------------------------------ privacy amplification
def _fast_fft_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (sizes the FFT handles fastest)."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            v = p35
            while v < n:
                v *= 2
            best = min(best, v)
            p35 *= 3
        p5 *= 5
    return best


def toeplitz_hash(bits: np.ndarray, seed_bits: np.ndarray, m: int) -> np.ndarray:
    """Multiply the n-bit key by the m x n binary Toeplitz matrix T[i, j] = seed[i - j + n - 1] over GF(2).

    Computed as one FFT convolution (exact: the integer sums are below 2^53 and rounded), so n of a
    few million bits takes well under a second. `seed_bits` has n + m - 1 bits."""
    x = np.asarray(bits, dtype=np.uint8)
    n = len(x)
    if m < 0 or m > n:
        raise InvalidOperation(f"privacy amplification to {m} bits from {n} is impossible")
    if len(seed_bits) != n + m - 1 and m > 0:
        raise InvalidOperation(f"Toeplitz seed needs {n + m - 1} bits, got {len(seed_bits)}")
    if m == 0:
        return np.zeros(0, dtype=np.uint8)
    # A circular convolution of length >= n + m - 1 is enough: wrap-around only lands below index n - 1.
    size = _fast_fft_len(n + m - 1)
    conv = np.fft.irfft(np.fft.rfft(np.asarray(seed_bits, dtype=np.float64), size)
                        * np.fft.rfft(x.astype(np.float64), size), size)[n - 1 : n - 1 + m]
    return (np.rint(conv).astype(np.int64) & 1).astype(np.uint8)


def security_margin_bits(eps_pa: float) -> int:
    """Bits removed for the leftover-hash lemma at failure probability eps_pa: ceil(2 log2(1/eps))."""
    return math.ceil(2 * math.log2(1 / eps_pa))


__all__ = [
    "VERIFICATION_BITS",
    "Channel",
    "RemoteAbort",
    "cascade_answer",
    "cascade_block_sizes",
    "cascade_correct",
    "new_hash_seed",
    "polynomial_collision_bound",
    "polynomial_hash",
    "security_margin_bits",
    "toeplitz_hash",
    "verification_hashes",
]
