"""Exact pair statistics: CHSH of Werner pairs from the density matrix, sampled outcomes."""

import math

import numpy as np
import pytest

from qemu_net.network.topology import LinkSpec
from qemu_net.qkd.entangled import (
    PairTrain,
    chsh_estimate,
    chsh_from_probabilities,
    choose_bob_settings,
    emit_pairs,
    joint_probabilities,
    measure_pairs,
    werner_state,
)


@pytest.mark.parametrize("v", [1.0, 0.9, 0.5, 0.0])
def test_exact_chsh_is_2_sqrt2_v(v):
    """From the 4x4 density matrix: S = 2 sqrt(2) v."""
    assert chsh_from_probabilities(joint_probabilities(werner_state(v))) == pytest.approx(2 * math.sqrt(2) * v)


@pytest.mark.parametrize("v", [1.0, 0.75])
def test_sampled_chsh_and_key_correlation(v):
    """200k sampled pairs through a lossy link: S within 4 SE of 2 sqrt(2) v, key QBER (1 - v)/2."""
    rng = np.random.default_rng(int(v * 100))
    link = LinkSpec(nodes=("a", "b"), length_km=10, misalignment_error=0.0)
    blk = emit_pairs(200_000, werner_state(v), link, rng=rng)
    train = PairTrain.from_bytes(blk.train.to_bytes())
    b_set = choose_bob_settings(train.n_slots, 0.5, rng)
    det = measure_pairs(train, b_set, rng)
    assert abs(len(det.indices) / 200_000 - link.transmissivity) < 4 * math.sqrt(0.25 / 200_000)
    a, x = blk.settings[det.indices], blk.outcomes[det.indices]
    b, y = b_set[det.indices], det.bits
    sel = b >= 2
    s, _ = chsh_estimate(a[sel], b[sel], x[sel], y[sel])
    e = v / math.sqrt(2)
    se = math.sqrt(4 * (1 - e * e) / (sel.sum() / 4))
    assert abs(s - 2 * math.sqrt(2) * v) <= 4 * se
    key = a == b
    q = float(np.mean(x[key] != y[key]))
    qe = (1 - v) / 2
    assert abs(q - qe) <= 4 * math.sqrt(max(qe * (1 - qe), 1e-12) / key.sum()) + 1e-12
