"""The certificate directory `qnet certs` writes, and how a node serves its ports with it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng
from qemu_net.cli.main import main as qnet
from qemu_net.client.credentials import open_channel
from qemu_net.network.topology import parse_topology
from qemu_net.node.server import NodeServer
from qemu_net.security.tls import load_credentials

TOPO = parse_topology({"name": "certs", "nodes": [
    {"name": "alice", "address": "alice.example.net:50051", "peer_address": "10.1.2.3:50052"}, "bob"],
    "links": [["alice", "bob"]]})


def _sans(path: Path) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [str(i) for i in san.get_values_for_type(x509.IPAddress)]


def test_qnet_certs_writes_the_documented_layout(tmp_path: Path, capsys) -> None:
    """CA, one certificate per node (its name, localhost, 127.0.0.1, its address hosts), client + apps."""
    topo_file = tmp_path / "t.yaml"
    topo_file.write_text(TOPO.to_yaml())
    out = tmp_path / "certs"
    assert qnet(["certs", "--topology", str(topo_file), "--out", str(out), "--app", "sae-alice"]) == 0
    assert "alice, bob" in capsys.readouterr().out
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["apps/client.key", "apps/client.pem", "apps/sae-alice.key", "apps/sae-alice.pem", "ca.key",
                     "ca.pem", "nodes/alice.key", "nodes/alice.pem", "nodes/bob.key", "nodes/bob.pem"]
    for key in out.rglob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    dns, ips = _sans(out / "nodes" / "alice.pem")
    assert dns[0] == "alice" and set(dns) == {"alice", "localhost", "alice.example.net"}
    assert set(ips) == {"127.0.0.1", "10.1.2.3"}
    assert _sans(out / "nodes" / "bob.pem") == (["bob", "localhost"], ["127.0.0.1"])
    app = x509.load_pem_x509_certificate((out / "apps" / "sae-alice.pem").read_bytes())
    usages = app.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    app.verify_directly_issued_by(ca)


def test_rerunning_keeps_the_ca_and_reissues_leaves(tmp_path: Path) -> None:
    """Rotation: a second run on the same directory keeps ca.pem and replaces every leaf; --new-ca does not."""
    topo_file = tmp_path / "t.yaml"
    topo_file.write_text(TOPO.to_yaml())
    out = tmp_path / "c"
    assert qnet(["certs", "-t", str(topo_file), "-o", str(out), "--json"]) == 0
    ca, leaf = (out / "ca.pem").read_bytes(), (out / "nodes" / "alice.pem").read_bytes()
    assert qnet(["certs", "-t", str(topo_file), "-o", str(out), "--json"]) == 0
    assert (out / "ca.pem").read_bytes() == ca and (out / "nodes" / "alice.pem").read_bytes() != leaf
    x509.load_pem_x509_certificate((out / "nodes" / "alice.pem").read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca))
    assert qnet(["certs", "-t", str(topo_file), "-o", str(out), "--new-ca", "--json"]) == 0
    assert (out / "ca.pem").read_bytes() != ca


def test_probe_port_serves_only_health_in_plaintext(tmp_path: Path) -> None:
    """The probe port answers the health check without TLS and nothing else; the public port needs TLS."""
    from qemu_net.security.tls import write_network_certs

    topo = parse_topology({"name": "probe", "nodes": ["alice"]})
    write_network_certs(topo, tmp_path)
    server = NodeServer(topo, "alice", listen="127.0.0.1:0", probe_listen="127.0.0.1:0",
                        tls=load_credentials(tmp_path, node="alice"))
    ports = server.start()
    server.mark_serving()
    try:
        assert ports.probe_port not in (0, ports.port, ports.peer_port)
        with grpc.insecure_channel(f"127.0.0.1:{ports.probe_port}") as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as info:
                ng.NodeServiceStub(ch).GetInfo(n.GetInfoRequest(), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with grpc.insecure_channel(f"127.0.0.1:{ports.port}") as ch:
            with pytest.raises(grpc.RpcError) as info:
                ng.NodeServiceStub(ch).GetInfo(n.GetInfoRequest(), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        with open_channel(f"127.0.0.1:{ports.port}", "alice", load_credentials(tmp_path), []) as ch:
            assert ng.NodeServiceStub(ch).GetInfo(n.GetInfoRequest(), timeout=10).name == "alice"
    finally:
        server.drain_and_stop()


def test_qnet_node_refuses_to_start_without_tls_or_insecure(tmp_path: Path) -> None:
    """Neither --tls-dir nor --insecure: a clear error naming both, exit status non-zero."""
    topo_file = tmp_path / "t.yaml"
    topo_file.write_text(parse_topology({"name": "x", "nodes": [{"name": "a", "address": "127.0.0.1:1"}]}).to_yaml())
    env = {k: v for k, v in os.environ.items() if k not in ("QNET_TLS_DIR", "QNET_INSECURE")}
    proc = subprocess.run([sys.executable, "-m", "qemu_net.cli.main", "node", "--topology", str(topo_file),
                           "--name", "a"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode != 0
    assert "--tls-dir" in proc.stderr and "--insecure" in proc.stderr


def test_sdk_finds_the_certificates_of_a_qnet_up_network(tmp_path: Path, monkeypatch) -> None:
    """resolve(): explicit directory, else $QNET_TLS_DIR, else the `qnet up` state file of that network
    (only if it lists these very addresses), else plaintext."""
    import json

    from qemu_net.client.credentials import resolve
    from qemu_net.security.tls import write_network_certs

    topo = parse_topology({"name": "upnet", "nodes": ["a"]})
    certs = tmp_path / "upnet.tls"
    write_network_certs(topo, certs)
    monkeypatch.delenv("QNET_TLS_DIR", raising=False)
    monkeypatch.setenv("QNET_STATE_DIR", str(tmp_path))
    (tmp_path / "upnet.json").write_text(json.dumps({"tls_dir": str(certs),
                                                     "nodes": {"a": {"address": "127.0.0.1:7001"}}}))
    found = resolve({"a": "127.0.0.1:7001"}, network="upnet")
    assert found is not None and found.name == "client" and found.source == str(certs)
    assert resolve({"a": "127.0.0.1:7002"}, network="upnet") is None  # another network of that name
    assert resolve({"a": "127.0.0.1:7001"}, network="upnet", insecure=True) is None
    assert resolve({"a": "127.0.0.1:7001"}) is None
    monkeypatch.setenv("QNET_TLS_DIR", str(certs))
    assert resolve({"a": "10.0.0.1:1"}).source == str(certs)
