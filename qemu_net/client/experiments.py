"""Experiments run through the SDK against a live network: what `qnet run` and `qnet demo` report.

Each experiment returns an `ExperimentResult`: the protocol, the number of shots, the measured figure
(e.g. fidelity) with its standard error, wall time, and the virtual time the network spent.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qemu_net.client.sync import Network
from qemu_net.errors import InvalidOperation, QnetError

if TYPE_CHECKING:
    from qemu_net._serde.sdk import Operation


@dataclass(frozen=True)
class ExperimentResult:
    protocol: str
    shots: int
    figure: str
    value: float
    stderr: float
    wall_time_s: float
    virtual_time_ns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shots < 0 or self.stderr < 0 or self.wall_time_s < 0:
            raise ValueError("shots, stderr and wall_time_s cannot be negative")

    @property
    def rate_per_s(self) -> float:
        return self.shots / self.wall_time_s if self.wall_time_s > 0 else 0.0

    @property
    def rate_per_virtual_s(self) -> float:
        return self.shots / (self.virtual_time_ns * 1e-9) if self.virtual_time_ns > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d[self.figure] = self.value
        d["rate_per_s"] = round(self.rate_per_s, 3)
        d["rate_per_virtual_s"] = round(self.rate_per_virtual_s, 3)
        return d


def _binomial_stderr(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n else 0.0


def teleport_fidelity(net: Network, src: str, dst: str, *, shots: int = 200, seed: int = 0,
                      concurrency: int = 4) -> ExperimentResult:
    """Teleport random pure states src -> dst; estimate fidelity from measurements.

    Each shot prepares Ry(theta) Rz(phi)|0> at `src`, teleports it, undoes the preparation at `dst` and
    measures Z: outcome 0 has probability equal to the fidelity of the received state.
    """
    if shots < 1:
        raise InvalidOperation("shots must be at least 1")
    rng = np.random.default_rng(seed)
    # Haar-random pure states: theta = arccos(1 - 2u), phi uniform.
    thetas = np.arccos(1 - 2 * rng.random(shots))
    phis = 2 * np.pi * rng.random(shots)
    t0_virtual = max(net[src].info().virtual_time_ns, net[dst].info().virtual_time_ns)

    def shot(i: int) -> int:
        q = net[src].qubit()
        try:
            net[src].apply([_g("RY", q, thetas[i]), _g("RZ", q, phis[i])])
            r = net.teleport(q, dst)
        except QnetError:
            # The roles free what they made; the state to teleport is ours to free (if it is still there).
            with contextlib.suppress(QnetError):
                net[src].free([q])
            raise
        return net[dst].apply([_g("RZ", r, -phis[i]), _g("RY", r, -thetas[i]), _m(r)])[0]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(shot, range(shots)))
    wall = time.perf_counter() - t0
    t1_virtual = max(net[src].info().virtual_time_ns, net[dst].info().virtual_time_ns)
    f = 1 - sum(outcomes) / shots
    return ExperimentResult("teleport", shots, "fidelity", f, _binomial_stderr(f, shots), wall,
                            t1_virtual - t0_virtual, {"from": src, "to": dst})


def _g(name: str, q: Any, angle: float | None = None) -> Operation:
    from qemu_net._serde.sdk import gate_op

    return gate_op(name, (q,), angle)


def _m(q: Any, basis: str = "Z") -> Operation:
    from qemu_net._serde.sdk import measure_op

    return measure_op(q, basis)


def epr_correlation(net: Network, a: str, b: str, *, pairs: int = 10_000, seed: int = 0) -> ExperimentResult:
    """Create-and-measure a batch of pairs in random Z/X bases; report the agreement in matching bases."""
    rng = np.random.default_rng(seed)
    ba = rng.integers(0, 2, pairs).astype(np.uint8)
    bb = rng.integers(0, 2, pairs).astype(np.uint8)
    t0 = time.perf_counter()
    res = net[a].create_measure_epr(b, pairs, local_bases=ba, remote_bases=bb)
    out_b = net[b].fetch_epr_outcomes(res.batch_id)
    wall = time.perf_counter() - t0
    same = ba == bb
    agree = float(np.mean(res.outcomes[same] == out_b[same])) if same.any() else 0.0
    return ExperimentResult("epr", pairs, "agreement", agree, _binomial_stderr(agree, int(same.sum())), wall,
                            res.virtual_time_ns, {"between": [a, b], "attempts": res.attempts})


def qkd_key_rate(net: Network, alice: str, bob: str, *, protocol: str = "bb84", pulses: int = 1_000_000,
                 eve_fraction: float = 0.0, **params: Any) -> ExperimentResult:
    """One QKD session (decoy BB84 or E91) between two node processes; the figure is the secret key
    rate per pulse (per pair for E91). ``extra`` holds the session summary (raw, sifted and final
    lengths, QBER, rates per pulse, per virtual second and per wall second; never the key). An
    aborted session is reported, not raised: ``extra["aborted"]`` says why."""
    from qemu_net.client.qkd import run_qkd

    count = "n_pulses" if protocol == "bb84" else "n_pairs"
    params = {count: pulses, **params}
    s = run_qkd(net, alice, bob, protocol, report_abort=True, eve_fraction=eve_fraction, **params)
    return ExperimentResult("qkd", s.n_pulses, "secret_key_rate_per_pulse", s.key_rate_per_pulse, 0.0, s.wall_time_s,
                            int(s.virtual_duration_ns), s.to_dict())


#: name -> (function, description)
EXPERIMENTS: dict[str, tuple[Callable[..., ExperimentResult], str]] = {
    "teleport": (teleport_fidelity, "teleport random states and measure the fidelity"),
    "epr": (epr_correlation, "create-and-measure EPR pairs and measure their correlation"),
    "qkd": (qkd_key_rate, "a QKD session (decoy BB84 or E91): key lengths, QBER and secret key rates"),
}

# The protocol suite (swapping, purification, the entanglement service, GHZ, superdense, nonlocal gates, circuits).
# (protocol_experiments imports this module; whichever of the two is imported first, the other completes the
# merge: protocol_experiments adds its entries at its end too.)
from qemu_net.client import protocol_experiments as _protocol_experiments  # noqa: E402

EXPERIMENTS.update(getattr(_protocol_experiments, "EXPERIMENTS", {}))
