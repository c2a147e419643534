"""What the interface can now ask: nonlocal CNOT process/average gate fidelity, purification method and
rounds, the GHZ noise knob, every QKD source and post-processing parameter, hardware presets from the CLI."""

from __future__ import annotations

import json
import math

import pytest

from qemu_net.network.topology import parse_topology

F_LINK = 0.85

TOPOLOGY = parse_topology({
    "name": "iface",
    "seed": 4,
    "nodes": ["a", "b", "c"],
    "links": [{"nodes": ["a", "b"], "source_fidelity": F_LINK}, {"nodes": ["b", "c"], "source_fidelity": 0.9}],
})


@pytest.fixture(scope="module")
def net():
    from qemu_net.client import Network
    from qemu_net.node.launcher import LocalNetwork

    local = LocalNetwork.start(TOPOLOGY)
    try:
        with Network.connect(local.topology, timeout_s=30) as n:
            yield n
    finally:
        local.stop()


def test_nonlocal_cnot_reports_process_and_average_gate_fidelity(net):
    """One Werner pair of fidelity F (ideal nodes): F_pro = F, F_avg = (4F + 1)/5, truth table (1 + 2F)/3.
    Tolerance: 4 x the largest standard error the estimator can have, sqrt(60 / n) / 64."""
    from qemu_net.client.protocol_experiments import nonlocal_cnot_experiment

    r = nonlocal_cnot_experiment(net, "a", "b", shots=60 * 12, seed=1)
    n = r.extra["shots_per_setting"]
    assert n == 12 and r.figure == "process_fidelity"
    se_max = math.sqrt(60 / n) / 64
    assert abs(r.value - F_LINK) <= 4 * se_max, (r.value, se_max)
    assert r.extra["average_gate_fidelity"] == pytest.approx((4 * r.value + 1) / 5, abs=1e-6)
    assert abs(r.extra["average_gate_fidelity"] - (4 * F_LINK + 1) / 5) <= 4 * 4 * se_max / 5
    # The computational-basis settings: 3 Paulis (ZI, IZ, ZZ) x 4 inputs x n shots.
    truth_n = 12 * n
    truth_se = math.sqrt((1 + 2 * F_LINK) / 3 * (1 - (1 + 2 * F_LINK) / 3) / truth_n)
    assert abs(r.extra["truth_table_fidelity"] - (1 + 2 * F_LINK) / 3) <= 4 * truth_se + 1e-9


def test_ghz_noise_knob_lowers_the_mermin_value_to_its_closed_form(net):
    """depolarize(p) per qubit on 3 nodes: Mermin 4 (1 - 4p/3)^3 times the links' contribution; here
    the links are noisy too, so compare against the same run with p = 0 scaled by (1 - 4p/3)^3."""
    from qemu_net.client.protocol_experiments import ghz_experiment

    p = 0.1
    clean = ghz_experiment(net, "b", shots=1600)
    noisy = ghz_experiment(net, "b", shots=1600, depolarize=p)
    assert noisy.extra["depolarize"] == p and noisy.extra["ideal"] == pytest.approx(4 * (1 - 4 * p / 3) ** 3)
    expected = clean.value * (1 - 4 * p / 3) ** 3
    assert abs(noisy.value - expected) <= 4 * math.hypot(noisy.stderr, clean.stderr * (1 - 4 * p / 3) ** 3)
    assert noisy.value < clean.value


