"""Sweeps on live multi-process networks and the data behind each `--plot` figure (not its pixels).

Each measured series is checked against its closed form computed here, independently of the library:
memory decay against e^(-t/T2) and e^(-t/T1) within 4 standard errors, chain fidelity against
1/4 + 3/4 ((4F - 1)/3)^k within 4 standard errors, QKD key rates below the PLOB bound
-log2(1 - 10^(-0.02 L)) and close to (never above) the infinite-decoy GLLP rate. Then the figure:
a PNG is written and every line drawn holds exactly its series' points.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qemu_net.client import LocalNetwork, Network
from qemu_net.client import sweeps as S
from qemu_net.network.generate import generate
from qemu_net.network.topology import FIBER_NS_PER_KM


def _png(path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def _drawn_matches(drawn, sweep, *, log_y=False):
    assert set(drawn) == {s.label for s in sweep.series}
    for s in sweep.series:
        x, y = drawn[s.label]
        want = np.asarray(s.y, float)
        if log_y:
            want = np.where(want > 0, want, np.nan)
        np.testing.assert_allclose(x, s.x)
        np.testing.assert_allclose(y, want, equal_nan=True)


def test_memory_decay_curves_follow_t1_and_t2(tmp_path):
    """<X> of stored |+> falls as e^(-t/T2), P(1) of stored |1> as e^(-t/T1); the plot shows those points."""
    t1, t2 = 1e-3, 4e-4
    with LocalNetwork.start(S.memory_topology(t1, t2)) as local, Network.connect(local.topology) as net:
        sw = S.memory_decay(net, (0, 1, 3, 6), qubits=400)
    x = sw.get("<X> of |+> (measured)")
    p = sw.get("P(1) of |1> (measured)")
    # time passes only by classical round trips over the 10 km link, 2 x its latency each
    round_trip_s = 2 * 10 * FIBER_NS_PER_KM * 1e-9
    assert x.x == pytest.approx([k * round_trip_s for k in (0, 1, 3, 6)], abs=2e-8)  # integer-ns clocks
    for t, v, se in zip(x.x, x.y, x.yerr):
        expected = math.exp(-t / t2)
        assert abs(v - expected) <= 4 * max(se, math.sqrt((1 - expected**2) / 400)) + 1e-9, (t, v, expected)
    for t, v, se in zip(p.x, p.y, p.yerr):
        expected = math.exp(-t / t1)
        sd = math.sqrt(expected * (1 - expected) / 400)
        assert abs(v - expected) <= 4 * sd + 1e-9, (t, v, expected)
    closed = sw.get("exp(-t/T2)")
    np.testing.assert_allclose(closed.y, np.exp(-np.asarray(closed.x) / t2), rtol=1e-12)
    out = tmp_path / "decay.png"
    _drawn_matches(S.plot(sw, str(out)), sw)
    _png(out)


def test_chain_fidelity_vs_length_follows_the_werner_closed_form(tmp_path):
    """Pairs swapped along 1..4 links of Werner fidelity 0.95: F_k = 1/4 + 3/4 ((4F-1)/3)^k."""
    f_link = 0.95
    topo = generate("chain", 5, link={"source_fidelity": f_link})
    with LocalNetwork.start(topo) as local, Network.connect(local.topology) as net:
        sw = S.chain_fidelity(net, shots=200, seed=4)
    m = sw.get("measured")
    expected = [0.25 + 0.75 * ((4 * f_link - 1) / 3) ** k for k in (1, 2, 3, 4)]
    np.testing.assert_allclose(sw.get("closed form (Werner links)").y, expected, atol=1e-4)  # 1 km of fiber
    for k, f, se, e in zip(m.x, m.y, m.yerr, expected):
        assert abs(f - e) <= 4 * se, (k, f, se, e)
    out = tmp_path / "chain.png"
    _drawn_matches(S.plot(sw, str(out)), sw)
    _png(out)


def test_qkd_key_rate_vs_distance_below_plob_near_gllp(tmp_path):
    """Decoy BB84 between node processes at 0..40 km: the measured (asymptotic, on the session's counts) rate
    has 0 < rate < PLOB, rate <= GLLP and falls with length; a finite-key rate, where the block certifies
    one, is below it."""
    d = [0.0, 20.0, 40.0]
    with LocalNetwork.start(S.qkd_topology(d)) as local, Network.connect(local.topology, timeout_s=120) as net:
        sw = S.qkd_distance(net, d, pulses=1_000_000)
    rate = np.asarray(sw.get("measured").y)
    fin = sw.get("measured, finite-key (eps_sec 1e-10)")
    for x, y in zip(fin.x, fin.y):
        assert 0 < y <= rate[d.index(x)]
    assert all(a == "" or "no secret key" in a for a in sw.extra["aborted"]), sw.extra["aborted"]
    with np.errstate(divide="ignore"):
        plob = -np.log2(1 - 10 ** (-0.2 * np.asarray(d) / 10))  # +inf at 0 km
    g = sw.get("GLLP, infinite decoys")
    gllp = np.interp(d, g.x, g.y)
    assert np.all(rate > 0) and np.all(rate < plob)
    assert np.all(np.diff(rate) < 0)
    assert np.all(rate <= 1.02 * gllp) and np.all(rate >= 0.3 * gllp), (rate, gllp)
    b = sw.get("PLOB bound")
    fiber = 10 ** (-0.2 * np.asarray(b.x[1:]) / 10)
    np.testing.assert_allclose(b.y[1:], -np.log2(1 - fiber), rtol=1e-12)
    out = tmp_path / "qkd.png"
    _drawn_matches(S.plot(sw, str(out)), sw, log_y=True)
    _png(out)


def test_cli_sweep_plot_and_json(tmp_path):
    """`qnet sweep chain --plot F --json` writes the PNG and prints the same series it drew."""
    out = tmp_path / "c.png"
    r = subprocess.run([sys.executable, "-m", "qemu_net.cli.main", "sweep", "chain", "--length", "2", "--shots", "60",
                        "--plot", str(out), "--json"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["sweep"] == "chain_fidelity" and [s["label"] for s in d["series"]] == \
        ["measured", "closed form (Werner links)"]
    assert d["series"][0]["x"] == [1.0, 2.0]
    assert "starting network 'chain-sweep': 3 node processes" in r.stderr
    _png(out)
