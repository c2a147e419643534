"""A qnetbench backend: its portable host API over qemu_net node processes.

qnetbench (PyPI) writes benchmark applications once against `qnetbench.api.Host` (`qalloc`,
`epr_socket(peer).request(n, demand)`, `classical_socket(peer)`, `qsend`/`qrecv`, `now`, `sleep`, `rng`)
and runs them on a backend: an object built as ``Backend(topology, seed=..., arbitration=..., policy=...)``
whose ``run(app, cfg, roles_to_nodes)`` returns the run's trace (a list of `qnetbench.trace` events, from
which `qnetbench.metrics.compute_report` derives utility, fidelity and contract violations).

`QemuNetBackend` is such a backend. Each role runs in its own thread with a `Host` bound to one node
process; everything quantum or classical goes through that node:

* qubits are the node's qubits (`Allocate`, `Apply`, measurements destroy the qubit as in qnetbench);
* ``epr_socket(peer).request(n, demand)`` is a rendezvous over our classical channel between the two
  nodes: the side whose name sorts later sends its request (count, demand, request time); the other side
  merges the two demands (the stricter of each field, as qnetbench's reference backend does), asks its
  node's link layer for ``n`` pairs (`CreateEpr` for ``purpose="keep"``; a create-and-measure batch in Z
  for ``purpose="measure"``) and sends the far halves' ids back. The delivered fidelity is the link
  model's (`qemu_net.network.physics.EprLinkModel`), the latency runs from the first request to the
  moment the later end holds its half, the pair age is how long a half waited in memory before its end
  had it (one classical latency at the far end), and violations are judged against the merged demand;
* ``classical_socket(peer)`` is a FIFO over the nodes' classical channel (virtual time: sender's clock
  plus the link latency);
* ``qsend``/``qrecv`` move the qubit over the quantum link (`SendQubit`, with the link's transmission
  noise) and tell the receiver its id over the classical channel;
* ``now``/``sleep`` are the node's virtual clock (seconds since the run's epoch: at the start of a run
  every node's clock is brought to the latest one's).

qnetbench 0.1.0 selects backends by name inside `qnetbench.harness.runner.run_once` (three names, no
registry or entry point), so `run_once` here has the same signature and adds ``backend="qemu_net"``,
delegating every other name to qnetbench's; `qemu_net.integrations.qnetbench.cli` is qnetbench's CLI with
that backend added. `to_topology` maps qnetbench's link model onto ours (see docs/integrations.md).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qnetbench.api import API_VERSION
from qnetbench.api.host import EntanglementHandle
from qnetbench.api.types import AppOutcome, Basis, Demand, Gate, NodeId, Role, ViolationKind
from qnetbench.topology import Topology as QnbTopology
from qnetbench.trace.events import (
    AppOutcomeEvent,
    ClassicalMessage,
    ContractViolation,
    EntanglementDelivered,
    EntanglementRequested,
    Event,
    Measurement,
    QubitSent,
    RunHeader,
)

from qemu_net._serde import sdk as w
from qemu_net.client.sync import Network, Node
from qemu_net.client.sync import Qubit as SdkQubit
from qemu_net.errors import InvalidOperation, NotConnected, ProtocolTimeout, QnetError, UnknownNode
from qemu_net.network import physics
from qemu_net.network.topology import Topology, parse_topology

BACKEND_NAME = "qemu_net"
#: Wall-clock bound of one application run (every wait inside it ends by then).
DEFAULT_RUN_TIMEOUT_S = 600.0
_RECV_SLICE_S = 5.0  # a blocked receive wakes this often to see whether another role has failed


# ----------------------------------------------------------------------------- topology mapping
def to_topology(topology: QnbTopology, *, prefix: str = "", seed: int = 0, name: str | None = None) -> Topology:
    """Our topology for a qnetbench one: a node per qnetbench node (named ``prefix + node``), a link per link.

    A qnetbench link delivers Werner pairs of fidelity ``link_fidelity`` (sampled around it with
    ``fidelity_std``), sends single qubits through a depolarising channel of fidelity ``link_fidelity``,
    and has a one-way classical delay of ``attempt_latency`` seconds. The same physics here: a perfect
    source whose far photon is depolarised with probability ``p = 1 - link_fidelity`` in transit (Cirq's
    ``depolarize(p)``: a Werner pair of fidelity exactly ``link_fidelity``, and ``depolarize(p)`` on a sent
    qubit), a lossless zero-length fiber, a classical latency of ``attempt_latency``, and memories and
    gates without noise. One EPR attempt then takes a round trip (2 classical latencies at most: the
    attempt period is max(1/rate, fiber + latency) = ``attempt_latency``) and always succeeds.
    """
    nodes = [prefix + n for n in topology.nodes]
    links = []
    for edge, model in topology.links.items():
        a, b = sorted(edge)
        p = 1.0 - float(model.link_fidelity)
        if not 0.0 <= p <= 0.75:
            raise InvalidOperation(f"link {a}--{b}: link_fidelity must be in [0.25, 1], got {model.link_fidelity}")
        links.append({"nodes": [prefix + a, prefix + b], "length_km": 0.0, "source_fidelity": 1.0,
                      "transmission_depolarize": p, "misalignment_error": 0.0,
                      "classical_latency_ns": float(model.attempt_latency) * 1e9,
                      "attempt_rate_hz": 1.0 / float(model.attempt_latency)})
    slug = "".join(c if c.isalnum() else "-" for c in (name or f"qnb-{topology.name}").lower()).strip("-")[:40]
    return parse_topology({"name": slug or "qnb", "nodes": nodes, "links": links, "seed": seed},
                          source=f"qnetbench topology {topology.name!r}")


def merged_topology(topologies: Mapping[str, QnbTopology], *, seed: int = 0, name: str = "qnetbench") -> Topology:
    """One network holding several qnetbench topologies side by side, topology ``key``'s nodes named
    ``key-node`` (so one set of node processes serves a whole benchmark suite)."""
    nodes: list[Any] = []
    links: list[Any] = []
    for key, topo in topologies.items():
        t = to_topology(topo, prefix=f"{key}-", seed=seed)
        nodes += [n.name for n in t.nodes]
        links += [lk.model_dump(mode="json", exclude_defaults=True) for lk in t.links]
    return parse_topology({"name": name, "nodes": nodes, "links": links, "seed": seed}, source="qnetbench topologies")


# ----------------------------------------------------------------------------- demands
def merge_demands(a: Demand, b: Demand) -> Demand:
    """The contract of a two-sided request: the stricter value of each field (qnetbench's reference rule)."""

    def lowest(x: float | None, y: float | None) -> float | None:
        vals = [v for v in (x, y) if v is not None]
        return min(vals) if vals else None

    return Demand(min_fidelity=max(a.min_fidelity, b.min_fidelity),
                  latency_budget=lowest(a.latency_budget, b.latency_budget),
                  deadline=lowest(a.deadline, b.deadline),
                  staleness_tolerance=lowest(a.staleness_tolerance, b.staleness_tolerance),
                  priority=max(a.priority, b.priority), purpose=a.purpose)


def violations_of(demand: Demand, *, fidelity: float, delivered_s: float, requested_s: float,
                  pair_age_s: float) -> list[ViolationKind]:
    """The contract violations of one delivered pair (times in run seconds)."""
    out: list[ViolationKind] = []
    if fidelity < demand.min_fidelity:
        out.append("fidelity")
    late = demand.deadline is not None and delivered_s > demand.deadline
    over_budget = demand.latency_budget is not None and delivered_s - requested_s > demand.latency_budget
    if late or over_budget:
        out.append("deadline")
    if demand.staleness_tolerance is not None and pair_age_s > demand.staleness_tolerance:
        out.append("staleness")
    return out


# ----------------------------------------------------------------------------- the host API
_GATES = {Gate.I: "I", Gate.X: "X", Gate.Y: "Y", Gate.Z: "Z", Gate.H: "H", Gate.S: "S", Gate.T: "T"}
_ROTATIONS = {Gate.RX: "RX", Gate.RY: "RY", Gate.RZ: "RZ"}


class _Qubit:
    """A qubit of the host's node (qnetbench's `Qubit` protocol)."""

    __slots__ = ("_host", "_q")

    def __init__(self, host: _Host, q: SdkQubit) -> None:
        self._host, self._q = host, q
        host._live.add(q.id)

    def _own(self) -> SdkQubit:
        if self._q.node.name != self._host._me:
            raise InvalidOperation(f"qubit {self._q.id} is at {self._q.node.name!r}, not at {self._host._me!r}")
        return self._q

    def apply(self, gate: Gate, *params: float) -> None:
        gate = Gate(gate)
        if gate in _ROTATIONS:
            if len(params) != 1:
                raise InvalidOperation(f"{gate.value} takes one angle, got {len(params)}")
            self._host._node.gate(_ROTATIONS[gate], self._own(), angle=float(params[0]))
        else:
            self._host._node.gate(_GATES[gate], self._own())

    def cnot(self, target: Any) -> None:
        self._host._node.gate("CNOT", self._own(), _unwrap(target))

    def cz(self, target: Any) -> None:
        self._host._node.gate("CZ", self._own(), _unwrap(target))

    def measure(self, basis: Basis = Basis.Z) -> int:
        bit = self._host._node.measure(self._own(), Basis(basis).value)
        self._host._live.discard(self._q.id)
        return bit

    def free(self) -> None:
        self._host._node.free([self._own()])
        self._host._live.discard(self._q.id)


def _unwrap(q: Any) -> SdkQubit:
    if not isinstance(q, _Qubit):
        raise InvalidOperation(f"expected a qubit of this backend, got {q!r}")
    return q._q


class _ClassicalSocket:
    def __init__(self, host: _Host, peer: NodeId) -> None:
        self._host, self._peer = host, peer

    def send(self, msg: bytes) -> None:
        self._host._send(self._peer, "app", bytes(msg))
        self._host._run.emit(ClassicalMessage(t=self._host.now(), src=self._host.node, dst=self._peer,
                                              n_bytes=len(msg)))

    def recv(self) -> bytes:
        return self._host._recv(self._peer, "app")


class _EprSocket:
    def __init__(self, host: _Host, peer: NodeId) -> None:
        self._host, self._peer = host, peer

    def request(self, n: int, demand: Demand) -> list[EntanglementHandle]:
        return self._host._epr(self._peer, int(n), demand)


class _Host:
    """qnetbench's `Host` for one role, bound to one qemu_net node process."""

    def __init__(self, run: _Run, node_id: NodeId, rng: np.random.Generator) -> None:
        self._run, self._id, self._rng = run, node_id, rng
        self._me = run.names[node_id]
        self._node: Node = run.net[self._me]
        self._clock_qubit: SdkQubit | None = None
        #: Qubits of this role still in its node's memory (freed when the run ends, whatever the app left).
        self._live: set[str] = set()

    # -- identity, randomness, time
    @property
    def node(self) -> NodeId:
        return self._id

    @property
    def rng(self) -> np.random.Generator:
        return self._rng

    def _now_ns(self) -> int:
        return self._node.info().virtual_time_ns

    def now(self) -> float:
        return (self._now_ns() - self._run.epoch_ns) / 1e9

    def sleep(self, duration: float) -> None:
        if duration < 0:
            raise InvalidOperation(f"sleep takes a duration >= 0, got {duration}")
        if duration > 0:
            self._node.apply([w.wait_op(self._clock(), float(duration))])

    def _clock(self) -> SdkQubit:
        """A qubit kept for the run so time can pass at this node (a wait acts on a qubit in memory)."""
        if self._clock_qubit is None:
            self._clock_qubit = self._node.qubit()
        return self._clock_qubit

    def _advance_to(self, t_ns: int) -> None:
        now = self._now_ns()
        if t_ns > now:
            self._node.apply([w.wait_op(self._clock(), (t_ns - now) / 1e9)])

    def close(self) -> None:
        left = sorted(self._live)
        if self._clock_qubit is not None:
            left.append(self._clock_qubit.id)
            self._clock_qubit = None
        for qid in left:  # one by one: a qubit sent away or already gone must not keep the others
            with contextlib.suppress(QnetError):
                self._node.free([qid])
        self._live.clear()

    def record_measurement(self, basis: Basis, result: int) -> None:
        self._run.emit(Measurement(t=self.now(), node=self._id, basis=Basis(basis).value, result=int(result)))

    # -- qubits
    def qalloc(self) -> _Qubit:
        return _Qubit(self, self._node.qubit())

    def qsend(self, peer: NodeId, qubit: Any) -> None:
        q = _unwrap(qubit)
        to = self._run.node_of(peer)
        moved = self._node.send_qubit(q, to)
        if moved is None:
            # qnetbench's API has no photon loss; the links `to_topology` builds are lossless.
            self._send(peer, "qubit", b"")
            raise InvalidOperation(f"the qubit sent from {self._me!r} to {to!r} was lost in the fiber; qnetbench "
                                   "applications expect lossless single-qubit transmission")
        self._live.discard(q.id)
        self._send(peer, "qubit", q.id.encode())
        link = self._run.topology.link(self._me, to)
        assert link is not None  # the send above went over this link
        fid = 1.0 - link.transmission_depolarize
        self._run.emit(QubitSent(t=self.now(), src=self._id, dst=peer, fidelity=fid))

    def qrecv(self, peer: NodeId) -> _Qubit:
        qid = self._recv(peer, "qubit").decode()
        if not qid:
            raise InvalidOperation(f"the qubit {peer!r} sent to {self._id!r} was lost in the fiber")
        return _Qubit(self, SdkQubit(self._node, qid))

    # -- sockets
    def epr_socket(self, peer: NodeId) -> _EprSocket:
        self._run.check_link(self._id, peer)
        return _EprSocket(self, peer)

    def classical_socket(self, peer: NodeId) -> _ClassicalSocket:
        self._run.node_of(peer)
        return _ClassicalSocket(self, peer)

    def _send(self, peer: NodeId, kind: str, payload: bytes) -> None:
        self._node.send(self._run.node_of(peer), self._run.channel(kind), payload)

    def _recv(self, peer: NodeId, kind: str) -> bytes:
        """The next message of this kind from `peer`, waiting at most until the run's deadline."""
        sender, channel = self._run.node_of(peer), self._run.channel(kind)
        while True:
            left = self._run.deadline - time.monotonic()
            if left <= 0:
                raise ProtocolTimeout(f"{self._id!r} waited for a {kind} message from {peer!r} until the run's "
                                      "deadline")
            if self._run.failed.is_set():
                raise ProtocolTimeout(f"{self._id!r} stopped waiting for {peer!r}: another role failed")
            try:
                return self._node.receive(sender, channel, timeout_s=min(left, _RECV_SLICE_S))
            except ProtocolTimeout:
                continue  # the slice ended: look at the deadline and the other roles again

    # -- entanglement
    def _epr(self, peer: NodeId, n: int, demand: Demand) -> list[EntanglementHandle]:
        if not 1 <= n <= 10_000:
            raise InvalidOperation(f"request between 1 and 10000 pairs, got {n}")
        run = self._run
        run.check_link(self._id, peer)
        t_req = self._now_ns()
        far = run.node_of(peer)
        if self._me > far:  # the later name asks; the earlier one's link layer makes the pairs
            self._send(peer, "epr", json.dumps({"n": n, "t_ns": t_req, "demand": demand.model_dump()}).encode())
            msg = json.loads(self._recv(peer, "epr"))
            if "error" in msg:
                raise InvalidOperation(msg["error"])
            handles = []
            # The batch's outcomes are at this node before the reply was sent: the wait is short.
            outcomes = (self._node.fetch_epr_outcomes(msg["batch"], timeout_s=10.0)
                        if msg["purpose"] == "measure" else None)
            for k, p in enumerate(msg["pairs"]):
                handles.append(EntanglementHandle(
                    req_id=msg["req_id"], fidelity=msg["fidelity"], latency=msg["latency_s"],
                    pair_age=p["age_s"], violations=list(p["violations"]),
                    qubit=None if outcomes is not None else _Qubit(self, SdkQubit(self._node, p["qubit"])),
                    outcome=None if outcomes is None else int(outcomes[k])))
            return handles
        other = json.loads(self._recv(peer, "epr"))
        if other["n"] != n:
            err = (f"entanglement request size mismatch on {self._id!r}<->{peer!r}: {self._id} asked for {n}, "
                   f"{peer} for {other['n']}; both sides of a pair request must agree on the count")
            self._send(peer, "epr", json.dumps({"error": err}).encode())
            raise InvalidOperation(err)
        gov = merge_demands(demand, Demand(**other["demand"]))
        first_ns = min(t_req, int(other["t_ns"]))
        req_id = run.next_req_id()
        run.emit(EntanglementRequested(t=run.seconds(first_ns), req_id=req_id, src=self._id, dst=peer, n=n,
                                       demand=gov))
        link = run.topology.link(self._me, far)
        assert link is not None
        fidelity = run.link_fidelity(self._me, far)
        latency_ns = float(link.latency_ns)
        if gov.purpose == "measure":
            batch = self._node.create_measure_epr(far, n, local_bases="Z", remote_bases="Z")
            ready = [batch.virtual_time_ns] * n
            mine: list[Any] = [int(b) for b in batch.outcomes]
        else:
            pairs = self._node.epr(far, n)
            ready = [p.ready_ns for p in pairs]
            mine = pairs
        # The far end learns of its halves with this node's next message: one classical latency after the
        # last herald; until then its halves wait in memory (their age).
        delivered_ns = max(ready) + latency_ns
        latency_s = (delivered_ns - first_ns) / 1e9
        out, handles = [], []
        for k in range(n):
            age_far = (delivered_ns - ready[k]) / 1e9
            age_here = (max(ready) - ready[k]) / 1e9
            v = violations_of(gov, fidelity=fidelity, delivered_s=run.seconds(delivered_ns),
                              requested_s=run.seconds(first_ns), pair_age_s=age_far)
            run.emit(EntanglementDelivered(t=run.seconds(delivered_ns), req_id=req_id, actual_fidelity=fidelity,
                                           latency=latency_s, pair_age=age_far))
            for kind in v:
                run.emit(ContractViolation(t=run.seconds(delivered_ns), req_id=req_id, violation=kind))
            if gov.purpose == "measure":
                out.append({"age_s": age_far, "violations": v})
                handles.append(EntanglementHandle(req_id=req_id, fidelity=fidelity, latency=latency_s,
                                                  pair_age=age_here, outcome=mine[k], violations=list(v)))
            else:
                out.append({"qubit": mine[k].remote.id, "age_s": age_far, "violations": v})
                handles.append(EntanglementHandle(req_id=req_id, fidelity=fidelity, latency=latency_s,
                                                  pair_age=age_here, qubit=_Qubit(self, mine[k].local),
                                                  violations=list(v)))
        reply: dict[str, Any] = {"req_id": req_id, "purpose": gov.purpose, "fidelity": fidelity,
                                 "latency_s": latency_s, "pairs": out}
        if gov.purpose == "measure":
            reply["batch"] = batch.batch_id
        self._send(peer, "epr", json.dumps(reply).encode())
        return handles


# ----------------------------------------------------------------------------- one run
@dataclass
class _Run:
    net: Network
    topology: Topology
    qnb: QnbTopology
    names: Mapping[NodeId, str]
    run_id: str
    deadline: float
    epoch_ns: int = 0
    failed: threading.Event = field(default_factory=threading.Event)
    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _req_ids: Iterator[int] = field(default_factory=itertools.count)
    _fidelity: dict[tuple[str, str], float] = field(default_factory=dict)

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def next_req_id(self) -> int:
        with self._lock:
            return next(self._req_ids)

    def seconds(self, t_ns: float) -> float:
        return (t_ns - self.epoch_ns) / 1e9

    def channel(self, kind: str) -> str:
        return f"qnetbench/{self.run_id}/{kind}"

    def node_of(self, node_id: NodeId) -> str:
        try:
            return self.names[node_id]
        except KeyError:
            raise UnknownNode(f"unknown node {node_id!r}; this run's nodes: {', '.join(self.names)}",
                              node=str(node_id), known=list(self.names)) from None

    def check_link(self, a: NodeId, b: NodeId) -> None:
        self.qnb.link(a, b)  # KeyError with qnetbench's own message, as on its reference backend

    def link_fidelity(self, source: str, far: str) -> float:
        """Bell fidelity of the pairs the link layer delivers (the node's own model of the link)."""
        key = (source, far)
        with self._lock:
            f = self._fidelity.get(key)
        if f is None:
            link = self.topology.link(source, far)
            if link is None:
                raise NotConnected(f"{source} and {far} share no quantum link")
            model = physics.EprLinkModel.from_specs(link, self.topology.node(source), self.topology.node(far),
                                                    source=source)
            f = round(float(model.fidelity), 12)  # the model is exact; drop float round-off
            with self._lock:
                self._fidelity[key] = f
        return f


class QemuNetBackend(contextlib.AbstractContextManager["QemuNetBackend"]):
    """qnetbench backend over qemu_net node processes (see the module docstring).

    ``QemuNetBackend(topology, seed=...)`` starts a local network for `topology` on the first run and
    stops it in `close()` (or use it as a context manager). Pass ``network=`` (a connected `Network`)
    and ``names=`` (qnetbench node -> qemu_net node) to run on nodes that are already up, e.g. one
    `merged_topology` network serving several qnetbench topologies.

    Seeds: the applications' per-node generators (`Host.rng`) are derived from `seed` exactly as on
    qnetbench's reference backend, so both backends draw the same application choices; quantum outcomes
    come from the nodes' own generators (the topology's seed), so a fresh network with the same seed and
    the same sequence of runs reproduces the same trace.
    """

    backend_name = BACKEND_NAME

    def __init__(self, topology: QnbTopology, seed: int = 0, arbitration: str = "native", policy: Any = None, *,
                 network: Network | None = None, names: Mapping[NodeId, str] | None = None,
                 run_timeout_s: float = DEFAULT_RUN_TIMEOUT_S) -> None:
        if arbitration != "native":
            raise NotImplementedError(f"the qemu_net backend serves requests in arrival order ('native'); "
                                      f"arbitration {arbitration!r} is not modelled")
        self.topology, self.seed, self.arbitration, self.policy = topology, seed, arbitration, policy
        self.run_timeout_s = run_timeout_s
        self._net = network
        self._names = dict(names) if names is not None else {n: n for n in topology.nodes}
        missing = [n for n in topology.nodes if n not in self._names]
        if missing:
            raise InvalidOperation(f"names= gives no qemu_net node for {', '.join(missing)}")
        self._stack = contextlib.ExitStack()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def _network(self) -> Network:
        if self._net is None:
            from qemu_net.node.launcher import LocalNetwork

            local = self._stack.enter_context(LocalNetwork.start(to_topology(self.topology, seed=self.seed)))
            self._net = self._stack.enter_context(Network.connect(local.topology, timeout_s=60))
        return self._net

    def run(self, app: Any, cfg: dict[str, object], roles_to_nodes: dict[Role, NodeId]) -> list[Event]:
        net = self._network()
        if net.topology is None:
            raise InvalidOperation("the network's topology is needed (connect with Network.connect(topology))")
        run = _Run(net, net.topology, self.topology, self._names, uuid.uuid4().hex[:12],
                   time.monotonic() + self.run_timeout_s)
        seq = np.random.SeedSequence(self.seed)
        node_seeds = seq.spawn(len(self.topology.nodes) + 1)[1:]
        rngs = {node: np.random.default_rng(s) for node, s in zip(self.topology.nodes, node_seeds, strict=True)}
        roles = list(app.roles())
        hosts = {role: _Host(run, roles_to_nodes[role], rngs[roles_to_nodes[role]]) for role in roles}
        # A common epoch: every node's clock brought to the latest one's.
        clocks = {role: h._now_ns() for role, h in hosts.items()}
        run.epoch_ns = max(clocks.values())
        for h in hosts.values():
            h._advance_to(run.epoch_ns)
        outcomes: dict[Role, AppOutcome] = {}
        errors: dict[Role, BaseException] = {}

        def role_main(role: Role) -> Callable[[], None]:
            def go() -> None:
                try:
                    outcomes[role] = app.run(hosts[role], role, cfg)
                except BaseException as exc:
                    errors[role] = exc
                    run.failed.set()
            return go

        try:
            with ThreadPoolExecutor(max_workers=len(roles), thread_name_prefix="qnetbench-role") as pool:
                futures = [pool.submit(role_main(r)) for r in roles]
                for f in futures:
                    f.result(timeout=max(0.0, run.deadline - time.monotonic()) + 30)
            end = max((h.now() for h in hosts.values()), default=0.0)
        finally:
            for h in hosts.values():
                h.close()
        if errors:
            # The first failure is the cause; the others are roles that stopped waiting for it.
            causes = {r: e for r, e in errors.items() if "another role failed" not in str(e)} or errors
            role, exc = next(iter(causes.items()))
            raise RuntimeError(f"application {app.name!r} failed at role {role!r} on the qemu_net backend: "
                               f"{type(exc).__name__}: {exc}") from exc
        header = RunHeader(t=0.0, api_version=API_VERSION, app=app.name, backend=self.backend_name,
                           arbitration=self.arbitration, topology=self.topology.name, seed=self.seed)
        events: list[Event] = [header]
        for role in roles:
            o = outcomes[role]
            events.append(AppOutcomeEvent(t=end, role=role, node=roles_to_nodes[role], success=o.success,
                                          utility=o.utility, payload=o.payload))
        events.extend(run.events)
        events.sort(key=lambda e: e.t)
        return events


# ----------------------------------------------------------------------------- runner
def run_once(app_name: str, *, seed: int = 0, backend: str = "reference", arbitration: str = "native",
             topology: QnbTopology | None = None, cfg: dict[str, object] | None = None, pair_age: float = 0.0,
             coherence_time: float = math.inf, network: Network | None = None,
             names: Mapping[NodeId, str] | None = None) -> list[Event]:
    """`qnetbench.harness.run_once` with ``backend="qemu_net"`` added (other names go to qnetbench's)."""
    from qnetbench.apps import get_app
    from qnetbench.harness import runner

    if backend != BACKEND_NAME:
        events: list[Event] = runner.run_once(app_name, seed=seed, backend=backend, arbitration=arbitration,
                                              topology=topology, cfg=cfg, pair_age=pair_age,
                                              coherence_time=coherence_time)
        return events
    if (pair_age, coherence_time) != (0.0, math.inf):
        raise NotImplementedError("pair aging is qnetbench's reference-backend model; on qemu_net pairs age in "
                                  "the nodes' memories (set t1_s/t2_s in the topology)")
    app = get_app(app_name)
    topo = topology or runner._default_topology(app.roles())
    roles_to_nodes = {role: role for role in app.roles()}
    missing = [n for n in roles_to_nodes.values() if n not in topo.nodes]
    if missing:
        raise ValueError(f"topology {topo.name!r} is missing nodes for roles {missing}")
    with QemuNetBackend(topo, seed=seed, arbitration=arbitration, network=network, names=names) as b:
        return b.run(app, cfg or {}, roles_to_nodes)


__all__ = ["BACKEND_NAME", "QemuNetBackend", "merge_demands", "merged_topology", "run_once", "to_topology",
           "violations_of"]
