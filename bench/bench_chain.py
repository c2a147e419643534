"""End-to-end pair delivery on repeater chains of 2 .. 64 node processes, printed as JSON.

    python bench/bench_chain.py [--repeat 3] [--lengths 2,4,8,16,32,64] [--pairs 64]

For each length L a fresh local network of L node processes (a chain of Werner links, F = 0.99) is
started, then `--pairs` end-to-end pairs are delivered by sequential swapping and measured at both
ends in one SDK call (the chain pipelines batches of 32 pairs). Reported per length, as medians of
--repeat runs: wall time per delivered pair, the latency of a single pair, start-up time, virtual time
per pair, and the same-run reference (a bare GetInfo round trip). Wall time per pair should grow about
linearly with L: every interior node does one Bell measurement per pair and the frame crosses L - 1 hops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qemu_net.client import Network  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.network.topology import chain_topology  # noqa: E402


def one_length(n: int, pairs: int, repeat: int) -> dict:
    t0 = time.perf_counter()
    local = LocalNetwork.start(chain_topology(n, source_fidelity=0.99))
    startup = time.perf_counter() - t0
    try:
        with Network.connect(local.topology, timeout_s=120) as net:
            path = [f"n{i}" for i in range(n)]
            net.chain(path, measure_bases="Z")  # warm up every channel
            per_pair, single, ref, vt = [], [], [], []
            for _ in range(repeat):
                t = time.perf_counter()
                for _ in range(50):
                    net[path[0]].info()
                ref.append((time.perf_counter() - t) / 50)
                t = time.perf_counter()
                d = net.chain(path, measure_bases="Z")
                single.append(time.perf_counter() - t)
                t = time.perf_counter()
                d = net.chain(path, pairs=pairs, measure_bases="Z", timeout_s=300)
                per_pair.append((time.perf_counter() - t) / pairs)
                vt.append(d.virtual_time_ns / pairs)
                agree = float((d.outcomes[0] == d.outcomes[1]).mean())
            used = sum(nd.info().qubits_in_use for nd in net)
    finally:
        local.stop()
    return {"nodes": n, "links": n - 1, "wall_ms_per_pair": round(1e3 * statistics.median(per_pair), 3),
            "single_pair_ms": round(1e3 * statistics.median(single), 2),
            "getinfo_ms": round(1e3 * statistics.median(ref), 3), "startup_s": round(startup, 2),
            "virtual_us_per_pair": round(statistics.median(vt) / 1e3, 2), "zz_agreement": round(agree, 3),
            "qubits_left_in_use": used, "runs_ms_per_pair": [round(1e3 * x, 3) for x in per_pair]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lengths", default="2,4,8,16,32,64")
    ap.add_argument("--pairs", type=int, default=64)
    args = ap.parse_args()
    from qemu_net.cli.progress import progress_bar

    rows = []
    lengths = [int(x) for x in args.lengths.split(",")]
    with progress_bar("bench_chain", total=len(lengths)) as step:  # on stderr; stdout stays JSON
        for i, n in enumerate(lengths):
            step(i, len(lengths), f"{n} nodes")
            rows.append(one_length(n, args.pairs, args.repeat))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        step(len(lengths), len(lengths), "done")
    base = rows[0]
    for r in rows:
        r["per_pair_vs_shortest"] = round(r["wall_ms_per_pair"] / base["wall_ms_per_pair"], 2)
        r["per_pair_per_link_ms"] = round(r["wall_ms_per_pair"] / r["links"], 3)
    print(json.dumps({"chains": rows, "pairs_per_run": args.pairs, "repeat": args.repeat}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
