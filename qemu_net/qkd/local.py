"""An in-process `NodeContext` for QKD roles: two (or more) nodes in one process, threads and queues.

For unit tests, sweeps and benchmarks of the pure protocol logic; the node process provides the real
one over gRPC. It implements the classical channel (ordered per (sender, receiver, channel), every
wait bounded), the virtual clock (a message arrives at the sender's time plus the link latency) and
the per-node random stream. Qubit operations are not available here: QKD roles do not use them.

Seed contract: `run_local_session(..., seed=s)` gives each node the stream
``numpy.random.default_rng([s, crc32(node name)])``; the same seed and topology reproduce the run.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from qemu_net.errors import InvalidOperation, NotConnected, ProtocolTimeout
from qemu_net.network.topology import Topology


class LocalHub:
    """The shared classical network of an in-process run."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._queues: dict[tuple[str, str, str], queue.Queue[tuple[float, bytes]]] = {}
        self._lock = threading.Lock()

    def queue(self, src: str, dst: str, channel: str) -> queue.Queue[tuple[float, bytes]]:
        key = (src, dst, channel)
        with self._lock:
            q = self._queues.get(key)
            if q is None:
                q = self._queues[key] = queue.Queue()
            return q


class LocalContext:
    """One node's context on a `LocalHub` (classical messages, clock, rng)."""

    def __init__(self, hub: LocalHub, name: str, *, seed: int = 0) -> None:
        hub.topology.require_node(name)
        self._hub = hub
        self._name = name
        self._rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        self._now_ns = 0.0
        self.bytes_sent = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def topology(self) -> Topology:
        return self._hub.topology

    @property
    def rng(self) -> np.random.Generator:
        return self._rng

    def send(self, peer: str, channel: str, payload: bytes) -> None:
        latency = self._hub.topology.classical_latency_ns(self._name, peer)
        if latency is None:
            raise NotConnected(f"no classical channel between {self._name!r} and {peer!r}")
        self.bytes_sent += len(payload)
        self._hub.queue(self._name, peer, channel).put((self._now_ns + latency, bytes(payload)))

    def recv(self, peer: str, channel: str, *, timeout_s: float = 10.0) -> bytes:
        try:
            stamp, payload = self._hub.queue(peer, self._name, channel).get(timeout=timeout_s)
        except queue.Empty:
            raise ProtocolTimeout(
                f"{self._name}: nothing from {peer!r} on {channel!r} within {timeout_s} s"
            ) from None
        self._now_ns = max(self._now_ns, stamp)
        return payload

    def now_ns(self) -> int:
        return int(self._now_ns)

    def advance_clock(self, ns: float) -> None:
        if ns < 0:
            raise InvalidOperation(f"cannot advance the clock by {ns} ns")
        self._now_ns += ns

    def _no_qubits(self, *_: Any, **__: Any) -> Any:
        raise InvalidOperation("the in-process QKD context has no quantum memory")

    alloc = free = apply = measure = epr = await_epr = _no_qubits


def run_local_session(
    topology: Topology,
    roles: dict[str, tuple[Callable[[Any, Any], Any], Any]],
    *,
    seed: int = 0,
    join_timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Run one role per node concurrently (one thread each) and return each node's result.

    ``roles`` maps a node name to ``(role_function, params)``. If any role raises, the first
    exception (in the order of `roles`) is re-raised after all threads finished.
    """
    hub = LocalHub(topology)
    results: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}

    def run(name: str, fn: Callable[[Any, Any], Any], params: Any) -> None:
        try:
            results[name] = fn(LocalContext(hub, name, seed=seed), params)
        except BaseException as exc:
            errors[name] = exc

    threads = [threading.Thread(target=run, args=(n, f, p), name=f"qkd-{n}", daemon=True)
               for n, (f, p) in roles.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(join_timeout_s)
        if t.is_alive():
            raise ProtocolTimeout(f"role thread {t.name} did not finish within {join_timeout_s} s")
    for name in roles:
        if name in errors:
            raise errors[name]
    return results


__all__ = ["LocalContext", "LocalHub", "run_local_session"]
