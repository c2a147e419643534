"""The chaos suite's stress modes, its network, and its record of every run.

Each stress mode starts its own network of real node processes (package scope, so pytest runs every
protocol under one mode, then the next):

- ``cpu``   CPU oversubscription: `BUSY_WORKERS` pure-Python spin loops (each ends by itself after
            `BUSY_MAX_S`) run beside the nodes for the whole mode; they are stopped by pid at teardown.
- ``delay`` injected peer delays, reordering and stalled handlers: the nodes start with ``QNET_FAULTS``
            (see `qemu_net.node.faults`).
- ``both``  the two at once.

Every run is recorded (mode, protocol, seed, outcome, error text, seconds); the terminal summary prints
the runs per mode and per protocol and every failure. With ``QNET_CHAOS_REPORT=FILE`` the record is also
written to FILE as JSON.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.errors import QnetError
from qemu_net.network.topology import Topology, parse_topology
from qemu_net.node.faults import ENV_VAR, FaultPlan

MODES = ("cpu", "delay", "both")
BUSY_WORKERS = 8
#: Memory per node: large, so that qubits a failed run leaves behind do not make later runs fail with
#: MemoryFull (each failure is then its own; what it left behind is recorded with it).
MEMORY_QUBITS = 4096
#: A spin loop ends on its own after this long even if nobody stops it.
BUSY_MAX_S = 900.0
#: QNET_FAULTS per mode: up to 10 ms on every peer call, 2% of handlers stalled for 150 ms.
FAULTS = {
    "cpu": None,
    "delay": "delay_ms=10,stall_ms=150,stall_p=0.02,seed=101",
    "both": "delay_ms=10,stall_ms=150,stall_p=0.02,seed=202",
}

#: Link fidelity of the c0 -- c1 -- ... -- c8 chain (Werner pairs).
CHAIN_F = 0.95
#: Purification link u0 -- u1 (Werner pairs).
PURIFY_F = 0.8
#: BB84 link qa -- qb: single photons, misalignment only, so the QBER is QKD_MISALIGNMENT.
QKD_MISALIGNMENT = 0.03

SPIN = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nx = 0\nwhile time.monotonic() < end:\n    x += 1\n"


def chaos_topology() -> Topology:
    """One network for the whole suite; ``lab`` has ideal fibers to every node whose qubits are gathered."""
    nodes: list[str] = ["lab", "alice", "bob"]
    links: list[dict] = [{"nodes": ["alice", "bob"]}]
    to_lab: list[str] = []
    cs = [f"c{i}" for i in range(9)]
    nodes += cs
    links += [{"nodes": [a, b], "source_fidelity": CHAIN_F, "length_km": 2} for a, b in zip(cs, cs[1:])]
    to_lab += ["c0", "c2", "c4", "c8"]
    nodes += ["u0", "u1"]
    links.append({"nodes": ["u0", "u1"], "source_fidelity": PURIFY_F})
    nodes += ["g0", "g1", "g2", "g3"]
    links += [{"nodes": ["g0", "g1"]}, {"nodes": ["g1", "g2"]}, {"nodes": ["g1", "g3"]}]
    to_lab += ["g0", "g1", "g2", "g3"]
    nodes += ["x0", "x1"]
    links.append({"nodes": ["x0", "x1"]})
    ks = [f"k{i}" for i in range(4)]
    nodes += ks
    links += [{"nodes": [ks[i], ks[j]]} for i in range(4) for j in range(i + 1, 4)]
    to_lab += ks
    nodes += ["qa", "qb"]
    links.append({"nodes": ["qa", "qb"], "length_km": 0, "detector_efficiency": 0.5,
                  "misalignment_error": QKD_MISALIGNMENT})
    links += [{"nodes": [n, "lab"]} for n in to_lab]
    return parse_topology({"name": "chaos", "nodes": [{"name": n, "memory_qubits": MEMORY_QUBITS} for n in nodes],
                           "links": links, "seed": 17})


# ------------------------------------------------------------------------------------------ stress
class BusyWorkers:
    """`n` spin-loop processes, started and stopped by pid."""

    def __init__(self, n: int, max_s: float = BUSY_MAX_S) -> None:
        self.n = n
        self.max_s = max_s
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", SPIN, str(self.max_s)],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))

    def alive(self) -> int:
        return sum(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs.clear()


@contextlib.contextmanager
def fault_env(plan: str | None) -> Iterator[None]:
    """Set (or clear) QNET_FAULTS while the nodes start: the supervisor and its forked nodes inherit it."""
    if plan is not None:
        FaultPlan.parse(plan)  # fail here, clearly, rather than in 26 node processes
    old = os.environ.get(ENV_VAR)
    if plan is None:
        os.environ.pop(ENV_VAR, None)
    else:
        os.environ[ENV_VAR] = plan
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = old


@dataclass
class Chaos:
    """One stress mode's running network."""

    mode: str
    net: Network
    local: LocalNetwork
    faults: str | None
    workers: BusyWorkers | None
    #: Sampled outcomes of the runs by protocol, checked pooled at the end of the mode.
    samples: dict[str, list] = field(default_factory=lambda: collections.defaultdict(list))
    #: Qubits in use at the nodes of the current run when it started.
    before: dict[str, int] = field(default_factory=dict)

    def left_behind(self) -> dict[str, int]:
        """Qubits in use now minus at the start of the current run, by node (nonzero only)."""
        out = {}
        for n, b in self.before.items():
            try:
                d = self.net[n].info().qubits_in_use - b
            except QnetError as exc:  # only for the record of a run that already failed
                return {"?": type(exc).__name__}
            if d:
                out[n] = d
        return out


