"""The protocol suite under stress: every run must succeed and still match its closed form.

Each `test_<protocol>` is one protocol run under one stress mode (``chaos`` fixture: cpu, delay, both)
with one seed; `RUNS` says how many runs each protocol gets per mode. The checks are the protocol suite's
own closed forms (tests/protocols, tests/integration): exact density matrices to 1e-6 where a state can
be gathered (every run has at least one such check, except BB84, whose keys must be equal), and sampled
statistics within 4 standard errors computed from the closed form.

The sampled statistics are pooled over a mode's runs of a protocol and checked once per mode and
protocol (`test_pooled_statistics`, which pytest runs after that mode's runs): checked run by run, the
~190 small-sample 4-SE checks of one suite run would raise a false alarm in about 5% of suite runs
(binomial tails of 12-36 samples, measured by simulation), a flaky test; pooled, 18 checks on hundreds
of samples each, it is about 0.15%.
"""

from __future__ import annotations

import itertools

import cirq
import numpy as np
import pytest

from qemu_net.client import gate, qkd
from tests.protocols.conftest import bell_coefficients, fidelity, gather
from tests.protocols.test_circuits import GATES
from tests.protocols.test_ghz import ghz_rho
from tests.protocols.test_purify import correlations, dejmps, pair_state, werner
from tests.protocols.test_superdense_nonlocal import CNOT, PREP
from tests.protocols.test_swap_chain import werner_chain

from .conftest import CHAIN_F, PURIFY_F, QKD_MISALIGNMENT

pytestmark = pytest.mark.chaos

#: Runs per protocol per stress mode (x 3 modes).
RUNS = {
    "teleport": 14,
    "chain_2": 12,
    "chain_4": 12,
    "chain_8": 8,
    "purify": 12,
    "ghz": 12,
    "nonlocal_cnot": 12,
    "circuit": 12,
    "bb84": 8,
}
#: Deadline of one protocol call (the SDK's default is 30-120 s; a chaos run that needs more has failed).
TIMEOUT_S = 45.0


def seeds(protocol: str) -> list[int]:
    return list(range(RUNS[protocol]))


def in_use(net, nodes) -> dict[str, int]:
    """Qubits in use per node."""
    return {n: net[n].info().qubits_in_use for n in nodes}


def track(chaos, nodes) -> dict[str, int]:
    """Qubits in use before the run; kept so that a failed run's record says what it left behind."""
    chaos.before = in_use(chaos.net, nodes)
    return chaos.before


def assert_nothing_left(net, before: dict[str, int]) -> None:
    """No node holds more qubits than before the run. Compared with before, not with 0: a run that failed
    earlier may have left qubits behind (or its roles may free them later), which is not this run's doing."""
    after = in_use(net, before)
    assert all(after[n] <= before[n] for n in before), f"qubits left behind: before {before}, after {after}"


def balanced_bases(n: int, rng: np.random.Generator) -> np.ndarray:
    """n basis codes (0 Z, 1 X, 2 Y), as equal in number as n allows, in random order."""
    codes = np.resize(np.arange(3, dtype=np.uint8), n)
    rng.shuffle(codes)
    return codes


def bell_diagonal_se(c, codes: np.ndarray) -> float:
    """Standard error of F = 1/4 (1 + <XX> - <YY> + <ZZ>) from +-1 samples, from the closed-form correlations."""
    return float(np.sqrt(sum((1 - e * e) / (codes == k).sum() for k, e in enumerate(correlations(c))) / 16))


def estimate_fidelity(za: np.ndarray, zb: np.ndarray, codes: np.ndarray) -> float:
    f = 0.25
    for code, sign in ((0, 1), (1, 1), (2, -1)):
        sel = codes == code
        f += sign * float(np.mean(1 - 2 * (za[sel] ^ zb[sel]).astype(float))) / 4
    return f


