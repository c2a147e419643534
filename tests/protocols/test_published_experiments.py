"""`qnet experiment`: the published Delft and decoy-BB84 results reproduced on real node processes.

The teleportation between non-neighbours lands inside Hermans et al.'s stated uncertainty; the
three-node GHZ state with the representative nv-delft-2021 values lies below Pompili et al.'s figure
(the note names the physics the model lacks), and on ideal hardware the same machinery gives exactly 1;
the decoy-BB84 sessions follow the vacuum + weak decoy closed form and sit on the Ma et al. curve."""

from __future__ import annotations

import json
import math

import pytest

from qemu_net.cli.common import network
from qemu_net.client import published as pb
from qemu_net.network.topology import with_overrides


def _factory(topo):
    return network(topo, use_running=False)


@pytest.mark.slow
def test_teleportation_between_non_neighbours_matches_hermans_2022_within_its_uncertainty():
    c = pb.teleport_delft_2022(_factory, shots=300, seed=0)
    assert c.published == 0.702 and c.published_stderr == 0.011
    assert c.within_published_uncertainty, c.to_dict()
    assert 0.5 < c.measured < 0.9


@pytest.mark.slow
def test_ghz_on_delft_hardware_is_compared_and_the_gap_is_explained(monkeypatch):
    """Preset hardware: within 3 combined standard deviations of 0.538 (the model lacks attempt-driven
    memory dephasing and the experiment's cut-off; the note says so). Ideal hardware: F = 1 exactly
    (every stabilizer parity is deterministic), which checks the estimator and the protocol."""
    c = pb.ghz_delft_2021(_factory, shots=500, seed=0)
    assert abs(c.measured - c.published) <= 3 * math.hypot(c.measured_stderr, c.published_stderr), c.to_dict()
    assert "cut-off" in c.note and "Not modelled" in c.note
    # The emulator reproduces the closed form of the physics it models (so the gap is physics not modelled).
    assert abs(c.measured - c.extra["model_expected"]) <= 4 * c.measured_stderr, c.to_dict()
    assert c.extra["readout_corrected_fidelity"] > c.measured
    orig = pb.delft_topology
    monkeypatch.setattr(pb, "delft_topology", lambda seed=0, overrides=None: with_overrides(
        orig(seed=seed), nodes={"preset": "ideal", "t1_s": None, "t2_s": None, "gate_1q_error": 0, "gate_2q_error": 0,
                                "measure_error": 0}, links={"preset": "ideal", "heralding": "source",
                                                           "source_fidelity": 1.0, "attenuation_db_per_km": 0,
                                                           "detector_efficiency": 1.0, "dark_count_probability": 0}))
    ideal = pb.ghz_delft_2021(_factory, shots=50, seed=1)
    assert ideal.measured == pytest.approx(1.0, abs=1e-12)
    assert ideal.extra["model_expected"] == pytest.approx(1.0, abs=1e-9)


def test_ghz_model_budget_against_a_hand_closed_form():
    """The budget's stages on hardware with only Werner links (F), no memory noise, no gate error: two Werner
    pairs fused give F_GHZ = (1 + 3 z + 4 x) / 8 with the exact correlators of the fused state: ZZ terms
    w, w, w^2 and the four X-type terms w^2 (w = (4F - 1)/3); readout error e scales them by (1-2e)^weight."""
    from qemu_net.network.topology import with_overrides

    f, e = 0.9, 0.02
    topo = with_overrides(pb.delft_topology(), nodes={"preset": "ideal", "t1_s": None, "t2_s": None,
                                                      "gate_1q_error": 0, "gate_2q_error": 0, "measure_error": e},
                          links={"preset": "ideal", "heralding": "source", "source_fidelity": f,
                                 "source_model": "werner", "attenuation_db_per_km": 0, "detector_efficiency": 1.0,
                                 "dark_count_probability": 0})
    w = (4 * f - 1) / 3
    k = 1 - 2 * e
    stages = [fid for _, fid in pb.ghz_model_budget(topo)]
    assert stages[0] == pytest.approx((1 + 2 * w + w**2 + 4 * w**2) / 8, abs=1e-9)
    assert stages[1] == pytest.approx(stages[0], abs=1e-12)  # no memory noise
    # A wrong fusion correction (probability e) is an X on Charlie: it flips the sign of the correlators
    # with Z or Y at Charlie (IZZ, ZIZ, XYY, YXY), so they are scaled by 1 - 2e; ZZI, XXX and YYX are not.
    k1 = 1 - 2 * e
    zz = w + k1 * (w + w**2)
    xs = 2 * w**2 + 2 * k1 * w**2
    assert stages[2] == pytest.approx((1 + zz + xs) / 8, abs=1e-9)
    assert stages[3] == pytest.approx((1 + k**2 * zz + k**3 * xs) / 8, abs=1e-9)


