"""The ETSI GS QKD 014 key manager of real node processes, tested with outside clients over mTLS.

A chain a - b - c - d of QKD links; applications sae-a at a, sae-b at b, sae-d at d. Each link's pool
is filled by one decoy-BB84 session between the two node processes (the background filler is off
here so that the pools hold exactly what the test put in). Clients: `qkdsec doctor` (PyPI qkdsec) and
`qkd014-client` (PyPI etsi-qkd-014-client), run as separate programs with the applications'
certificates from the network CA (`qemu_net.security.pki`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from qemu_net.client import qkd
from qemu_net.network.topology import parse_topology
from qemu_net.security.pki import NetworkCA
from tests.conftest import running

LINK = {"length_km": 1, "detector_efficiency": 0.85, "dark_count_probability": 1e-7}
TOPO = parse_topology({"name": "kme-chain", "nodes": ["a", "b", "c", "d"],
                       "links": [{"nodes": ["a", "b"], **LINK}, {"nodes": ["b", "c"], **LINK},
                                 {"nodes": ["c", "d"], **LINK}]})
SAES = {"sae-a": "a", "sae-b": "b", "sae-d": "d", "sae-x": "c"}
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return path


@pytest.fixture(scope="module")
def kme(tmp_path_factory):
    d = tmp_path_factory.mktemp("kme")
    certs, addrs = d / "certs", d / "addr"
    addrs.mkdir()
    ca = NetworkCA.create("kme-test")
    ca.write(certs)
    for n in TOPO.node_names:
        ca.issue_node(n, extra_dns=["localhost"], ips=["127.0.0.1"]).write(certs)
    for s in SAES:
        ca.issue_application(s).write(certs)
    ca.issue_application("sae-nowhere").write(certs)
    other = NetworkCA.create("other")
    other.issue_application("sae-a").write(certs, "forged-sae-a")
    env = {"QNET_KME_CERT_DIR": str(certs), "QNET_KME_SAES": json.dumps(SAES), "QNET_KME_ADDRESS_DIR": str(addrs),
           "QNET_KEY_POOL_FILL": "0", "QNET_KEY_POOL_MAX_BITS": str(1 << 22)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with running(TOPO, allow_inspect=False) as (_local, net):
            # sessions twice as long on a-b and b-c as on c-d: link c-d holds the least key (a key is cut
            # from one session's key, so the comparison is per session)
            for x, y, n in (("a", "b", 8_000_000), ("b", "c", 8_000_000), ("c", "d", 4_000_000)):
                s = qkd.run_qkd(net, x, y, "bb84", n_pulses=n, p_z=0.8, timeout_s=120)
                assert s.succeeded
            urls = {n: "https://" + json.loads((addrs / f"{n}.json").read_text())["address"] for n in TOPO.node_names}
            yield {"urls": urls, "certs": certs, "net": net}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _https(kme, node, path, sae, body=None):
    c = kme["certs"]
    ctx = ssl.create_default_context(cafile=str(c / "ca.pem"))
    ctx.load_cert_chain(str(c / f"{sae}.pem"), str(c / f"{sae}.key"))
    req = urllib.request.Request(kme["urls"][node] + path, method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _etsi_client(kme, node, sae, *args):
    c = kme["certs"]
    host = kme["urls"][node].removeprefix("https://")
    out = subprocess.run([_tool("qkd014-client"), "-H", host, "-c", str(c / f"{sae}.pem"), "-k", str(c / f"{sae}.key"),
                          "-r", str(c / "ca.pem"), *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    code = int(re.search(r"Response code : (\d+)", out.stdout).group(1))
    keys = re.findall(r"Key id : (\S+)\nKey : (\S+)", out.stdout)
    return code, keys


@pytest.mark.parametrize("master_node, master, slave_node, slave", [("a", "sae-a", "b", "sae-b"),
                                                                    ("a", "sae-a", "d", "sae-d")])
def test_etsi_client_gets_the_same_key_at_both_ends(kme, master_node, master, slave_node, slave):
    """qkd014-client: enc_keys at the master's KME, then dec_keys with that ID at the slave's KME,
    over mTLS, gives the same bytes -- for neighbours and for a pair 3 hops apart through b and c."""
    code, keys = _etsi_client(kme, master_node, master, "get_key", slave)
    assert code == 200 and len(keys) == 1
    kid, key = keys[0]
    assert len(base64.b64decode(key)) == 32
    code, got = _etsi_client(kme, slave_node, slave, "get_key_with_id", kid, master)
    assert code == 200 and got == [(kid, key)]
    code, _ = _etsi_client(kme, slave_node, slave, "get_key_with_id", kid, master)
    assert code == 404  # each key is delivered once


@pytest.mark.parametrize("slave", ["sae-b", "sae-d"])
def test_qkdsec_doctor_reports_conformant(kme, slave):
    """qkdsec doctor against KME a with sae-a's certificate: CONFORMANT for a neighbour (sae-b) and a
    slave 3 hops away (sae-d)."""
    c = kme["certs"]
    out = subprocess.run([_tool("qkdsec"), "doctor", kme["urls"]["a"], "--slave-sae-id", slave,
                          "--cert", str(c / "sae-a.pem"), "--key", str(c / "sae-a.key"), "--ca-cert", str(c / "ca.pem"),
                          "--format", "json"], capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["passed"], json.dumps(report, indent=1)
    assert {r["name"]: r["status"] for r in report["results"]}["dec_keys_roundtrip"] == "pass"


def test_route_is_in_the_key_extension_and_pools_are_consumed(kme):
    """A 3-hop key carries its route; every link on it lost exactly the key's bits."""
    net = kme["net"]
    before = {(x, y): qkd.key_status(net[x], y).stored_bits for x, y in (("a", "b"), ("b", "c"), ("c", "d"))}
    code, body = _https(kme, "a", "/api/v1/keys/sae-d/enc_keys", "sae-a", {"number": 2, "size": 512})
    assert code == 200 and [k["key_extension"]["route"] for k in body["keys"]] == [["a", "b", "c", "d"]] * 2
    after = {(x, y): qkd.key_status(net[x], y).stored_bits for x, y in before}
    assert all(before[k] - after[k] == 2 * 512 for k in before), (before, after)
    code, got = _https(kme, "d", "/api/v1/keys/sae-a/dec_keys", "sae-d",
                       {"key_IDs": [{"key_ID": k["key_ID"]} for k in body["keys"]]})
    assert code == 200 and [k["key"] for k in got["keys"]] == [k["key"] for k in body["keys"]]


