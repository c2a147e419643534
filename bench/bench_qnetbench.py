"""qnetbench's core protocols on the qemu_net backend beside qnetbench's reference backend.

    python bench/bench_qnetbench.py [--apps teleportation,chsh,...] [--ref-seeds 20] [--qemu-seeds 2]
                                    [--json OUT.json]

Every application runs on its default qnetbench topology (a direct link for two roles, a star for
more; links of fidelity 0.95 and 1 ms latency) on both backends: the reference in-process for
--ref-seeds seeds, qemu_net on one network of real node processes (every topology side by side) for
--qemu-seeds seeds. The table gives per backend the mean utility ± its run-to-run standard deviation,
the mean delivered fidelity, contract violations per run and wall time per run, and the z-score of the
utility difference (the reference's spread as the per-run standard deviation; '!' marks z > 4). The
last line of standard output is the whole result as JSON (also written to --json). Where the two models
differ the note column says how (docs/integrations.md has the details).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from qnetbench.apps import available_apps  # noqa: E402

from qemu_net.client import Network  # noqa: E402
from qemu_net.node.launcher import LocalNetwork  # noqa: E402
from qemu_net.integrations.qnetbench_compare import compare, render, suite_network_topology  # noqa: E402

#: Where the two backends' models differ for an application (see docs/integrations.md).
NOTES = {
    "bqc": "violations: reference samples each pair's fidelity around 0.95 (sd 0.01), min_fidelity 0.95",
    "verified_bqc": "violations: reference samples each pair's fidelity around 0.95 (sd 0.01)",
    "position_verification": "timing: pairs arrive after a rendezvous over the classical channel",
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--apps", help="comma-separated application names (default: qnetbench's 27 core protocols)")
    p.add_argument("--ref-seeds", type=int, default=20, help="reference-backend runs per application")
    p.add_argument("--qemu-seeds", type=int, default=2, help="qemu_net-backend runs per application")
    p.add_argument("--json", metavar="FILE", help="also write the JSON result here")
    args = p.parse_args(argv)
    apps = args.apps.split(",") if args.apps else available_apps()
    unknown = sorted(set(apps) - set(available_apps()))
    if unknown:
        p.error(f"unknown application(s) {', '.join(unknown)}; core: {', '.join(available_apps())}")
    topology, plan = suite_network_topology(apps, seed=1)
    t0 = time.perf_counter()
    with LocalNetwork.start(topology) as local, Network.connect(local.topology, timeout_s=60) as net:
        start_s = time.perf_counter() - t0
        print(f"# {len(topology.nodes)} node processes up in {start_s:.1f} s", file=sys.stderr)
        rows = compare(apps, net=net, plan=plan, ref_seeds=range(args.ref_seeds),
                       qemu_seeds=range(args.qemu_seeds), notes=NOTES,
                       progress=lambda r: print(f"# {r.app}: z = {r.z:.2f}", file=sys.stderr, flush=True))
    print(render(rows))
    ref_wall = sum(r.reference.wall_s for r in rows)
    qemu_wall = sum(r.qemu_net.wall_s for r in rows)
    result = {"benchmark": "qnetbench_core", "apps": [r.to_dict() for r in rows],
              "agree": sum(r.agrees for r in rows), "total": len(rows), "node_processes": len(topology.nodes),
              "network_start_s": start_s, "reference_wall_s": ref_wall, "qemu_net_wall_s": qemu_wall,
              "wall_per_run_ratio_qemu_over_reference":
                  (qemu_wall / args.qemu_seeds) / (ref_wall / args.ref_seeds) if ref_wall else None}
    print(f"{result['agree']}/{result['total']} applications agree within 4 standard errors")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