def test_readout_corrected_estimator_undoes_symmetric_flips():
    """Perfect GHZ statistics with each bit flipped with probability e: the corrected estimate is 1 within
    4 SE while the raw one is (1 + 3(1-2e)^2 + 4(1-2e)^3)/8."""
    import numpy as np

    rng = np.random.default_rng(3)
    e, n = 0.05, 20_000
    z = np.repeat(rng.integers(0, 2, (n, 1)), 3, axis=1)

    def parity_outcomes(sign):
        a = rng.integers(0, 2, (n, 3))
        a[:, 2] ^= (a.sum(axis=1) % 2) ^ (0 if sign > 0 else 1)
        return a
    data = {"ZZZ": z, "XXX": parity_outcomes(1), "XYY": parity_outcomes(-1), "YXY": parity_outcomes(-1),
            "YYX": parity_outcomes(-1)}
    flipped = {k: v ^ (rng.random(v.shape) < e) for k, v in data.items()}
    raw, se_raw = pb.ghz_stabilizer_fidelity(flipped)
    k = 1 - 2 * e
    assert abs(raw - (1 + 3 * k**2 + 4 * k**3) / 8) <= 4 * se_raw
    fixed, se = pb.ghz_stabilizer_fidelity(flipped, readout_error=e)
    assert abs(fixed - 1) <= 4 * se


def test_ghz_stabilizer_estimator_on_known_outcomes():
    """F = (1 + 3 <ZZ> + <XXX> - <XYY> - <YXY> - <YYX>)/8: perfect GHZ statistics give 1, a fully
    dephased GHZ (Z correlations only) gives 1/2."""
    import numpy as np

    rng = np.random.default_rng(0)
    z = np.repeat(rng.integers(0, 2, (400, 1)), 3, axis=1)
    def parity_outcomes(sign, n=400):
        a = rng.integers(0, 2, (n, 3))
        want = 0 if sign > 0 else 1
        a[:, 2] ^= (a.sum(axis=1) % 2) ^ want
        return a
    perfect = {"ZZZ": z, "XXX": parity_outcomes(1), "XYY": parity_outcomes(-1), "YXY": parity_outcomes(-1),
               "YYX": parity_outcomes(-1)}
    assert pb.ghz_stabilizer_fidelity(perfect)[0] == pytest.approx(1.0)
    random = {k: rng.integers(0, 2, (4000, 3)) for k in ("XXX", "XYY", "YXY", "YYX")}
    f, se = pb.ghz_stabilizer_fidelity({"ZZZ": z, **random})
    assert abs(f - 0.5) <= 4 * se


@pytest.mark.slow
def test_decoy_bb84_sessions_follow_the_closed_form_and_the_published_curve(tmp_path, capsys):
    """Each session's rate within 4 bootstrap SE of the vacuum + weak decoy closed form; the fitted multiple
    of the Ma et al. curve within 4 SE of [0.8, 1] (v + w decoys reach 80-100% of infinite decoys); the
    curve's reach with the GYS parameters is ~142 km; `qnet experiment` prints it and writes the PNG."""
    from qemu_net.cli.main import main

    png = tmp_path / "gys.png"
    assert main(["experiment", "decoy-bb84-gys", "--shots", "2000000", "--json", "--plot", str(png)]) == 0
    d = json.loads(capsys.readouterr().out)
    for p in d["points"]:
        assert abs(p["measured"] - p["model_expected"]) <= 4 * p["measured_stderr"], p
        assert p["model_expected"] <= p["published"]
    r, se = d["measured"], d["measured_stderr"]
    assert 0.8 - 4 * se <= r <= 1.0 + 4 * se
    assert "reach 142" in d["note"] or "reach 141" in d["note"]
    assert png.stat().st_size > 5_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
