"""The dashboard's JSON API: clear 4xx errors for bad input, nodes that do not answer shown as down,
files served only from the package; and `qnet dashboard` on a network started by `qnet up`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from qemu_net.client import Network
from qemu_net.dashboard import Dashboard
from qemu_net.dashboard.collect import parse_metrics
from qemu_net.network.topology import parse_topology

TOPO = parse_topology({"name": "nowhere", "nodes": [{"name": "a", "address": "127.0.0.1:9"},
                                                     {"name": "b", "address": "127.0.0.1:9"}, "c"],
                       "links": [["a", "b"], ["b", "c"]]}).with_addresses({"c": "127.0.0.1:9"})


@pytest.fixture
def dash():
    with Network.connect(TOPO, timeout_s=5) as net, Dashboard(net, TOPO) as d:
        d.collector.probe_timeout_s = 0.5
        yield d


def _get(url, timeout: float = 60):  # above a state read: two 15 s probes per node on a busy host
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def _post(url, body: bytes):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_unreachable_nodes_are_shown_down_with_the_reason(dash):
    """Nobody listens at the addresses: every node is 'down' with an error, links are still listed."""
    status, ctype, body = _get(dash.url + "api/state")
    s = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert [n["status"] for n in s["nodes"]] == ["down"] * 3
    assert all("unreachable" in n["error"] or "deadline" in n["error"] for n in s["nodes"])
    assert [lk["id"] for lk in s["links"]] == ["a--b", "b--c"]
    assert all(lk["epr_pairs"] is None for lk in s["links"])  # no metrics known: not a zero
    assert set(s["layout"]) == {"a", "b", "c"}


@pytest.mark.parametrize("body,code,needle", [
    (b"not json", 400, "not JSON"),
    (b"[1]", 400, "expected an object"),
    (json.dumps({"kind": "dance", "params": {}}).encode(), 400, "unknown run kind"),
    (json.dumps({"kind": "teleport", "params": {"src": "a", "dst": "zz"}}).encode(), 400, "unknown node"),
    (json.dumps({"kind": "teleport", "params": {"src": "a", "dst": "c"}}).encode(), 400, "no quantum link"),
    (json.dumps({"kind": "teleport", "params": {"src": "a", "dst": "b", "shots": 10**6}}).encode(), 400, "outside"),
    (json.dumps({"kind": "qkd", "params": {"src": "a", "dst": "b", "variant": "b92"}}).encode(), 400, "variant"),
])
def test_bad_runs_are_refused_with_a_clear_message(dash, body, code, needle):
    status, answer = _post(dash.url + "api/run", body)
    assert status == code and needle in answer["error"], answer
    assert _post(dash.url + "api/nothing", b"{}")[0] == 404


def test_a_run_that_fails_at_the_nodes_is_recorded_as_failed(dash):
    """A valid teleport to unreachable nodes: accepted (202), then 'failed' with the node's error."""
    status, run = _post(dash.url + "api/run", json.dumps({"kind": "teleport", "params": {"src": "a", "dst": "b",
                                                                                           "shots": 1}}).encode())
    assert status == 202 and run["state"] == "running"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = json.loads(_get(dash.url + f"api/run/{run['id']}")[2])
        if got["state"] != "running":
            break
        time.sleep(0.1)
    assert got["state"] == "failed" and got["error_type"] == "PeerUnavailable", got


