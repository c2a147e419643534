"""`qnet experiment NAME`: reproduce a published experiment on local node processes, print measured vs
published with uncertainties, and write a PNG beside (``--plot``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

NAMES = ("ghz-delft-2021", "teleport-delft-2022", "decoy-bb84-gys")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("experiment", description=__doc__)
    p.add_argument("name", choices=NAMES, help="which experiment")
    p.add_argument("--shots", type=int, help="repetitions (GHZ states, teleported states); QKD: pulses per distance")
    p.add_argument("--seed", type=int, default=0, help="topology seed")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--plot", metavar="FILE", help="PNG to write (default: qnet-experiment-NAME.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import network
    from qemu_net.client.published import plot_comparison, run_published

    kw: dict[str, Any] = {"seed": args.seed}
    if args.shots is not None:
        kw["pulses" if args.name == "decoy-bb84-gys" else "shots"] = args.shots
    c = run_published(args.name, lambda topo: network(topo, use_running=False), **kw)
    path = args.plot or f"qnet-experiment-{args.name}.png"
    plot_comparison(c, path)
    if args.json:
        print(json.dumps({**c.to_dict(), "plot": path}))
        return 0
    print(f"{c.name}: {c.citation}")
    if c.points:
        print(f"{'km':>6} {'measured/pulse':>16} {'± SE':>10} {'expected (v+w)':>15} {'published':>11}  ratio")
        for p in c.points:
            ratio = p["measured"] / p["published"] if p["published"] > 0 else float("nan")
            print(f"{p['length_km']:6.0f} {p['measured']:16.3e} {p['measured_stderr']:10.1e} "
                  f"{p['model_expected']:15.3e} {p['published']:11.3e}  {ratio:.3f}")
    print(f"{c.figure}: measured {c.measured:.4f} ± {c.measured_stderr:.4f}, published {c.published:.4f} ± "
          f"{c.published_stderr:.4f} ({c.deviation_sigma:.1f} sigma; "
          f"{'within' if c.within_published_uncertainty else 'outside'} the published uncertainty)")
    model_outside = False
    if "model_expected" in c.extra:
        me = c.extra["model_expected"]
        model_outside = abs(me - c.published) > c.published_stderr
        print(f"closed form of the modelled physics: {me:.4f} ({'outside' if model_outside else 'inside'} the "
              f"published {c.published:.4f} ± {c.published_stderr:.4f}, whatever the number of shots)")
    if "readout_corrected_fidelity" in c.extra:
        print(f"the same data corrected for readout error {c.extra['readout_error']:g}: "
              f"{c.extra['readout_corrected_fidelity']:.4f} ± {c.extra['readout_corrected_stderr']:.4f}")
    if not c.within_published_uncertainty or model_outside:
        print("MISS: the model does not reach the published value within its uncertainty; the note says which "
              "physics the model lacks")
    print(f"{c.shots} shots, {c.wall_time_s:.1f} s wall; plot: {path}")
    print(f"note: {c.note}")
    return 0
