"""Continuous key pools: background sessions fill each link's pool up to its maximum, as metrics show."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request

from qemu_net.client import qkd
from qemu_net.network.topology import parse_topology
from qemu_net.security.pki import NetworkCA
from tests.conftest import running

TOPO = parse_topology({"name": "kme-pools", "nodes": ["p", "q", "r"],
                       "links": [{"nodes": ["p", "q"], "length_km": 1, "detector_efficiency": 0.85},
                                 {"nodes": ["q", "r"], "length_km": 2, "detector_efficiency": 0.85}]})
MAX_BITS = 200_000


def _metric(text: str, name: str, peer: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and f'peer="{peer}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} for {peer} not exported")


def test_background_sessions_fill_every_link_to_its_maximum(tmp_path):
    """With the filler on, each link's pool reaches at least the maximum (one session may overshoot by
    its own key) within a deadline, both ends hold the same amount, filling then stops, and the
    pool level is exported as a Prometheus gauge."""
    certs, addrs = tmp_path / "certs", tmp_path / "addr"
    addrs.mkdir()
    ca = NetworkCA.create("pools")
    ca.write(certs)
    for n in TOPO.node_names:
        ca.issue_node(n, ips=["127.0.0.1"]).write(certs)
    env = {"QNET_KME_CERT_DIR": str(certs), "QNET_KME_SAES": "{}", "QNET_KME_ADDRESS_DIR": str(addrs),
           "QNET_KEY_POOL_MAX_BITS": str(MAX_BITS), "QNET_KEY_POOL_PULSES": "2000000", "QNET_KME_METRICS_PORT": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with running(TOPO, allow_inspect=False) as (_local, net):
            deadline = time.monotonic() + 120
            pairs = (("p", "q"), ("q", "r"))
            tick = threading.Event()
            while True:
                levels = {pq: qkd.key_status(net[pq[0]], pq[1]).stored_bits for pq in pairs}
                if all(v >= MAX_BITS for v in levels.values()) or time.monotonic() > deadline:
                    break
                tick.wait(0.5)  # the deadline above bounds this wait for the background sessions
            assert all(v >= MAX_BITS for v in levels.values()), levels
            for x, y in pairs:
                assert qkd.key_status(net[y], x).stored_bits == levels[(x, y)]
            port = json.loads((addrs / "q.json").read_text())["metrics_port"]
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            assert _metric(text, "qnet_key_pool_bits", "p") == levels[("p", "q")]
            assert _metric(text, "qnet_key_pool_max_bits", "r") == MAX_BITS
            assert _metric(text, "qnet_key_pool_sessions_total", "r") >= 1  # q < r: q runs Alice
            # full pools: no further session starts
            settled = {pq: qkd.key_status(net[pq[0]], pq[1]).stored_bits for pq in pairs}
            tick.wait(3.0)
            assert {pq: qkd.key_status(net[pq[0]], pq[1]).stored_bits for pq in pairs} == settled
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
