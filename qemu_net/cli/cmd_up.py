"""`qnet up` / `qnet status` / `qnet down`: a local network of node processes on loopback.

`qnet up` starts a detached supervisor that forks one process per node, and writes a state file
(``$QNET_STATE_DIR/NAME.json``, default ``~/.qnet``) recording the supervisor and every node as a process
record: pid, start time and boot, so a pid that the kernel has since given to another process is
recognised and never signalled. Nodes exit when their supervisor dies, by any signal; `qnet status`
reports nodes still running without their supervisor (stopped or stuck ones) and `qnet down` stops them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from qemu_net.cli.common import add_topology_args

#: `qnet down` gives the supervisor this long to stop its nodes (it SIGKILLs them after 8 s) before SIGKILL.
SUPERVISOR_GRACE_S = 20.0
#: Default drain time for nodes left running without their supervisor, before SIGKILL.
NODE_GRACE_S = 10.0

LIFECYCLE = (
    "Lifecycle: the nodes are children of one supervisor process and exit when it dies, whatever kills it "
    "(SIGKILL included). The state file (in $QNET_STATE_DIR, default ~/.qnet) records the supervisor and "
    "every node by pid and start time, so `qnet status` finds nodes left running without their supervisor "
    "and `qnet down` stops them, and a pid now used by another process is never signalled."
)


def _lifecycle_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, description: str,
                      func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A lifecycle command (`up`, `status`, `down`): it names its network by topology, and its help ends
    with how the nodes' lifecycle works."""
    p = sub.add_parser(name, description=f"{description} {LIFECYCLE}")
    add_topology_args(p)
    p.set_defaults(func=func)
    return p


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _lifecycle_parser(sub, "up", "Start every node of a topology as a local process on 127.0.0.1.", run_up)
    p.add_argument("--allow-inspect", action="store_true", help="allow state inspection (debugging)")
    p.add_argument("--insecure", action="store_true",
                   help="run the nodes WITHOUT TLS (default: mutual TLS with certificates made in "
                        "$QNET_STATE_DIR/NAME.tls)")
    p.add_argument("--json", action="store_true", help="print the node addresses as JSON")
    p.add_argument("--dashboard", action="store_true",
                   help="then serve the live web dashboard in the foreground (Ctrl-C stops it, not the network)")
    from qemu_net.cli.cmd_dashboard import add_dashboard_args

    add_dashboard_args(p, prefix="dashboard-")
    s = _lifecycle_parser(sub, "status", "Show the nodes of a network started with `qnet up`, or the node "
                          "processes still running after its supervisor is gone. Exit status 0 only if the "
                          "supervisor runs and every node serves.", run_status)
    s.add_argument("--json", action="store_true", help="print one JSON object (network, supervisor, nodes)")
    d = _lifecycle_parser(sub, "down", "Stop the supervisor (which stops its nodes), then any node process still "
                          "running without it (SIGTERM, SIGKILL after --grace-s), and remove the state file.",
                          run_down)
    d.add_argument("--grace-s", type=_non_negative, default=NODE_GRACE_S,
                   help=f"drain time for nodes left without a supervisor before SIGKILL (default {NODE_GRACE_S:g})")
    d.add_argument("--json", action="store_true", help="print what was done as JSON")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


def _down_hint(args: argparse.Namespace) -> str:
    if getattr(args, "chain", None):
        return f"qnet down --chain {args.chain}"
    if getattr(args, "topology", None) == "-":
        return "qnet down -t FILE (a file with the same topology)"
    return "qnet down" + (f" -t {args.topology}" if getattr(args, "topology", None) else "")


