"""QKD between real node processes: sessions over RunProtocol, keys through the key-delivery API."""

from __future__ import annotations

import math
import time

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from qemu_net.client.credentials import channel_to
from qemu_net.client import qkd
from qemu_net.errors import (
    InvalidOperation,
    KeyNotFound,
    KeysExhausted,
    NotConnected,
    ProtocolAborted,
)
from qemu_net.network.topology import parse_topology
from tests.conftest import running

#: A metro fiber with gated detectors: 0.2 dB/km, 50% detector efficiency, 1e-6 dark counts, 1.5% misalignment.
APD_LINK = {"attenuation_db_per_km": 0.2, "detector_efficiency": 0.5, "dark_count_probability": 1e-6,
            "misalignment_error": 0.015}
TOPO = parse_topology({
    "name": "qkd-e2e",
    "nodes": ["alice", "bob", "carol"],
    "links": [{"nodes": ["alice", "bob"], "length_km": 5, **APD_LINK},
              {"nodes": ["bob", "carol"], "length_km": 1, "misalignment_error": 0.0}],
})


@pytest.fixture(scope="module")
def net():
    with running(TOPO, allow_inspect=False) as (_local, client):
        yield client


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "fields", {}).get("code"))


def test_bb84_decoy_keys_fetched_from_both_nodes_are_equal(net):
    """A decoy-BB84 session stores the same key at both nodes; the slave fetches the master's keys by id."""
    before = qkd.key_status(net["alice"], "bob").stored_bits
    s = qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=4_000_000)
    assert s.succeeded and s.protocol == "bb84-decoy"
    assert s.stored_bits_alice == s.stored_bits_bob == s.final_bits > 1000
    assert 0.005 < s.qber < 0.04 and s.y1_lower is not None and s.e1_upper is not None
    assert s.key_analysis == "lim2014-decoy-bb84" and s.eps_sec == 1e-10 and s.eps_cor == 1e-15
    assert 0 < s.final_bits < s.asymptotic_bits
    assert s.key_rate_per_pulse == pytest.approx(s.final_bits / 4_000_000)
    assert "key" not in s.to_dict()
    st_a, st_b = qkd.key_status(net["alice"], "bob"), qkd.key_status(net["bob"], "alice")
    assert st_a.stored_bits == st_b.stored_bits == before + s.final_bits

    master = qkd.get_keys(net["alice"], "bob", number=4, size_bits=256)
    assert len({k.key_id for k in master}) == 4 and all(len(k.key) == 32 for k in master)
    slave = qkd.get_keys_with_ids(net["bob"], "alice", [k.key_id for k in reversed(master)])
    assert [k.key for k in slave] == [k.key for k in reversed(master)]
    assert len({k.key for k in master}) == 4  # distinct slices of the key

    # The other direction: bob is the master; his keys come from the other end of the session key.
    back = qkd.get_keys(net["bob"], "alice", number=2, size_bits=1024)
    got = qkd.get_keys_with_ids(net["alice"], "bob", [k.key_id for k in back])
    assert [k.key for k in got] == [k.key for k in back]
    assert not {k.key for k in back} & {k.key for k in master}
    after_a, after_b = qkd.key_status(net["alice"], "bob"), qkd.key_status(net["bob"], "alice")
    assert after_a.stored_bits == after_b.stored_bits == st_a.stored_bits - 4 * 256 - 2 * 1024

    with pytest.raises(KeyNotFound, match="no key with id") as exc:
        qkd.get_keys_with_ids(net["bob"], "alice", [master[0].key_id])  # delivered once only
    assert _code(exc.value) == "NOT_FOUND"


def test_e91_chsh_is_2_sqrt2_for_ideal_pairs(net):
    """E91 over an ideal fiber with ideal pairs: CHSH S = 2*sqrt(2) within sampling error, QBER 0, equal keys."""
    s = qkd.run_qkd(net, "bob", "carol", "e91", n_pairs=400_000, visibility=1.0)
    assert s.succeeded and s.protocol == "e91"
    assert s.chsh == pytest.approx(2 * math.sqrt(2), abs=4 * s.chsh_stderr)
    assert s.chsh_stderr < 0.02 and s.qber == 0.0
    keys = qkd.get_keys(net["carol"], "bob", number=2, size_bits=512)
    assert [k.key for k in qkd.get_keys_with_ids(net["bob"], "carol", [k.key_id for k in keys])] == [k.key for k in keys]


