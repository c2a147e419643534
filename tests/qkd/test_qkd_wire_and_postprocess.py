"""Framing, Toeplitz hashing, polynomial verification hash and Cascade between two threads."""

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.qkd import wire
from qemu_net.qkd.local import LocalContext, LocalHub
from qemu_net.qkd.postprocess import (
    Channel,
    cascade_answer,
    cascade_correct,
    polynomial_hash,
    toeplitz_hash,
)
from qemu_net.qkd.pulses import ArrivedTrain, PulseTrain, SourceSettings, prepare_train

from helpers_qkd import two_nodes


def test_frames_round_trip_and_reject_objects():
    """Arrays keep dtype and shape; object arrays are refused; truncated frames are refused."""
    a = np.arange(10, dtype=np.uint32).reshape(2, 5)
    meta, arr = wire.unpack(wire.pack({"x": 1}, {"a": a, "b": np.ones(3, np.complex128)}))
    assert meta == {"x": 1} and arr["a"].dtype == np.uint32 and (arr["a"] == a).all()
    with pytest.raises(InvalidOperation):
        wire.pack({}, {"o": np.array([object()])})
    with pytest.raises(InvalidOperation):
        wire.unpack(wire.pack({}, {"a": a})[:-1])
    with pytest.raises(InvalidOperation):
        wire.unpack(b"not a frame")


def test_pulse_train_serialises_without_pickle():
    """A pulse train survives to_bytes/from_bytes exactly."""
    train = prepare_train(1001, SourceSettings(), np.random.default_rng(1))
    back = PulseTrain.from_bytes(train.to_bytes())
    assert (back.bits == train.bits).all() and (back.bases == train.bases).all()
    assert (back.intensity == train.intensity).all() and back.source == train.source
    with pytest.raises(InvalidOperation):
        ArrivedTrain.from_bytes(train.to_bytes())


def test_toeplitz_hash_equals_matrix_product():
    """The FFT Toeplitz hash equals the explicit GF(2) matrix-vector product."""
    rng = np.random.default_rng(2)
    n, m = 300, 120
    x = rng.integers(0, 2, n).astype(np.uint8)
    seed = rng.integers(0, 2, n + m - 1).astype(np.uint8)
    t = np.array([[seed[i - j + n - 1] for j in range(n)] for i in range(m)])
    assert (toeplitz_hash(x, seed, m) == (t @ x) % 2).all()


@pytest.mark.parametrize("n,m", [(1, 1), (7, 7), (301, 1), (257, 256), (1000, 999), (1025, 17)])
def test_toeplitz_hash_matches_the_matrix_at_awkward_sizes(n, m):
    """The shortest circular convolution (a 5-smooth length >= n + m - 1) is still exact at every size."""
    rng = np.random.default_rng(n * 1000 + m)
    x = rng.integers(0, 2, n).astype(np.uint8)
    seed = rng.integers(0, 2, n + m - 1).astype(np.uint8)
    t = np.array([[seed[i - j + n - 1] for j in range(n)] for i in range(m)])
    assert (toeplitz_hash(x, seed, m) == (t @ x) % 2).all()


def test_polynomial_hash_separates_keys():
    """Equal keys give equal tags; a single flipped bit changes the tag."""
    rng = np.random.default_rng(3)
    k = rng.integers(0, 2, 10_000).astype(np.uint8)
    k2 = k.copy()
    k2[4321] ^= 1
    assert polynomial_hash(k, 12345) == polynomial_hash(k.copy(), 12345)
    assert polynomial_hash(k, 12345) != polynomial_hash(k2, 12345)


@pytest.mark.parametrize("qber", [0.01, 0.05, 0.1])
def test_cascade_corrects_and_counts_leak(qber):
    """Cascade over real messages makes Bob's key equal Alice's; leak is near n h(Q)."""
    rng = np.random.default_rng(int(qber * 1000))
    n = 50_000
    a = rng.integers(0, 2, n).astype(np.uint8)
    b = a ^ (rng.random(n) < qber).astype(np.uint8)
    errors = int((a != b).sum())
    hub = LocalHub(two_nodes(length_km=1))
    ca, cb = LocalContext(hub, "alice"), LocalContext(hub, "bob")
    out = {}
    import threading

    t = threading.Thread(target=lambda: out.update(alice=cascade_answer(Channel(ca, "bob", "c", 10), a)))
    t.start()
    fixed, leak, rounds, flipped = cascade_correct(Channel(cb, "alice", "c", 10), b, qber, passes=4, seed=9)
    t.join(10)
    assert (fixed == a).all()
    assert flipped == errors
    assert out["alice"][0] == leak
    h = -qber * np.log2(qber) - (1 - qber) * np.log2(1 - qber)
    assert 1.0 < leak / (n * h) < 1.5
