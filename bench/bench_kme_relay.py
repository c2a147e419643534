"""Trusted-node key relay through node processes: ETSI 014 enc_keys latency and keys per second over
1, 2 and 4 hops; prints one JSON document.

A chain n0 - n1 - n2 - n3 - n4 of 1 km QKD links (85% detectors); each link's pool is filled by decoy
BB84 sessions between the node processes first (the background filler is off, so the timed part is
only key delivery). The master SAE sits at n0, slaves at n1 (1 hop), n2 (2 hops) and n4 (4 hops). The
client keeps one mutual-TLS connection to n0's KME. Per hop count: the median latency of ``--requests``
enc_keys calls of one 256-bit key (the far end holds the key before the answer), and keys per
second for requests of ``--batch`` keys. Same-run reference: the status call (TLS + HTTP + no relay).

Usage: python bench/bench_kme_relay.py [--requests 50] [--batch 32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qemu_net.client import Network, qkd  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402
from qemu_net.security.pki import NetworkCA  # noqa: E402

NODES = [f"n{i}" for i in range(5)]
LINK = {"length_km": 1, "detector_efficiency": 0.85, "dark_count_probability": 1e-7}
SAES = {"sae-0": "n0", "sae-1": "n1", "sae-2": "n2", "sae-4": "n4"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--fill-sessions", type=int, default=2, help="QKD sessions per link before timing")
    args = ap.parse_args()
    topo = parse_topology({"name": "bench-kme", "nodes": NODES,
                           "links": [{"nodes": [a, b], **LINK} for a, b in zip(NODES, NODES[1:])]})
    tmp = Path(tempfile.mkdtemp(prefix="bench-kme-"))
    certs, addrs = tmp / "certs", tmp / "addr"
    addrs.mkdir(parents=True)
    ca = NetworkCA.create("bench")
    ca.write(certs)
    for n in NODES:
        ca.issue_node(n, ips=["127.0.0.1"]).write(certs)
    ca.issue_application("sae-0").write(certs)
    os.environ.update({"QNET_KME_CERT_DIR": str(certs), "QNET_KME_SAES": json.dumps(SAES),
                       "QNET_KME_ADDRESS_DIR": str(addrs), "QNET_KEY_POOL_FILL": "0"})
    out: dict = {"benchmark": "kme_relay", "requests": args.requests, "batch": args.batch, "link": LINK}
    with LocalNetwork.start(topo) as local, Network.connect(local.topology, timeout_s=120) as net:
        for a, b in zip(NODES, NODES[1:]):
            for _ in range(args.fill_sessions):
                qkd.run_qkd(net, a, b, "bb84", n_pulses=10_000_000, p_z=0.8, timeout_s=300)
        out["pool_bits"] = {f"{a}-{b}": qkd.key_status(net[a], b).stored_bits for a, b in zip(NODES, NODES[1:])}
        host, port = json.loads((addrs / "n0.json").read_text())["address"].split(":")
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.load_cert_chain(str(certs / "sae-0.pem"), str(certs / "sae-0.key"))
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)

        def call(path: str) -> dict:
            conn.request("GET", path)
            r = conn.getresponse()
            body = json.loads(r.read())
            if r.status != 200:
                raise RuntimeError(f"{path}: {r.status} {body}")
            return body

        def timed(path: str, n: int) -> list[float]:
            ts = []
            for _ in range(n):
                t0 = time.perf_counter()
                call(path)
                ts.append(time.perf_counter() - t0)
            return ts

        ref = timed("/api/v1/keys/sae-1/status", args.requests)
        out["status_ms_p50"] = round(statistics.median(ref) * 1e3, 3)
        for hops, sae in ((1, "sae-1"), (2, "sae-2"), (4, "sae-4")):
            lat = timed(f"/api/v1/keys/{sae}/enc_keys?number=1&size=256", args.requests)
            bt = timed(f"/api/v1/keys/{sae}/enc_keys?number={args.batch}&size=256", max(args.requests // 5, 3))
            route = call(f"/api/v1/keys/{sae}/enc_keys?number=1&size=256")["keys"][0]["key_extension"]["route"]
            out[f"hops_{hops}"] = {"route": route, "latency_ms_p50": round(statistics.median(lat) * 1e3, 3),
                                   "latency_ms_p90": round(sorted(lat)[int(0.9 * len(lat))] * 1e3, 3),
                                   "keys_per_s_single": round(1 / statistics.median(lat), 1),
                                   "keys_per_s_batch": round(args.batch / statistics.median(bt), 1),
                                   "latency_vs_status": round(statistics.median(lat) / statistics.median(ref), 2)}
        conn.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
