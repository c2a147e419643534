"""`qnet plan` on a 6-node mesh: every figure of every pair against the closed form of its path,
computed here from the link parameters."""

from __future__ import annotations

import itertools
import json
import math

import networkx as nx
import pytest

from qemu_net.network.topology import parse_topology
from qemu_net.protocols.planning import plan_network

NS_PER_KM = 1.468e9 / 299_792.458
#: (a, b, length_km, source_fidelity, detector_efficiency)
MESH = [("a", "b", 10, 0.98, 0.5), ("b", "c", 25, 0.97, 0.5), ("c", "d", 15, 0.99, 0.4), ("d", "e", 30, 0.96, 0.6),
        ("e", "f", 5, 0.99, 0.5), ("f", "a", 40, 0.95, 0.5), ("a", "d", 60, 0.97, 0.5), ("b", "e", 20, 0.98, 0.3)]
DARK, MIS, ATT, RATE = 1e-6, 0.01, 0.2, 1e6

TOPOLOGY = parse_topology({
    "name": "mesh", "nodes": list("abcdef"),
    "links": [{"nodes": [a, b], "length_km": L, "source_fidelity": f, "detector_efficiency": e,
               "dark_count_probability": DARK, "misalignment_error": MIS, "attenuation_db_per_km": ATT,
               "attempt_rate_hz": RATE} for a, b, L, f, e in MESH],
})


def h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def eta(L, e):
    return 10 ** (-ATT * L / 10) * e


def key_rate(L, e, mu=0.5, f=1.16):
    """Lo-Ma-Chen infinite-decoy GLLP, written out."""
    et = eta(L, e)
    y0 = 1 - (1 - DARK) ** 2
    q_mu = y0 + 1 - math.exp(-et * mu)
    e_mu = (0.5 * y0 + MIS * (1 - math.exp(-et * mu))) / q_mu
    y1 = y0 + et
    e1 = (0.5 * y0 + MIS * et) / y1
    q1 = y1 * mu * math.exp(-mu)
    return max(0.5 * (-q_mu * f * h(e_mu) + q1 * (1 - h(e1))), 0.0)


def pair_rate(L, e):
    et = eta(L, e)
    p = et + (1 - et) * DARK
    period_ns = max(1e9 / RATE, 2 * L * NS_PER_KM)
    return 1e9 / (period_ns / p)


def link_fidelity(L, f, e):
    et = eta(L, e)
    q = (1 - et) * DARK / (et + (1 - et) * DARK)
    return (1 - q) * f + q / 4


def dejmps(a, b, c, d):
    n = (a + b) ** 2 + (c + d) ** 2
    return n, ((a * a + b * b) / n, 2 * c * d / n, (c * c + d * d) / n, 2 * a * b / n)


def test_every_pair_matches_the_closed_form_of_its_least_loss_path(tmp_path, capsys):
    from qemu_net.cli.main import main

    topo_file = tmp_path / "mesh.yaml"
    topo_file.write_text(TOPOLOGY.to_yaml())
    png = tmp_path / "plan.png"
    assert main(["plan", "-t", str(topo_file), "--json", "--plot", str(png), "--target-fidelity", "0.97"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert png.read_bytes()[:4] == b"\x89PNG"
    by = {(p["a"], p["b"]): p for p in d["pairs"]}
    assert len(by) == 15  # every pair of the 6 connected nodes
    spec = {frozenset((a, b)): (L, f, e) for a, b, L, f, e in MESH}
    g = nx.Graph()
    for a, b, L, f, e in MESH:
        g.add_edge(a, b, w=-10 * math.log10(eta(L, e)))
    for a, b in itertools.combinations("abcdef", 2):
        p = by[(a, b)]
        path = nx.dijkstra_path(g, a, b, weight="w")
        assert p["path"] == path
        hops = [spec[frozenset(x)] for x in zip(path, path[1:])]
        assert p["loss_db"] == pytest.approx(sum(-10 * math.log10(eta(L, e)) for L, _, e in hops))
        direct = spec.get(frozenset((a, b)))
        if direct is None:
            assert p["direct_key_rate_per_pulse"] is None
        else:
            assert p["direct_key_rate_per_pulse"] == pytest.approx(key_rate(direct[0], direct[2]), rel=1e-9)
        relay = min(key_rate(L, e) for L, _, e in hops)
        assert p["relay_key_rate_per_pulse"] == pytest.approx(relay, rel=1e-9)
        assert p["entanglement_rate_hz"] == pytest.approx(min(pair_rate(L, e) for L, _, e in hops), rel=1e-9)
        w = math.prod((4 * link_fidelity(L, f, e) - 1) / 3 for L, f, e in hops)
        f_chain = 0.25 + 0.75 * w
        assert p["entanglement_fidelity"] == pytest.approx(f_chain, abs=1e-9)
        # Purification: the fewest DEJMPS rounds reaching 0.97; nested rounds succeed only if all
        # 2^(R - r - 1) steps of every round r succeed: prod_r p_r^(2^(R - r - 1)).
        coeffs, probs, rounds = (f_chain, (1 - f_chain) / 3, (1 - f_chain) / 3, (1 - f_chain) / 3), [], 0
        while coeffs[0] < 0.97 - 1e-12 and rounds < 5:
            n, coeffs = dejmps(*coeffs)
            probs.append(n)
            rounds += 1
        prob = math.prod(q ** (2 ** (rounds - r - 1)) for r, q in enumerate(probs))
        if coeffs[0] >= 0.97 - 1e-12:
            assert p["purification_rounds"] == rounds
            assert p["purified_fidelity"] == pytest.approx(coeffs[0], abs=1e-9)
            assert p["purified_rate_hz"] == pytest.approx(p["entanglement_rate_hz"] * prob / 2**rounds, rel=1e-6)
        else:
            assert p["purification_rounds"] is None
        eta_path = math.prod(eta(L, e) for L, _, e in hops)
        assert p["plob_repeaterless"] == pytest.approx(-math.log2(1 - eta_path), rel=1e-9)
        assert p["plob_repeater_chain"] == pytest.approx(min(-math.log2(1 - eta(L, e)) for L, _, e in hops), rel=1e-9)
        assert p["relay_key_rate_per_pulse"] <= p["plob_repeater_chain"]


def test_plan_has_no_pair_for_disconnected_nodes():
    t = parse_topology({"nodes": ["a", "b", "c"], "links": [["a", "b"]]})
    plans = plan_network(t)
    assert [(p.a, p.b) for p in plans] == [("a", "b")]
