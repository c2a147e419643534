"""Forged node-to-node calls against real TLS node processes are refused, and the victims' results stand.

The network is a chain alice -- bob -- carol with mutual TLS. An attacker tries TakeGroup (steal a
client's qubit), Arrive (inject a qubit) and DeliverClassical (a message "from alice") with no
certificate, with a client certificate and with carol's node certificate while claiming to be alice.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net._proto.v1 import peer_pb2 as p
from qemu_net._proto.v1 import peer_pb2_grpc as pg
from qemu_net._proto.v1 import types_pb2 as t
from qemu_net.network.topology import parse_topology
from qemu_net.security.tls import load_credentials
from tests.conftest import node_channel, running

TOPO = parse_topology({"name": "authn", "nodes": ["alice", "bob", "carol"],
                       "links": [["alice", "bob"], ["bob", "carol"]]})
DEADLINE_S = 20.0
REFUSED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
#: A TLS handshake the server refuses (no client certificate, or plaintext) surfaces as UNAVAILABLE.
HANDSHAKE_FAILED = {grpc.StatusCode.UNAVAILABLE}


@pytest.fixture(scope="module")
def net():
    with running(TOPO, allow_inspect=True, tls=True) as (local, client):
        assert local.tls_dir is not None
        yield local, client


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def _attackers(local, victim: str):
    """(label, channel to the victim's peer port, the statuses that count as refused)."""
    addr = str(local.nodes[victim]["peer_address"])
    ca = load_credentials(local.tls_dir, app="client").ca_pem
    no_cert = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates=ca),
                                  options=[("grpc.ssl_target_name_override", victim)])
    return [
        ("plaintext", grpc.insecure_channel(addr), HANDSHAKE_FAILED),
        ("no client certificate", no_cert, HANDSHAKE_FAILED),
        ("client certificate", node_channel(local, victim, peer=True), REFUSED),
        ("carol's certificate claiming alice", node_channel(local, victim, peer=True, as_node="carol"), REFUSED),
    ]


def test_forged_take_group_is_refused_and_the_qubit_stays(net):
    """TakeGroup of a client's qubit at alice for 'bob' is refused whoever sends it; the state is intact."""
    local, client = net
    alice = client["alice"]
    q = alice.qubit()
    q.ry(0.7)
    before = q.density_matrix()
    for label, ch, refused in _attackers(local, "alice"):
        with ch:
            stub = pg.PeerServiceStub(ch)
            req = p.TakeGroupRequest(qubit=q.id, new_holder="bob")
            code = _code(lambda: stub.TakeGroup(req, timeout=DEADLINE_S))
            assert code in refused, (label, code)
    np.testing.assert_allclose(q.density_matrix(), before, atol=1e-6)
    c, s = np.cos(0.35), np.sin(0.35)
    np.testing.assert_allclose(before, [[c * c, c * s], [c * s, s * s]], atol=1e-6)
    alice.free([q])


def test_forged_arrive_is_refused_and_teleport_keeps_fidelity_one(net):
    """An injected qubit 'from alice' never lands at bob; a teleport afterwards still has fidelity 1."""
    local, client = net
    for label, ch, refused in _attackers(local, "bob"):
        with ch:
            stub = pg.PeerServiceStub(ch)
            req = p.ArriveRequest(from_node="alice", virtual_time_ns=1,
                                  qubits=[p.ArrivingQubit(qubit="alice.forged", holder="alice", group_size=1)])
            code = _code(lambda: stub.Arrive(req, timeout=DEADLINE_S))
            assert code in refused, (label, code)
    assert client["bob"].info().qubits_in_use == 0
    q = client["alice"].qubit()
    q.h()
    r = client.teleport(q, "bob")
    np.testing.assert_allclose(r.density_matrix(), [[0.5, 0.5], [0.5, 0.5]], atol=1e-6)
    client["bob"].free([r])


