"""`qnet plan`: for every pair of nodes, the best path, the secret key rate (direct or via trusted relays),
the entanglement rate and fidelity over repeater chains (with and without purification) and the PLOB
bounds, from the topology's closed forms (no node is started)."""

from __future__ import annotations

import argparse
import json

from qemu_net.cli.common import add_topology_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("plan", description=__doc__)
    add_topology_args(p)
    p.add_argument("--json", action="store_true", help="print the plans as JSON")
    p.add_argument("--plot", metavar="FILE", help="write a PNG of key rates, PLOB bounds and fidelities")
    p.add_argument("--pulse-rate-hz", type=float, default=1e9, help="QKD pulse rate for bits per second")
    p.add_argument("--mu", type=float, default=0.5, help="decoy BB84 signal intensity")
    p.add_argument("--f-ec", type=float, default=1.16, help="error-correction inefficiency f")
    p.add_argument("--target-fidelity", type=float, default=0.95, help="fidelity purification should reach")
    p.add_argument("--method", choices=("dejmps", "bbpssw"), default="dejmps", help="purification method")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import load
    from qemu_net.protocols.planning import plan_network, plot_plan
    from qemu_net.protocols.purify import Method

    topology = load(args)
    plans = plan_network(topology, mu=args.mu, f_ec=args.f_ec, pulse_rate_hz=args.pulse_rate_hz,
                         target_fidelity=args.target_fidelity, method=Method[args.method.upper()])
    if args.plot:
        plot_plan(plans, args.plot)
    if args.json:
        print(json.dumps({"topology": topology.name, "target_fidelity": args.target_fidelity,
                          "pulse_rate_hz": args.pulse_rate_hz, "pairs": [p.to_dict() for p in plans]}))
        return 0

    def g(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    print(f"network {topology.name!r}: {len(plans)} connected pairs (key: decoy BB84, infinite decoys, mu {args.mu}, "
          f"f {args.f_ec}; purification: {args.method}, target F {args.target_fidelity})")
    head = ("pair", "path", "loss dB", "key direct/pulse", "key relays/pulse", "key bits/s", "pairs/s", "F chain",
            "rounds", "F purified", "purified/s", "PLOB 1-hop", "PLOB chain")
    print(" | ".join(head))
    for p in plans:
        print(" | ".join((f"{p.a}-{p.b}", "-".join(p.path), f"{p.loss_db:.2f}", g(p.direct_key_rate_per_pulse, ".3e"),
                          f"{p.relay_key_rate_per_pulse:.3e}", f"{p.key_rate_per_s:.3e}",
                          f"{p.entanglement_rate_hz:.3g}", f"{p.entanglement_fidelity:.4f}",
                          g(p.purification_rounds, "d"), g(p.purified_fidelity, ".4f"), g(p.purified_rate_hz, ".3g"),
                          f"{p.plob_repeaterless:.3e}", f"{p.plob_repeater_chain:.3e}")))
    if args.plot:
        print(f"plot: {args.plot}")
    return 0
