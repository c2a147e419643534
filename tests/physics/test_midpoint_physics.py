"""Midpoint heralding, SPDC sources and detector dead time across real node processes: the pair each node
holds (Inspect) and the herald timing, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from physics_harness import bell_fidelity, running

from qemu_net.network.topology import parse_topology

NS_PER_KM = 1.468e9 / 299_792.458
ALPHA = 0.1
L_KM = 20.0
T2 = {"s": 2e-3, "m": 1e-3}
DEAD_NS = 350_000.0

TOPOLOGY = parse_topology({
    "name": "midpoint",
    "seed": 21,
    "nodes": [{"name": "s", "t2_s": T2["s"]}, {"name": "m", "t2_s": T2["m"]}, "d1", "d2", "x1", "x2", "c"],
    "links": [
        {"nodes": ["s", "m"], "length_km": L_KM, "heralding": "single-click", "bright_state_alpha": ALPHA,
         "detector_efficiency": 0.5},
        {"nodes": ["d1", "d2"], "length_km": 5.0, "heralding": "double-click", "detector_efficiency": 0.9,
         "source_fidelity": 0.97, "detector_dead_time_ns": DEAD_NS},
        {"nodes": ["x1", "x2"], "length_km": 1.0, "spdc_mean_pair_number": 0.1},
        # Zero-length ideal fibers to a perfect memory c, where both halves are inspected together.
        *({"nodes": [n, "c"], "preset": "ideal"} for n in ("s", "m", "d1", "d2", "x1", "x2")),
    ],
})


@pytest.fixture(scope="module")
def net():
    with running(TOPOLOGY) as n:
        yield n


def _collect(net, pair, a: str, b: str) -> tuple[np.ndarray, int, int]:
    """Send both halves (unchanged) to c; return their state and the two send times."""
    a_sent = net[a].now()
    assert not net[a].send_qubit(pair.local_qubit, "c").lost
    b_sent = net[b].now()
    assert not net[b].send_qubit(pair.remote_qubit, "c").lost
    rho = net["c"].inspect([pair.local_qubit, pair.remote_qubit])
    net["c"].free([pair.local_qubit, pair.remote_qubit])
    return rho, a_sent, b_sent


def test_single_click_pair_at_the_nodes_has_fidelity_one_minus_alpha_after_both_halves_wait(net):
    """The pair held at s and m: (1 - alpha)|Phi+> + alpha |10>, each half dephased for the trip to the
    station and back, (L n_g/c + latency)/2, then until it is sent to c: F = (1 - alpha)(1 + c_s c_m)/2
    with c = e^(-t/T2)."""
    wait_ns = L_KM * NS_PER_KM * 2 / 2
    for _ in range(3):
        (pair,) = net["s"].epr("m")
        rho, s_sent, m_sent = _collect(net, pair, "s", "m")
        c = math.exp(-(wait_ns + s_sent - pair.ready_ns) * 1e-9 / T2["s"]) * \
            math.exp(-(wait_ns + m_sent - pair.ready_ns) * 1e-9 / T2["m"])
        assert bell_fidelity(rho) == pytest.approx((1 - ALPHA) * (1 + c) / 2, abs=1e-6)
        assert np.real(rho[2, 2]) == pytest.approx(ALPHA, abs=1e-6)


def test_double_click_pairs_keep_the_source_fidelity_and_pay_the_dead_time(net):
    """Barrett-Kok: F = F_source; each pair after the previous one costs (attempts + ceil(tau/period))
    periods, period = max(1 us, 5 km n_g/c) (half of fiber out + herald back)."""
    period = max(1_000.0, 5.0 * NS_PER_KM)
    dead = math.ceil(DEAD_NS / period)
    start = net["d1"].now()
    pairs = net["d1"].epr("d2", 200)
    ready = np.array([start] + [p.ready_ns for p in pairs], dtype=np.int64)
    attempts = np.array([p.attempts for p in pairs])
    np.testing.assert_allclose(np.diff(ready), (attempts + dead) * period, atol=1)
    eta_h = 10 ** (-0.2 * 5.0 / 20) * 0.9
    p = eta_h**2 / 2
    se = math.sqrt((1 - p) / p**2 / len(pairs))
    assert abs(attempts.mean() - 1 / p) <= 4 * se
    rho, _, _ = _collect(net, pairs[0], "d1", "d2")
    assert bell_fidelity(rho) == pytest.approx(0.97, abs=1e-6)
    net["d1"].free([x.local_qubit for x in pairs[1:]])
    net["d2"].free([x.remote_qubit for x in pairs[1:]])


def test_spdc_source_pair_carries_accidental_coincidences(net):
    """lambda = 0.1: a = lambda/(1 + 2 lambda) of the pair is I/4: F = 1 - 3a/4."""
    a = 0.1 / 1.2
    (pair,) = net["x1"].epr("x2")
    rho, _, _ = _collect(net, pair, "x1", "x2")
    assert bell_fidelity(rho) == pytest.approx(1 - 3 * a / 4, abs=1e-6)
