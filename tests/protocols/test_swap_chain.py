"""Entanglement swapping and repeater chains across real node processes, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from qemu_net.client.protocols import bell_fidelity
from qemu_net.errors import InvalidOperation, NotConnected
from qemu_net.network.topology import chain_topology

from .conftest import CHAIN_F, CHAIN_LINKS, SWAP_POINTS, fidelity, gather, running


def werner_chain(fs: list[float]) -> float:
    w = np.prod([(4 * f - 1) / 3 for f in fs])
    return 0.25 + 0.75 * w


@pytest.mark.parametrize("k", range(len(SWAP_POINTS)))
def test_swap_two_werner_pairs_gives_closed_form(lab_net, k):
    """Swapping Werner pairs F1, F2 gives F1 F2 + (1 - F1)(1 - F2)/3, exactly (density matrix)."""
    f1, f2 = SWAP_POINTS[k]
    d = lab_net.swap(f"s{k}a", f"s{k}m", f"s{k}b")
    assert d.epr_pairs == 2 and d.swaps == 1
    (qa, qb), = d.pairs
    rho = gather(lab_net, [qa, qb])
    expected = f1 * f2 + (1 - f1) * (1 - f2) / 3
    assert fidelity(rho) == pytest.approx(expected, abs=1e-6)
    # The swapped state is again Werner: the other three Bell coefficients are equal.
    werner = expected * np.outer([1, 0, 0, 1], [1, 0, 0, 1]) / 2 + (1 - expected) / 3 * (
        np.eye(4) - np.outer([1, 0, 0, 1], [1, 0, 0, 1]) / 2)
    np.testing.assert_allclose(rho, werner, atol=1e-6)


@pytest.mark.parametrize("n", range(1, CHAIN_LINKS + 1))
def test_chain_of_n_links_gives_closed_form(lab_net, n):
    """An n-link chain of Werner links F gives 1/4 + 3/4 ((4F - 1)/3)^n."""
    path = [f"c{i}" for i in range(n + 1)]
    d = lab_net.chain(path)
    assert d.epr_pairs == n and d.swaps == n - 1
    (qa, qb), = d.pairs
    assert fidelity(gather(lab_net, [qa, qb])) == pytest.approx(0.25 + 0.75 * ((4 * CHAIN_F - 1) / 3) ** n, abs=1e-6)


def test_chain_sampled_fidelity_within_four_standard_errors(lab_net):
    """Many pairs measured at the ends in Z, X, Y: the estimated fidelity matches the closed form."""
    rng = np.random.default_rng(3)
    pairs = 600
    codes = rng.integers(0, 3, pairs).astype(np.uint8)
    bases = ["ZXY"[c] for c in codes]
    d = lab_net.chain([f"c{i}" for i in range(4)], pairs=pairs, measure_bases=bases)
    assert d.outcomes is not None and not d.pairs
    f, se = bell_fidelity(d.outcomes[0], d.outcomes[1], codes)
    expected = werner_chain([CHAIN_F] * 3)
    assert abs(f - expected) < 4 * se + 1e-9, (f, se, expected)


def test_memory_decay_while_pairs_wait_lowers_fidelity(lab_net):
    """With T2 = 0.5 ms and 20 km fibers the pairs decay while the swap's messages travel."""
    d = lab_net.chain(["d0", "d1", "d2"])
    (qa, qb), = d.pairs
    f = fidelity(gather(lab_net, [qa, qb]))
    assert 0.25 < f < 0.99
    assert d.virtual_time_ns >= 100_000  # at least a 20 km fiber's delay each way


def test_bad_chain_requests_get_clear_errors(lab_net):
    with pytest.raises(NotConnected, match="no quantum link"):
        lab_net.chain(["c0", "c2"])
    with pytest.raises(InvalidOperation, match="twice"):
        lab_net.chain(["c0", "c1", "c0"])
    with pytest.raises(InvalidOperation, match="pairs must be"):
        lab_net.chain(["c0", "c1"], pairs=200_000)


@pytest.mark.slow
def test_sixteen_node_chain_matches_closed_form():
    """16 node processes, 15 Werner links of F = 0.98: exact 1/4 + 3/4 w^15, and sampled pairs agree."""
    f = 0.98
    topo = chain_topology(16, source_fidelity=f)
    data = topo.model_dump(mode="json")
    data["nodes"].append({"name": "lab"})
    data["links"] += [{"nodes": ["n0", "lab"]}, {"nodes": ["n15", "lab"]}]
    from qemu_net.network.topology import parse_topology

    with running(parse_topology(data)) as net:
        path = [f"n{i}" for i in range(16)]
        d = net.chain(path)
        assert d.epr_pairs == 15 and d.swaps == 14
        (qa, qb), = d.pairs
        expected = werner_chain([f] * 15)
        assert fidelity(gather(net, [qa, qb])) == pytest.approx(expected, abs=1e-6)
        rng = np.random.default_rng(5)
        codes = rng.integers(0, 3, 300).astype(np.uint8)
        d = net.chain(path, pairs=300, measure_bases=["ZXY"[c] for c in codes])
        est, se = bell_fidelity(d.outcomes[0], d.outcomes[1], codes)
        assert abs(est - expected) < 4 * se
        assert all(nd.info().qubits_in_use == 0 for nd in net)
