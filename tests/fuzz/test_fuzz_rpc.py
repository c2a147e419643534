"""Fuzzing every method of every service a node serves, against real node processes.

The services are the ones the nodes themselves list by reflection (reflection itself aside), on every
port they serve; requests are generated from each method's protobuf descriptor (`generate.py`: random
valid messages with extreme values and random field combinations) and sent as raw random or mutated
bytes through a generic ``channel.unary_unary`` with identity serializers. Every call has a deadline.

At the end it prints, and checks: inputs sent per method (at least QNET_FUZZ_INPUTS in all, 10,500 by
default), crashes (a node process died: 0), INTERNAL or UNKNOWN answers (0), calls that returned
later than their own bound (the call's deadline, or a shorter ``timeout_s`` in the request) plus a
slack for a loaded machine (0), each node's RSS growth (< 100 MB), and a teleport with fidelity 1
afterwards.
"""

from __future__ import annotations

import collections
import importlib
import json
import math
import os
import pkgutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2  # noqa: F401 - registers the health service's descriptors
from grpc_reflection.v1alpha import reflection
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import qemu_net._proto.v1 as proto_pkg
from qemu_net.client import gate
from tests.fuzz.conftest import Credentials, FuzzNet, valid_credentials
from tests.fuzz.generate import FastMessages, MessageStrategies, Pools, raw_inputs

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(900)]

for _mod in pkgutil.iter_modules(proto_pkg.__path__):
    if _mod.name.endswith("_pb2"):
        importlib.import_module(f"{proto_pkg.__name__}.{_mod.name}")

TOTAL_INPUTS = int(os.environ.get("QNET_FUZZ_INPUTS", "10500"))
#: Requests sent at once (one hypothesis example is a batch of this many).
BATCH = 16
#: Share of each method's inputs that are raw bytes rather than generated messages.
RAW_SHARE = 0.15
#: Share drawn by hypothesis (its draws cost ~20-80 ms a message here); the rest by `FastMessages`.
HYPOTHESIS_SHARE = 0.08
#: Deadline of every call, and of calls that may wait for other parties (roles, receives, health Watch).
DEADLINE_S = 0.6
WAIT_DEADLINE_S = 0.4
WAITING = {"RunProtocol", "ReceiveClassical", "FetchEprOutcomes", "TakeGroup", "Watch", "GetKeys"}
#: How late a call may return past its own bound on a loaded 2-core machine before it counts as a wait past it.
SLACK_S = 2.0
RSS_LIMIT_MB = 100.0
BAD_CODES = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def served_services(channel: grpc.Channel) -> list[str]:
    db = ProtoReflectionDescriptorDatabase(channel)
    return sorted(s for s in db.get_services() if s != reflection.SERVICE_NAME and "reflection" not in s)


def serves(creds: Credentials, address: str, node: str, peer: bool, svc) -> bool:
    """The port answers the service's first unary method with anything but UNIMPLEMENTED."""
    m = next(m for m in svc.methods if not m.server_streaming)
    with creds.open(address, node, peer) as ch:
        try:
            ch.unary_unary(f"/{svc.full_name}/{m.name}", request_serializer=None, response_deserializer=None)(
                b"\xff", timeout=5)
        except grpc.RpcError as err:
            return err.code() != grpc.StatusCode.UNIMPLEMENTED or not creds.accepted
    return True


def own_bound(request, deadline: float) -> float:
    """The call's own bound: its deadline, or a shorter positive finite ``timeout_s`` in the request."""
    t = getattr(request, "timeout_s", None) if request is not None and hasattr(request, "DESCRIPTOR") else None
    if t is not None and "timeout_s" in request.DESCRIPTOR.fields_by_name and math.isfinite(t) and 0 < t < deadline:
        return t
    return deadline


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: collections.Counter[str] = collections.Counter()
        self.codes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.bad: list[tuple[str, str, str]] = []
        self.late: list[tuple[str, float, float]] = []
        self.qubits: dict[str, set[str]] = collections.defaultdict(set)
        self.examples: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        self.seconds: dict[str, float] = {}

    def record(self, method: str, code: grpc.StatusCode, details: str, elapsed: float, bound: float) -> None:
        with self.lock:
            self.sent[method] += 1
            self.codes[method][code.name] += 1
            seen = self.examples[(method, code.name)]
            if len(seen) < 2 and details:
                seen.append(details[:120])
            if code in BAD_CODES:
                self.bad.append((method, code.name, details[:300]))
            if elapsed > bound + SLACK_S:
                self.late.append((method, round(elapsed, 3), bound))


def qubit_ids(msg, out: set[str]) -> None:
    """Every string in fields named like qubits (to free what the fuzzing allocated, at the end)."""
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            if fd.message_type.GetOptions().map_entry:
                continue
            for v in (value if fd.is_repeated else (value,)):
                qubit_ids(v, out)
        elif fd.type == fd.TYPE_STRING and "qubit" in fd.name:
            out.update(value if fd.is_repeated else (value,))


