"""Protocol runs started from the dashboard: run through the SDK in worker threads, kept in memory.

A run is one of `KINDS` (teleport, swap chain, QKD session) with its parameters; `RunBook.start`
validates them, returns the run's id at once and runs it in the background; `RunBook.runs()` lists the
runs in progress and the most recent results (at most `keep`). The dashboard server is the only owner
of this record: the nodes know nothing of it.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from qemu_net.client.sync import Network
from qemu_net.errors import InvalidOperation, QnetError
from qemu_net.network.topology import Topology

#: Bounds on what a page may ask for (a dashboard is not a benchmark harness).
MAX_SHOTS = 2000
MAX_PULSES = 20_000_000
RUN_TIMEOUT_S = 120.0


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _int(params: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(key, default)
    try:
        v = int(raw)
    except (TypeError, ValueError):
        raise InvalidOperation(f"{key}: expected an integer, got {raw!r}") from None
    if not lo <= v <= hi:
        raise InvalidOperation(f"{key}: {v} is outside [{lo}, {hi}]")
    return v


def _node(topology: Topology, params: dict[str, Any], key: str) -> str:
    name = params.get(key)
    if not isinstance(name, str):
        raise InvalidOperation(f"{key}: give a node name, one of {', '.join(topology.node_names)}")
    topology.require_node(name, what=key)
    return name


def _shots_seed(p: dict[str, Any], default_shots: int) -> tuple[int, int]:
    """The ``shots`` (1..MAX_SHOTS) and ``seed`` (0..2^31-1) parameters of a run request."""
    return _int(p, "shots", default_shots, 1, MAX_SHOTS), _int(p, "seed", 0, 0, 2**31 - 1)


def _teleport(net: Network, topology: Topology, p: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], Any]]:
    from qemu_net.client.experiments import teleport_fidelity
    from qemu_net.errors import NotConnected

    src, dst = _node(topology, p, "src"), _node(topology, p, "dst")
    if topology.link(src, dst) is None:
        raise NotConnected(f"{src} and {dst} share no quantum link: teleportation uses one EPR pair between "
                           "neighbours (use a swap chain for distant nodes)")
    shots, seed = _shots_seed(p, 20)
    return ({"src": src, "dst": dst, "shots": shots, "seed": seed},
            lambda: teleport_fidelity(net, src, dst, shots=shots, seed=seed).to_dict())


def _swap_chain(net: Network, topology: Topology, p: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], Any]]:
    from qemu_net.client.protocol_experiments import chain_experiment
    from qemu_net.protocols.routing import route

    src, dst = _node(topology, p, "src"), _node(topology, p, "dst")
    if src == dst:
        raise InvalidOperation("src and dst must be different nodes")
    route(topology, src, dst, "hops")  # NotConnected now, not in the background
    shots, seed = _shots_seed(p, 50)
    return ({"src": src, "dst": dst, "shots": shots, "seed": seed},
            lambda: chain_experiment(net, src, dst, shots=shots, seed=seed).to_dict())


def _qkd(net: Network, topology: Topology, p: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], Any]]:
    from qemu_net.client.qkd import run_qkd
    from qemu_net.errors import NotConnected

    src, dst = _node(topology, p, "src"), _node(topology, p, "dst")
    if topology.link(src, dst) is None:
        raise NotConnected(f"{src} and {dst} share no quantum link: QKD needs a fiber between them")
    variant = p.get("variant", "bb84")
    if variant not in ("bb84", "e91"):
        raise InvalidOperation(f"variant: use 'bb84' or 'e91', got {variant!r}")
    pulses = _int(p, "pulses", 200_000, 1000, MAX_PULSES)
    count = "n_pulses" if variant == "bb84" else "n_pairs"

    def go() -> dict[str, Any]:
        params: dict[str, Any] = {count: pulses}
        s = run_qkd(net, src, dst, variant, report_abort=True, timeout_s=RUN_TIMEOUT_S, **params)
        return s.to_dict()

    return {"src": src, "dst": dst, "variant": variant, "pulses": pulses}, go


#: kind -> builder(net, topology, params) -> (normalised params, thunk that runs it)
KINDS: dict[str, Callable[[Network, Topology, dict[str, Any]], tuple[dict[str, Any], Callable[[], Any]]]] = {
    "teleport": _teleport,
    "swap_chain": _swap_chain,
    "qkd": _qkd,
}


@dataclass
class Run:
    id: str
    kind: str
    params: dict[str, Any]
    started: float
    state: str = "running"  # running | done | failed
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "kind": self.kind, "params": self.params, "state": self.state,
             "started": self.started, "finished": self.finished, "result": self.result, "error": self.error,
             "error_type": self.error_type}
        if self.finished is not None:
            d["wall_time_s"] = round(self.finished - self.started, 3)
        clean: dict[str, Any] = _clean(d)
        return clean


class RunBook:
    """Runs started from the page: at most `workers` at once, the last `keep` remembered."""

    def __init__(self, net: Network, topology: Topology, *, workers: int = 2, keep: int = 50) -> None:
        self.net = net
        self.topology = topology
        self.keep = keep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dash-run")
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def start(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """Validate and start a run; returns it as accepted (state "running": a run that fails at once is
        "failed" only on the next read). InvalidOperation (or NotConnected) for bad parameters."""
        builder = KINDS.get(kind)
        if builder is None:
            raise InvalidOperation(f"unknown run kind {kind!r}; use one of {', '.join(KINDS)}")
        if not isinstance(params, dict):
            raise InvalidOperation("params: expected an object")
        norm, thunk = builder(self.net, self.topology, params)
        with self._lock:
            run = Run(f"r{next(self._ids)}", kind, norm, time.time())
            self._runs[run.id] = run
            while len(self._runs) > self.keep:
                oldest = next(iter(self._runs))
                if self._runs[oldest].state == "running":
                    break
                self._runs.popitem(last=False)
            accepted = run.to_dict()
        self._pool.submit(self._execute, run, thunk)
        return accepted

    def _execute(self, run: Run, thunk: Callable[[], Any]) -> None:
        try:
            result = thunk()
        except QnetError as exc:
            self._finish(run, error=str(exc), error_type=type(exc).__name__)
        except Exception as exc:
            self._finish(run, error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
        else:
            self._finish(run, result=result)

    def _finish(self, run: Run, *, result: dict[str, Any] | None = None, error: str | None = None,
                error_type: str | None = None) -> None:
        if error is None and result and result.get("aborted"):
            error, error_type = f"session aborted: {result['aborted']}", "ProtocolAborted"
        with self._lock:
            run.finished = time.time()
            run.result = result
            run.error = error
            run.error_type = error_type
            run.state = "failed" if error is not None else "done"

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def runs(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            return [r.to_dict() for r in reversed(self._runs.values())]

    def latest_qkd(self) -> dict[str, dict[str, Any]]:
        """link id -> the result of the most recent successful QKD session on it."""
        from qemu_net.dashboard.collect import link_id

        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for r in self._runs.values():
                if r.kind == "qkd" and r.state == "done" and r.result:
                    out[link_id(r.params["src"], r.params["dst"])] = r.result
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
