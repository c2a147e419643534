"""The vectorised path agrees with the per-qubit Cirq path (detection rate and QBER, 4 standard errors)."""

import math

import numpy as np
import pytest

from qemu_net.network.topology import LinkSpec
from qemu_net.qkd.pulses import SourceSettings, simulate_bb84_counts

reference = pytest.importorskip("qemu_net.qkd.reference")


@pytest.mark.parametrize("eve", [0.0, 0.4])
def test_vectorised_matches_per_qubit_cirq(eve):
    """Same link (eta 0.6, misalignment 3%, dark counts 2%), with and without Eve."""
    eta, ed, pd = 0.6, 0.03, 0.02
    ref = reference.bb84_per_qubit(1500, eta=eta, misalignment_error=ed, dark_count_probability=pd,
                                   eve_fraction=eve, seed=21)
    link = LinkSpec(nodes=("a", "b"), detector_efficiency=eta, misalignment_error=ed, dark_count_probability=pd)
    vec = simulate_bb84_counts(1_000_000, SourceSettings(single_photon=True), link, np.random.default_rng(21),
                               eve_fraction=eve)
    n_v = int(vec.sent.sum())
    rate_v = vec.clicks.sum() / n_v
    q_v = vec.errors.sum() / vec.sifted.sum()
    se_rate = math.sqrt(rate_v * (1 - rate_v) / ref.n + rate_v * (1 - rate_v) / n_v)
    se_q = math.sqrt(q_v * (1 - q_v) / ref.sifted + q_v * (1 - q_v) / vec.sifted.sum())
    assert abs(ref.detection_rate - rate_v) <= 4 * se_rate
    assert abs(ref.qber - q_v) <= 4 * se_q
    # and both agree with the closed form of this single-photon model
    p_click = 1 - (1 - pd) ** 2 * (1 - eta)
    assert abs(rate_v - p_click) <= 4 * math.sqrt(p_click * (1 - p_click) / n_v)