@dataclass
class ModeStats:
    faults: str | None = None
    workers: int = 0
    workers_alive_at_end: int | None = None
    wall_s: float = 0.0
    load_start: str = ""
    load_end: str = ""


@dataclass
class Record:
    runs: list[dict] = field(default_factory=list)
    modes: dict[str, ModeStats] = field(default_factory=dict)
    stats: list[dict] = field(default_factory=list)


RECORD = Record()


def _env_of(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        items = f.read().split(b"\0")
    return dict(i.decode(errors="replace").split("=", 1) for i in items if b"=" in i)


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


@pytest.fixture(scope="package", params=MODES)
def chaos(request) -> Iterator[Chaos]:
    mode = request.param
    t0 = time.monotonic()
    stats = RECORD.modes.setdefault(mode, ModeStats())
    stats.faults = FAULTS[mode]
    stats.load_start = _loadavg()
    with fault_env(FAULTS[mode]):
        local = LocalNetwork.start(chaos_topology(), allow_inspect=True)
    workers = BusyWorkers(BUSY_WORKERS) if mode in ("cpu", "both") else None
    try:
        for node in ("c1", "k0"):  # the node processes really run with this mode's plan (or none)
            assert _env_of(local.pid(node)).get(ENV_VAR) == FAULTS[mode], (mode, node)
        with Network.connect(local.topology, timeout_s=60) as net:
            try:
                if workers is not None:
                    workers.start()
                    stats.workers = workers.n
                yield Chaos(mode, net, local, FAULTS[mode], workers)
            finally:
                if workers is not None:
                    stats.workers_alive_at_end = workers.alive()
                    workers.stop()
    finally:
        local.stop()
        stats.load_end = _loadavg()
        stats.wall_s += time.monotonic() - t0


# ------------------------------------------------------------------------------------------ record
@pytest.fixture
def chaos_stats(chaos):
    """Record one pooled statistic of the current mode (for the summary)."""

    def record(stat: str, estimate: float, expected: float, se: float, n: int, runs: int) -> None:
        RECORD.stats.append({"mode": chaos.mode, "stat": stat, "estimate": estimate, "expected": expected,
                             "se": se, "n": n, "runs": runs, "z": (estimate - expected) / se if se else 0.0})

    return record


def _error_text(call: pytest.CallInfo) -> str:
    exc = call.excinfo
    if exc is None:
        return ""
    text = str(exc.value).strip().splitlines()
    first = text[0] if text else ""
    return f"{exc.typename}: {first}"[:400]


def _where(call: pytest.CallInfo) -> str:
    """The statement of the chaos test that raised (which step of the run failed)."""
    exc = call.excinfo
    if exc is None:
        return ""
    here = os.path.dirname(os.path.abspath(__file__))
    for entry in reversed(exc.traceback):
        if os.path.dirname(os.path.abspath(str(entry.path))) == here:
            lines = str(entry.statement).strip().splitlines()
            return f"{entry.path.name}:{entry.lineno + 1}: {lines[0] if lines else ''}"[:200]
    return ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    spec = getattr(item, "callspec", None)
    if item.get_closest_marker("chaos") is None or spec is None or "seed" not in spec.params:
        return  # protocol runs only (the pooled statistics are listed from RECORD.stats)
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        chaos = item.funcargs.get("chaos")
        left = chaos.left_behind() if chaos is not None and rep.when == "call" and not rep.passed else {}
        if chaos is not None and rep.when == "call":
            chaos.before = {}
        RECORD.runs.append({
            "mode": spec.params["chaos"],
            "protocol": item.originalname.removeprefix("test_"),
            "seed": spec.params.get("seed"),
            "outcome": "error" if rep.when == "setup" else rep.outcome,
            "error": _error_text(call) if not rep.passed else "",
            "where": _where(call) if not rep.passed else "",
            "left_behind": left,
            "seconds": round(call.duration, 3),
            "test": item.nodeid,
        })


def pytest_terminal_summary(terminalreporter):
    runs = RECORD.runs
    if not runs:
        return
    tr = terminalreporter
    tr.section("chaos suite: protocol runs per stress mode")
    protocols = sorted({r["protocol"] for r in runs})
    modes = [m for m in MODES if any(r["mode"] == m for r in runs)]
    by = collections.Counter((r["mode"], r["protocol"]) for r in runs)
    bad = collections.Counter((r["mode"], r["protocol"]) for r in runs if r["outcome"] != "passed")
    width = max(len(p) for p in protocols + ["protocol", "total"])
    tr.write_line(f"{'protocol':<{width}}  " + "  ".join(f"{m + ' runs/failed':>18}" for m in modes))
    for p in protocols:
        tr.write_line(f"{p:<{width}}  " + "  ".join(f"{f'{by[m, p]}/{bad[m, p]}':>18}" for m in modes))
    tot = {m: sum(by[m, p] for p in protocols) for m in modes}
    totbad = {m: sum(bad[m, p] for p in protocols) for m in modes}
    tr.write_line(f"{'total':<{width}}  " + "  ".join(f"{f'{tot[m]}/{totbad[m]}':>18}" for m in modes))
    for m in modes:
        s = RECORD.modes.get(m, ModeStats())
        tr.write_line(f"mode {m}: {tot[m]} runs, {totbad[m]} failed, {s.wall_s:.0f} s wall, busy workers "
                      f"{s.workers} (alive at end {s.workers_alive_at_end}), {ENV_VAR}={s.faults or '(unset)'}, "
                      f"load {s.load_start} -> {s.load_end}")
    for st in RECORD.stats:
        verdict = "FAILED " if abs(st["z"]) >= 4 else ""
        tr.write_line(f"{verdict}pooled {st['mode']}/{st['stat']}: {st['estimate']:.4f} vs closed form "
                      f"{st['expected']:.4f} ({st['z']:+.2f} SE, n={st['n']} from {st['runs']} runs)")
    failures = [r for r in runs if r["outcome"] != "passed"]
    tr.write_line(f"chaos runs: {len(runs)} in total, {len(failures)} failed")
    for r in failures:
        tr.write_line(f"FAILED mode={r['mode']} protocol={r['protocol']} seed={r['seed']} ({r['seconds']} s): "
                      f"{r['error']}  [at {r['where']}; qubits left in use: {r['left_behind'] or 'none'}]")
    path = os.environ.get("QNET_CHAOS_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({"runs": runs, "modes": {m: vars(s) for m, s in RECORD.modes.items()}, "stats": RECORD.stats},
                      f, indent=1)
        tr.write_line(f"chaos record written to {path}")
