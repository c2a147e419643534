"""How long the chaos suite takes, and what it found: runs it (in a child pytest) and prints JSON.

    PYTHONPATH=$PWD python tests/chaos/bench_chaos.py [--repeat N] [-- extra pytest args]

One JSON line per repetition: wall seconds in total and per stress mode, runs and failures per mode and
per protocol, and every failure (mode, protocol, seed, error). The same-run reference is the ``delay``
mode's wall time, so ``cpu_over_delay`` / ``both_over_delay`` compare modes measured side by side.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_once(extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "chaos.json")
        env = dict(os.environ, QNET_CHAOS_REPORT=report)
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/chaos", *extra],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3600)
        wall = time.monotonic() - t0
        if not os.path.exists(report):
            return {"wall_s": round(wall, 1), "pytest_exit": proc.returncode, "error": proc.stdout.decode()[-2000:]}
        with open(report) as f:
            rec = json.load(f)
    runs = rec["runs"]
    per = collections.defaultdict(lambda: {"runs": 0, "failed": 0})
    for r in runs:
        for key in (r["mode"], f"{r['mode']}/{r['protocol']}"):
            per[key]["runs"] += 1
            per[key]["failed"] += r["outcome"] != "passed"
    modes = {m: round(s["wall_s"], 1) for m, s in rec["modes"].items()}
    out = {
        "wall_s": round(wall, 1),
        "pytest_exit": proc.returncode,
        "runs": len(runs),
        "failed": sum(r["outcome"] != "passed" for r in runs),
        "mode_wall_s": modes,
        "counts": dict(sorted(per.items())),
        "failures": [{k: r.get(k) for k in ("mode", "protocol", "seed", "error", "where", "left_behind")}
                     for r in runs if r["outcome"] != "passed"],
        "pooled": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in st.items()}
                   for st in rec.get("stats", [])],
    }
    if modes.get("delay"):
        out["cpu_over_delay"] = round(modes.get("cpu", 0) / modes["delay"], 2)
        out["both_over_delay"] = round(modes.get("both", 0) / modes["delay"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args(argv)
    for _ in range(max(1, args.repeat)):
        print(json.dumps(run_once(args.pytest_args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
