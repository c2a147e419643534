"""qnetbench applications, unmodified, on the qemu_net backend (real node processes) beside its reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qnetbench.api import AppOutcome, Demand
from qnetbench.apps import get_app
from qnetbench.harness import run_once as reference_run_once
from qnetbench.metrics import compute_report
from qnetbench.topology import LinkModel, line2

from qemu_net.integrations.qnetbench import QemuNetBackend, merged_topology, to_topology
from qemu_net.integrations.qnetbench_compare import suite_network_topology
from tests.conftest import running

#: The protocols checked: teleportation, swapping, distillation, a distributed gate, BB84, CHSH and two
#: GHZ-type protocols (a GHZ state fused over a star: conference key, anonymous transmission).
APPS = ["teleportation", "entanglement_swap", "distillation", "distributed_gate", "bb84", "chsh",
        "conference_key", "anonymous_transmission"]
REF_SEEDS = range(40)
F = 0.95  # qnetbench's default link fidelity
W = (4 * F - 1) / 3  # its Werner weight


@pytest.fixture(scope="module")
def suite():
    topology, plan = suite_network_topology(APPS, seed=3)
    with running(topology, allow_inspect=False) as (_, net):
        yield net, plan


def run_qemu(net, plan, app: str, seed: int = 0, cfg: dict | None = None):
    topo, names = plan[app]
    a = get_app(app)
    with QemuNetBackend(topo, seed=seed, network=net, names=names) as b:
        return compute_report(b.run(a, cfg or {}, {r: r for r in a.roles()}))


def test_core_protocols_agree_with_the_reference_backend(suite):
    """Each protocol's utility on qemu_net is within 4 standard errors of the reference backend's mean over
    40 seeds (its run-to-run spread as the per-run error); both deliver fidelity 0.95 and violate nothing."""
    net, plan = suite
    failures = []
    for app in APPS:
        topo, _ = plan[app]
        ref = [compute_report(reference_run_once(app, seed=s, topology=topo)) for s in REF_SEEDS]
        ref_u = np.array([r.app_utility for r in ref])
        q = run_qemu(net, plan, app)
        sd = max(float(ref_u.std(ddof=1)), 1e-3)
        z = abs(q.app_utility - ref_u.mean()) / (sd * math.sqrt(1 + 1 / len(ref_u)))
        if z > 4:
            failures.append((app, q.app_utility, ref_u.mean(), sd))
        assert q.n_delivered + q.qubits_sent > 0, app
        assert q.mean_fidelity == pytest.approx(F, abs=1e-9), app
        ref_f = np.array([r.mean_fidelity for r in ref])
        assert abs(ref_f.mean() - F) < 4 * ref_f.std(ddof=1) / math.sqrt(len(ref_f)) + 1e-9, app
        assert q.violations == {} and all(r.violations == {} for r in ref), app
    assert not failures, failures
    assert all(node.info().qubits_in_use == 0 for node in net)  # every run left the memories empty


def _payload(net, plan, app: str, seed: int, cfg: dict) -> dict:
    topo, names = plan[app]
    a = get_app(app)
    with QemuNetBackend(topo, seed=seed, network=net, names=names) as b:
        events = b.run(a, cfg, {r: r for r in a.roles()})
    return [e for e in events if e.kind == "app_outcome"][0].payload


def test_closed_forms_on_qemu_net(suite):
    """Against closed forms of the Werner-0.95 link (4-sigma bounds): teleportation recovers the state with
    probability w + (1 - w)/2; BB84's QBER is 2p/3 for the depolarising channel p = 1 - F a sent qubit
    suffers; CHSH's S is 2 sqrt(2) w."""
    net, plan = suite
    n = 300
    tele = _payload(net, plan, "teleportation", 1, {"rounds": n})
    p_ok = W + (1 - W) / 2
    assert abs(tele["correct"] / n - p_ok) < 4 * math.sqrt(p_ok * (1 - p_ok) / n), tele

    bb = _payload(net, plan, "bb84", 2, {"rounds": 2000})
    tested = (int(bb["sifted"]) + 1) // 2
    expect = 2 * (1 - F) / 3
    assert tested > 400 and abs(bb["qber"] - expect) < 4 * math.sqrt(expect * (1 - expect) / tested), bb

    rounds = 1200
    s_value = float(_payload(net, plan, "chsh", 3, {"rounds": rounds})["S"])
    e = W / math.sqrt(2)  # each of the four correlators, from about a quarter of the rounds
    se = math.sqrt(4 * (1 - e * e) / (rounds / 4))
    assert abs(s_value - 2 * math.sqrt(2) * W) < 4 * se, s_value


