"""End-to-end QKD between node processes: secret key bits per wall-clock second; prints one JSON document.

Each session is a full decoy-state BB84 run between two node processes started by the local launcher
(RunProtocol roles; pulse trains and every post-processing message cross the nodes' classical
channels over gRPC; Cascade, verification and Toeplitz privacy amplification really run), timed at the
client from the RunProtocol calls to both results. The final keys are then fetched from both nodes
through the key-delivery API and compared (not counted in the rate).

Every key length is the composable finite-key bound of the block (Lim et al. 2014, eps_sec = 1e-10,
eps_cor = 1e-15); a block too small for a positive bound counts as 0 bits (its reason is reported).
Two detector settings on a 0.2 dB/km fiber with 1.5% misalignment:

- ``apd``: InGaAs avalanche photodiodes, 10% efficiency, 1e-6 dark counts per gate (the parameter
  set of bench/qkd_sweep.py and the GLLP tests);
- ``snspd``: superconducting nanowire detectors, 85% efficiency, 1e-7 dark counts.

Same-run references (the machine varies by +-35% between runs): ``getinfo_rtt_ms`` (median of a bare
GetInfo round trip to a node) and ``inprocess`` (the same session with both roles in this process,
no gRPC). Median of ``--repeats`` sessions for every figure.

Usage: python bench/bench_qkd_e2e.py [--repeats 3] [--pulses-1km N] [--pulses-50km N] [--block N]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qemu_net.client import Network, qkd  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402
from qemu_net.qkd.local import run_local_session  # noqa: E402
from qemu_net.qkd.roles import BB84Params, bb84_alice, bb84_bob  # noqa: E402

FIBER = {"attenuation_db_per_km": 0.2, "misalignment_error": 0.015}
DETECTORS = {
    "apd": {"detector_efficiency": 0.1, "dark_count_probability": 1e-6},
    "snspd": {"detector_efficiency": 0.85, "dark_count_probability": 1e-7},
}
DISTANCES_KM = (1, 50)


def topology():
    nodes = ["alice"] + [f"{d}{km}" for d in DETECTORS for km in DISTANCES_KM]
    links = [{"nodes": ["alice", f"{d}{km}"], "length_km": km, **FIBER, **det}
             for d, det in DETECTORS.items() for km in DISTANCES_KM]
    return parse_topology({"name": "bench-qkd-e2e", "nodes": nodes, "links": links})


def getinfo_rtt_ms(net: Network, calls: int = 300) -> float:
    node = net["alice"]
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        node.info()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def e2e_session(net: Network, bob: str, n: int, block: int, p_z: float) -> dict:
    s = qkd.run_qkd(net, "alice", bob, "bb84", n_pulses=n, block_pulses=block, p_z=p_z, timeout_s=300,
                    report_abort=True)
    same = None
    if s.final_bits >= 8:
        # Compare the keys the two nodes deliver (a slice of each session key), outside the timed part.
        size = min(s.final_bits // 8 * 8, 65536)
        got = qkd.get_keys(net["alice"], bob, 1, size)
        same = qkd.get_keys_with_ids(net[bob], "alice", [got[0].key_id])[0].key == got[0].key
    return {"wall_s": s.wall_time_s, "final_bits": s.final_bits, "secret_bits_per_wall_s": s.secret_bits_per_wall_s,
            "asymptotic_bits": s.asymptotic_bits, "key_analysis": s.key_analysis, "eps_sec": s.eps_sec,
            "eps_cor": s.eps_cor, "aborted": s.aborted,
            "key_rate_per_pulse": s.key_rate_per_pulse, "key_rate_per_virtual_s": s.key_rate_per_virtual_s,
            "qber": s.qber, "cascade_rounds": s.cascade_rounds, "keys_equal": same}


def inprocess_session(km: float, det: dict, n: int, block: int, seed: int, p_z: float) -> dict:
    topo = parse_topology({"nodes": ["alice", "bob"],
                           "links": [{"nodes": ["alice", "bob"], "length_km": km, **FIBER, **det}]})
    t0 = time.perf_counter()
    out = run_local_session(topo, {"alice": (bb84_alice, BB84Params(peer="bob", n_pulses=n, block_pulses=block,
                                                                    p_z=p_z, raise_on_abort=False)),
                                   "bob": (bb84_bob, BB84Params(peer="alice", raise_on_abort=False))}, seed=seed)
    dt = time.perf_counter() - t0
    assert out["alice"].key == out["bob"].key
    return {"wall_s": dt, "secret_bits_per_wall_s": out["alice"].final_bits / dt}


def median_run(runs: list[dict]) -> dict:
    rates = [r["secret_bits_per_wall_s"] for r in runs]
    med = runs[rates.index(statistics.median(rates))]
    return {**med, "secret_bits_per_wall_s_runs": [round(x) for x in rates]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pulses-1km", type=int, default=10_000_000)
    ap.add_argument("--pulses-50km", type=int, default=20_000_000)
    ap.add_argument("--block", type=int, default=1_000_000, help="pulses per quantum-channel message")
    ap.add_argument("--p-z", type=float, default=0.8, help="key-basis probability (0.8 suits 10^7+ pulses)")
    ap.add_argument("--skip-inprocess", action="store_true")
    args = ap.parse_args()
    pulses = {1: args.pulses_1km, 50: args.pulses_50km}
    result: dict = {"benchmark": "qkd_e2e", "python": platform.python_version(), "repeats": args.repeats,
                    "block_pulses": args.block, "fiber": FIBER, "detectors": DETECTORS,
                    "n_pulses": {f"{km}km": n for km, n in pulses.items()}}
    t0 = time.perf_counter()
    with LocalNetwork.start(topology()) as local, Network.connect(local.topology, timeout_s=300) as net:
        result["startup_s"] = round(time.perf_counter() - t0, 2)
        qkd.run_qkd(net, "alice", "apd1", n_pulses=1_000_000, report_abort=True)  # warm-up: first-call costs
        result["getinfo_rtt_ms"] = round(getinfo_rtt_ms(net), 3)
        for d in DETECTORS:
            for km in DISTANCES_KM:
                runs = [e2e_session(net, f"{d}{km}", pulses[km], args.block, args.p_z) for _ in range(args.repeats)]
                result[f"e2e_{d}_{km}km"] = median_run(runs)
        result["getinfo_rtt_ms_after"] = round(getinfo_rtt_ms(net), 3)
    if not args.skip_inprocess:
        for d, det in DETECTORS.items():
            for km in DISTANCES_KM:
                runs = [inprocess_session(km, det, pulses[km], args.block, s, args.p_z) for s in range(args.repeats)]
                result[f"inprocess_{d}_{km}km"] = median_run(runs)
    result["target_1e5_bits_per_s_at_1km"] = {d: result[f"e2e_{d}_1km"]["secret_bits_per_wall_s"] >= 1e5
                                              for d in DETECTORS}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
