"""Sweeps over a live network, each with its closed form beside the measurement (`qnet sweep ... --plot`).

- `qkd_distance`: decoy-BB84 sessions between node processes over fibers of several lengths (one star
  network, a leaf per length); secret key per pulse beside the infinite-decoy GLLP rate and the
  repeaterless PLOB bound -log2(1 - eta_fiber).
- `chain_fidelity`: pairs delivered by swapping along a chain n0 -- ... -- nN, end-to-end fidelity
  for every length 1..N beside the Werner closed form 1/4 + 3/4 prod((4 F_i - 1)/3).
- `memory_decay`: qubits stored at a node with T1/T2 while its clock advances (classical round trips
  to a partner): <X> of |+> against e^(-t/T2), P(1) of |1> against e^(-t/T1).

Each returns a `Sweep`: named series of (x, y, y standard error) points, measured or closed form,
and `plot(sweep, path)` draws exactly those series (matplotlib, Agg) and returns the lines it drew, so
a test can check the data behind the figure. `progress(i, n, label)` callbacks report each point.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.network.topology import Topology, parse_topology

if TYPE_CHECKING:
    from qemu_net.client.sync import Network

Progress = Callable[[int, int, str], None]


def _no_progress(i: int, n: int, label: str) -> None:
    return None


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    #: Standard errors of measured points (None for a closed form).
    yerr: tuple[float, ...] | None = None
    kind: str = "measured"  # measured | closed_form | bound

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y) or (self.yerr is not None and len(self.yerr) != len(self.y)):
            raise ValueError(f"series {self.label!r}: x, y and yerr must have the same length")
        if self.kind not in ("measured", "closed_form", "bound"):
            raise ValueError(f"series {self.label!r}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Sweep:
    name: str
    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    log_y: bool = False
    wall_time_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, label: str) -> Series:
        for s in self.series:
            if s.label == label:
                return s
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"sweep": self.name, "title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
                "log_y": self.log_y, "wall_time_s": round(self.wall_time_s, 3), "extra": self.extra,
                "series": [{"label": s.label, "kind": s.kind, "x": list(s.x), "y": [clean(v) for v in s.y],
                            "yerr": None if s.yerr is None else list(s.yerr)} for s in self.series]}


# ------------------------------------------------------------------------------------ QKD vs distance
#: The fiber and detectors of the QKD sweep (as bench/qkd_sweep.py): realistic, so the curves bend.
QKD_LINK = {"attenuation_db_per_km": 0.2, "detector_efficiency": 0.1, "dark_count_probability": 1e-6,
            "misalignment_error": 0.015}


def qkd_topology(distances_km: Sequence[float], link: dict[str, Any] | None = None) -> Topology:
    leaves = [f"d{i}" for i in range(len(distances_km))]
    return parse_topology({
        "name": "qkd-sweep", "seed": 11, "nodes": ["alice", *leaves],
        "links": [{"nodes": ["alice", leaf], "length_km": float(d), **(link or QKD_LINK)}
                  for leaf, d in zip(leaves, distances_km, strict=True)],
    }, source="qkd sweep")


def qkd_sessions(seed: int, n: int) -> list[str]:
    """The session ids of a `qkd_distance` sweep with `seed`: one per distance, stable across runs.

    A node draws a session's randomness (pulse trains, bases, detector clicks, hash seeds) from its own
    seed and the session id, so fixed ids make the sweep reproducible: the same topology, seed and
    pulses give the same counts and rates whatever the timing of the run. A network keeps every
    session's key, so a second sweep on the same running network needs another seed."""
    return [f"qkd-distance-s{int(seed)}-d{i}" for i in range(n)]


