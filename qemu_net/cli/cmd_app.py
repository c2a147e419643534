"""`qnet app`: run NetQASM applications (one process per role, each attached to its own node).

    qnet app run DIR                       # a temporary network from DIR (network.yaml if it has one)
    qnet app run DIR --network NAME        # on the network `qnet up` started with that name
    qnet app run DIR --topology FILE       # a temporary network from a qemu_net topology
    qnet app run DIR --role sender=alice --input sender.phi=1.57 --json
    qnet app k8s DIR --topology FILE       # one Kubernetes Job per role (after `qnet deploy k8s`)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from qemu_net.netqasm.app import AppLayout


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("app",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    asub = p.add_subparsers(dest="app_command", required=True)
    r = asub.add_parser("run", help="run an application directory, print each role's return value")
    _common(r)
    r.add_argument("--network", metavar="NAME", help="run on the network `qnet up` started under this name")
    r.add_argument("--topology", "-t", metavar="FILE", help="a temporary network from this qemu_net topology")
    r.add_argument("--seed", type=int, default=0, help="seed of a temporary network (default 0)")
    r.add_argument("--timeout-s", type=float, default=120.0, help="deadline of the whole run (default 120 s)")
    r.add_argument("--rounds", type=int, metavar="N",
                   help="run the application N times in a row (each role's result: the list of rounds)")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    r.add_argument("--show-output", action="store_true", help="print what each role printed")
    r.add_argument("--log-dir", metavar="DIR", help="keep netqasm's logs (subroutines, app logs) here")
    r.set_defaults(func=run)
    k = asub.add_parser("k8s", help="Kubernetes manifests: one Job per role attached to its node")
    _common(k)
    k.add_argument("--topology", "-t", metavar="FILE", required=True, help="the topology rendered by `qnet deploy k8s`")
    k.add_argument("--namespace", default="qnet")
    k.add_argument("--name", default="qnet", help="instance name used by `qnet deploy k8s` (default qnet)")
    k.add_argument("--image", default=None, help="container image (default: as `qnet deploy k8s`)")
    k.add_argument("--timeout-s", type=float, default=600.0)
    k.set_defaults(func=run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="application directory (app_<role>.py, roles.yaml, <role>.yaml ...)")
    p.add_argument("--role", action="append", default=[], metavar="ROLE=NODE", help="place a role at a node")
    p.add_argument("--input", action="append", default=[], metavar="ROLE.KEY=VALUE",
                   help="an input of a role (the value is read as YAML: 1.57, true, [1, 2], text)")


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    from qemu_net.errors import InvalidOperation

    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidOperation(f"{what} takes KEY=VALUE, got {item!r}")
        out.append((key, value))
    return out


def _layout(args: argparse.Namespace) -> AppLayout:
    from qemu_net.errors import InvalidOperation
    from qemu_net.netqasm.app import load_layout

    roles = dict(_pairs(args.role, "--role"))
    inputs: dict[str, dict[str, Any]] = {}
    for key, value in _pairs(args.input, "--input"):
        role, dot, name = key.partition(".")
        if not dot or not name:
            raise InvalidOperation(f"--input takes ROLE.KEY=VALUE, got {key!r}")
        inputs.setdefault(role, {})[name] = yaml.safe_load(value)
    return load_layout(args.dir, inputs=inputs, roles_map=roles)


def run(args: argparse.Namespace) -> int:
    layout = _layout(args)
    if args.app_command == "k8s":
        return _k8s(args, layout)
    from qemu_net.netqasm import app as nqapp

    if args.network:
        from qemu_net.cli.common import read_state, state_path, supervisor_running
        from qemu_net.errors import QnetError
        from qemu_net.network.topology import parse_topology

        state = read_state(args.network)
        if not supervisor_running(state):
            raise QnetError(f"no running network named {args.network!r} (start it with `qnet up`)")
        topo = parse_topology(state["topology"], source=str(state_path(args.network)))
        result = nqapp.run_app(layout, {n.name: n.address for n in topo.nodes}, timeout_s=args.timeout_s,
                               log_dir=args.log_dir, rounds=args.rounds, seed=args.seed, network=topo.name)
    else:
        topology = None
        if args.topology:
            from qemu_net.network.topology import load_topology

            topology = load_topology(args.topology)
        result = nqapp.run_app_on_temporary_network(layout, topology=topology, timeout_s=args.timeout_s,
                                                    seed=args.seed, log_dir=args.log_dir, rounds=args.rounds)
    if args.json:
        data = result.to_json()
        if args.show_output:
            for r, rr in result.roles.items():
                data["roles"][r]["stdout"] = rr.stdout
        print(json.dumps(data, indent=2))
    else:
        for r, rr in result.roles.items():
            if args.show_output and rr.stdout:
                for line in rr.stdout.rstrip().splitlines():
                    print(f"[{r}] {line}")
            if rr.ok:
                print(f"{r} @ {rr.node}: {json.dumps(rr.result)}")
            else:
                print(f"{r} @ {rr.node}: FAILED: {rr.error}")
    for r, rr in result.roles.items():
        if not rr.ok:
            print(f"role {r} failed: {rr.error}\n{rr.stderr[-4000:]}", file=sys.stderr)
    return 0 if result.ok else 1


def _k8s(args: argparse.Namespace, layout: AppLayout) -> int:
    from qemu_net.deploy.k8s import K8sOptions, dump_all
    from qemu_net.deploy.k8s_apps import render_app_jobs
    from qemu_net.network.topology import load_topology

    kw: dict[str, Any] = {"namespace": args.namespace, "name": args.name}
    if args.image:
        kw["image"] = args.image
    docs = render_app_jobs(load_topology(args.topology), layout, K8sOptions(**kw), timeout_s=args.timeout_s)
    sys.stdout.write(dump_all(docs))
    return 0