def fuzz_method(tally: Tally, pool_exec: ThreadPoolExecutor, channels: list[grpc.Channel], path: str, method,
                strategies: MessageStrategies, fast: FastMessages, n_inputs: int, node_of: dict[int, str]) -> None:
    name = path.rsplit("/", 1)[1]
    req_desc = method.input_type
    resp_cls = message_factory.GetMessageClass(method.output_type)
    deadline = WAIT_DEADLINE_S if name in WAITING else DEADLINE_S
    streaming = method.server_streaming
    valid = strategies.for_descriptor(req_desc)
    raw = raw_inputs(valid)
    calls = []
    for i, ch in enumerate(channels):
        if streaming:
            calls.append(ch.unary_stream(path, request_serializer=None, response_deserializer=None))
        else:
            calls.append(ch.unary_unary(path, request_serializer=None, response_deserializer=None))

    def one(i: int, request, data: bytes) -> None:
        k = i % len(calls)
        bound = own_bound(request, deadline)
        t0 = time.monotonic()
        code, details, answer = grpc.StatusCode.OK, "", None
        try:
            if streaming:
                for _ in calls[k](data, timeout=deadline):
                    pass
            else:
                answer = calls[k](data, timeout=deadline)
        except grpc.RpcError as err:
            code, details = err.code(), err.details() or ""
        elapsed = time.monotonic() - t0
        tally.record(name, code, details, elapsed, bound)
        node = node_of[k]
        got: set[str] = set()
        if request is not None and request.DESCRIPTOR.full_name.endswith(("ArriveRequest", "ClassicalMessage")):
            qubit_ids(request, got)  # forged arrivals locate qubits at the receiver
        if answer:
            try:
                qubit_ids(resp_cls.FromString(answer), got)
            except Exception:  # noqa: BLE001 - an answer we cannot parse names no qubit
                pass
        if got:
            with tally.lock:
                tally.qubits[node].update(got)

    counter = iter(range(10**9))
    n_hyp = max(2, math.ceil(n_inputs * HYPOTHESIS_SHARE / BATCH))  # hypothesis batches (BATCH inputs each)
    n_hyp_raw = max(1, n_hyp // 5)
    n_fast = max(0, n_inputs - (n_hyp + n_hyp_raw) * BATCH)
    n_fast_raw = int(n_fast * RAW_SHARE)
    common = settings(max_examples=n_hyp, deadline=None, database=None, derandomize=True,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck))

    @common
    @given(st.lists(valid, min_size=BATCH, max_size=BATCH), st.integers(0, 2**40))  # the integer: room for
    def structured(requests, _nonce):  # as many examples as asked when the message has (almost) no fields
        futs = [pool_exec.submit(one, next(counter), r, r.SerializeToString()) for r in requests]
        for f in futs:
            f.result()

    @settings(common, max_examples=n_hyp_raw)
    @given(st.lists(raw, min_size=BATCH, max_size=BATCH), st.integers(0, 2**40))
    def raw_bytes(blobs, _nonce):
        futs = [pool_exec.submit(one, next(counter), None, b) for b in blobs]
        for f in futs:
            f.result()

    structured()
    raw_bytes()
    for start in range(0, n_fast, BATCH):
        items = []
        for j in range(start, min(start + BATCH, n_fast)):
            if j < n_fast_raw:
                items.append((None, fast.raw(req_desc)))
            else:
                r = fast.message(req_desc)
                items.append((r, r.SerializeToString()))
        futs = [pool_exec.submit(one, next(counter), r, b) for r, b in items]
        for f in futs:
            f.result()


def free_everything(fn: FuzzNet, tally: Tally) -> None:
    """Free every qubit the fuzzing left at each node (ids it allocated, got or forged), best effort."""
    from qemu_net._proto.v1 import node_pb2 as n
    from qemu_net._proto.v1 import node_pb2_grpc as ng

    admin = valid_credentials(fn.local)
    for node, ids in tally.qubits.items():
        stub = ng.NodeServiceStub(admin.open(fn.local.addresses[node], node, False))
        for q in sorted(i for i in ids if i):
            try:
                stub.Free(n.FreeRequest(qubits=[q]), timeout=2)
            except grpc.RpcError:
                pass


def teleport_fidelity(fn: FuzzNet) -> float:
    net = fn.net
    theta, phi = 1.234, 0.567
    psi = np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)])
    q = net["alice"].qubit()
    net["alice"].apply([gate("RY", [q], theta), gate("PHASE", [q], phi)])
    r = net.teleport(q, "bob")
    rho = r.density_matrix()
    r.measure()
    return float(np.real(psi.conj() @ rho @ psi))