def qkd_distance(net: Network, distances_km: Sequence[float], *, pulses: int = 1_000_000, seed: int = 0,
                 progress: Progress = _no_progress) -> Sweep:
    """`net` runs `qkd_topology(distances_km)`; one BB84 session alice -> d_i per distance, the sessions
    named by `qkd_sessions(seed, ...)` (reproducible for a given seed)."""
    from qemu_net.client.qkd import run_qkd
    from qemu_net.qkd.roles import BB84Params
    from qemu_net.qkd.theory import gllp_key_rate, plob_bound, transmittance

    topo = net.topology
    if topo is None:
        raise InvalidOperation("this sweep needs the network's topology: connect with Network.connect(topology)")
    base = BB84Params(peer="x")
    t0 = time.perf_counter()
    xs, asym, qbers, aborted = [], [], [], []
    fx, finite = [], []
    sessions = qkd_sessions(seed, len(distances_km))
    for i, d in enumerate(distances_km):
        progress(i, len(distances_km), f"BB84 over {d:g} km")
        s = run_qkd(net, "alice", f"d{i}", "bb84", n_pulses=pulses, report_abort=True, timeout_s=120,
                    session=sessions[i])
        xs.append(float(d))
        # The decoy bound on these very counts without statistical fluctuations (what GLLP predicts), and
        # the composable finite-key rate, which a block this size may not reach at all.
        asym.append(float(s.asymptotic_rate_per_pulse or 0.0))
        if not s.aborted and s.key_rate_per_pulse > 0:
            fx.append(float(d))
            finite.append(s.key_rate_per_pulse)
        qbers.append(s.qber)
        aborted.append(s.aborted or "")
    progress(len(distances_km), len(distances_km), "done")
    link0 = topo.links[0]
    pd, ed = link0.dark_count_probability, link0.misalignment_error
    y0 = 1 - (1 - pd) ** 2
    q = base.p_z ** 2 + (1 - base.p_z) ** 2
    grid = np.linspace(0.0, max(xs) * 1.15 + 1.0, 120)
    gllp = [base.p_signal * gllp_key_rate(transmittance(x, link0.attenuation_db_per_km, link0.detector_efficiency),
                                          y0, ed, base.mu, base.f_ec, q) for x in grid]
    plob = [float(plob_bound(transmittance(x, link0.attenuation_db_per_km, 1.0))) for x in grid]
    return Sweep(
        "qkd_distance", f"decoy BB84 between node processes ({pulses:.0e} pulses per session)",
        "fiber length (km)", "secret key bits per pulse",
        (Series("measured", tuple(xs), tuple(asym)),
         Series("measured, finite-key (eps_sec 1e-10)", tuple(fx), tuple(finite)),
         Series("GLLP, infinite decoys", tuple(map(float, grid)), tuple(gllp), kind="closed_form"),
         Series("PLOB bound", tuple(map(float, grid)), tuple(plob), kind="bound")),
        log_y=True, wall_time_s=time.perf_counter() - t0,
        extra={"qber": qbers, "aborted": aborted, "pulses": pulses, "seed": seed, "sessions": sessions, "link": {
            k: getattr(link0, k) for k in ("attenuation_db_per_km", "detector_efficiency", "dark_count_probability",
                                           "misalignment_error")}},
    )


# ------------------------------------------------------------------------------------ chain fidelity
#: Pairs per chain run. Long runs of many pairs at once make the holders' state migrations collide more
#: often in the current node core ("its state kept moving"). Measured here over 1..4 links: 2 failures in
#: 24 runs of 300 pairs; at load ~22 on 2 cores, 1 in 144 runs of 50 pairs and none in 720 runs of 10.
CHAIN_BATCH = 10

def chain_fidelity(net: Network, *, shots: int = 200, seed: int = 0, progress: Progress = _no_progress) -> Sweep:
    """`net` runs a chain n0 -- ... -- nN; fidelity of pairs n0 -- nk for k = 1..N by swapping."""
    from qemu_net.client import protocols as suite
    from qemu_net.protocols.routing import path_fidelities
    from qemu_net.protocols.swap import chain_fidelity as closed_form

    topo = net.topology
    if topo is None:
        raise InvalidOperation("this sweep needs the network's topology: connect with Network.connect(topology)")
    names = list(topo.node_names)
    if len(names) < 2:
        raise InvalidOperation("a chain sweep needs at least two nodes")
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    ks, fs, ses, expected = [], [], [], []
    for k in range(1, len(names)):
        progress(k - 1, len(names) - 1, f"{k} link(s)")
        path = names[: k + 1]
        codes = rng.integers(0, 3, shots).astype(np.uint8)
        za, zb = [], []
        for lo in range(0, shots, CHAIN_BATCH):  # several runs of a few dozen pairs, not one of hundreds
            part = codes[lo:lo + CHAIN_BATCH]
            d = suite.chain(net, path, pairs=len(part), measure_bases=["ZXY"[c] for c in part])
            assert d.outcomes is not None  # measured at both ends (measure_bases given)
            za.append(d.outcomes[0])
            zb.append(d.outcomes[1])
        f, se = suite.bell_fidelity(np.concatenate(za), np.concatenate(zb), codes)
        ks.append(float(k))
        fs.append(f)
        ses.append(se)
        expected.append(closed_form(path_fidelities(topo, path)))
    progress(len(names) - 1, len(names) - 1, "done")
    return Sweep(
        "chain_fidelity", f"entanglement swapping along a chain ({shots} pairs per length)",
        "links in the chain", "fidelity with |Φ+⟩",
        (Series("measured", tuple(ks), tuple(fs), tuple(ses)),
         Series("closed form (Werner links)", tuple(ks), tuple(expected), kind="closed_form")),
        wall_time_s=time.perf_counter() - t0, extra={"shots": shots, "seed": seed},
    )


# ------------------------------------------------------------------------------------ memory decay
def memory_topology(t1_s: float | None, t2_s: float | None, *, clock_km: float = 10.0,
                    qubits: int = 400) -> Topology:
    return parse_topology({
        "name": "memory-sweep", "seed": 13,
        "nodes": [{"name": "mem", "t1_s": t1_s, "t2_s": t2_s, "memory_qubits": 2 * qubits + 8}, "clock"],
        "classical_links": [{"nodes": ["mem", "clock"], "length_km": clock_km}],
    }, source="memory sweep")


