"""A NetQASM teleport application looping N rounds across two node processes, printed as JSON.

    python bench/bench_netqasm_teleport.py [--rounds 300] [--repeat 3]

The application (bench/netqasm_teleport_loop/: app_sender.py, app_receiver.py) is run by `qnet app run`'s
machinery: each role in its own process attached to its own node (alice, bob: two node processes). The
sender teleports |0> each round (one subroutine: qubit, EPR pair, CNOT, H, two measurements; then the
corrections over the classical socket); the receiver applies them and measures (one subroutine per round,
which also asks for the next pair). Rounds per second = rounds / the slower role's time in its `main`
(interpreter start-up excluded). Every round must measure 0 (the teleported |0>).

Same-run reference: a bare gRPC echo (bench_foundation.EchoServer, its own process), sequential calls
per second, measured right before and after each run; the JSON gives the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from bench_foundation import EchoServer  # noqa: E402

from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.netqasm.app import load_layout, run_app  # noqa: E402
from qemu_net.network.topology import parse_topology  # noqa: E402

APP = Path(__file__).parent / "netqasm_teleport_loop"
TOPOLOGY = {"name": "bench-netqasm", "seed": 1, "nodes": ["alice", "bob"],
            "links": [{"nodes": ["alice", "bob"], "misalignment_error": 0.0}]}


def echo_rate(echo: EchoServer, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        echo.call()
    return calls / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--echo-calls", type=int, default=1000)
    args = ap.parse_args(argv)
    layout = load_layout(APP, inputs={"sender": {"rounds": args.rounds}, "receiver": {"rounds": args.rounds}},
                         roles_map={"sender": "alice", "receiver": "bob"})
    runs = []
    local = LocalNetwork.start(parse_topology(TOPOLOGY))
    try:
        with EchoServer() as echo:
            for _ in range(args.repeat):
                before = echo_rate(echo, args.echo_calls)
                res = run_app(layout, local.addresses, timeout_s=600)
                after = echo_rate(echo, args.echo_calls)
                if not res.ok:
                    raise SystemExit(json.dumps(res.to_json()))
                measured = res.roles["receiver"].result["measured"]
                slower = max(rr.main_s for rr in res.roles.values())
                runs.append({"rounds_per_s": args.rounds / slower, "main_s": slower,
                             "echo_calls_per_s": (before + after) / 2,
                             "all_rounds_correct": len(measured) == args.rounds and not any(measured)})
    finally:
        local.stop()
    rate = statistics.median(r["rounds_per_s"] for r in runs)
    echo = statistics.median(r["echo_calls_per_s"] for r in runs)
    print(json.dumps({
        "bench": "netqasm_teleport_loop",
        "rounds": args.rounds,
        "repeat": args.repeat,
        "rounds_per_s": round(rate, 1),
        "echo_calls_per_s": round(echo, 1),
        "echo_calls_per_round": round(echo / rate, 2),
        "all_rounds_correct": all(r["all_rounds_correct"] for r in runs),
        "load_avg_1m": os.getloadavg()[0],
        "runs": runs,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