@pytest.mark.parametrize("method,rounds", [("bbpssw", 1), ("dejmps", 2)])
def test_purify_method_and_rounds_reach_their_recurrence_fidelity(net, method, rounds):
    from qemu_net.client.protocol_experiments import purify_experiment
    from qemu_net.protocols.purify import Method, nested

    r = purify_experiment(net, "a", "b", shots=300, method=method, rounds=rounds)
    assert r.extra["method"] == method.upper() and r.extra["rounds"] == rounds
    w = (F_LINK, (1 - F_LINK) / 3, (1 - F_LINK) / 3, (1 - F_LINK) / 3)
    p_ok, f = nested(Method[method.upper()], w, rounds)
    # The kept pairs' fidelity within 4 x the largest standard error of the Bell estimator: each of its
    # three correlations (variance <= 1) is measured on ~kept/3 pairs, so SE <= sqrt(3 * 3 / kept) / 4.
    kept = round(r.extra["success_rate"] * 300)
    assert abs(r.value - f) <= 4 * math.sqrt(9 / kept) / 4
    assert abs(r.extra["success_rate"] - p_ok) <= 4 * math.sqrt(p_ok * (1 - p_ok) / 300)


def test_cli_qkd_takes_source_and_post_processing_parameters(capsys):
    """mu, nu, p_z, f and the link's misalignment reach the session: the QBER follows the misalignment."""
    from qemu_net.cli.main import main

    # 4e6 pulses: enough for the finite-key bound to leave a key at this QBER (4e5 certify none).
    argv = ["run", "qkd", "--json", "--pulses", "4000000", "--preset", "ideal", "--length-km", "5",
            "--misalignment-error", "0.04", "--mu", "0.6", "--nu", "0.15", "--p-z", "0.5", "--f-ec", "1.22"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["parameters"] == {"mu": 0.6, "nu": 0.15, "p_z": 0.5, "f_ec": 1.22}
    sifted = d["sifted_bits"]
    assert abs(d["qber"] - 0.04) <= 4 * math.sqrt(0.04 * 0.96 / (sifted * 0.1)) + 0.002
    assert d["final_bits"] > 0


def test_cli_preset_override_applies_to_every_node_and_link():
    from qemu_net.cli.common import with_preset
    from qemu_net.network.topology import default_topology

    t = with_preset(default_topology(), "ideal")
    assert all(n.noiseless for n in t.nodes) and all(link.transmissivity == 1.0 for link in t.links)
    assert [link.length_km for link in t.links] == [10, 10]
    nv = with_preset(default_topology(), "nv-delft-2021")
    assert all(link.heralding == "single-click" for link in nv.links)


def test_qnet_run_memory_stores_a_pair_while_classical_round_trips_pass(capsys):
    """Storage by classical ping-pong over 10 km (two latencies 2 L n_g / c per round trip), memories T1 = 5 ms,
    T2 = 1 ms: F = (1 + 2 c_a c_b + (1-g_a)(1-g_b) + g_a g_b)/4 with each half's wait (its herald wait plus the
    storage), within 4 SE (SE <= sqrt(9/n)/4 for the Bell estimator)."""
    from qemu_net.cli.main import main

    ns_km = 1.468e9 / 299_792.458
    lat = 10 * ns_km * 1e-9
    assert main(["run", "memory", "--json", "--preset", "ideal", "--length-km", "10", "--t1-s", "5e-3",
                 "--t2-s", "1e-3", "--shots", "150", "--waits-s", "0,4e-4"]) == 0
    d = json.loads(capsys.readouterr().out)
    fids = []
    for p, n_rt in zip(d["points"], (0, math.ceil(4e-4 / (2 * lat)))):
        assert p["round_trips"] == n_rt
        # a's half: herald round trip 2 lat, then n_rt round trips; b's half: lat, then n_rt round trips minus
        # the last message's latency (b's clock is one latency behind a's after the last reply).
        ta = 2 * lat + n_rt * 2 * lat
        tb = lat + max(n_rt * 2 * lat - lat, 0.0)
        g = lambda t: 1 - math.exp(-t / 5e-3)
        c = lambda t: math.exp(-t / 1e-3)
        f = (1 + 2 * c(ta) * c(tb) + (1 - g(ta)) * (1 - g(tb)) + g(ta) * g(tb)) / 4
        assert p["expected"] == pytest.approx(f, abs=2e-3)
        assert abs(p["fidelity"] - f) <= 4 * math.sqrt(9 / p["shots"]) / 4
        fids.append(f)
    assert fids[1] < fids[0] - 0.1
