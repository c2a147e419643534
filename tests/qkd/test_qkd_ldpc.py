"""LDPC reconciliation: the codes, one-way syndrome correction over real messages, and LDPC sessions."""

import math
import threading

import numpy as np
import pytest

from qemu_net.errors import InvalidOperation
from qemu_net.qkd import BB84Params, bb84_alice, bb84_bob
from qemu_net.qkd.ldpc_ec import FRAME_BITS, ldpc_answer, ldpc_correct, parity_check_matrix, rows_for
from qemu_net.qkd.local import LocalContext, LocalHub
from qemu_net.qkd.postprocess import Channel

from helpers_qkd import run_pair, two_nodes


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def test_parity_check_matrix_shape_weights_and_seed():
    """Column weight exactly 3 with distinct rows, row weights near 3n/m, reproducible from the seed."""
    hm = parity_check_matrix(4096, 1000, seed=5)
    assert hm.shape == (1000, 4096)
    dense = hm.toarray()
    assert set(np.unique(dense)) <= {0, 1}
    assert (dense.sum(axis=0) == 3).all()
    rw = dense.sum(axis=1)
    assert abs(rw.mean() - 3 * 4096 / 1000) < 1e-9 and rw.max() - rw.min() <= 6
    assert (parity_check_matrix(4096, 1000, seed=5) != hm).nnz == 0
    assert (parity_check_matrix(4096, 1000, seed=6) != hm).nnz > 0
    assert rows_for(4096, 0.03, 1.5) == math.ceil(1.5 * 4096 * h(0.03))
    with pytest.raises(InvalidOperation):
        parity_check_matrix(100, 100, seed=1)


def _reconcile(a, b, q, f):
    hub = LocalHub(two_nodes(length_km=1))
    ca, cb = LocalContext(hub, "alice"), LocalContext(hub, "bob")
    out = {}
    t = threading.Thread(target=lambda: out.update(alice=ldpc_answer(Channel(ca, "bob", "c", 30), a)))
    t.start()
    res = ldpc_correct(Channel(cb, "alice", "c", 30), b, q, seed=11, f_target=f)
    t.join(30)
    return res, out["alice"]


@pytest.mark.parametrize("qber", [0.02, 0.05])
def test_ldpc_corrects_and_counts_leak(qber):
    """Syndromes over real messages make Bob's key Alice's; every syndrome bit is counted; f = leak /
    (n h(Q)) lies between 1 and the first-round target times (1 + the share of frames retried)."""
    rng = np.random.default_rng(int(qber * 1000))
    n = 5 * FRAME_BITS + 1000
    a = rng.integers(0, 2, n).astype(np.uint8)
    b = a ^ (rng.random(n) < qber).astype(np.uint8)
    res, (leak_a, rounds_a) = _reconcile(a, b, qber, 1.5)
    assert (res.corrected == a).all() and res.frames_failed == 0
    assert res.flipped == int((a != b).sum())
    assert leak_a == res.leaked_bits and rounds_a == res.rounds
    first = sum(rows_for(m, qber, 1.5) for m in [FRAME_BITS] * 5 + [1000])
    retried = round(res.frame_error_rate * res.frames)
    assert first <= res.leaked_bits <= first + retried * rows_for(FRAME_BITS, qber, 1.5) * (res.rounds - 1)
    f = res.leaked_bits / (n * h(qber))
    assert 1.0 < f < 1.5 * (1 + 2 * res.frame_error_rate) + 0.05


def test_ldpc_failure_is_reported_and_verification_catches_it():
    """A QBER far above the code's design (20% errors for a 2% code) leaves frames failing after the
    last round; the keys differ, which the session's verification hash turns into an abort."""
    rng = np.random.default_rng(3)
    n = 2 * FRAME_BITS
    a = rng.integers(0, 2, n).astype(np.uint8)
    b = a ^ (rng.random(n) < 0.2).astype(np.uint8)
    res, _ = _reconcile(a, b, 0.02, 1.2)
    assert res.frames_failed > 0 and res.frame_error_rate == 1.0 and res.rounds == 3
    assert not (res.corrected == a).all()


def test_ldpc_session_keys_equal_and_length_is_the_bound():
    """A single-photon BB84 session with LDPC at QBER 3%: equal keys, the LDPC leak in the
    Tomamichel bound written out, reconciliation and frame error rate reported at both ends."""
    q = 0.03
    topo = two_nodes(length_km=0, detector_efficiency=0.6, misalignment_error=q)
    a, b = run_pair(topo, bb84_alice, bb84_bob,
                    BB84Params(peer="bob", decoy=False, n_pulses=300_000, p_z=0.7, reconciliation="ldpc"),
                    BB84Params(peer="alice"), seed=4)
    assert a.key == b.key and a.final_bits > 0
    assert a.reconciliation == b.reconciliation == "ldpc"
    assert a.frame_error_rate == b.frame_error_rate and 0 <= a.frame_error_rate <= 1
    n, k = a.reconciled_bits, a.sample_bits
    mu = math.sqrt((n + k) / (n * k) * (k + 1) / k * math.log(2 / 1e-10))
    expected = math.floor(n * (1 - h(a.qber + mu)) - a.leaked_ec_bits - 2 * math.log2(1e10)
                          - max(a.verification_bits, math.log2(2e15)))
    assert a.final_bits == expected
    q_true = a.corrected_errors / n
    assert a.ec_efficiency == pytest.approx(a.leaked_ec_bits / (n * h(q_true)))


def test_unknown_reconciliation_is_refused():
    with pytest.raises(InvalidOperation, match="reconciliation"):
        BB84Params(peer="bob", reconciliation="turbo")