# ------------------------------------------------------------------------------------------ teleport
@pytest.mark.parametrize("seed", seeds("teleport"))
def test_teleport(chaos, seed):
    """Random states teleported alice -> bob over an ideal link arrive with fidelity 1; nothing leaks."""
    net = chaos.net
    rng = np.random.default_rng(1000 + seed)
    before = track(chaos, ["alice", "bob"])
    for _ in range(2):
        theta, phi = float(np.arccos(1 - 2 * rng.random())), float(2 * np.pi * rng.random())
        psi = np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])
        q = net["alice"].qubit()
        net["alice"].apply([gate("RY", [q], theta), gate("PHASE", [q], phi)])
        r = net.teleport(q, "bob", timeout_s=TIMEOUT_S)
        rho = r.density_matrix()
        assert np.real(psi.conj() @ rho @ psi) == pytest.approx(1.0, abs=1e-6)
        r.measure()
    assert_nothing_left(net, before)


# ------------------------------------------------------------------------------------------ chains
def _chain(chaos, links: int, seed: int, sampled_pairs: int) -> None:
    """One exact pair (gathered: F = 1/4 + 3/4 w^n to 1e-6) and sampled pairs (pooled: F within 4 SE)."""
    net = chaos.net
    path = [f"c{i}" for i in range(links + 1)]
    expected = werner_chain([CHAIN_F] * links)
    before = track(chaos, path)
    d = net.chain(path, timeout_s=TIMEOUT_S)
    assert d.epr_pairs == links and d.swaps == links - 1
    (qa, qb), = d.pairs
    assert fidelity(gather(net, [qa, qb])) == pytest.approx(expected, abs=1e-6)

    rng = np.random.default_rng(2000 + 10 * links + seed)
    codes = balanced_bases(sampled_pairs, rng)
    d = net.chain(path, pairs=sampled_pairs, measure_bases=["ZXY"[c] for c in codes], timeout_s=TIMEOUT_S)
    assert d.outcomes is not None and not d.pairs
    za, zb = d.outcomes
    assert za.shape == zb.shape == (sampled_pairs,) and za.max() <= 1 and zb.max() <= 1
    chaos.samples[f"chain_{links}"].append((seed, za, zb, codes))
    assert_nothing_left(net, before)


@pytest.mark.parametrize("seed", seeds("chain_2"))
def test_chain_2(chaos, seed):
    _chain(chaos, 2, seed, sampled_pairs=36)


@pytest.mark.parametrize("seed", seeds("chain_4"))
def test_chain_4(chaos, seed):
    _chain(chaos, 4, seed, sampled_pairs=30)


@pytest.mark.parametrize("seed", seeds("chain_8"))
def test_chain_8(chaos, seed):
    _chain(chaos, 8, seed, sampled_pairs=24)


# ------------------------------------------------------------------------------------------ purification
@pytest.mark.parametrize("seed", seeds("purify"))
def test_purify(chaos, seed):
    """DEJMPS on Werner 0.8: a kept pair's Bell coefficients are the map's (1e-6); sampled success rate
    and output fidelity (pooled) within 4 SE."""
    net = chaos.net
    p_exp, c_exp = dejmps(werner(PURIFY_F))
    before = track(chaos, ["u0", "u1"])
    for _ in range(30):  # P(no success in 30) = (1 - 0.77)^30 ~ 1e-19
        p = net.purify("u0", "u1", method="dejmps", rounds=1, timeout_s=TIMEOUT_S)
        if p.success[0]:
            break
    else:
        raise AssertionError("no successful purification in 30 tries")
    assert p.consumed == 2
    np.testing.assert_allclose(bell_coefficients(pair_state(net, p.pairs[0])), c_exp, atol=1e-6)

    reps = 24
    codes = balanced_bases(reps, np.random.default_rng(3000 + seed))
    p = net.purify("u0", "u1", method="dejmps", rounds=1, repetitions=reps, measure_bases=["ZXY"[c] for c in codes],
                   timeout_s=TIMEOUT_S)
    ok = p.success
    za, zb = p.outcomes
    assert ok.shape == za.shape == zb.shape == (reps,) and p.consumed == 2 * reps
    assert np.all(za[~ok] == 255) and np.all(zb[~ok] == 255)
    assert za[ok].max(initial=0) <= 1 and zb[ok].max(initial=0) <= 1
    chaos.samples["purify"].append((seed, ok, za[ok], zb[ok], codes[ok]))
    assert_nothing_left(net, before)


