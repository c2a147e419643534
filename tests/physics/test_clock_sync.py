"""Entangled clock comparison (`qnet run clock-sync`) on real node processes: under a common-mode phase that
changes every shot, a link pair's parity keeps the fringe w cos(Delta) while two unentangled probes keep
only cos(Delta) / 2; the offset estimated from the pair is the true one (within 4 SE)."""

from __future__ import annotations

import math

import pytest

from qemu_net.client.protocol_experiments import clock_sync_experiment
from qemu_net.network.topology import parse_topology

F = 0.9


@pytest.mark.parametrize("offset", [0.6, 2.0])
def test_clock_offset_from_a_pair_beats_unentangled_probes(start_network, offset):
    _, client = start_network(parse_topology({
        "name": "clocks", "preset": "ideal", "nodes": ["a", "b"],
        "links": [{"nodes": ["a", "b"], "source_fidelity": F, "source_model": "werner"}]}))
    r = clock_sync_experiment(client, "a", "b", shots=200, seed=5, offset_rad=offset)
    x = r.extra
    w = (4 * F - 1) / 3
    assert x["link_fidelity"] == pytest.approx(F, abs=1e-9)
    assert x["entangled_parity_expected"] == pytest.approx(w * math.cos(offset), abs=1e-12)
    assert x["unentangled_parity_expected"] == pytest.approx(math.cos(offset) / 2, abs=1e-12)
    assert abs(x["entangled_parity"] - w * math.cos(offset)) < 4 * x["entangled_parity_stderr"]
    assert abs(x["unentangled_parity"] - math.cos(offset) / 2) < 4 * x["unentangled_parity_stderr"]
    assert abs(r.value - offset) < 4 * r.stderr
    # The pair's fringe is the larger one: its offset estimate is the sharper one.
    assert r.stderr < x["unentangled_offset_stderr"]


def test_offset_estimator_closed_form():
    """arccos(P / V) and its standard error sqrt(1 - P^2) / (V sqrt(1 - (P/V)^2) sqrt(n))."""
    import numpy as np

    from qemu_net.quantum.sensing import clock_offset_estimate

    par = np.array([1.0] * 70 + [-1.0] * 30)
    est, se = clock_offset_estimate(par, 0.8)
    assert est == pytest.approx(math.acos(0.4 / 0.8))
    assert se == pytest.approx(math.sqrt((1 - 0.16) / 100) / (0.8 * math.sqrt(1 - 0.25)))
    with pytest.raises(ValueError):
        clock_offset_estimate(par[:1], 0.8)