def test_forged_classical_delivery_is_refused_and_bob_gets_alices_message(net):
    """'pay mallory' claiming to come from alice is refused; bob's application receives alice's own message."""
    local, client = net
    for label, ch, refused in _attackers(local, "bob"):
        with ch:
            stub = pg.PeerServiceStub(ch)
            req = p.ClassicalMessage(from_node="alice", channel="pay", seq=0, payload=b"pay mallory")
            code = _code(lambda: stub.DeliverClassical(req, timeout=DEADLINE_S))
            assert code in refused, (label, code)
    client["alice"].send("bob", "pay", b"pay bob 5")
    assert client["bob"].receive("alice", "pay", timeout_s=DEADLINE_S) == b"pay bob 5"


def test_a_node_may_not_act_as_another_node(net):
    """With carol's own certificate, every sender-naming peer call claiming alice is PERMISSION_DENIED,
    and qubits arrive only from a quantum-link neighbour."""
    local, _client = net
    with node_channel(local, "bob", peer=True, as_node="carol") as ch:
        stub = pg.PeerServiceStub(ch)
        calls = {
            "Forward": lambda: stub.Forward(p.ForwardRequest(from_node="alice"), timeout=DEADLINE_S),
            "UpdateHolder": lambda: stub.UpdateHolder(p.UpdateHolderRequest(qubits=["bob.1"], holder="alice"),
                                                      timeout=DEADLINE_S),
            "DeliverEprOutcomes": lambda: stub.DeliverEprOutcomes(p.EprOutcomes(from_node="alice", batch_id="x"),
                                                                  timeout=DEADLINE_S),
        }
        for name, call in calls.items():
            assert _code(call) == grpc.StatusCode.PERMISSION_DENIED, name
    with node_channel(local, "alice", peer=True, as_node="carol") as ch:  # carol is no neighbour of alice
        stub = pg.PeerServiceStub(ch)
        req = p.ArriveRequest(from_node="carol", qubits=[p.ArrivingQubit(qubit="carol.x", holder="carol")])
        assert _code(lambda: stub.Arrive(req, timeout=DEADLINE_S)) == grpc.StatusCode.PERMISSION_DENIED


def test_public_port_serves_no_peer_service_and_needs_a_certificate(net):
    """PeerService is not on the public port; the public port refuses a caller without a certificate."""
    local, _client = net
    with node_channel(local, "bob") as ch:
        stub = pg.PeerServiceStub(ch)
        req = p.ClassicalMessage(from_node="alice", channel="pay", payload=b"x")
        assert _code(lambda: stub.DeliverClassical(req, timeout=DEADLINE_S)) == grpc.StatusCode.UNIMPLEMENTED
        assert ng.NodeServiceStub(ch).GetInfo(n.GetInfoRequest(), timeout=DEADLINE_S).name == "bob"
    with grpc.insecure_channel(str(local.nodes["bob"]["address"])) as ch:
        code = _code(lambda: ng.NodeServiceStub(ch).GetInfo(n.GetInfoRequest(), timeout=5))
        assert code in HANDSHAKE_FAILED


def test_reflection_lists_only_what_each_port_serves(net):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    local, _client = net

    def listed(ch) -> set[str]:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        (resp,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                            timeout=DEADLINE_S)
        return {s.name for s in resp.list_services_response.service}

    with node_channel(local, "alice") as ch:
        public = listed(ch)
    with node_channel(local, "alice", peer=True, as_node="bob") as ch:
        peer = listed(ch)
    assert "qemu_net.v1.NodeService" in public and "qemu_net.v1.PeerService" not in public
    assert "qemu_net.v1.PeerService" in peer and "qemu_net.v1.NodeService" not in peer
    assert "qemu_net.v1.KeyDeliveryService" not in peer


def test_peer_port_refuses_a_client_certificate_even_for_health_free_calls(net):
    """A client (not a node) certificate gets PERMISSION_DENIED on every peer method."""
    local, _client = net
    with node_channel(local, "alice", peer=True) as ch:
        stub = pg.PeerServiceStub(ch)
        assert _code(lambda: stub.AdoptGroup(t.GroupState(), timeout=DEADLINE_S)) == grpc.StatusCode.PERMISSION_DENIED
        assert _code(lambda: stub.UpdateHolder(p.UpdateHolderRequest(holder="alice"),
                                               timeout=DEADLINE_S)) == grpc.StatusCode.PERMISSION_DENIED
