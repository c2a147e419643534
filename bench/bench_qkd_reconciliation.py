"""LDPC against Cascade: efficiency f, leaked bits, frame error rate and throughput at QBER 1/3/5%.

For each QBER a random key of ``--bits`` bits and Bob's copy with independent errors at that rate;
both sides of each method run in two threads of this process and talk only through a `Channel` over
the in-process message hub (`qemu_net.qkd.local`), as they do between node processes. Cascade gets the
true QBER for its block sizes; LDPC builds its codes for the same QBER at the first-round target
efficiency ``--ldpc-f`` (default: `default_f_target`, what a session uses). Throughput is reconciled bits per wall-clock second of the whole exchange
(median of ``--repeats``). f = leaked bits / (n h(Q)) with Q the errors actually present.

Prints one JSON document; ``--markdown`` also prints the table.
Usage: python bench/bench_qkd_reconciliation.py [--bits 200000] [--repeats 3] [--ldpc-f 1.5]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from qemu_net.network.topology import parse_topology  # noqa: E402
from qemu_net.qkd.ldpc_ec import default_f_target, ldpc_answer, ldpc_correct  # noqa: E402
from qemu_net.qkd.local import LocalContext, LocalHub  # noqa: E402
from qemu_net.qkd.postprocess import Channel, cascade_answer, cascade_correct  # noqa: E402

TOPO = parse_topology({"nodes": ["alice", "bob"], "links": [["alice", "bob"]]})


def h(q: float) -> float:
    return -q * math.log2(q) - (1 - q) * math.log2(1 - q)


def run(method: str, a: np.ndarray, b: np.ndarray, q: float, f_ldpc: float) -> dict:
    hub = LocalHub(TOPO)
    ca, cb = LocalContext(hub, "alice"), LocalContext(hub, "bob")
    cha, chb = Channel(ca, "bob", "ec", 120), Channel(cb, "alice", "ec", 120)
    answer = ldpc_answer if method == "ldpc" else cascade_answer
    t = threading.Thread(target=answer, args=(cha, a))
    t0 = time.perf_counter()
    t.start()
    fer = None
    if method == "ldpc":
        out = ldpc_correct(chb, b, q, seed=5, f_target=f_ldpc if f_ldpc else default_f_target(q))
        fixed, leak, rounds, fer = out.corrected, out.leaked_bits, out.rounds, out.frame_error_rate
    else:
        fixed, leak, rounds, _ = cascade_correct(chb, b, q, passes=4, seed=5)
    t.join(120)
    wall = time.perf_counter() - t0
    errors = int((a != b).sum())
    return {"leaked_bits": leak, "f": leak / (len(a) * h(errors / len(a))), "rounds": rounds,
            "frame_error_rate": fer, "residual_errors": int((fixed != a).sum()),
            "messages": cha.messages_sent + chb.messages_sent, "throughput_bits_per_s": len(a) / wall, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ldpc-f", type=float, default=None, help="first-round target (default: chosen per QBER)")
    ap.add_argument("--qbers", type=float, nargs="*", default=[0.01, 0.03, 0.05])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = []
    for q in args.qbers:
        for method in ("cascade", "ldpc"):
            runs = []
            for r in range(args.repeats):
                rng = np.random.default_rng([int(q * 1e4), r])
                a = rng.integers(0, 2, args.bits).astype(np.uint8)
                b = a ^ (rng.random(args.bits) < q).astype(np.uint8)
                runs.append(run(method, a, b, q, args.ldpc_f))
            tp = [x["throughput_bits_per_s"] for x in runs]
            med = runs[tp.index(statistics.median(tp))]
            rows.append({"qber": q, "method": method, **med, "throughput_runs": [round(x) for x in tp]})
    print(json.dumps({"benchmark": "qkd_reconciliation", "bits": args.bits, "repeats": args.repeats,
                      "ldpc_f_target": args.ldpc_f, "rows": rows}, indent=2))
    if args.markdown:
        print("\n| QBER | method | f | leaked bits | rounds | FER | residual errors | throughput (bits/s) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            fer = "-" if r["frame_error_rate"] is None else f"{r['frame_error_rate']:.3f}"
            print(f"| {r['qber']:.0%} | {r['method']} | {r['f']:.3f} | {r['leaked_bits']:,} | {r['rounds']} | {fer} | "
                  f"{r['residual_errors']} | {r['throughput_bits_per_s']:,.0f} |")


if __name__ == "__main__":
    main()
