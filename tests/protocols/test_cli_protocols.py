"""`qnet run` for the protocol suite (starts its own local network from the embedded topology)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

QNET = [sys.executable, "-m", "qemu_net.cli.main"]


@pytest.mark.slow
def test_qnet_run_swap_json_reports_fidelity_and_path():
    # The embedded network has realistic hardware; the closed form here (F = 1) is that of ideal hardware.
    out = subprocess.run([*QNET, "run", "swap", "--json", "--shots", "60", "--preset", "ideal"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["protocol"] == "swap" and r["extra"]["path"] == ["alice", "repeater", "bob"]
    assert r["fidelity"] == pytest.approx(1.0) and r["extra"]["swaps"] == 60


def test_qnet_run_unknown_protocol_is_refused():
    out = subprocess.run([*QNET, "run", "warp-drive"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_qnet_run_epr_on_the_default_network_shows_its_realistic_hardware():
    """The embedded network (siv-harvard-2024 preset): matched-basis agreement of create-and-measure pairs
    over alice -- repeater (10 km) against the closed form of that hardware, computed here:
    Werner source F = 0.9, false heralds q = (1 - eta) d / p, the X correlation dephased by both
    memories (T2 = 0.2 s) for the round trip 2 L n_g/c (source half) and L n_g/c (far half), readout
    flips e = 0.03 at each end."""
    out = subprocess.run([*QNET, "run", "epr", "--json", "--shots", "40000"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ns_per_km = 1.468e9 / 299_792.458
    eta = 10 ** (-0.35 * 10 / 10) * 0.1
    d = 1e-6
    q = (1 - eta) * d / (eta + (1 - eta) * d)
    v = (4 * 0.9 - 1) / 3 * (1 - q)
    c = math.exp(-2 * 10 * ns_per_km * 1e-9 / 0.2) * math.exp(-10 * ns_per_km * 1e-9 / 0.2)
    e = 0.03
    def with_readout(agree: float) -> float:
        return agree * ((1 - e) ** 2 + e**2) + (1 - agree) * 2 * e * (1 - e)
    expected = (with_readout((1 + v) / 2) + with_readout((1 + v * c) / 2)) / 2  # Z/Z and X/X equally often
    n_matched = 40000 / 2
    assert abs(r["agreement"] - expected) <= 4 * math.sqrt(expected * (1 - expected) / n_matched)
    assert r["agreement"] < 0.95


def test_qnet_run_sensing_and_plan_print_their_tables(tmp_path):
    """`qnet run sensing` (noiseless, 3 sensors): 1/k and 1/sqrt(k) exactly, and a PNG; `qnet plan` on the
    embedded network prints one row per pair with its path."""
    png = tmp_path / "s.png"
    out = subprocess.run([*QNET, "run", "sensing", "--sensors", "3", "--shots", "32", "--json", "--plot", str(png)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    for p in r["points"]:
        assert abs(p["entangled"]["uncertainty"] - 1 / p["k"]) < 1e-12
        assert abs(p["unentangled"]["uncertainty"] - 1 / math.sqrt(p["k"])) < 1e-12
    assert png.read_bytes()[:4] == b"\x89PNG"
    out = subprocess.run([*QNET, "plan"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "alice-repeater-bob" in out.stdout and len(out.stdout.strip().splitlines()) == 2 + 3
