"""What the physical models cost: EPR create+measure and teleportation, all noise on vs all off.

One local network holds a noiseless pair of nodes (a0 -- b0) and a pair with every model switched on
(a1 -- b1: fiber loss, source infidelity, transmission noise, dark counts, T1/T2, gate and readout
errors, durations). Rounds alternate off/on; the median of `--rounds` rounds is printed as JSON.

    python tests/physics/bench_noise_cost.py [--iterations 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "physics"))

from physics_harness import measure_op, running  # noqa: E402

from qemu_net._proto.v1 import protocols_pb2 as pr  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402

NOISY_NODE = {
    "t1_s": 1e-2, "t2_s": 5e-3, "gate_1q_error": 1e-3, "gate_2q_error": 1e-2, "measure_error": 1e-2,
    "gate_1q_duration_ns": 100, "gate_2q_duration_ns": 500, "measure_duration_ns": 1000,
}
NOISY_LINK = {
    "length_km": 5, "attenuation_db_per_km": 0.2, "detector_efficiency": 0.9, "source_fidelity": 0.97,
    "transmission_depolarize": 0.01, "dark_count_probability": 1e-5,
}
TOPOLOGY = parse_topology(
    {
        "name": "bench-noise",
        "seed": 1,
        "nodes": ["a0", "b0", {"name": "a1", **NOISY_NODE}, {"name": "b1", **NOISY_NODE}],
        "links": [{"nodes": ["a0", "b0"]}, {"nodes": ["a1", "b1"], **NOISY_LINK}],
    }
)


def epr_rate(net, a: str, b: str, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        (pair,) = net[a].epr(b)
        net[a].apply([measure_op(pair.local_qubit)])
        net[b].apply([measure_op(pair.remote_qubit)])
    return n / (time.perf_counter() - t0)


def teleport_rate(net, a: str, b: str, n: int, tag: str) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        (q,) = net[a].alloc(1)
        net[a].gate("H", q)
        s = f"{tag}-{i}"
        send = pr.ProtocolRequest(session_id=s, timeout_s=20, teleport_send=pr.TeleportSend(peer=b, qubit=q))
        recv = pr.ProtocolRequest(session_id=s, timeout_s=20, teleport_receive=pr.TeleportReceive(peer=a))
        _, got = net.concurrently(lambda: net[a].run(send), lambda: net[b].run(recv))
        net[b].apply([measure_op(got.teleport_receive.qubit)])
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    res: dict[str, list[float]] = {"epr_off": [], "epr_on": [], "teleport_off": [], "teleport_on": []}
    with running(TOPOLOGY) as net:
        epr_rate(net, "a0", "b0", 30)  # warm up channels
        epr_rate(net, "a1", "b1", 30)
        for r in range(args.rounds):
            res["epr_off"].append(epr_rate(net, "a0", "b0", args.iterations))
            res["epr_on"].append(epr_rate(net, "a1", "b1", args.iterations))
            res["teleport_off"].append(teleport_rate(net, "a0", "b0", args.iterations // 2, f"off{r}"))
            res["teleport_on"].append(teleport_rate(net, "a1", "b1", args.iterations // 2, f"on{r}"))
    med = {k: round(statistics.median(v), 1) for k, v in res.items()}
    out = {
        "unit": "operations per wall second (one client, sequential)",
        "median": med,
        "ratio_on_off": {
            "epr_create_measure": round(med["epr_on"] / med["epr_off"], 3),
            "teleport": round(med["teleport_on"] / med["teleport_off"], 3),
        },
        "rounds": {k: [round(x, 1) for x in v] for k, v in res.items()},
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
