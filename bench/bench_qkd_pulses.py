"""Benchmark the vectorised QKD path; prints one JSON document.

- ``pulses_per_s``: prepare + transmit + detect of decoy-BB84 pulse trains (blocks of 1M pulses, the
  block size the roles send), median of 3 runs, at 1 km and 50 km;
- ``reference_rng_random_per_s``: numpy ``Generator.random`` float64 draws per second in the same
  run, to calibrate against the machine's speed (results vary by +-35% on shared machines);
- ``session``: a full decoy-BB84 session (both roles in one process, two threads, real Cascade,
  verification and privacy amplification) -- final secret bits per wall-clock second, median of 3.
  This is in-process; the node-to-node figure over gRPC is measured by bench/bench_qkd_e2e.py.

Usage: python bench/bench_qkd_pulses.py [--pulses N] [--session-pulses N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

from qemu_net.network.topology import LinkSpec, parse_topology
from qemu_net.qkd.local import run_local_session
from qemu_net.qkd.pulses import SourceSettings, detect, prepare_train, random_bases, transmit
from qemu_net.qkd.roles import BB84Params, bb84_alice, bb84_bob

LINK = {"attenuation_db_per_km": 0.2, "detector_efficiency": 0.1, "dark_count_probability": 1e-6,
        "misalignment_error": 0.015}


def pulses_per_s(length_km: float, n: int, block: int, seed: int) -> float:
    link = LinkSpec(nodes=("alice", "bob"), length_km=length_km, **LINK)
    src = SourceSettings()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    clicks = 0
    for start in range(0, n, block):
        nb = min(block, n - start)
        train = prepare_train(nb, src, rng)
        det = detect(transmit(train, link, rng=rng), random_bases(nb, src.p_z, rng), rng)
        clicks += len(det.indices)
    dt = time.perf_counter() - t0
    assert clicks > 0
    return n / dt


def rng_reference(n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(n // 1_000_000):
        rng.random(1_000_000)
    return (n // 1_000_000) * 1_000_000 / (time.perf_counter() - t0)


def session(length_km: float, n: int, seed: int) -> dict:
    topo = parse_topology({"nodes": ["alice", "bob"],
                           "links": [{"nodes": ["alice", "bob"], "length_km": length_km, **LINK}]})
    t0 = time.perf_counter()
    out = run_local_session(topo, {"alice": (bb84_alice, BB84Params(peer="bob", n_pulses=n)),
                                   "bob": (bb84_bob, BB84Params(peer="alice"))}, seed=seed)
    dt = time.perf_counter() - t0
    a, b = out["alice"], out["bob"]
    assert a.key == b.key
    return {"wall_s": dt, "final_bits": a.final_bits, "secret_bits_per_wall_s": a.final_bits / dt,
            "key_rate_per_pulse": a.key_rate_per_pulse, "key_rate_per_virtual_s": a.key_rate_per_s,
            "qber": a.qber, "cascade_rounds": a.cascade_rounds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pulses", type=int, default=10_000_000)
    ap.add_argument("--block", type=int, default=1_000_000)
    ap.add_argument("--session-pulses", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    result: dict = {"benchmark": "qkd_pulses", "python": platform.python_version(), "numpy": np.__version__,
                    "repeats": args.repeats, "pulses_per_run": args.pulses, "block_pulses": args.block,
                    "link": LINK}
    ref = [rng_reference(args.pulses, s) for s in range(args.repeats)]
    result["reference_rng_random_per_s"] = statistics.median(ref)
    for km in (1, 50):
        runs = [pulses_per_s(km, args.pulses, args.block, s) for s in range(args.repeats)]
        result[f"pulses_per_s_{km}km"] = statistics.median(runs)
        result[f"pulses_per_s_{km}km_runs"] = runs
    for km in (1, 50):
        runs = [session(km, args.session_pulses, s) for s in range(args.repeats)]
        rates = [r["secret_bits_per_wall_s"] for r in runs]
        med = runs[rates.index(statistics.median(rates))]
        result[f"session_{km}km"] = {**med, "secret_bits_per_wall_s_runs": rates,
                                     "n_pulses": args.session_pulses}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
