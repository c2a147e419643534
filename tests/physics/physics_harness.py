"""Raw gRPC access to a running local network, for physics checks that need exact wire fields
(arrival times, ready times, attempts, virtual clocks) which the SDK deliberately summarises.

Closed forms used by the tests live in the tests themselves; nothing here computes physics.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np

from qemu_net.client.credentials import channel_to
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import protocols_pb2 as pr
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.network.topology import Topology
from qemu_net._serde.quantum import gate_to_proto
from qemu_net.node.launcher import LocalNetwork

DEADLINE_S = 30.0

PHI_PLUS = np.array([1, 0, 0, 1], dtype=complex) / math.sqrt(2)


class Node:
    """One node's NodeService, with the few calls the physics tests make."""

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self._channel = channel_to(address)
        self.stub = ng.NodeServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def info(self) -> n.NodeInfo:
        return self.stub.GetInfo(n.GetInfoRequest(), timeout=DEADLINE_S)

    def now(self) -> int:
        """This node's virtual clock (ns)."""
        return self.info().virtual_time_ns

    def alloc(self, count: int = 1) -> list[str]:
        return list(self.stub.Allocate(n.AllocateRequest(count=count), timeout=DEADLINE_S).qubits)

    def apply(self, ops: Sequence[t.Operation]) -> n.ApplyResponse:
        return self.stub.Apply(n.ApplyRequest(operations=list(ops)), timeout=DEADLINE_S)

    def gate(self, name_or_matrix, *qubits: str) -> n.ApplyResponse:
        return self.apply([gate_op(name_or_matrix, *qubits)])

    def free(self, qubits: Sequence[str]) -> None:
        if qubits:
            self.stub.Free(n.FreeRequest(qubits=list(qubits)), timeout=DEADLINE_S)

    def send_qubit(self, qubit: str, to: str) -> n.SendQubitResponse:
        return self.stub.SendQubit(n.SendQubitRequest(qubit=qubit, to=to), timeout=DEADLINE_S)

    def epr(self, peer: str, count: int = 1) -> list[t.EprPair]:
        return list(self.stub.CreateEpr(n.CreateEprRequest(peer=peer, count=count), timeout=DEADLINE_S).pairs)

    def send(self, to: str, channel: str, payload: bytes = b"") -> n.SendClassicalResponse:
        req = n.SendClassicalRequest(to=to, channel=channel, payload=payload)
        return self.stub.SendClassical(req, timeout=DEADLINE_S)

    def receive(self, sender: str, channel: str) -> n.ReceiveClassicalResponse:
        req = n.ReceiveClassicalRequest(sender=sender, channel=channel, timeout_s=10.0)
        return self.stub.ReceiveClassical(req, timeout=DEADLINE_S)

    def inspect(self, qubits: Sequence[str]) -> np.ndarray:
        r = self.stub.Inspect(n.InspectRequest(qubits=list(qubits)), timeout=DEADLINE_S)
        return np.frombuffer(r.density_matrix, dtype=np.complex128).reshape(r.dim, r.dim)

    def run(self, request: pr.ProtocolRequest) -> pr.ProtocolResult:
        return self.stub.RunProtocol(request, timeout=DEADLINE_S)


def gate_op(name_or_matrix, *qubits: str) -> t.Operation:
    return t.Operation(qubits=list(qubits), gate=gate_to_proto(name_or_matrix))


def measure_op(qubit: str, basis: int = t.BASIS_Z) -> t.Operation:
    return t.Operation(qubits=[qubit], measure=t.Measure(basis=basis))


class Net:
    """Named `Node`s of a running local network."""

    def __init__(self, local: LocalNetwork) -> None:
        self.local = local
        self.topology = local.topology
        self.nodes = {name: Node(name, addr) for name, addr in local.addresses.items()}

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()

    def concurrently(self, *calls):
        """Run zero-argument callables at once (e.g. the roles of one protocol); return their results."""
        with ThreadPoolExecutor(len(calls)) as pool:
            futures = [pool.submit(c) for c in calls]
            return [f.result() for f in futures]


@contextlib.contextmanager
def running(topology: Topology) -> Iterator[Net]:
    """Every node of `topology` as its own process (inspection allowed), with raw stubs to each."""
    local = LocalNetwork.start(topology, allow_inspect=True)
    net = Net(local)
    try:
        yield net
    finally:
        net.close()
        local.stop()


def bell_fidelity(rho: np.ndarray) -> float:
    return float(np.real(PHI_PLUS.conj() @ rho @ PHI_PLUS))


def within_4_se(count: int, trials: int, p: float) -> tuple[bool, float, float]:
    """(|count/trials - p| <= 4 standard errors, observed, standard error)."""
    obs = count / trials
    se = math.sqrt(p * (1 - p) / trials)
    return abs(obs - p) <= 4 * se, obs, se
