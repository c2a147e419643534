"""Quantum sensing network: distributed phase estimation with GHZ states vs unentangled sensors, run on
real node processes (the closed forms and estimators are in `qemu_net.quantum.sensing`).

For each k = 1..K the first k sensors of a line s0 -- s1 -- ... hold, per shot, either one qubit of a
GHZ state distributed by the GHZ roles (fusion of k - 1 link pairs; the links' fidelity is the
topology's) or an independent |+> probe (a one-node GHZ role). Each node then applies the field,
Rz(phi), to its qubit and measures X; the client multiplies the outcome signs. Memory dephasing during
the interrogation (coherence c = e^(-t/T2)) is applied by the roles as the exact channel with that
coherence (`depolarize_for_coherence`), since the node API has no wait operation yet.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qemu_net._serde.sdk import gate_op, measure_op
from qemu_net.client import protocols as suite
from qemu_net.client.sync import Network
from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import Topology, parse_topology
from qemu_net.protocols.ghz import BATCH
from qemu_net.quantum import sensing as qsensing


def sensor_topology(k_max: int, *, link_fidelity: float = 1.0, seed: int = 0) -> Topology:
    """A line of k_max ideal sensor nodes s0 -- ... joined by Werner links of `link_fidelity`."""
    names = [f"s{i}" for i in range(k_max)]
    return parse_topology({"name": "sensing", "seed": seed, "preset": "ideal", "nodes": names,
                           "links": [{"nodes": [a, b], "source_fidelity": link_fidelity}
                                     for a, b in itertools.pairwise(names)]}, source="sensing topology")


@dataclass(frozen=True)
class SensingPoint:
    k: int
    entangled: qsensing.SensingEstimate
    unentangled: qsensing.SensingEstimate
    heisenberg_expected: float
    sql_expected: float


@dataclass(frozen=True)
class SensingRun:
    link_fidelity: float
    coherence: float
    points: list[SensingPoint] = field(default_factory=list)
    wall_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ghz_parities(net: Network, nodes: list[str], phi: float, shots: int, depolarize: float) -> np.ndarray:
    """Parities (+1/-1) of `shots` GHZ states over `nodes` after Rz(phi) at each node and an X measurement."""
    out = []
    for start in range(0, shots, BATCH):
        n = min(BATCH, shots - start)
        g = suite.ghz(net, nodes, shots=n, depolarize=depolarize, timeout_s=120)
        signs = np.ones(n)
        for j, node in enumerate(nodes):
            ops = []
            for state in g.qubits:
                q = state[j]
                ops += [gate_op("RZ", (q,), phi), measure_op(q, "X")]
            res = net[node].apply(ops)
            signs *= 1 - 2 * np.asarray(res, dtype=float)
        out.append(signs)
    return np.concatenate(out)


def run_sensing(net: Network, k_max: int = 8, *, shots: int = 320, calibration: int = 64, block: int = 16,
                link_fidelity: float = 1.0, coherence: float = 1.0, ks: list[int] | None = None) -> SensingRun:
    """For each k: `calibration` states at phi = 0 and `shots` at the working point, entangled and not."""
    topo = suite._topology(net)
    names = list(topo.node_names)
    ks = ks or list(range(1, k_max + 1))
    if max(ks) > len(names):
        raise InvalidOperation(f"k up to {max(ks)} needs that many sensor nodes; the topology has {len(names)}")
    p = qsensing.depolarize_for_coherence(coherence)
    t0 = time.perf_counter()
    points = []
    for k in ks:
        nodes = names[:k]
        cal = _ghz_parities(net, nodes, 0.0, calibration, p)
        work = _ghz_parities(net, nodes, math.pi / (2 * k), shots, p)
        ent = qsensing.estimate(k, cal, work, block=block, phase_multiplier=k)
        # Unentangled: per round, every one of the k sensors measures its own |+> probe.
        rounds_cal = max(1, calibration // k)
        cal_u = np.stack([_ghz_parities(net, [n], 0.0, rounds_cal, p) for n in nodes], axis=1)
        work_u = np.stack([_ghz_parities(net, [n], math.pi / 2, shots, p) for n in nodes], axis=1)
        un = qsensing.estimate(k, cal_u, work_u, block=block, probes_per_round=k, phase_multiplier=1)
        points.append(SensingPoint(k, ent, un, qsensing.heisenberg_uncertainty(k, link_fidelity, coherence),
                                   qsensing.sql_uncertainty(k, coherence)))
    return SensingRun(link_fidelity, coherence, points, time.perf_counter() - t0)


def plot_sensing(runs: list[SensingRun], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r, color in zip(runs, ("tab:blue", "tab:red", "tab:green", "tab:purple"), strict=False):
        ks = [pt.k for pt in r.points]
        label = f"F = {r.link_fidelity:g}, c = {r.coherence:g}"
        ax.errorbar(ks, [pt.entangled.uncertainty for pt in r.points],
                    yerr=[pt.entangled.uncertainty_stderr for pt in r.points], fmt="o", color=color,
                    label=f"GHZ ({label})")
        ax.plot(ks, [pt.heisenberg_expected for pt in r.points], "-", color=color)
        ax.errorbar(ks, [pt.unentangled.uncertainty for pt in r.points],
                    yerr=[pt.unentangled.uncertainty_stderr for pt in r.points], fmt="s", mfc="none", color=color,
                    label=f"unentangled ({label})")
        ax.plot(ks, [pt.sql_expected for pt in r.points], "--", color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sensors k")
    ax.set_ylabel("phase uncertainty per state / round (rad)")
    ax.set_title("distributed phase estimation: Heisenberg 1/k vs SQL 1/sqrt(k)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["SensingPoint", "SensingRun", "plot_sensing", "run_sensing", "sensor_topology"]
