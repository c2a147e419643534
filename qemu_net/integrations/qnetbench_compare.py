"""qnetbench's protocols on the qemu_net backend beside its reference backend, on the same topologies.

`compare(apps, ...)` runs each application's default topology (qnetbench's: a direct link for two roles,
a star for more) on both backends: the reference in-process for `ref_seeds`, qemu_net on one network of
real node processes holding every topology side by side (`merged_topology`) for `qemu_seeds`. For each
application and backend it reports the mean per run of the report's utility, mean delivered fidelity,
contract violations and latency, and the z-score of the utility difference

    z = |mean_qemu - mean_ref| / sqrt(sd^2 / n_ref + sd^2 / n_qemu),

with sd the reference's run-to-run standard deviation (floored at `SD_FLOOR`: the same physics gives
the same spread, and the reference has many seeds to estimate it). Agreement is z <= 4.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from qnetbench.apps import get_app
from qnetbench.harness.runner import _default_topology
from qnetbench.metrics import compute_report
from qnetbench.topology import Topology as QnbTopology

from qemu_net.integrations.qnetbench import QemuNetBackend, merged_topology, run_once

if TYPE_CHECKING:
    from qemu_net.network.topology import Topology

SD_FLOOR = 1e-3


@dataclass(frozen=True)
class BackendStats:
    backend: str
    seeds: tuple[int, ...]
    utilities: tuple[float, ...]
    fidelities: tuple[float, ...]
    violations: tuple[int, ...]
    latencies_s: tuple[float, ...]
    sim_durations_s: tuple[float, ...]
    wall_s: float

    def __post_init__(self) -> None:
        n = len(self.seeds)
        if not n or any(len(x) != n for x in (self.utilities, self.fidelities, self.violations, self.latencies_s)):
            raise ValueError("one value per seed for every statistic")

    @property
    def utility(self) -> float:
        return float(np.mean(self.utilities))

    @property
    def utility_sd(self) -> float:
        return float(np.std(self.utilities, ddof=1)) if len(self.utilities) > 1 else 0.0

    def summary(self) -> dict[str, Any]:
        return {"backend": self.backend, "runs": len(self.seeds), "utility": self.utility,
                "utility_sd": self.utility_sd, "fidelity": float(np.mean(self.fidelities)),
                "violations_per_run": float(np.mean(self.violations)),
                "latency_mean_s": float(np.mean(self.latencies_s)),
                "sim_duration_s": float(np.mean(self.sim_durations_s)), "wall_s_per_run": self.wall_s / len(self.seeds)}


@dataclass(frozen=True)
class AppComparison:
    app: str
    topology: str
    reference: BackendStats
    qemu_net: BackendStats
    note: str = ""
    z: float = field(init=False)

    def __post_init__(self) -> None:
        sd = max(self.reference.utility_sd, SD_FLOOR)
        se = sd * math.sqrt(1 / len(self.reference.seeds) + 1 / len(self.qemu_net.seeds))
        object.__setattr__(self, "z", abs(self.qemu_net.utility - self.reference.utility) / se)

    @property
    def agrees(self) -> bool:
        return self.z <= 4.0

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "topology": self.topology, "z_utility": self.z, "agrees": self.agrees,
                "note": self.note, "reference": self.reference.summary(), "qemu_net": self.qemu_net.summary()}


def _stats(backend: str, seeds: Sequence[int], reports: Sequence[Any], wall: float) -> BackendStats:
    return BackendStats(backend, tuple(seeds), tuple(r.app_utility for r in reports),
                        tuple(r.mean_fidelity for r in reports), tuple(sum(r.violations.values()) for r in reports),
                        tuple(r.latency_mean for r in reports), tuple(r.sim_duration for r in reports), wall)


def default_topologies(apps: Iterable[str]) -> dict[str, QnbTopology]:
    return {a: _default_topology(get_app(a).roles()) for a in apps}


def _key(topo: QnbTopology) -> tuple[Any, ...]:
    return (topo.nodes, tuple(sorted((tuple(sorted(e)), m) for e, m in topo.links.items())))


def suite_network_topology(apps: Iterable[str], *, seed: int = 0,
                           ) -> tuple[Topology, dict[str, tuple[QnbTopology, dict[str, str]]]]:
    """The qemu_net topology serving every app's default topology, and app -> (qnetbench topology, names)."""
    topos = default_topologies(apps)
    keys: dict[tuple[Any, ...], str] = {}
    by_key: dict[str, QnbTopology] = {}
    plan: dict[str, tuple[QnbTopology, dict[str, str]]] = {}
    for app, topo in topos.items():
        k = keys.setdefault(_key(topo), f"t{len(keys)}")
        by_key[k] = topo
        plan[app] = (topo, {n: f"{k}-{n}" for n in topo.nodes})
    return merged_topology(by_key, seed=seed, name="qnetbench-suite"), plan


def compare(apps: Sequence[str], *, net: Any, plan: Mapping[str, tuple[QnbTopology, dict[str, str]]],
            ref_seeds: Sequence[int] = tuple(range(20)), qemu_seeds: Sequence[int] = (0,),
            cfg: Mapping[str, Mapping[str, object]] | None = None, notes: Mapping[str, str] | None = None,
            progress: Any = None) -> list[AppComparison]:
    """Run `apps` on both backends (qemu_net on `net`, laid out by `plan` from `suite_network_topology`)."""
    out = []
    for app in apps:
        topo, names = plan[app]
        c = dict((cfg or {}).get(app, {}))
        t0 = time.perf_counter()
        ref = [compute_report(run_once(app, seed=s, backend="reference", topology=topo, cfg=c)) for s in ref_seeds]
        t1 = time.perf_counter()
        app_obj = get_app(app)
        qrep = []
        for s in qemu_seeds:
            with QemuNetBackend(topo, seed=s, network=net, names=names) as b:
                qrep.append(compute_report(b.run(app_obj, c, {r: r for r in app_obj.roles()})))
        t2 = time.perf_counter()
        comp = AppComparison(app, topo.name, _stats("reference", ref_seeds, ref, t1 - t0),
                             _stats("qemu_net", qemu_seeds, qrep, t2 - t1), (notes or {}).get(app, ""))
        out.append(comp)
        if progress is not None:
            progress(comp)
    return out


def render(rows: Sequence[AppComparison]) -> str:
    head = (f"{'app':26} {'utility ref':>16} {'utility qemu':>16} {'z':>5}  {'fid ref':>7} {'fid qemu':>8}  "
            f"{'viol ref':>8} {'viol qemu':>9}  {'wall/run ref':>12} {'qemu':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        a, b = r.reference.summary(), r.qemu_net.summary()
        lines.append(
            f"{r.app:26} {a['utility']:8.3f} ± {a['utility_sd']:5.3f} {b['utility']:8.3f} ± {b['utility_sd']:5.3f} "
            f"{r.z:5.1f}{' ' if r.agrees else '!'} {a['fidelity']:7.4f} {b['fidelity']:8.4f}  "
            f"{a['violations_per_run']:8.2f} {b['violations_per_run']:9.2f}  {a['wall_s_per_run']:11.3f}s "
            f"{b['wall_s_per_run']:7.2f}s" + (f"  [{r.note}]" if r.note else ""))
    return "\n".join(lines)


__all__ = ["AppComparison", "BackendStats", "compare", "default_topologies", "render", "suite_network_topology"]