def test_full_intercept_resend_gives_qber_25_percent_and_aborts(net):
    """Eve on every pulse: the QBER is about 25%, the session aborts with the reason, no key is stored."""
    before = qkd.key_status(net["alice"], "bob").stored_bits, qkd.key_status(net["bob"], "alice").stored_bits
    s = qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=2_000_000, eve_fraction=1.0, report_abort=True)
    assert not s.succeeded and "QBER" in s.aborted and "eavesdropper" in s.aborted
    assert s.qber == pytest.approx(0.25, abs=0.03)
    assert s.stored_bits_alice == s.stored_bits_bob == 0
    with pytest.raises(ProtocolAborted, match=r"QBER 0\.2\d+ .* exceeds the threshold") as exc:
        qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=1_000_000, eve_fraction=1.0)
    assert _code(exc.value) == "ABORTED"
    after = qkd.key_status(net["alice"], "bob").stored_bits, qkd.key_status(net["bob"], "alice").stored_bits
    assert after == before


def test_impossible_intensities_fail_fast_at_both_ends(net):
    """A decoy intensity above the signal's is refused (INVALID_ARGUMENT) without Bob waiting for pulses."""
    t0 = time.perf_counter()
    with pytest.raises(InvalidOperation, match="nu") as exc:
        qkd.run_qkd(net, "alice", "bob", mu=0.1, nu=0.5, timeout_s=20)
    assert _code(exc.value) == "INVALID_ARGUMENT"
    with pytest.raises(InvalidOperation):
        qkd.run_qkd(net, "alice", "bob", p_signal=0.9, p_decoy=0.2, p_vacuum=0.1, timeout_s=20)
    assert time.perf_counter() - t0 < 10


def test_impossible_security_parameters_are_refused(net):
    """eps_sec outside (0, 1e-3) fails at both ends with a clear message."""
    with pytest.raises(InvalidOperation, match="eps_sec") as exc:
        qkd.run_qkd(net, "alice", "bob", n_pulses=100_000, eps_sec=0.5, timeout_s=20)
    assert _code(exc.value) == "INVALID_ARGUMENT"


def test_a_block_too_small_for_a_finite_key_stores_nothing(net):
    """1e5 pulses certify no key: ABORTED with the finite-key reason, nothing stored at either end."""
    before = qkd.key_status(net["alice"], "bob").stored_bits
    s = qkd.run_qkd(net, "alice", "bob", n_pulses=100_000, report_abort=True, timeout_s=20)
    assert not s.succeeded and "no secret key" in s.aborted and s.final_bits == 0
    assert s.asymptotic_bits is not None and s.asymptotic_bits > 0  # the asymptotic figure would have said yes
    assert qkd.key_status(net["alice"], "bob").stored_bits == before


def test_session_over_a_link_that_does_not_exist_is_refused(net):
    """alice and carol share no fiber: FAILED_PRECONDITION, naming the missing link."""
    with pytest.raises(NotConnected, match="share no quantum link|no classical link|unknown") as exc:
        qkd.run_qkd(net, "alice", "carol", n_pulses=100_000, timeout_s=20)
    assert _code(exc.value) == "FAILED_PRECONDITION"


