"""`python -m qemu_net.integrations.qnetbench_cli run APP --backend qemu_net`: one qnetbench application.

qnetbench 0.1.0's own CLI (`qnetbench run APP --backend NAME`) knows three backend names and has no way to
add one, so this is its `run` command with ``qemu_net`` among the backends (the default here): the run's
report is qnetbench's (`qnetbench.metrics.compute_report` / `render`), the trace its JSONL (`--out`).
With ``--backend qemu_net`` the application's default topology is started as local node processes for
the run and stopped after it.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qemu_net.integrations.qnetbench_cli", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one application and print qnetbench's report")
    run.add_argument("app", metavar="APP", help="a qnetbench application (`qnetbench list --all`)")
    run.add_argument("--backend", default="qemu_net", help="qemu_net (default), reference, sequence or netsquid")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--rounds", type=int, help="the application's rounds/reps (its 'rounds' or 'reps' setting)")
    run.add_argument("--out", help="write the JSONL trace to this path")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)

    from qnetbench.apps import get_app
    from qnetbench.metrics import compute_report, render
    from qnetbench.trace.io import write_trace

    from qemu_net.integrations.qnetbench import run_once

    try:
        get_app(args.app)
    except KeyError as exc:
        print(str(exc).strip('"'), file=sys.stderr)
        return 2
    cfg = {"rounds": args.rounds, "reps": args.rounds} if args.rounds is not None else None
    events = run_once(args.app, seed=args.seed, backend=args.backend, cfg=cfg)
    if args.out:
        write_trace(args.out, events)
    report = compute_report(events)
    print(report.model_dump_json(indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
