"""The foundation across real node processes: teleportation, GHZ across three processes, concurrency."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from qemu_net.client import gate, measure
from qemu_net.network.topology import parse_topology
from tests.conftest import running

TRIANGLE = parse_topology(
    {
        "name": "triangle",
        "seed": 1,
        "nodes": ["alice", "bob", "carol"],
        "links": [["alice", "bob"], ["bob", "carol"], ["alice", "carol"]],
    }
)


@pytest.fixture(scope="module")
def net():
    with running(TRIANGLE, allow_inspect=True) as (_local, client):
        yield client


def random_state(rng: np.random.Generator) -> tuple[float, float, np.ndarray]:
    theta, phi = float(np.arccos(1 - 2 * rng.random())), float(2 * np.pi * rng.random())
    psi = np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])
    return theta, phi, psi


def test_teleported_random_states_have_fidelity_one_by_inspection(net):
    """The state received at bob equals the prepared one (density matrix via the debug call)."""
    rng = np.random.default_rng(2)
    for _ in range(10):
        theta, phi, psi = random_state(rng)
        q = net["alice"].qubit()
        net["alice"].apply([gate("RY", [q], theta), gate("PHASE", [q], phi)])
        r = net.teleport(q, "bob")
        rho = r.density_matrix()
        assert np.real(psi.conj() @ rho @ psi) == pytest.approx(1.0, abs=1e-9)
        r.measure()
    assert net["alice"].info().qubits_in_use == 0
    assert net["bob"].info().qubits_in_use == 0


@pytest.mark.parametrize("basis", ["Z", "X", "Y"])
def test_teleportation_statistics_match_the_prepared_state(net, basis):
    """Measuring the teleported state in Z, X or Y gives <sigma> of the input within 4 standard errors."""
    theta, phi = 1.1, 0.7
    bloch = {"X": np.sin(theta) * np.cos(phi), "Y": np.sin(theta) * np.sin(phi), "Z": np.cos(theta)}[basis]
    p1 = (1 - bloch) / 2
    shots, ones = 300, 0
    for _ in range(shots):
        q = net["alice"].qubit()
        net["alice"].apply([gate("RY", [q], theta), gate("PHASE", [q], phi)])
        ones += net.teleport(q, "bob").measure(basis)
    assert abs(ones / shots - p1) <= 4 * np.sqrt(p1 * (1 - p1) / shots) + 1e-9


def build_ghz_across_three(net):
    """GHZ over 5 qubits at 3 nodes, built so that groups must migrate between the processes.

    alice entangles q0 with a1 and sends a1 to bob (a1's state stays held by alice). bob's CNOTs on
    a1 and his own fresh qubits pull those qubits' groups into alice's process; y then travels to carol,
    and carol's CNOT pulls her fresh qubit's group into alice's process too.
    """
    alice, bob, carol = net["alice"], net["bob"], net["carol"]
    q0, a1 = alice.qubits(2)
    q0.h()
    alice.gate("CNOT", q0, a1)
    a1 = a1.send("bob")
    x, y = bob.qubits(2)
    bob.gate("CNOT", a1, x)
    bob.gate("CNOT", x, y)
    y = y.send("carol")
    c = carol.qubit()
    carol.gate("CNOT", y, c)
    return [(alice, q0), (bob, a1), (bob, x), (carol, y), (carol, c)]


def test_ghz_across_three_processes_has_ghz_correlations(net):
    """Z outcomes all equal; X outcomes have even parity; the reduced states are exactly GHZ's."""
    qubits = build_ghz_across_three(net)
    rho = net["bob"].inspect([q for node, q in qubits if node.name == "bob"])
    expected = np.zeros((4, 4))
    expected[0, 0] = expected[3, 3] = 0.5
    np.testing.assert_allclose(rho, expected, atol=1e-9)
    for node, q in qubits:
        node.measure(q)
    for _ in range(30):
        zs = [node.measure(q, "Z") for node, q in build_ghz_across_three(net)]
        assert len(set(zs)) == 1
        xs = [node.measure(q, "X") for node, q in build_ghz_across_three(net)]
        assert sum(xs) % 2 == 0
    for name in ("alice", "bob", "carol"):
        assert net[name].info().qubits_in_use == 0


def test_eight_concurrent_clients_corrupt_nothing(net):
    """8 threads each run EPR pairs, local gates and teleports; every correlation stays perfect."""
    errors: list[BaseException] = []
    bad: list[str] = []

    def client(k: int) -> None:
        try:
            a, b = ("alice", "bob") if k % 2 else ("bob", "carol")
            for i in range(25):
                (pair,) = net[a].epr(b)
                basis = "XZ"[i % 2]
                if net[a].measure(pair.local, basis) != net[b].measure(pair.remote, basis):
                    bad.append(f"client {k}: EPR {basis} outcomes differ")
                q = net[a].qubit()
                q.x()
                if net.teleport(q, b).measure() != 1:
                    bad.append(f"client {k}: teleported |1> measured 0")
                r = net[b].qubit()
                net[b].apply([gate("H", [r]), gate("S", [r]), gate("S", [r]), gate("H", [r])])  # HZH = X
                if net[b].apply([measure(r)]) != [1]:
                    bad.append(f"client {k}: HZH|0> measured 0")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert not bad, bad[:5]
    for name in ("alice", "bob", "carol"):
        assert net[name].info().qubits_in_use == 0


def test_create_and_measure_batch_agrees_with_the_per_pair_path(net):
    """10,000 pairs measured at once in random bases: matching bases agree; others are uncorrelated."""
    rng = np.random.default_rng(4)
    n = 10_000
    ba, bb = rng.integers(0, 3, n).astype(np.uint8), rng.integers(0, 3, n).astype(np.uint8)
    res = net["alice"].create_measure_epr("bob", n, local_bases=ba, remote_bases=bb)
    out_b = net["bob"].fetch_epr_outcomes(res.batch_id)
    a, b = res.outcomes, out_b
    # |Phi+>: <ZZ> = <XX> = 1, <YY> = -1, cross-basis correlators 0.
    for i, j, corr in [(0, 0, 1), (1, 1, 1), (2, 2, -1), (0, 1, 0), (1, 2, 0)]:
        sel = (ba == i) & (bb == j)
        e = np.mean((1 - 2 * a[sel].astype(int)) * (1 - 2 * b[sel].astype(int)))
        assert abs(e - corr) <= 4 * np.sqrt(max(1 - corr**2, 1e-12) / sel.sum()) + 1e-12
    # The same statistics through the per-pair (register) path.
    agree = 0
    for _ in range(100):
        (p,) = net["alice"].epr("bob")
        agree += net["alice"].measure(p.local, "Y") != net["bob"].measure(p.remote, "Y")
    assert agree == 100
