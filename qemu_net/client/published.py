"""Published experiments reproduced on the emulator: the protocol runs on real node processes through
the SDK, with the hardware of the presets (docs/hardware.md), and the result is set beside the
published figure with both uncertainties.

* ``ghz-delft-2021``: Pompili et al., Science 372, 259 (2021): a GHZ state over the three-node NV
  network Alice -- Bob -- Charlie (Bob the central node holding both links), fidelity 0.538 +- 0.018.
  Here: GHZ roles over the same line on ``nv-delft-2021`` hardware, fidelity from the eight
  stabilizers (F = (1 + <ZZI> + <IZZ> + <ZIZ> + <XXX> - <XYY> - <YXY> - <YYX>) / 8).
* ``teleport-delft-2022``: Hermans et al., Nature 605, 663 (2022): qubit teleportation from Charlie
  to Alice, which share no link, using a pair Bob delivers by entanglement swapping; average fidelity
  over the six cardinal states 0.702 +- 0.011. Here: a chain role delivers the pair, the teleport roles
  use it (classical channel Charlie -- Alice), Alice undoes the preparation and measures.
* ``decoy-bb84-gys``: decoy-state BB84 key rate against distance with the GYS parameters (Gobby, Yuan,
  Shields 2004) as in Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005). The published curve is their
  infinite-decoy GLLP formula with those parameters (f = 1.22, mu = 0.48); measured: the rate each
  real session estimates from its own gains with the vacuum + weak decoy bounds, which lies a little
  below the infinite-decoy curve.

`run_published(name, ...)` returns a `Comparison`; `plot_comparison` writes a PNG (matplotlib Agg).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import Topology, parse_topology
from qemu_net.quantum.paulis import PAULIS


@dataclass(frozen=True)
class Comparison:
    """Measured vs published for one experiment (curve points in `points` for key-rate curves)."""

    name: str
    figure: str
    measured: float
    measured_stderr: float
    published: float
    published_stderr: float
    citation: str
    shots: int
    wall_time_s: float
    note: str = ""
    points: list[dict[str, float]] = field(default_factory=list)
    #: Further figures of the same data (e.g. a readout-corrected estimate), name -> value.
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def deviation_sigma(self) -> float:
        """|measured - published| in units of the combined uncertainty."""
        s = math.hypot(self.measured_stderr, self.published_stderr)
        return abs(self.measured - self.published) / s if s > 0 else math.inf

    @property
    def within_published_uncertainty(self) -> bool:
        """True if the measured value lies inside published +- its stated uncertainty (its own SE added)."""
        return abs(self.measured - self.published) <= self.published_stderr + self.measured_stderr

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["deviation_sigma"] = self.deviation_sigma
        d["within_published_uncertainty"] = self.within_published_uncertainty
        return d


# ----------------------------------------------------------------------------- topologies
DELFT_LINK_KM = 0.03  # lab-scale fibers between the Delft nodes (representative: tens of metres)


def delft_topology(*, seed: int = 0, overrides: dict[str, Any] | None = None) -> Topology:
    """Alice -- Bob -- Charlie on nv-delft-2021 hardware, plus the classical channel Alice -- Charlie."""
    link = {"length_km": DELFT_LINK_KM, **(overrides or {})}
    return parse_topology({
        "name": "delft", "seed": seed, "preset": "nv-delft-2021",
        "nodes": ["alice", "bob", "charlie"],
        "links": [{"nodes": ["alice", "bob"], **link}, {"nodes": ["bob", "charlie"], **link}],
        "classical_links": [{"nodes": ["alice", "charlie"], "length_km": 2 * DELFT_LINK_KM}],
    }, source="delft experiment topology")


def gys_topology(length_km: float, *, seed: int = 0) -> Topology:
    return parse_topology({"name": "gys", "seed": seed, "preset": "telecom-qkd", "nodes": ["alice", "bob"],
                           "links": [{"nodes": ["alice", "bob"], "length_km": length_km}]},
                          source="GYS experiment topology")


# ----------------------------------------------------------------------------- GHZ (Pompili 2021)
GHZ_SETTINGS = ("ZZZ", "XXX", "XYY", "YXY", "YYX")


def ghz_stabilizer_fidelity(outcomes_by_setting: dict[str, np.ndarray], *,
                            readout_error: float = 0.0) -> tuple[float, float]:
    """F = (1 + <Z1Z2> + <Z2Z3> + <Z1Z3> + <XXX> - <XYY> - <YXY> - <YYX>) / 8 from outcomes (shots x 3, bits).

    `readout_error` e > 0: the estimate corrected for symmetric readout errors of probability e on every
    qubit, which scale a weight-w correlator by (1 - 2e)^w: each two-body term is divided by (1 - 2e)^2,
    each three-body term by (1 - 2e)^3 (and their standard errors alike)."""
    if not 0 <= readout_error < 0.5:
        raise InvalidOperation(f"readout_error must be in [0, 0.5), got {readout_error}")
    k = 1 - 2 * readout_error
    s = 1 - 2 * outcomes_by_setting["ZZZ"].astype(float)
    z = (s[:, 0] * s[:, 1] + s[:, 1] * s[:, 2] + s[:, 0] * s[:, 2]) / k**2
    total, var = 1 + z.mean(), z.var(ddof=1) / len(z)
    for setting, sign in (("XXX", 1), ("XYY", -1), ("YXY", -1), ("YYX", -1)):
        par = (1 - 2 * (outcomes_by_setting[setting].sum(axis=1) % 2).astype(float)) / k**3
        total += sign * par.mean()
        var += par.var(ddof=1) / len(par)
    return total / 8, math.sqrt(var) / 8


def ghz_delft_2021(net_factory: Callable[[Topology], Any], *, shots: int = 2000, seed: int = 0) -> Comparison:
    from qemu_net.client import protocols as suite

    topo = delft_topology(seed=seed)
    per = max(2, shots // len(GHZ_SETTINGS))
    order = [s for s in GHZ_SETTINGS for _ in range(per)]
    np.random.default_rng(seed).shuffle(order)
    nodes = ["bob", "alice", "charlie"]  # Bob is the root: he holds both links and fuses them
    by: dict[str, list[np.ndarray]] = {s: [] for s in GHZ_SETTINGS}
    t0 = time.perf_counter()
    with net_factory(topo) as net:
        # One GHZ state per call, as in the experiment: a batch would keep early pairs waiting in memory
        # while the later ones are generated.
        for setting in order:
            r = suite.ghz(net, nodes, shots=1, bases=[setting], timeout_s=600)
            assert r.outcomes is not None
            by[setting].append(r.outcomes[0])
    data = {s: np.array(v) for s, v in by.items()}
    f, se = ghz_stabilizer_fidelity(data)
    e = topo.node("alice").measure_error
    if any(topo.node(n).measure_error != e for n in nodes):
        raise InvalidOperation("the readout-corrected estimate assumes one readout error at every node")
    f_rc, se_rc = ghz_stabilizer_fidelity(data, readout_error=e)
    budget = ghz_model_budget(topo)
    bases = order
    return Comparison("ghz-delft-2021", "ghz_fidelity", f, se, 0.538, 0.018,
                      "M. Pompili et al., Science 372, 259 (2021)", len(bases), time.perf_counter() - t0,
                      note=ghz_gap_note(budget), extra={"model_expected": budget[-1][1],
                                                        "readout_corrected_fidelity": f_rc,
                                                        "readout_corrected_stderr": se_rc, "readout_error": e})


def ghz_model_budget(topo: Topology) -> list[tuple[str, float]]:
    """The GHZ fidelity the *modelled* physics predicts, stage by stage (numpy, independent of the node's
    register): Bob (the root) holds the links' delivered states (`physics.EprLinkModel`, source Bob), the
    first pair's two halves dephase while the second link is generated (geometric attempts of one period:
    E[exp(-2T/T2)] = p q / (1 - (1 - p) q), q = exp(-2 period / T2)), the fusion's CNOT suffers two-qubit
    depolarisation, its Z readout flips with the readout error (a wrong correction at Charlie), and the
    eight stabilizer correlators are read with readout error e on each qubit ((1 - 2e)^weight). Neglected:
    T1, gate durations (< 1 ms against a ~0.1 s wait) and the 1-qubit correction's error. Returns
    [(stage, fidelity)], the last being what the experiment should measure."""
    from qemu_net.network import physics
    from qemu_net.quantum.states import from_tensor

    bob = topo.node("bob")
    pairs = []
    for far in ("alice", "charlie"):
        link = topo.link("bob", far)
        assert link is not None  # the topology built above links bob to both
        m = physics.EprLinkModel.from_specs(link, bob, topo.node(far), source="bob")
        pairs.append((np.asarray(from_tensor(np.asarray(m.rho, dtype=np.complex128)), dtype=np.complex128), m))
    swap = np.eye(4)[[0, 2, 1, 3]]
    rho_ab = swap @ pairs[0][0] @ swap  # (alice, bob)
    rho_bc = pairs[1][0]  # (bob, charlie)
    m2 = pairs[1][1]
    t2 = {n: topo.node(n).t2_s for n in ("alice", "bob")}
    rates = [1 / t if (t := t2[n]) else 0.0 for n in ("alice", "bob")]
    p, tau = m2.p_herald, m2.period_ns * 1e-9

    def averaged_dephasing(rho: np.ndarray) -> np.ndarray:
        """E over the geometric wait T of dephasing each half for T: an element whose bra and ket differ on
        the halves in `flips` is scaled by E[exp(-T sum 1/T2)] = p q / (1 - (1 - p) q)."""
        out = rho.copy()
        for i in range(4):
            for j in range(4):
                rate = sum(r for bit, r in zip((2, 1), rates, strict=True) if (i ^ j) & bit)
                if rate:
                    qf = math.exp(-tau * rate)
                    out[i, j] *= p * qf / (1 - (1 - p) * qf)
        return out

    g2, e = bob.gate_2q_error, bob.measure_error
    e_read = topo.node("alice").measure_error
    paulis = list(PAULIS)
    eye, x, y, z = paulis
    p0, p1 = np.diag([1.0, 0]), np.diag([0, 1.0])

    def kron(*ops: np.ndarray) -> np.ndarray:
        out = np.eye(1)
        for o in ops:
            out = np.kron(out, o)
        return out

    ghz = np.zeros(8)
    ghz[[0, 7]] = 1 / math.sqrt(2)

    def fused(memory: bool, gate_error: float, fusion_readout: float) -> np.ndarray:
        r1 = averaged_dephasing(rho_ab) if memory else rho_ab
        rho = np.kron(r1, rho_bc)  # qubits: alice, bob1, bob2, charlie
        u = kron(eye, p0, eye, eye) + kron(eye, p1, x, eye)
        rho = u @ rho @ u.conj().T
        if gate_error:
            acc = sum(kron(eye, a, b, eye) @ rho @ kron(eye, a, b, eye).conj().T
                      for i, a in enumerate(paulis) for j, b in enumerate(paulis) if i or j)
            rho = (1 - gate_error) * rho + gate_error / 15 * acc
        out = np.zeros((8, 8), dtype=complex)
        for bit, proj in ((0, p0), (1, p1)):
            r = kron(eye, eye, proj, eye) @ rho @ kron(eye, eye, proj, eye)
            r = np.einsum("abcdefcg->abdefg", r.reshape((2,) * 8)).reshape(8, 8)
            for told, prob in ((bit, 1 - fusion_readout), (1 - bit, fusion_readout)):
                fix = kron(eye, eye, x) if told else np.eye(8)
                out += prob * fix @ r @ fix
        return out

    def fidelity(rho: np.ndarray, readout: float = 0.0) -> float:
        k = 1 - 2 * readout

        def ex(*ops: np.ndarray) -> float:
            return float(np.real(np.trace(kron(*ops) @ rho)))

        zz = ex(z, z, eye) + ex(eye, z, z) + ex(z, eye, z)
        xxx = ex(x, x, x) - ex(x, y, y) - ex(y, x, y) - ex(y, y, x)
        return (1 + k**2 * zz + k**3 * xxx) / 8

    f_links = float(np.real(ghz @ fused(False, 0.0, 0.0) @ ghz))
    f_mem = float(np.real(ghz @ fused(True, 0.0, 0.0) @ ghz))
    f_gate = float(np.real(ghz @ fused(True, g2, e) @ ghz))
    f_read = fidelity(fused(True, g2, e), e_read)
    link_f = [float(np.real(np.array([1, 0, 0, 1]) @ r @ np.array([1, 0, 0, 1])) / 2) for r, _ in pairs]
    return [(f"two links of Bell fidelity {link_f[0]:.3f} and {link_f[1]:.3f}, fused ideally", f_links),
            ((f"+ memory dephasing of the first pair (T2 {t2['bob'] or 'none'} s at Bob, {t2['alice'] or 'none'} s "
              f"at Alice) while the second link is generated (mean {m2.mean_attempts * m2.period_ns * 1e-9:.3g} s)"),
             f_mem),
            (f"+ the fusion's CNOT error {g2:g} and its readout error {e:g}", f_gate),
            (f"+ readout error {e_read:g} on the three measured qubits (what is measured)", f_read)]


def ghz_gap_note(budget: list[tuple[str, float]]) -> str:
    """What the model of `ghz-delft-2021` predicts and lacks against the experiment (docs/hardware.md)."""
    steps = "; ".join(f"{s}: {f:.3f}" for s, f in budget)
    return (
        f"Modelled physics, closed form: {steps}. Not modelled, each of which the experiment has: Bob's 13C "
        "nuclear memory with its dephasing per entanglement attempt (the model stores the first pair on an "
        "electron with a T2 in time) and the electron-to-carbon SWAP; the experiment's cut-off and timing "
        "logic (a first link that waited too long is regenerated, so the surviving states waited less; "
        "`memory_cutoff_s` models such a policy, but the paper's value is not in docs/hardware.md); the "
        "measured per-link fidelities (the preset's are representative); and the paper's treatment of readout "
        "errors (the readout-corrected estimate of the same data is printed beside, to compare with if the "
        "published value is corrected for readout). See docs/hardware.md, 'The GHZ gap'.")


# ----------------------------------------------------------------------------- teleportation (Hermans 2022)
CARDINAL = {"+Z": (), "-Z": ("x",), "+X": ("h",), "-X": ("x", "h"), "+Y": ("h", "s"), "-Y": ("x", "h", "s")}
_UNDO = {"x": "x", "h": "h", "s": "sdg"}


def teleport_delft_2022(net_factory: Callable[[Topology], Any], *, shots: int = 300, seed: int = 0) -> Comparison:
    from qemu_net.client import protocols as suite

    topo = delft_topology(seed=seed)
    states = list(CARDINAL)
    per = max(1, shots // len(states))
    order = [s for s in states for _ in range(per)]
    np.random.default_rng(seed).shuffle(order)
    ok: dict[str, list[int]] = {s: [] for s in states}
    t0 = time.perf_counter()
    with net_factory(topo) as net:
        for label in order:
            d = suite.chain(net, ["charlie", "bob", "alice"], timeout_s=600)
            (c_half, a_half), = d.pairs
            q = net["charlie"].qubit()
            for g in CARDINAL[label]:
                getattr(q, g)()
            out = net.teleport(q, "alice", pair=(c_half, a_half), timeout_s=600)
            for g in reversed(CARDINAL[label]):
                if g == "s":
                    out.s().z()  # S^dag = Z S
                else:
                    getattr(out, g)()
            ok[label].append(1 - out.measure())
    fids = [float(np.mean(v)) for v in ok.values()]
    f = float(np.mean(fids))
    se = math.sqrt(sum(x * (1 - x) / max(len(v), 1) for x, v in zip(fids, ok.values(), strict=True))) / len(fids)
    return Comparison("teleport-delft-2022", "teleportation_fidelity", f, se, 0.702, 0.011,
                      "S. L. N. Hermans et al., Nature 605, 663 (2022)", len(order), time.perf_counter() - t0,
                      note=_delft_note())


def _delft_note() -> str:
    return ("Hardware: the nv-delft-2021 preset (single-click links, alpha 0.05, memory T2 1 s, 2-qubit gate "
            "error 0.02, readout error 0.03; docs/hardware.md marks which values are representative). Not "
            "modelled: memory dephasing per entanglement attempt of the 13C memory (modelled as a T2 in time), "
            "the experiments' cut-off and timing logic, readout-error correction of the published figures, "
            "and the measured per-link fidelities (the preset's are representative).")


# ----------------------------------------------------------------------------- decoy BB84 (GYS / Ma 2005)
GYS = {"attenuation_db_per_km": 0.21, "detector_efficiency": 0.045, "y0": 1.7e-6, "e_d": 0.033, "f_ec": 1.22}
GYS_MU = 0.48
GYS_NU = 0.1


def published_gys_rate(length_km: float, mu: float = GYS_MU) -> float:
    """The Ma et al. (2005) infinite-decoy GLLP rate per signal pulse with the GYS parameters."""
    from qemu_net.qkd.theory import gllp_key_rate, transmittance

    eta = transmittance(length_km, GYS["attenuation_db_per_km"], GYS["detector_efficiency"])
    return gllp_key_rate(eta, GYS["y0"], GYS["e_d"], mu, GYS["f_ec"], 0.5)


def decoy_bb84_gys(net_factory: Callable[[Topology], Any], *, distances_km: tuple[float, ...] = (10, 40, 70, 100),
                   pulses: int = 4_000_000, seed: int = 0) -> Comparison:
    from qemu_net.client.qkd import run_qkd
    from qemu_net.qkd.theory import decoy_expected_rate_and_stderr, gllp_max_distance_km, transmittance

    points = []
    t0 = time.perf_counter()
    for i, length in enumerate(distances_km):
        topo = gys_topology(length, seed=seed + i)
        link = topo.links[0]
        with net_factory(topo) as net:
            s = run_qkd(net, "alice", "bob", "bb84", n_pulses=pulses, block_pulses=min(pulses, 1_000_000),
                        mu=GYS_MU, nu=GYS_NU, f_ec=GYS["f_ec"], report_abort=True, timeout_s=600)
        eta = transmittance(length, link.attenuation_db_per_km, link.detector_efficiency)
        expected, se = decoy_expected_rate_and_stderr(eta, link.dark_count_probability, link.misalignment_error,
                                                      mu=GYS_MU, nu=GYS_NU, pulses=pulses, f_ec=GYS["f_ec"],
                                                      seed=seed + i)
        measured = (s.asymptotic_rate_per_pulse or 0.0) / 0.7  # per signal pulse (p_signal = 0.7)
        points.append({"length_km": float(length), "measured": measured, "measured_stderr": se,
                       "model_expected": expected, "published": published_gys_rate(length),
                       "final_bits": float(s.final_bits), "qber": float(s.qber)})
    reach = gllp_max_distance_km(attenuation_db_per_km=GYS["attenuation_db_per_km"],
                                 detector_efficiency=GYS["detector_efficiency"], y0=GYS["y0"], e_d=GYS["e_d"],
                                 mu=GYS_MU, f_ec=GYS["f_ec"])
    # The headline figure: the measured rates as a multiple of the published curve (least squares, each
    # point weighted by its standard error; 1 = on the curve).
    used = [p for p in points if p["published"] > 0 and p["measured_stderr"] > 0]
    if not used:
        raise InvalidOperation("no distance inside the published curve's reach")
    w = sum(p["published"] ** 2 / p["measured_stderr"] ** 2 for p in used)
    ratio = sum(p["measured"] * p["published"] / p["measured_stderr"] ** 2 for p in used) / w
    ratio_se = 1 / math.sqrt(w)
    return Comparison("decoy-bb84-gys", "rate_over_published_curve", ratio, ratio_se, 1.0, 0.0,
                      "X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005), GYS parameters",
                      pulses * len(distances_km), time.perf_counter() - t0,
                      note=(f"published curve: infinite-decoy GLLP, f = 1.22, mu = {GYS_MU}; its reach "
                            f"{reach:.1f} km. Measured: vacuum + weak decoy (nu = {GYS_NU}) bounds from each session's "
                            "gains, expected a few per cent below the infinite-decoy curve."),
                      points=points)


EXPERIMENTS: dict[str, tuple[Callable[..., Comparison], str]] = {
    "ghz-delft-2021": (ghz_delft_2021, "three-node GHZ state, Pompili et al. Science 2021 (F = 0.538 +- 0.018)"),
    "teleport-delft-2022": (teleport_delft_2022, ("teleportation between non-neighbouring nodes, Hermans et al. "
                                                  "Nature 2022 (0.702 +- 0.011)")),
    "decoy-bb84-gys": (decoy_bb84_gys, "decoy BB84 key rate vs distance, GYS parameters, Ma et al. PRA 2005"),
}


def run_published(name: str, net_factory: Callable[[Topology], Any], **kw: Any) -> Comparison:
    if name not in EXPERIMENTS:
        raise InvalidOperation(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name][0](net_factory, **kw)


def plot_comparison(c: Comparison, path: str) -> None:
    """Measured vs published: bars with error bars, or the key-rate curve with the measured points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if c.points:
        from qemu_net.qkd.theory import gllp_max_distance_km

        reach = gllp_max_distance_km(attenuation_db_per_km=GYS["attenuation_db_per_km"],
                                     detector_efficiency=GYS["detector_efficiency"], y0=GYS["y0"], e_d=GYS["e_d"],
                                     mu=GYS_MU, f_ec=GYS["f_ec"])
        xs = np.linspace(0, reach * 0.999, 200)
        ax.semilogy(xs, [max(published_gys_rate(x), 1e-12) for x in xs], label="Ma et al. 2005 (GYS, infinite decoy)")
        ax.semilogy([p["length_km"] for p in c.points], [p["model_expected"] for p in c.points], "s",
                    mfc="none", label="vacuum+weak decoy, expected")
        ax.errorbar([p["length_km"] for p in c.points], [p["measured"] for p in c.points],
                    yerr=[p["measured_stderr"] for p in c.points], fmt="o", label="emulator sessions")
        ax.set_xlabel("fiber length (km)")
        ax.set_ylabel("secret key rate per signal pulse")
    else:
        ax.bar([0, 1], [c.measured, c.published], yerr=[c.measured_stderr, c.published_stderr], capsize=6,
               color=["tab:blue", "tab:gray"])
        ax.set_xticks([0, 1], ["emulator", "published"])
        ax.set_ylabel(c.figure.replace("_", " "))
        ax.set_ylim(0, 1)
    ax.set_title(c.name)
    ax.legend() if c.points else None
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["EXPERIMENTS", "Comparison", "delft_topology", "ghz_stabilizer_fidelity", "gys_topology",
           "plot_comparison", "published_gys_rate", "run_published"]