def run_up(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import (
        load,
        node_records,
        read_state,
        state_dir,
        state_path,
        supervisor_running,
        write_state,
    )
    from qemu_net.errors import QnetError
    from qemu_net.node.launcher import LocalNetwork

    topology = load(args)
    state = read_state(topology.name)
    if state and supervisor_running(state):
        raise QnetError(f"network {topology.name!r} is already up ({_down_hint(args)} to stop it)")
    if state:
        left = sorted(name for name, rec in node_records(state).items() if rec.running())
        if left:
            raise QnetError(f"network {topology.name!r}: {len(left)} node process(es) of an earlier run are still "
                            f"running without their supervisor ({', '.join(left)}); stop them with {_down_hint(args)}")
    t0 = time.perf_counter()
    state_dir().mkdir(parents=True, exist_ok=True)
    log = state_dir() / f"{topology.name}.log"
    insecure = getattr(args, "insecure", False)
    if insecure:
        import sys

        print(f"WARNING: network {topology.name!r} runs WITHOUT TLS (--insecure): anyone who reaches its ports "
              "controls it", file=sys.stderr)
    tls_dir = None if insecure else state_dir() / f"{topology.name}.tls"
    local = LocalNetwork.start(topology, allow_inspect=args.allow_inspect, detach=True, log_file=str(log),
                               metrics=True,  # /metrics per node, read by `qnet dashboard`
                               tls=not insecure, tls_dir=tls_dir)
    elapsed = time.perf_counter() - t0
    assert local.supervisor is not None
    payload = {
        "format": 2,
        "network": topology.name,
        "boot_id": local.supervisor.boot_id,
        "supervisor": local.supervisor.to_json(),
        "supervisor_pid": local.process.pid,
        "nodes": local.nodes,
        "tls_dir": str(tls_dir) if tls_dir is not None else None,
        "topology": json.loads(json.dumps(local.topology.model_dump(mode="json"))),
    }
    try:
        path = write_state(topology.name, payload)
    except OSError as exc:
        local.stop()
        raise QnetError(f"cannot write the state file {state_path(topology.name)}: {exc}; network stopped") from exc
    if args.json:
        print(json.dumps({"network": topology.name, "healthy_after_s": round(elapsed, 3),
                          "nodes": local.addresses, "state_file": str(path)}))
    else:
        print(f"network {topology.name!r}: {len(local.nodes)} node(s) healthy after {elapsed:.2f} s")
        for name, addr in local.addresses.items():
            print(f"  {name:<16} {addr}")
        print(f"state: {path}  (stop with: {_down_hint(args)})")
    if getattr(args, "dashboard", False):
        from qemu_net.cli.cmd_dashboard import serve

        metrics = {k: str(v["metrics_address"]) for k, v in local.nodes.items() if v.get("metrics_address")}
        return serve(local.topology, metrics, args.dashboard_host, args.dashboard_port,
                     probe_timeout_s=args.dashboard_probe_timeout_s)
    return 0


_COLUMNS = ("node", "address", "pid", "status", "qubits", "memory", "virtual_time_ns")


def run_status(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import load, node_records, read_state, state_path, state_tls, supervisor_record
    from qemu_net.client import Network
    from qemu_net.errors import QnetError
    from qemu_net.network.topology import parse_topology
    from qemu_net.node.launcher import REUSED, RUNNING

    topology = load(args)
    state = read_state(topology.name)
    if state is None:
        return _print_status(args, {"network": topology.name, "running": False, "supervisor": None, "nodes": [],
                                    "message": f"network {topology.name!r} is not running"}, ok=False)
    sup = supervisor_record(state)
    sup_status = sup.status()
    records = node_records(state)
    procs = {name: rec.status() for name, rec in records.items()}
    addresses = {name: info.get("address") for name, info in (state.get("nodes") or {}).items()}
    report = {"network": topology.name, "state_file": str(state_path(topology.name)),
              "running": sup_status == RUNNING, "supervisor": {"pid": sup.pid, "process": sup_status}}
    if sup_status == RUNNING:
        rows = []
        with Network.connect(parse_topology(state["topology"]), timeout_s=3, **state_tls(state)) as net:
            for node in net:
                row = {"node": node.name, "address": node.address, "pid": records[node.name].pid if node.name in
                       records else None, "process": procs.get(node.name)}
                try:
                    info = node.info()
                    row.update(status="SERVING", qubits=info.qubits_in_use, memory=info.memory_qubits,
                               virtual_time_ns=info.virtual_time_ns)
                except QnetError as exc:
                    row["status"] = f"DOWN ({exc})"
                rows.append(row)
        report["nodes"] = rows
        report["message"] = f"network {topology.name!r}: supervisor pid {sup.pid}, {len(rows)} node(s)"
        return _print_status(args, report, ok=all(r["status"] == "SERVING" for r in rows))
    label = {RUNNING: "RUNNING WITHOUT SUPERVISOR", REUSED: "GONE (pid now used by another process)"}
    report["nodes"] = [{"node": name, "address": addresses.get(name), "pid": rec.pid, "process": procs[name],
                        "status": label.get(procs[name], "EXITED")} for name, rec in records.items()]
    left = [name for name, p in procs.items() if p == RUNNING]
    gone = f"supervisor gone (pid {sup.pid}{' now used by another process' if sup_status == REUSED else ''})"
    if left:
        report["message"] = (f"network {topology.name!r}: {gone}, {len(left)} of {len(records)} node(s) still "
                             f"running: {', '.join(left)} (stop them with {_down_hint(args)})")
    else:
        report["message"] = (f"network {topology.name!r} is not running: {gone} and none of its {len(records)} "
                             f"node(s) runs; {_down_hint(args)} removes the stale state file")
    return _print_status(args, report, ok=False, table=bool(left))


def _print_status(args: argparse.Namespace, report: dict[str, Any], *, ok: bool, table: bool = True) -> int:
    if args.json:
        print(json.dumps(report))
        return 0 if ok else 1
    print(report["message"])
    if table and report["nodes"]:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"network {report['network']}")
        for col in _COLUMNS:
            t.add_column(col)
        for r in report["nodes"]:
            t.add_row(*(str(r.get(c, "")) for c in _COLUMNS))
        Console().print(t)
    return 0 if ok else 1


def run_down(args: argparse.Namespace) -> int:
    from qemu_net.cli.common import load, node_records, read_state, state_path, supervisor_record
    from qemu_net.node.launcher import DENIED, EXITED, KILLED, REUSED, TERMINATED, UNSTOPPABLE, stop_processes

    topology = load(args)
    name = topology.name
    state = read_state(name)
    if not state:
        if args.json:
            print(json.dumps({"network": name, "supervisor": None, "nodes": {}, "state_file_removed": False}))
        else:
            print(f"network {name!r} is not running")
        return 0
    sup = supervisor_record(state)
    sup_outcome = stop_processes({"supervisor": sup}, grace_s=SUPERVISOR_GRACE_S)["supervisor"]
    outcomes = stop_processes(node_records(state), grace_s=args.grace_s)
    lines = [{
        TERMINATED: f"supervisor (pid {sup.pid}) stopped",
        KILLED: f"supervisor (pid {sup.pid}) did not stop within {SUPERVISOR_GRACE_S:g} s: killed",
        EXITED: f"supervisor (pid {sup.pid}) was already gone",
        REUSED: f"supervisor pid {sup.pid} now belongs to another process: left alone",
        DENIED: f"supervisor (pid {sup.pid}): not permitted to signal it",
        UNSTOPPABLE: f"supervisor (pid {sup.pid}) is still running after SIGKILL",
    }[sup_outcome]]
    exited = sorted(n for n, o in outcomes.items() if o == EXITED)
    if exited:
        how = "stopped with it" if sup_outcome in (TERMINATED, KILLED) else "had already exited"
        lines.append(f"{len(exited)} node(s) {how}: {', '.join(exited)}")
    records = node_records(state)
    for node, outcome in sorted(outcomes.items()):
        pid = records[node].pid
        if outcome == TERMINATED:
            lines.append(f"node {node} (pid {pid}) was running without its supervisor: stopped with SIGTERM")
        elif outcome == KILLED:
            lines.append(f"node {node} (pid {pid}) was running without its supervisor and did not stop within "
                         f"{args.grace_s:g} s: killed with SIGKILL")
        elif outcome == REUSED:
            lines.append(f"node {node}: pid {pid} now belongs to another process: left alone")
        elif outcome in (DENIED, UNSTOPPABLE):
            lines.append(f"node {node} (pid {pid}): {outcome}")
    failed = sup_outcome in (DENIED, UNSTOPPABLE) or any(o in (DENIED, UNSTOPPABLE) for o in outcomes.values())
    path = state_path(name)
    if failed:
        lines.append(f"network {name!r} is NOT fully stopped; state file kept: {path}")
    else:
        path.unlink(missing_ok=True)
        lines.append(f"network {name!r} stopped; state file {path} removed")
    if args.json:
        print(json.dumps({"network": name, "supervisor": {"pid": sup.pid, "outcome": sup_outcome},
                          "nodes": {n: {"pid": records[n].pid, "outcome": o} for n, o in outcomes.items()},
                          "state_file_removed": not failed, "messages": lines}))
    else:
        print("\n".join(lines))
    return 1 if failed else 0
