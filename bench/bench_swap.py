"""Entanglement-swapping rate on a 3-node chain through the SDK, printed as JSON.

    python bench/bench_swap.py [--repeat 3] [--seconds 3]

A *swap round* delivers one end-to-end pair a--b from pairs a--m and m--b: link generation at m, the
Bell measurement at m, the Pauli frame to b, b's correction, and both ends measuring their halves
(so the pair is consumed and nothing accumulates). Three figures, each the median of --repeat runs:

* ``single_rounds_per_s``: one round per SDK call (three RunProtocol RPCs), 8 calls in flight;
* ``batched_rounds_per_s``: 32 rounds per SDK call, 4 calls in flight;
* ``getinfo_per_s``: the same-run reference, a bare GetInfo round trip, 8 in flight.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qemu_net.client import Network  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.cli.progress import progress_bar  # noqa: E402
from qemu_net.network.topology import chain_topology  # noqa: E402

PATH = ["n0", "n1", "n2"]


def rate(fn, seconds: float, threads: int, per_call: int) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            fn()
            counts[i] += per_call

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(counts) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    runs: dict[str, list[float]] = {"single_rounds_per_s": [], "batched_rounds_per_s": [], "getinfo_per_s": []}
    with LocalNetwork.start(chain_topology(3, source_fidelity=0.95)) as local, Network.connect(local.topology) as net:
        net.swap(*PATH, measure_bases="Z")  # warm up channels
        with progress_bar("bench_swap", total=args.repeat) as step:  # on stderr; stdout stays JSON
            for i in range(args.repeat):
                step(i, args.repeat, f"run {i + 1}")
                _one_repeat(net, runs, args.seconds)
            step(args.repeat, args.repeat, "done")
        used = sum(nd.info().qubits_in_use for nd in net)
    out = {k: round(statistics.median(v), 1) for k, v in runs.items()}
    out.update({"runs": {k: [round(x, 1) for x in v] for k, v in runs.items()}, "nodes": 3, "repeat": args.repeat,
                "qubits_left_in_use": used, "target_rounds_per_s": 150,
                "single_vs_getinfo": round(out["single_rounds_per_s"] / out["getinfo_per_s"], 3)})
    print(json.dumps(out))
    return 0


def _one_repeat(net, runs: dict[str, list[float]], seconds: float) -> None:
    runs["getinfo_per_s"].append(rate(lambda: net["n1"].info(), seconds, 8, 1))
    runs["single_rounds_per_s"].append(rate(lambda: net.swap(*PATH, measure_bases="Z"), seconds, 8, 1))
    runs["batched_rounds_per_s"].append(rate(lambda: net.chain(PATH, pairs=32, measure_bases="Z"), seconds, 4, 32))


if __name__ == "__main__":
    sys.exit(main())
