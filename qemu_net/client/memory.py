"""Quantum memory experiment from existing operations: store both halves of a link pair while the two nodes
exchange classical messages (each message advances the receiver's virtual clock by the link latency),
then measure the pair in matched random bases. The node API has no wait operation; classical ping-pong is
how virtual time passes here, so storage times are whole round trips.

Closed form (Bell-diagonal source with correlations (v, -v, v), each half i decayed for t_i with
gamma_i = 1 - e^(-t_i/T1), c_i = e^(-t_i/T2) of its node; readout flips e_i):
F = (1 + (1 - 2 e_a)(1 - 2 e_b) [2 v c_a c_b + v (1 - g_a)(1 - g_b) + g_a g_b]) / 4, where t_i includes the
herald wait the link model already charges (round trip for the source half, latency for the far half).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from qemu_net.client import protocols as suite
from qemu_net.client.sync import Network
from qemu_net.errors import InvalidOperation
from qemu_net.network import physics

if TYPE_CHECKING:
    from qemu_net.network.topology import NodeSpec


@dataclass(frozen=True)
class MemoryPoint:
    round_trips: int
    storage_s: float          # mean storage after the herald (both halves)
    fidelity: float
    stderr: float
    expected: float           # the closed form at each shot's storage times, averaged
    shots: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decay(t_s: float, t1: float | None, t2: float | None) -> tuple[float, float]:
    g = 0.0 if t1 is None else 1 - math.exp(-t_s / t1)
    if t2 is None:
        t2 = None if t1 is None else 2 * t1
    c = 1.0 if t2 is None else math.exp(-t_s / t2)
    return g, c


def memory_closed_form(v: float, ta_s: float, tb_s: float, node_a: NodeSpec, node_b: NodeSpec) -> float:
    """The Bell-state fidelity of a pair of Werner parameter `v` whose halves were stored `ta_s` and `tb_s`."""
    ga, ca = _decay(ta_s, node_a.t1_s, node_a.t2_s)
    gb, cb = _decay(tb_s, node_b.t1_s, node_b.t2_s)
    r = (1 - 2 * node_a.measure_error) * (1 - 2 * node_b.measure_error)
    return float((1 + r * (2 * v * ca * cb + v * (1 - ga) * (1 - gb) + ga * gb)) / 4)


def memory_experiment(net: Network, a: str, b: str, *, waits_s: tuple[float, ...] = (0.0, 1e-4, 3e-4, 1e-3),
                      shots: int = 90, seed: int = 0) -> list[MemoryPoint]:
    """Fidelity of a stored pair a--b against storage time (rounded up to whole classical round trips)."""
    topo = suite._topology(net)
    link = topo.link(a, b)
    if link is None:
        raise InvalidOperation(f"{a!r} and {b!r} share no quantum link")
    if link.heralding != "source" or link.source_model != "werner":
        raise InvalidOperation("the memory experiment's closed form assumes one-sided heralding and a Werner source")
    lat_s = link.latency_ns * 1e-9
    rt_s = physics.round_trip_ns(link) * 1e-9
    v_src = (4 * link.source_fidelity - 1) / 3
    model = physics.EprLinkModel.from_specs(link)  # no memories: the source, transmission, false heralds
    v = (4 * model.fidelity - 1) / 3 if v_src > 0 else 0.0
    na, nb = topo.node(a), topo.node(b)
    rng = np.random.default_rng(seed)
    points = []
    for wait in waits_s:
        n_rt = 0 if wait <= 0 or lat_s <= 0 else math.ceil(wait / (2 * lat_s))
        codes = rng.integers(0, 3, shots).astype(np.uint8)
        za, zb = np.zeros(shots, np.uint8), np.zeros(shots, np.uint8)
        expected, stored = [], []
        for k in range(shots):
            (pair,) = net[a].epr(b)
            for _ in range(n_rt):
                net[a].send(b, "memory", b"p")
                net[b].receive(a, "memory")
                net[b].send(a, "memory", b"q")
                net[a].receive(b, "memory")
            basis = "ZXY"[codes[k]]
            ta = (net[a].info().virtual_time_ns - pair.ready_ns) * 1e-9
            za[k] = pair.local.measure(basis)
            tb = (net[b].info().virtual_time_ns - pair.ready_ns) * 1e-9
            zb[k] = pair.remote.measure(basis)
            expected.append(memory_closed_form(v, rt_s + ta, lat_s + tb, na, nb))
            stored.append((ta + tb) / 2)
        f, se = suite.bell_fidelity(za, zb, codes)
        points.append(MemoryPoint(n_rt, float(np.mean(stored)), f, se, float(np.mean(expected)), shots))
    return points


__all__ = ["MemoryPoint", "memory_closed_form", "memory_experiment"]