def test_error_contract(kme):
    """400 for bad sizes, numbers and unknown SAEs; 401 for a certificate naming no SAE of this KME or
    not from the network CA; 503 naming the link when a pool on the path is empty."""
    assert _https(kme, "a", "/api/v1/keys/sae-b/enc_keys?number=1&size=12", "sae-a")[0] == 400
    assert _https(kme, "a", "/api/v1/keys/sae-b/enc_keys?number=0", "sae-a")[0] == 400
    code, body = _https(kme, "a", "/api/v1/keys/sae-zzz/status", "sae-a")
    assert code == 400 and "unknown SAE" in body["message"]
    code, body = _https(kme, "a", "/api/v1/keys/sae-b/status", "sae-nowhere")
    assert code == 401 and "message" in body
    code, body = _https(kme, "b", "/api/v1/keys/sae-a/status", "sae-a")  # sae-a is attached to a, not b
    assert code == 401
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _https(kme, "a", "/api/v1/keys/sae-b/status", "forged-sae-a")
    code, st = _https(kme, "c", "/api/v1/keys/sae-d/status", "sae-x")
    assert code == 200 and st["source_KME_ID"] == "c" and st["target_KME_ID"] == "d"
    net = kme["net"]
    cd = qkd.key_status(net["c"], "d").stored_bits
    big = cd + 8 - cd % 8
    assert big <= 1 << 20 and min(qkd.key_status(net["a"], "b").stored_bits,
                                  qkd.key_status(net["b"], "c").stored_bits) > big
    # more key than link c-d holds, asked from a: the relay fails at c and a answers 503 naming c-d
    code, body = _https(kme, "a", "/api/v1/keys/sae-d/enc_keys", "sae-a", {"number": 1, "size": big})
    assert code == 503 and "c-d" in body["message"], body


def test_qnet_keys_speaks_etsi_014(kme, capsys):
    """`qnet keys etsi enc` at a, `qnet keys etsi dec` at d: the same key, the route a-b-c-d printed."""
    from qemu_net.cli.main import main

    c = kme["certs"]

    def flags(sae):
        return ["--cert", str(c / f"{sae}.pem"), "--key", str(c / f"{sae}.key"), "--ca", str(c / "ca.pem")]

    assert main(["keys", "etsi", "enc", "--kme", kme["urls"]["a"], *flags("sae-a"), "sae-d", "-n", "2",
                 "--json", "--show"]) == 0
    master = json.loads(capsys.readouterr().out)["keys"]
    assert [k["route"] for k in master] == [["a", "b", "c", "d"]] * 2 and all(k["size_bits"] == 256 for k in master)
    assert main(["keys", "etsi", "dec", "--kme", kme["urls"]["d"], *flags("sae-d"), "sae-a",
                 *[k["key_id"] for k in master], "--json", "--show"]) == 0
    slave = json.loads(capsys.readouterr().out)["keys"]
    assert [k["key_hex"] for k in slave] == [k["key_hex"] for k in master]
    assert main(["keys", "etsi", "status", "--kme", kme["urls"]["a"], *flags("sae-a"), "sae-b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target_KME_ID"] == "b"
