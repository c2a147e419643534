"""The NetQASM backend over real node processes: the SDK connection, the executor's conventions and errors."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
import yaml

netqasm = pytest.importorskip("netqasm")

from netqasm.backend.messages import InitNewAppMessage, SubroutineMessage  # noqa: E402
from netqasm.sdk import EPRSocket, Qubit  # noqa: E402
from netqasm.sdk.qubit import QubitMeasureAxes, QubitMeasureBasis  # noqa: E402

from qemu_net._proto.v1 import netqasm_pb2 as nq  # noqa: E402
from qemu_net._proto.v1 import netqasm_pb2_grpc as nqg  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.errors import InvalidOperation  # noqa: E402
from qemu_net.netqasm import connection as nqc  # noqa: E402
from qemu_net.netqasm.executor import basis_rotation  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402

APPS = Path(netqasm.__file__).parent / "examples" / "apps"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def net():
    topo = parse_topology({"name": "nqb", "seed": 3, "nodes": ["alice", "bob"],
                           "links": [{"nodes": ["alice", "bob"], "misalignment_error": 0.0}]})
    local = LocalNetwork.start(topo, allow_inspect=True)
    try:
        nqc.bind({"alice": "alice", "bob": "bob"}, local.addresses, timeout_s=30,
                 tls_dir=str(local.tls_dir) if local.tls_dir is not None else None)
        yield local.addresses
    finally:
        local.stop()


def test_basis_rotation_maps_each_eigenstate_to_zero():
    # netqasm's EprMeasBasis -> rotations tables (netqasm.sdk.build_epr), applied first-to-last then Z.
    from netqasm.sdk.build_epr import basis_to_rotation
    from netqasm.sdk.epr_socket import EprMeasBasis

    plus = {"X": np.array([1, 1]) / math.sqrt(2), "Y": np.array([1, 1j]) / math.sqrt(2), "Z": np.array([1, 0])}
    minus = {"X": np.array([1, -1]) / math.sqrt(2), "Y": np.array([1, -1j]) / math.sqrt(2), "Z": np.array([0, 1])}
    for axes, name in ((QubitMeasureAxes.XYX, "xyx"), (QubitMeasureAxes.YZY, "yzy"), (QubitMeasureAxes.ZXZ, "zxz")):
        for b in ("X", "Y", "Z"):
            for basis, state in ((getattr(EprMeasBasis, b), plus[b]), (getattr(EprMeasBasis, "M" + b), minus[b])):
                u = basis_rotation(name, basis_to_rotation(basis, axes), 4)
                assert abs(abs((u @ state)[0]) - 1) < 1e-9, (axes, basis)


def test_measurement_bases_and_gates(net):
    conn = nqc.QnetConnection("alice")
    with conn:
        outs = []
        for prep, basis, want in ((["H"], QubitMeasureBasis.X, 0), (["X", "H"], QubitMeasureBasis.X, 1),
                                  (["H", "S"], QubitMeasureBasis.Y, 0), (["X"], QubitMeasureBasis.Z, 1),
                                  (["K"], QubitMeasureBasis.Y, 0), (["H", "T", "T"], QubitMeasureBasis.Y, 0)):
            q = Qubit(conn)
            for g in prep:
                getattr(q, g)()
            outs.append((q.measure(basis=basis), want))
        conn.flush()
        assert [int(m) for m, _ in outs] == [w for _, w in outs]
        assert conn.virtual_time_ns >= 0


def test_epr_pairs_and_state_access(net):
    # Two connections in this process, one per node; Alice creates first, Bob's receive then finds the
    # announcement and the half at his node.
    sa, sb = EPRSocket("bob"), EPRSocket("alice")
    a = nqc.QnetConnection("alice", epr_sockets=[sa])
    b = nqc.QnetConnection("bob", epr_sockets=[sb])
    with a:
        (qa,) = sa.create_keep(1)
        a.flush()
        assert np.allclose(nqc.get_qubit_state(qa), np.eye(2) / 2, atol=1e-9)  # half of |Phi+>
        assert nqc.get_qubit_state(qa, reduced_dm=False) is None
        with b:
            (qb,) = sb.recv_keep(1)
            b.flush()
            assert int(qa.entanglement_info.sequence_number) == int(qb.entanglement_info.sequence_number)
            qa.H()
            qb.H()
            ma, mb = qa.measure(), qb.measure()
            a.flush()
            b.flush()
            assert int(ma) == int(mb)  # XX = +1 on |Phi+>


def test_malformed_messages_are_invalid_argument(net):
    stub = nqg.NetQasmServiceStub(nqc._channel("alice"))  # noqa: SLF001 - the bound (TLS) channel
    cases = [
        [b"\x02" + b"\xff" * 7],  # a subroutine that is not one
        [b"\x09junk"],  # no such message type
        [],  # nothing
        [bytes(InitNewAppMessage(app_id=0, max_qubits=200))],  # too many qubits (limit 64)
    ]
    for messages in cases:
        with pytest.raises(grpc.RpcError) as err:
            stub.Submit(nq.NetQasmSubmitRequest(session_id="bad", messages=messages), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.Submit(nq.NetQasmSubmitRequest(session_id="", messages=[b"\x03"]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_subroutine_errors_are_readable(net):
    # A subroutine touching a qubit it never allocated: compiled by the SDK, then sent without its qalloc.
    conn = nqc.QnetConnection("alice")
    q = Qubit(conn)
    q.H()
    sub = conn.compile()
    text = [i for i in sub.instructions if i.mnemonic not in ("qalloc", "init")]
    sub.instructions = text
    sub.instantiate(conn.app_id)
    with pytest.raises(InvalidOperation, match="not allocated|qubit"):
        conn._commit_message(SubroutineMessage(sub))
    # The session still works afterwards.
    q2 = Qubit(conn)
    q2.X()
    m = q2.measure()
    conn.flush()
    assert int(m) == 1
    conn.close()


def test_cli_app_run_json_and_k8s(tmp_path):
    out = subprocess.run([sys.executable, "-m", "qemu_net.cli.main", "app", "run", str(APPS / "teleport"),
                          "--role", "sender=alice", "--role", "receiver=bob", "--input", "sender.theta=3.141592653589793",
                          "--json", "--timeout-s", "120"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout)
    assert data["ok"] and data["roles"]["receiver"]["node"] == "bob"
    assert abs(data["roles"]["receiver"]["result"]["fidelity"] - 1) < 1e-6
    # Kubernetes: one Job per role, each talking to its own node's stable DNS address.
    topo = tmp_path / "t.yaml"
    topo.write_text(yaml.safe_dump({"name": "qnet", "nodes": ["alice", "bob"], "links": [["alice", "bob"]]}))
    out = subprocess.run([sys.executable, "-m", "qemu_net.cli.main", "app", "k8s", str(APPS / "teleport"),
                          "--topology", str(topo), "--role", "sender=alice", "--role", "receiver=bob"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert sorted(j["metadata"]["name"] for j in jobs) == ["qnet-app-teleport-receiver", "qnet-app-teleport-sender"]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    spec = json.loads(cm["data"]["spec-sender.json"])
    assert spec["roles"] == {"receiver": "bob", "sender": "alice"}
    assert spec["addresses"]["alice"] == "qnet-0.qnet-nodes:50051"  # short: works in any namespace
    assert spec["tls_dir"] == "/etc/qnet-tls" and spec["tls_identity"] == "client"
    for j in jobs:  # clients the NetworkPolicy admits, with the client certificate mounted
        pod = j["spec"]["template"]
        assert pod["metadata"]["labels"]["qemu-net/client"] == "true"
        assert {"name": "tls", "mountPath": "/etc/qnet-tls", "readOnly": True} in \
            pod["spec"]["containers"][0]["volumeMounts"]
    assert "f-app_sender.py" in cm["data"]
    kv = shutil.which("kubernetes-validate") or str(Path(sys.executable).with_name("kubernetes-validate"))
    manifests = tmp_path / "jobs.yaml"
    manifests.write_text(out.stdout)
    check = subprocess.run([kv, "--strict", str(manifests)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
