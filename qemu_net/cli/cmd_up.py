"""`qnet up` / `qnet status` / `qnet down`: a local network of node processes on loopback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import time

from qemu_net.cli.common import add_topology_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="start every node of a topology as a local process")
    add_topology_args(p)
    p.add_argument("--allow-inspect", action="store_true", help="allow state inspection (debugging)")
    p.add_argument("--json", action="store_true", help="print the node addresses as JSON")
    p.add_argument("--dashboard", action="store_true",
                   help="then serve the live web dashboard in the foreground (Ctrl-C stops it, not the network)")
    from qemu_net.cli.cmd_dashboard import add_dashboard_args

    add_dashboard_args(p, prefix="dashboard-")
    p.set_defaults(func=run_up)
    s = sub.add_parser("status", help="show the nodes of a running local network")
    add_topology_args(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_status)
    d = sub.add_parser("down", help="stop a local network started with `qnet up`")
    add_topology_args(d)
    d.set_defaults(func=run_down)


def run_up(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import _alive, load, read_state, state_dir, state_path
    from qemu_net.client import LocalNetwork
    from qemu_net.errors import QnetError

    topology = load(args)
    state = read_state(topology.name)
    if state and _alive(state.get("supervisor_pid", 0)):
        raise QnetError(f"network {topology.name!r} is already up (qnet down -t ... to stop it)")
    t0 = time.perf_counter()
    state_dir().mkdir(parents=True, exist_ok=True)
    log = state_dir() / f"{topology.name}.log"
    local = LocalNetwork.start(topology, allow_inspect=args.allow_inspect, detach=True, log_file=str(log),
                               metrics=True)  # /metrics per node, read by `qnet dashboard`
    elapsed = time.perf_counter() - t0
    state_dir().mkdir(parents=True, exist_ok=True)
    payload = {
        "supervisor_pid": local.process.pid,
        "nodes": local.nodes,
        "topology": json.loads(json.dumps(local.topology.model_dump(mode="json"))),
    }
    state_path(topology.name).write_text(json.dumps(payload, indent=2))
    if args.json:
        print(json.dumps({"network": topology.name, "healthy_after_s": round(elapsed, 3),
                          "nodes": local.addresses, "state_file": str(state_path(topology.name))}))
    else:
        print(f"network {topology.name!r}: {len(local.nodes)} node(s) healthy after {elapsed:.2f} s")
        for name, addr in local.addresses.items():
            print(f"  {name:<16} {addr}")
        again = f" --chain {args.chain}" if getattr(args, "chain", None) else \
            (f" -t {args.topology}" if args.topology and args.topology != "-" else
             (f" -t FILE  # a topology named {topology.name!r}" if args.topology else ""))
        print(f"state: {state_path(topology.name)}  (stop with: qnet down{again})")
    if getattr(args, "dashboard", False):
        from qemu_net.cli.cmd_dashboard import serve

        metrics = {k: v["metrics_address"] for k, v in local.nodes.items() if v.get("metrics_address")}
        return serve(local.topology, metrics, args.dashboard_host, args.dashboard_port)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import _alive, load, read_state
    from qemu_net.client import Network
    from qemu_net.errors import QnetError
    from qemu_net.network.topology import parse_topology

    topology = load(args)
    state = read_state(topology.name)
    if not state or not _alive(state.get("supervisor_pid", 0)):
        print(f"network {topology.name!r} is not running")
        return 1
    rows = []
    with Network.connect(parse_topology(state["topology"]), timeout_s=3) as net:
        for node in net:
            try:
                info = node.info()
                rows.append({"node": node.name, "address": node.address, "status": "SERVING",
                             "qubits": info.qubits_in_use, "memory": info.memory_qubits,
                             "virtual_time_ns": info.virtual_time_ns})
            except QnetError as exc:
                rows.append({"node": node.name, "address": node.address, "status": f"DOWN ({exc})"})
    if args.json:
        print(json.dumps(rows))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"network {topology.name}")
    for col in ("node", "address", "status", "qubits", "memory", "virtual_time_ns"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r.get(c, "")) for c in ("node", "address", "status", "qubits", "memory", "virtual_time_ns")))
    Console().print(table)
    return 0 if all(r["status"] == "SERVING" for r in rows) else 1


def run_down(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import _alive, load, read_state, state_path

    topology = load(args)
    state = read_state(topology.name)
    if not state:
        print(f"network {topology.name!r} is not running")
        return 0
    pid = int(state.get("supervisor_pid", 0))
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(pid) and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    state_path(topology.name).unlink(missing_ok=True)
    print(f"network {topology.name!r} stopped")
    return 0
