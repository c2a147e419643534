"""The register's channel path and the node core's use of the physics models, in one process."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qemu_net.errors import ProtocolAborted
from qemu_net.network.topology import parse_topology
from qemu_net.node.ops import GateOp, MeasureOp
from qemu_net.node.core import NodeCore
from qemu_net.quantum import noise
from qemu_net.quantum.register import GroupState, Register

S = 1 / math.sqrt(2)
PHI = np.array([S, 0, 0, S], dtype=complex)
I2 = np.eye(2, dtype=complex)


def bell(reg: Register, now_ns: int = 0) -> tuple[str, str]:
    reg.add_state(GroupState(("x", "y"), PHI.reshape(2, 2), False, (now_ns, now_ns)))
    return "x", "y"


def fidelity(rho: np.ndarray) -> float:
    return float(np.real(PHI.conj() @ rho @ PHI))


def stored_half(t_ns: float, t1: float, t2: float) -> float:
    t = t_ns * 1e-9
    return (1 + math.exp(-t / t1) + 2 * math.exp(-t / t2)) / 4


@pytest.mark.parametrize("p", [0.0, 0.1, 0.4, 0.75])
def test_register_apply_kraus_is_the_channel(p):
    """depolarize(p) on one half of |Phi+> through the register gives fidelity 1 - p."""
    reg = Register()
    x, y = bell(reg)
    reg.apply_kraus(noise.depolarize_kraus(p), [y])
    assert fidelity(reg.density_matrix([x, y])) == pytest.approx(1 - p, abs=1e-12)


def test_advance_in_pieces_equals_one_wait_and_respects_stamps():
    """Memory decay applied lazily in several steps equals one step over the whole wait; a qubit stamped
    in the future is not decayed before its stamp."""
    model = noise.NoiseModel(t1_s=1e-3, t2_s=5e-4)
    reg = Register()
    x, y = bell(reg)
    reg.stamp(y, 10**9)  # y is "in flight" until 1 s: it will not decay before then
    for now in (50_000, 120_000, 300_000):
        reg.advance([x, y], now, lambda q, w: model.wait_superop(w))
    assert fidelity(reg.density_matrix([x, y])) == pytest.approx(stored_half(300_000, 1e-3, 5e-4), abs=1e-12)
    assert reg.last_ns(y) == 10**9


def test_migrated_state_keeps_each_qubits_stamp():
    """extract/add_state (a migration) carries last-updated times: decay counts from the original stamp."""
    a, b = Register(), Register()
    x, y = bell(a, now_ns=1_000)
    b.add_state(a.extract(x))
    model = noise.NoiseModel(t2_s=2e-4, t1_s=1e-3)
    b.advance([x], 101_000, lambda q, w: model.wait_superop(w))
    assert fidelity(b.density_matrix([x, y])) == pytest.approx(stored_half(100_000, 1e-3, 2e-4), abs=1e-12)


class FakePeers:
    def __init__(self) -> None:
        self.arrived: list = []

    def arrive(self, node, qubits, now_ns, state=None, adopt=(), *, deadline):
        self.arrived.append((node, list(qubits), now_ns, state))

    def adopt_group(self, node, shipment, *, deadline):
        pass


TOPO = parse_topology(
    {
        "nodes": ["a", {"name": "m", "t1_s": 1e-3, "t2_s": 4e-4}, "far"],
        "links": [
            ["a", "m"],
            {"nodes": ["a", "far"], "length_km": 100, "attenuation_db_per_km": 1.0, "max_attempts": 7},
        ],
    }
)


def test_holder_applies_the_location_nodes_memory_at_the_location_time():
    """A pair made and held at a perfect node: the far half, located at m, decays with m's T1/T2 for the
    virtual time m reports when it forwards an operation; the holder's own clock does not move."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    (h,) = core.create_epr("m")
    (r,) = core.remote_halves([h])
    assert not core.register.group_of(h.qubit).mixed  # an ideal link delivers a pure |Phi+>
    before = core.clock.now()
    core.on_forward([GateOp(I2, (r,))], {}, h.ready_ns + 250_000)
    assert core.clock.now() == before
    rho = core.register.density_matrix([h.qubit, r])
    assert fidelity(rho) == pytest.approx(stored_half(250_000, 1e-3, 4e-4), abs=1e-12)