# ------------------------------------------------------------------------------------------ GHZ
GHZ_SETS = [["g0", "g1", "g2"], ["g0", "g1", "g2", "g3"], ["g2", "g1", "g3", "g0"]]


@pytest.mark.parametrize("seed", seeds("ghz"))
def test_ghz(chaos, seed):
    """The gathered GHZ state (depolarised by p) is exact; ideal GHZ parities: Z outcomes all equal, X parity even."""
    net = chaos.net
    nodes = GHZ_SETS[seed % len(GHZ_SETS)]
    k = len(nodes)
    p = (0.0, 0.05, 0.1)[seed % 3]
    before = track(chaos, nodes + ["lab"])
    g = net.ghz(nodes, depolarize=p, timeout_s=TIMEOUT_S)
    assert g.epr_pairs == k - 1
    np.testing.assert_allclose(gather(net, g.qubits[0]), ghz_rho(k, p), atol=1e-6)

    shots = 12
    bases = ["Z" * k if s % 2 == 0 else "X" * k for s in range(shots)]
    g = net.ghz(nodes, shots=shots, bases=bases, timeout_s=TIMEOUT_S)
    z, x = g.outcomes[0::2], g.outcomes[1::2]
    assert np.all(z == z[:, :1]), z
    assert np.all(x.sum(axis=1) % 2 == 0), x
    assert_nothing_left(net, before)


# ------------------------------------------------------------------------------------------ nonlocal CNOT
INPUTS = list(itertools.product(PREP, PREP))


@pytest.mark.parametrize("seed", seeds("nonlocal_cnot"))
def test_nonlocal_cnot(chaos, seed):
    """Two product inputs from {|0>,|1>,|+>,|->,|+i>}^2: the two-node result equals the local CNOT."""
    net = chaos.net
    rng = np.random.default_rng(4000 + seed)
    before = track(chaos, ["x0", "x1"])
    for i in rng.choice(len(INPUTS), size=2, replace=False):
        cin, tin = INPUTS[i]
        c = net["x0"].qubit()
        c.apply(np.asarray(PREP[cin], dtype=complex))
        t = net["x1"].qubit()
        t.apply(np.asarray(PREP[tin], dtype=complex))
        assert net.nonlocal_cnot(c, t, timeout_s=TIMEOUT_S) == 1
        t_here = t.send("x0")
        rho = net["x0"].inspect([c, t_here])
        net["x0"].free([c, t_here])
        psi = CNOT @ np.kron(PREP[cin][:, 0], PREP[tin][:, 0])
        np.testing.assert_allclose(rho, np.outer(psi, psi.conj()), atol=1e-6)
    assert_nothing_left(net, before)


# ------------------------------------------------------------------------------------------ circuits
@pytest.mark.parametrize("seed", seeds("circuit"))
def test_circuit(chaos, seed):
    """A seeded random circuit split over 3-4 nodes: the gathered final state equals Cirq's."""
    net = chaos.net
    n_qubits, n_nodes = (4, 3) if seed % 2 == 0 else (5, 4)
    qubits = cirq.LineQubit.range(n_qubits)
    circuit = cirq.testing.random_circuit(qubits, n_moments=5, op_density=0.9, gate_domain=GATES,
                                          random_state=5000 + seed)
    rng = np.random.default_rng(5000 + seed)
    where = [f"k{i % n_nodes}" for i in range(n_qubits)]
    rng.shuffle(where)
    assignment = dict(zip(qubits, where))
    nodes = [f"k{i}" for i in range(4)] + ["lab"]
    before = track(chaos, nodes)
    r = net.run_circuit(circuit, assignment, keep=True, timeout_s=TIMEOUT_S)
    rho = gather(net, [r.qubits[q] for q in qubits])
    psi = cirq.final_state_vector(circuit, qubit_order=qubits, dtype=np.complex128)
    np.testing.assert_allclose(rho, np.outer(psi, psi.conj()), atol=1e-6)
    assert r.epr_pairs == r.nonlocal_gates
    assert_nothing_left(net, before)