class _MeasuredPairs:
    """Both ends ask for measured pairs; Bob counts agreements of the Z outcomes."""

    name = "measured_pairs"

    def __init__(self, n: int, demand: Demand) -> None:
        self.n, self.demand = n, demand

    def roles(self):
        return ["alice", "bob"]

    def run(self, host, role, cfg):
        peer = "bob" if role == "alice" else "alice"
        handles = host.epr_socket(peer).request(self.n, self.demand)
        assert all(h.qubit is None and h.outcome in (0, 1) for h in handles)
        bits = bytes(h.outcome for h in handles)
        cls = host.classical_socket(peer)
        if role == "alice":
            cls.send(bits)
            return AppOutcome(role=role, success=True, utility=0.0, payload={"v": [h.violations for h in handles]})
        theirs = cls.recv()
        agree = sum(x == y for x, y in zip(bits, theirs)) / self.n
        return AppOutcome(role=role, success=True, utility=agree, payload={"v": [h.violations for h in handles]})


def test_measure_purpose_fidelity_and_deadline_demands(start_network):
    """purpose='measure' pairs from the link layer's create-and-measure batches agree in Z with probability
    (2F + 1)/3 on a Werner-F link; a min_fidelity above the link's and a deadline already past are violated
    on every pair, on both ends, and counted once per pair in the trace."""
    topo = line2(link=LinkModel(link_fidelity=0.8, attempt_latency=2e-3))
    ours = to_topology(topo, seed=5)
    assert ours.link("alice", "bob").latency_ns == pytest.approx(2e6)
    _, net = start_network(ours, allow_inspect=False)
    n = 400
    app = _MeasuredPairs(n, Demand(min_fidelity=0.9, deadline=-1.0, purpose="measure"))
    with QemuNetBackend(topo, seed=0, network=net) as b:
        events = b.run(app, {}, {"alice": "alice", "bob": "bob"})
    report = compute_report(events)
    p = (2 * 0.8 + 1) / 3
    agree = [e for e in events if e.kind == "app_outcome" and e.role == "bob"][0].utility
    assert abs(agree - p) < 4 * math.sqrt(p * (1 - p) / n), agree
    assert report.n_delivered == n and report.violations == {"fidelity": n, "deadline": n}
    assert report.mean_fidelity == pytest.approx(0.8, abs=1e-9)
    for e in events:
        if e.kind == "app_outcome":
            assert all(v == ["fidelity", "deadline"] for v in e.payload["v"])
    # A classical hop each way for the rendezvous, and one attempt (a round trip, 2 ms) per pair: as on the
    # reference backend, where n pairs take n mean attempt latencies.
    assert report.latency_mean == pytest.approx(2 * 2e-3 + n * 2e-3, rel=1e-6)

    class Mismatch(_MeasuredPairs):
        def run(self, host, role, cfg):
            host.epr_socket("bob" if role == "alice" else "alice").request(1 if role == "alice" else 2, Demand())
            return AppOutcome(role=role, success=True, utility=1.0)

    with QemuNetBackend(topo, seed=0, network=net, run_timeout_s=60) as b, \
            pytest.raises(RuntimeError, match="size mismatch.*alice asked for 1, bob for 2"):
        b.run(Mismatch(1, Demand()), {}, {"alice": "alice", "bob": "bob"})
    assert [net[x].info().qubits_in_use for x in ("alice", "bob")] == [0, 0]  # nothing left in memory


def test_merged_topology_keeps_each_topology_apart():
    """Several qnetbench topologies in one network: nodes prefixed per topology, each link's physics mapped."""
    t = merged_topology({"a": line2(), "b": line2(link=LinkModel(link_fidelity=0.9))})
    assert list(t.node_names) == ["a-alice", "a-bob", "b-alice", "b-bob"]
    assert t.link("b-alice", "b-bob").transmission_depolarize == pytest.approx(0.1)
    assert t.link("a-alice", "b-bob") is None