def test_key_requests_beyond_what_is_stored_or_malformed_get_clear_statuses(net):
    """More key than stored -> RESOURCE_EXHAUSTED; bad size/peer -> INVALID_ARGUMENT; unknown id -> NOT_FOUND."""
    stored = qkd.key_status(net["alice"], "bob").stored_bits
    with pytest.raises(KeysExhausted, match="unused bits stored") as exc:
        qkd.get_keys(net["alice"], "bob", number=2, size_bits=(stored // 16 + 1) * 8)
    assert _code(exc.value) == "RESOURCE_EXHAUSTED"
    assert qkd.key_status(net["alice"], "bob").stored_bits == stored  # nothing was cut
    with pytest.raises(KeysExhausted):
        qkd.get_keys(net["alice"], "carol", number=1, size_bits=256)  # no session with carol at all
    with pytest.raises(InvalidOperation, match="multiple of 8") as exc:
        qkd.get_keys(net["alice"], "bob", number=1, size_bits=12)
    assert _code(exc.value) == "INVALID_ARGUMENT"
    with pytest.raises(InvalidOperation, match="maximum key size"):
        qkd.get_keys(net["alice"], "bob", number=1, size_bits=1 << 24)
    with pytest.raises(InvalidOperation, match="unknown node"):
        qkd.get_keys(net["alice"], "mallory", number=1, size_bits=256)
    with pytest.raises(KeyNotFound) as exc:
        qkd.get_keys_with_ids(net["bob"], "alice", ["00000000-0000-0000-0000-000000000000"])
    assert _code(exc.value) == "NOT_FOUND"


def test_key_delivery_service_is_listed_by_reflection(net):
    """Each node serves KeyDeliveryService on its public address, visible through reflection."""
    with channel_to(net["alice"].address) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        (resp,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                            timeout=10)
    names = {s.name for s in resp.list_services_response.service}
    assert "qemu_net.v1.KeyDeliveryService" in names


def test_cli_keys_fetch_by_size_then_by_id(net, tmp_path, capsys):
    """`qnet keys` against running nodes: the master gets ids, the slave fetches the same keys by id."""
    import json

    from qemu_net.cli.main import main

    qkd.run_qkd(net, "alice", "bob", n_pulses=4_000_000)
    topo = tmp_path / "running.yaml"
    topo.write_text(net.topology.to_yaml())
    assert main(["keys", "get", "-t", str(topo), "--node", "alice", "--peer", "bob", "-n", "2", "--size", "64",
                 "--json", "--show"]) == 0
    master = json.loads(capsys.readouterr().out)["keys"]
    assert [k["size_bits"] for k in master] == [64, 64] and all(len(k["key_hex"]) == 16 for k in master)
    assert main(["keys", "get-with-ids", "-t", str(topo), "--node", "bob", "--peer", "alice",
                 *[k["key_id"] for k in master], "--json", "--show"]) == 0
    slave = json.loads(capsys.readouterr().out)["keys"]
    assert [k["key_hex"] for k in slave] == [k["key_hex"] for k in master]
    assert main(["keys", "get", "-t", str(topo), "--node", "alice", "--peer", "bob"]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 2 and out[1] == "256"  # id and size only: no key material without --show
    assert main(["keys", "status", "-t", str(topo), "--node", "bob", "--peer", "alice", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stored_bits"] > 0


def test_cli_run_qkd_json_reports_lengths_qber_and_rates(capsys):
    """`qnet run qkd --json` prints raw/sifted/final lengths, QBER and the key rates (and no key). Ideal
    hardware: the embedded default's realistic detectors certify no finite key from 4e6 pulses at 25 km."""
    import json

    from qemu_net.cli.main import main

    assert main(["run", "qkd", "--json", "--pulses", "4000000", "--length-km", "25", "--preset", "ideal"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["length_km"] == 25 and d["figure"] == "secret_key_rate_per_pulse"
    assert d["raw_bits"] >= d["sifted_bits"] >= d["final_bits"] > 0 and d["qber"] < 0.05
    assert d["key_rate_per_pulse"] == pytest.approx(d["final_bits"] / 4_000_000)
    assert d["key_rate_per_virtual_s"] > 0 and d["aborted"] is None
    assert "key" not in d["extra"]


def test_ldpc_reconciliation_between_node_processes(net):
    """A session chosen to reconcile with LDPC: equal keys fetched from both nodes, f and FER reported."""
    s = qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=4_000_000, reconciliation="ldpc")
    assert s.succeeded and s.reconciliation == "ldpc" and s.frame_error_rate is not None
    assert s.ec_efficiency > 1.0 and s.cascade_rounds <= 3
    keys = qkd.get_keys(net["alice"], "bob", number=2, size_bits=256)
    assert [k.key for k in qkd.get_keys_with_ids(net["bob"], "alice", [k.key_id for k in keys])] == [k.key for k in keys]