def test_attempt_cap_raises_and_spends_the_attempts():
    """No herald within max_attempts: ProtocolAborted, and max_attempts periods of virtual time pass."""
    core = NodeCore(TOPO, "a", peers=FakePeers())
    with pytest.raises(ProtocolAborted, match="max_attempts=7"):
        core.create_epr("far")
    assert core.clock.now() == round(7 * 2 * 100 * 1.468e9 / 299_792.458)  # 7 periods of 2 x 100 km at n_g/c
    assert len(core.register) == 0


def test_create_measure_epr_validates_bases_and_flips_nothing_on_a_perfect_link():
    """Perfect link and nodes: Z/Z and X/X outcomes agree on every pair; a bad basis code is refused."""
    core = NodeCore(TOPO, "a", peers=type("P", (), {"deliver_epr_outcomes": lambda *a: None})())
    got = {}

    def deliver(node, batch, outcomes, bases, now, *, deadline):
        got["b"] = np.frombuffer(outcomes, dtype=np.uint8)

    core.peers.deliver_epr_outcomes = deliver
    bases = np.array([0, 1] * 500, dtype=np.uint8)
    _, a, attempts = core.create_measure_epr("m", 1000, bases, bases)
    assert attempts == 1000 and np.array_equal(a, got["b"])
    with pytest.raises(Exception, match="basis codes"):
        core.create_measure_epr("m", 2, np.array([0, 3], dtype=np.uint8), np.zeros(2, dtype=np.uint8))


def test_measure_at_the_holder_uses_the_location_readout_error():
    """Readout error is the location's: a node with measure_error 1 always flips, even when the state is
    held elsewhere."""
    topo = parse_topology({"nodes": ["a", {"name": "m", "measure_error": 1.0}], "links": [["a", "m"]]})
    core = NodeCore(topo, "a", peers=FakePeers())
    for _ in range(20):
        (h,) = core.create_epr("m")
        (r,) = core.remote_halves([h])
        res = core.on_forward([MeasureOp(r, "Z", False)], {}, core.clock.now())
        mine = core.apply([MeasureOp(h.qubit, "Z", False)])[0]
        assert res.outcomes == [mine ^ 1]


def test_topology_overrides_apply_everywhere_and_are_validated():
    """with_overrides sets a key on every node/link and reports bad values by key path."""
    from qemu_net.errors import TopologyError
    from qemu_net.network.topology import with_overrides

    t = with_overrides(TOPO, links={"length_km": 50, "source_fidelity": 0.9}, nodes={"t2_s": 1e-3}, seed=4)
    assert {link.length_km for link in t.links} == {50}
    assert all(link.latency_ns == pytest.approx(50 * 1.468e9 / 299_792.458) for link in t.links)  # 50 km x n_g / c
    assert {n.t2_s for n in t.nodes} == {1e-3} and t.seed == 4
    with pytest.raises(TopologyError, match=r"nodes\[1\]"):
        with_overrides(TOPO, nodes={"t2_s": 5e-3})  # m has t1_s = 1e-3: T2 > 2 T1
    with pytest.raises(TopologyError, match=r"links\[0\].lenght_km"):
        with_overrides(TOPO, links={"lenght_km": 1})


def test_the_virtual_clock_refuses_to_overflow_and_stays_usable():
    """A step past the clock's limit (or NaN, or backwards) is refused with InvalidOperation and leaves
    the clock where it was, so later requests still work."""
    from qemu_net.errors import InvalidOperation
    from qemu_net.node.clock import MAX_NS, VirtualClock

    clock = VirtualClock(5)
    for bad in (1e30, float("inf"), float("nan"), -1.0):
        with pytest.raises(InvalidOperation):
            clock.advance_by(bad)
    with pytest.raises(InvalidOperation):
        clock.advance_to(MAX_NS * 2.0)
    assert clock.now() == 5
    assert clock.advance_by(10) == 15 and clock.advance_to(MAX_NS) == MAX_NS