def test_static_files_only_from_the_package(dash):
    """The page and its assets are served; nothing outside the static folder is."""
    status, ctype, body = _get(dash.url)
    assert status == 200 and ctype.startswith("text/html") and b"/static/app.js" in body
    assert b"http" not in body.replace(b"http://www.w3.org", b"")  # no CDN, nothing remote
    assert _get(dash.url + "static/app.js")[1].startswith("text/javascript")
    for bad in ("static/../server.py", "static/%2e%2e/server.py", "static/nope.js", "etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as e:
            _get(dash.url + bad)
        assert e.value.code == 404


def test_metrics_text_is_read_per_peer():
    """EPR pairs per peer and RPC totals come out of a node's Prometheus text."""
    text = "\n".join([
        '# TYPE qnet_rpcs_total counter',
        'qnet_rpcs_total{node="a",service="NodeService",method="Apply",code="OK"} 5.0',
        'qnet_rpcs_total{node="a",service="NodeService",method="Apply",code="NOT_FOUND"} 2.0',
        '# TYPE qnet_epr_pairs_total counter',
        'qnet_epr_pairs_total{node="a",peer="b",mode="kept"} 3.0',
        'qnet_epr_pairs_total{node="a",peer="b",mode="measured"} 4.0',
        'qnet_epr_pairs_total{node="a",peer="c",mode="kept"} 1.0',
        '# TYPE qnet_epr_attempts_total counter',
        'qnet_epr_attempts_total{node="a",peer="b"} 19.0',
        '# TYPE qnet_epr_delivered_fidelity gauge',
        'qnet_epr_delivered_fidelity{node="a",peer="b"} 0.93', ""])
    m = parse_metrics(text)
    assert (m.rpcs_total, m.rpc_errors, m.epr_pairs) == (7, 2, {"b": 7, "c": 1})
    assert m.epr_attempts == {"b": 19} and m.delivered_fidelity == {"b": 0.93}


def test_links_show_attempts_delivered_fidelity_and_pool_rate_from_the_nodes():
    """On a lossy Werner link the dashboard's link row takes EPR attempts and the delivered fidelity from
    the nodes' own metrics: attempts >= pairs, fidelity = the link's F; the pool rate needs two readings."""
    from qemu_net.node.launcher import LocalNetwork

    topo = parse_topology({"name": "dashlink", "nodes": ["a", "b"],
                           "links": [{"nodes": ["a", "b"], "length_km": 20, "source_fidelity": 0.93}]})
    with LocalNetwork.start(topo, metrics=True) as local, Network.connect(local.topology, timeout_s=30) as net:
        pairs = net["a"].epr("b", 20)
        metrics = {name: rec["metrics_address"] for name, rec in local.nodes.items()}
        with Dashboard(net, local.topology, metrics=metrics, probe_timeout_s=15.0) as d:  # a busy host is slow
            first = d.collector.state()["links"][0]
            second = d.collector.state()["links"][0]
        net["a"].free([p.local for p in pairs])
        net["b"].free([p.remote for p in pairs])
    assert first["epr_pairs"] == 20 and first["epr_attempts"] >= 20
    # 20 km of 0.2 dB/km fiber: each attempt heralds with 10^-0.4, so 20 pairs need ~50 attempts.
    assert first["epr_attempts"] > 25
    assert first["delivered_fidelity"] == pytest.approx(0.93, abs=1e-9)
    assert first["keys"].get("pool_rate_bits_per_s") is None
    assert second["keys"].get("pool_rate_bits_per_s") == 0


def test_qnet_dashboard_reads_a_network_started_by_qnet_up(tmp_path):
    """`qnet up --chain 3` then `qnet dashboard --chain 3 --port 0`: the page's state has every node up,
    with metrics (qnet up serves them), until Ctrl-C stops the dashboard; the network keeps running."""
    env = {**os.environ, "QNET_STATE_DIR": str(tmp_path)}
    qnet = [sys.executable, "-m", "qemu_net.cli.main"]
    up = subprocess.run([*qnet, "up", "--chain", "3"], capture_output=True, text=True, env=env, timeout=240)
    assert up.returncode == 0, up.stderr
    dash = None
    try:
        dash = subprocess.Popen([*qnet, "dashboard", "--chain", "3", "--port", "0", "--probe-timeout-s", "15"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        line = dash.stdout.readline()  # "dashboard of 'chain3' (3 nodes): http://127.0.0.1:PORT/  (Ctrl-C ...)"
        assert "dashboard of 'chain3'" in line, line + dash.stderr.read()
        url = line.split(": ", 1)[1].split()[0]
        # A node that cannot answer within the probe deadline is shown down (right on a host this busy); the
        # nodes are up, so within a bounded number of snapshots every one of them is shown up.
        deadline = time.monotonic() + 180
        for _ in range(60):
            s = json.loads(_get(url + "api/state")[2])
            shown = [n["status"] for n in s["nodes"]] == ["up"] * 3 and all("metrics" in n for n in s["nodes"])
            if shown or time.monotonic() > deadline:
                break
        assert [n["status"] for n in s["nodes"]] == ["up"] * 3, s["nodes"]
        assert all("metrics" in n for n in s["nodes"]), s["nodes"]
        assert [lk["epr_pairs"] for lk in s["links"]] == [0, 0]
        dash.send_signal(signal.SIGINT)
        assert dash.wait(90) == 0
        status = subprocess.run([*qnet, "status", "--chain", "3", "--json"], capture_output=True, text=True, env=env,
                                timeout=60)
        assert status.returncode == 0  # the network outlives its dashboard
    finally:
        if dash is not None and dash.poll() is None:
            dash.kill()
            dash.wait(10)
        subprocess.run([*qnet, "down", "--chain", "3"], capture_output=True, env=env, timeout=60)


def test_the_answer_to_a_start_is_the_run_as_accepted(monkeypatch):
    """A run that fails at once is still answered 'running' (as accepted); the next read says 'failed'."""
    from qemu_net.dashboard import runs as runbook
    from qemu_net.errors import PeerUnavailable

    def instant(_net, _topo, params):
        def fail():
            raise PeerUnavailable("a: node is unreachable")
        return dict(params), fail

    monkeypatch.setitem(runbook.KINDS, "instant", instant)
    book = runbook.RunBook(None, TOPO)  # type: ignore[arg-type]
    accepted = book.start("instant", {})
    deadline = time.monotonic() + 10
    while book.get(accepted["id"]).state == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert accepted["state"] == "running"
    assert book.get(accepted["id"]).to_dict()["error_type"] == "PeerUnavailable"