# ------------------------------------------------------------------------------------------ QKD
@pytest.mark.parametrize("seed", seeds("bb84"))
def test_bb84(chaos, seed):
    """Single-photon BB84 with misalignment e: both nodes hand out the same key; the QBER (pooled) is e."""
    net = chaos.net
    before = track(chaos, ["qa", "qb"])
    s = qkd.run_qkd(net, "qa", "qb", "bb84", decoy=False, n_pulses=60_000,
                    session=f"chaos-{chaos.mode}-{seed}", timeout_s=TIMEOUT_S)
    assert s.succeeded and s.final_bits > 0 and s.stored_bits_alice == s.stored_bits_bob
    assert s.sample_bits > 0 and 0 <= s.qber < 0.11
    chaos.samples["bb84"].append((seed, round(s.qber * s.sample_bits), s.sample_bits))
    keys = qkd.get_keys(net["qa"], "qb", number=1, size_bits=64)
    got = qkd.get_keys_with_ids(net["qb"], "qa", [k.key_id for k in keys])
    assert [k.key for k in got] == [k.key for k in keys]
    assert_nothing_left(net, before)


# ------------------------------------------------------------------------------------------ pooled statistics
POOLED = ["chain_2", "chain_4", "chain_8", "purify_success", "purify_fidelity", "bb84_qber"]


def _z_line(est: float, expected: float, se: float, n: int, per_run: list[str]) -> str:
    return (f"estimate {est:.4f}, closed form {expected:.4f}, SE {se:.4f} ({(est - expected) / se:+.2f} SE), "
            f"n={n}; per run: {', '.join(per_run)}")


@pytest.mark.parametrize("stat", POOLED)
def test_pooled_statistics(chaos, stat, chaos_stats):
    """The sampled statistics of this mode's runs, pooled, are within 4 SE of the closed form."""
    kind = stat.split("_")[0] if not stat.startswith("chain") else stat
    got = chaos.samples.get(kind, [])
    if not got:
        pytest.skip(f"no {kind} run of mode {chaos.mode} delivered samples (selected out, or every run failed)")
    if stat.startswith("chain"):
        links = int(stat.split("_")[1])
        expected = werner_chain([CHAIN_F] * links)
        za = np.concatenate([g[1] for g in got])
        zb = np.concatenate([g[2] for g in got])
        codes = np.concatenate([g[3] for g in got])
        est, se, n = estimate_fidelity(za, zb, codes), bell_diagonal_se(werner(expected), codes), len(codes)
        per_run = [f"{g[0]}:{estimate_fidelity(g[1], g[2], g[3]):.3f}" for g in got]
    elif stat == "purify_success":
        expected, _ = dejmps(werner(PURIFY_F))
        ok = np.concatenate([g[1] for g in got])
        n = len(ok)
        est, se = float(ok.mean()), float(np.sqrt(expected * (1 - expected) / n))
        per_run = [f"{g[0]}:{g[1].mean():.2f}" for g in got]
    elif stat == "purify_fidelity":
        _, c = dejmps(werner(PURIFY_F))
        expected = c[0]
        za = np.concatenate([g[2] for g in got])
        zb = np.concatenate([g[3] for g in got])
        codes = np.concatenate([g[4] for g in got])
        est, se, n = estimate_fidelity(za, zb, codes), bell_diagonal_se(c, codes), len(codes)
        per_run = [f"{g[0]}:{len(g[4])}" for g in got]
    else:
        expected = QKD_MISALIGNMENT
        errors, n = sum(g[1] for g in got), sum(g[2] for g in got)
        est, se = errors / n, float(np.sqrt(expected * (1 - expected) / n))
        per_run = [f"{g[0]}:{g[1] / g[2]:.4f}" for g in got]
    line = _z_line(est, expected, se, n, per_run)
    chaos_stats(stat, est, expected, se, n, len(got))
    assert abs(est - expected) < 4 * se, line