def _let_time_pass(net: Network, round_trips: int) -> None:
    """Advance mem's clock by classical round trips to its partner (each 2 x the link latency)."""
    for _ in range(round_trips):
        net["mem"].send("clock", "tick", b"")
        net["clock"].receive("mem", "tick")
        net["clock"].send("mem", "tock", b"")
        net["mem"].receive("clock", "tock")


def memory_decay(net: Network, round_trips: Sequence[int] = (0, 1, 2, 4, 8, 16), *, qubits: int = 400,
                 progress: Progress = _no_progress) -> Sweep:
    """`net` runs `memory_topology(...)`; `qubits` stored per point for each of |+> and |1>."""
    from qemu_net._serde.sdk import gate_op, measure_op

    topo = net.topology
    if topo is None:
        raise InvalidOperation("this sweep needs the network's topology: connect with Network.connect(topology)")
    spec = topo.node("mem")
    latency_ns = topo.classical_latency_ns("mem", "clock")
    mem = net["mem"]
    t0 = time.perf_counter()
    ts, xs, xerr, ps, perr = [], [], [], [], []
    for i, k in enumerate(round_trips):
        progress(i, len(round_trips), f"{k} round trip(s)")
        plus = mem.qubits(qubits)
        one = mem.qubits(qubits)
        start = mem.info().virtual_time_ns
        mem.apply([gate_op("H", (q,)) for q in plus] + [gate_op("X", (q,)) for q in one])
        _let_time_pass(net, k)
        waited = mem.info().virtual_time_ns - start
        out = mem.apply([measure_op(q, "X") for q in plus] + [measure_op(q, "Z") for q in one])
        bx = np.array(out[:qubits])
        bz = np.array(out[qubits:])
        ex = float(np.mean(1 - 2 * bx))  # <X> = P(+) - P(-)
        p1 = float(np.mean(bz))
        ts.append(waited * 1e-9)
        xs.append(ex)
        xerr.append(float(np.std(1 - 2 * bx, ddof=1) / math.sqrt(qubits)) if qubits > 1 else 0.0)
        ps.append(p1)
        perr.append(math.sqrt(max(p1 * (1 - p1), 1e-12) / qubits))
    progress(len(round_trips), len(round_trips), "done")
    t1, t2 = spec.t1_s, spec.t2_s
    t2_eff = t2 if t2 is not None else (2 * t1 if t1 is not None else None)
    grid = np.linspace(0.0, max(ts) * 1.05 if max(ts) > 0 else 1e-3, 100)
    cx = [math.exp(-t / t2_eff) if t2_eff else 1.0 for t in grid]
    cp = [math.exp(-t / t1) if t1 else 1.0 for t in grid]
    return Sweep(
        "memory_decay", f"memory decay at a node (T1={t1} s, T2={t2} s; {qubits} qubits per point)",
        "storage time (virtual s)", "value",
        (Series("<X> of |+> (measured)", tuple(ts), tuple(xs), tuple(xerr)),
         Series("P(1) of |1> (measured)", tuple(ts), tuple(ps), tuple(perr)),
         Series("exp(-t/T2)", tuple(map(float, grid)), tuple(cx), kind="closed_form"),
         Series("exp(-t/T1)", tuple(map(float, grid)), tuple(cp), kind="closed_form")),
        wall_time_s=time.perf_counter() - t0,
        extra={"round_trips": list(round_trips), "latency_ns": latency_ns, "t1_s": t1, "t2_s": t2},
    )


# ------------------------------------------------------------------------------------ plotting
def plot(sweep: Sweep, path: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Draw `sweep` into a PNG at `path`; return label -> (x, y) of every line drawn (read back from the axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    styles: dict[str, dict[str, Any]] = {"measured": {"marker": "o", "linestyle": "none"},
                                         "closed_form": {"linestyle": "-"},
              "bound": {"linestyle": "--", "color": "k"}}
    counts = {"measured": 0, "closed_form": 0, "bound": 0}
    for s in sweep.series:
        x, y = np.asarray(s.x, float), np.asarray(s.y, float)
        color = "k" if s.kind == "bound" else f"C{counts[s.kind]}"  # the i-th closed form goes with the i-th data
        counts[s.kind] += 1
        if sweep.log_y:
            y = np.where(y > 0, y, np.nan)  # a zero rate has no place on a log axis
        if s.yerr is not None and s.kind == "measured":
            cont = ax.errorbar(x, y, yerr=np.asarray(s.yerr, float), label=s.label, capsize=3, color=color,
                               **styles[s.kind])
            cont.lines[0].set_gid(s.label)
        else:
            (line,) = ax.plot(x, y, label=s.label, **{"color": color, **styles[s.kind]})
            line.set_gid(s.label)
    if sweep.log_y:
        ax.set_yscale("log")
    ax.set_xlabel(sweep.xlabel)
    ax.set_ylabel(sweep.ylabel)
    ax.set_title(sweep.title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    drawn = {str(ln.get_gid()): (np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float))
             for ln in ax.get_lines() if ln.get_gid()}
    plt.close(fig)
    return drawn


__all__ = ["QKD_LINK", "Series", "Sweep", "chain_fidelity", "memory_decay", "memory_topology", "plot",
           "qkd_distance", "qkd_sessions", "qkd_topology"]