def test_fuzz_every_method_of_every_service(fuzz_net: FuzzNet, fuzz_credentials: Credentials, capsys):
    """Generated and raw inputs to every RPC: no crash, no INTERNAL/UNKNOWN, no late answer, RSS bounded,
    and a teleport still has fidelity 1 afterwards."""
    fn = fuzz_net
    names = list(fn.topology.node_names)
    pids = {name: fn.local.pid(name) for name in names}
    assert teleport_fidelity(fn) == pytest.approx(1.0, abs=1e-9)  # warm-up: every code path loaded once

    # What the nodes serve, and where (public and peer ports), as the nodes themselves list it.
    public = {name: str(fn.local.nodes[name]["address"]) for name in names}
    peer = {name: str(fn.local.nodes[name]["peer_address"]) for name in names}
    ports: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    admin = valid_credentials(fn.local)
    for name in names:
        for addr in {public[name], peer[name]}:
            with admin.open(addr, name, addr == peer[name] != public[name]) as ch:
                try:
                    services = served_services(ch)
                except grpc.RpcError:
                    services = []
            for s in services:
                ports[s].append((name, addr))
    assert ports, "the nodes list no service by reflection"

    pool = descriptor_pool.Default()
    methods = []
    for svc_name in sorted(ports):
        svc = pool.FindServiceByName(svc_name)
        # Reflection lists what the public port knows of; keep the ports that really serve the service.
        targets = [t for t in dict.fromkeys(ports[svc_name] + [(n, peer[n]) for n in names])
                   if serves(admin, t[1], t[0], t[1] == peer[t[0]] != public[t[0]], svc)]
        for m in svc.methods:
            methods.append((f"/{svc.full_name}/{m.name}", m, targets))

    # Pools of meaningful values: node names, live qubit ids at each node, EPR halves.
    pools = Pools(nodes=[*names, "mallory"])
    for name in names:
        pools.qubits.extend(q.id for q in fn.net[name].qubits(3))
    strategies = MessageStrategies(pools)
    fast = FastMessages(pools, seed=20261201)
    tally = Tally()
    rss0 = {name: rss_mb(pid) for name, pid in pids.items()}
    per_method = math.ceil(TOTAL_INPUTS / len(methods))
    t0 = time.monotonic()
    crashed: list[str] = []
    addresses = sorted({a for _p, _m, targets in methods for _n, a in targets})
    node_at = {a: n for n in names for a in (public[n], peer[n])}
    chans = {a: fuzz_credentials.open(a, node_at[a], a == peer[node_at[a]] != public[node_at[a]])
             for a in addresses}
    with ThreadPoolExecutor(BATCH) as pool_exec:
        for path, m, targets in methods:
            channels = [chans[a] for _n, a in targets]
            node_of = {i: n for i, (n, _a) in enumerate(targets)}
            t_m = time.monotonic()
            fuzz_method(tally, pool_exec, channels, path, m, strategies, fast, per_method, node_of)
            tally.seconds[path.rsplit("/", 1)[1]] = round(time.monotonic() - t_m, 1)
            crashed = [name for name, pid in pids.items() if not alive(pid)]
            if crashed:
                break
    fuzz_s = time.monotonic() - t0
    for ch in chans.values():
        ch.close()

    free_everything(fn, tally)
    rss1 = {name: rss_mb(pid) for name, pid in pids.items() if alive(pid)}
    growth = {name: round(rss1[name] - rss0[name], 1) for name in rss1}
    fidelity = teleport_fidelity(fn) if not crashed else float("nan")
    report = {
        "credentials": fuzz_credentials.name,
        "inputs": sum(tally.sent.values()),
        "seconds": round(fuzz_s, 1),
        "sent_per_method": dict(sorted(tally.sent.items())),
        "seconds_per_method": tally.seconds,
        "crashes": crashed,
        "internal_or_unknown": len(tally.bad),
        "waits_past_bound": len(tally.late),
        "rss_growth_mb": growth,
        "teleport_fidelity": fidelity,
        "status_codes": {k: dict(v) for k, v in sorted(tally.codes.items())},
        "examples": {f"{m} {c}": v for (m, c), v in sorted(tally.examples.items())},
    }
    with capsys.disabled():
        print("\nfuzz report:", json.dumps(report, indent=1))
        for b in tally.bad[:20]:
            print("  INTERNAL/UNKNOWN:", b)
        for b in tally.late[:20]:
            print("  late:", b)
    assert not crashed, f"node process(es) died: {crashed}"
    assert report["inputs"] >= TOTAL_INPUTS
    assert not tally.bad, f"{len(tally.bad)} INTERNAL/UNKNOWN answers, e.g. {tally.bad[:5]}"
    assert not tally.late, f"{len(tally.late)} calls returned past their own bound, e.g. {tally.late[:5]}"
    assert all(g < RSS_LIMIT_MB for g in growth.values()), growth
    assert fidelity == pytest.approx(1.0, abs=1e-9)
