"""Start every node of a topology as a local process (what `qnet up` and the tests use).

A *supervisor* process imports the heavy modules once (Cirq, numpy, gRPC), freezes its heap, and forks
one child per node, so the children share those pages (about 30 MB PSS each instead of ~200 MB RSS,
and milliseconds instead of seconds to start). No gRPC object exists before the fork. Each child
binds free loopback ports (port 0), reports them through a pipe, receives everyone's addresses, and
turns SERVING. The supervisor prints one JSON line ``{"ready": ..., "nodes": {...}}`` on stdout and
stays until SIGTERM, which it passes on to the nodes.

    python -m qemu_net.node.launcher --topology FILE [--host 127.0.0.1] [--allow-inspect]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from qemu_net.errors import QnetError
from qemu_net.network.topology import Topology, load_topology

READY_TIMEOUT_S = 120.0


def _child(topology: Topology, name: str, host: str, allow_inspect: bool, wfd: int, rfd: int,
           metrics: bool = False) -> int:
    from qemu_net.node.server import NodeServer  # already imported by the parent; no new import cost

    try:
        server = NodeServer(topology, name, listen=f"{host}:0", peer_listen=f"{host}:0", allow_inspect=allow_inspect)
        ports = server.start()
        report = {"name": name, "port": ports.port, "peer_port": ports.peer_port}
        if metrics:  # Prometheus /metrics on a free port of the same host (read by `qnet dashboard`)
            from qemu_net.node.metrics import serve_metrics

            report["metrics_port"] = serve_metrics(server.core, 0, host)
        os.write(wfd, (json.dumps(report) + "\n").encode())
        os.close(wfd)
        with os.fdopen(rfd) as r:
            line = r.readline()
        if not line:
            server.drain_and_stop()
            return 1
        book = json.loads(line)
        server.set_peer_addresses({k: v["peer_address"] for k, v in book.items()})
        server.install_signal_handlers()
        server.mark_serving()
        server.wait()
        return 0
    except Exception as exc:  # noqa: BLE001 - report and exit non-zero; never hang the supervisor
        print(f"node {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1


def supervise(topology: Topology, *, host: str, allow_inspect: bool, metrics: bool = False) -> int:
    # Import everything the node needs before forking, then freeze the heap so children share it.
    import cirq  # noqa: F401
    import numpy  # noqa: F401

    import qemu_net.node.server  # noqa: F401

    if metrics:
        import qemu_net.node.metrics  # noqa: F401

    gc.collect()
    gc.freeze()
    children: dict[str, int] = {}
    to_child: dict[str, int] = {}
    report_r, report_w = os.pipe()
    for node in topology.nodes:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(report_r)
            os.close(w)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            code = _child(topology, node.name, host, allow_inspect, report_w, r, metrics)
            os._exit(code)
        os.close(r)
        children[node.name] = pid
        to_child[node.name] = w
    os.close(report_w)
    book: dict[str, dict[str, object]] = {}
    deadline = time.monotonic() + READY_TIMEOUT_S
    buf = b""
    with os.fdopen(report_r, "rb") as rep:
        while len(book) < len(children) and time.monotonic() < deadline:
            ready, _, _ = select.select([rep], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(rep.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                info = json.loads(line)
                book[info["name"]] = {
                    "address": f"{host}:{info['port']}",
                    "peer_address": f"{host}:{info['peer_port']}",
                    "pid": children[info["name"]],
                }
                if "metrics_port" in info:
                    book[info["name"]]["metrics_address"] = f"{host}:{info['metrics_port']}"
    if len(book) < len(children):
        missing = sorted(set(children) - set(book))
        print(json.dumps({"ready": False, "error": f"nodes failed to start: {', '.join(missing)}"}), flush=True)
        _stop_children(children)
        return 1
    line = (json.dumps(book) + "\n").encode()
    for name, w in to_child.items():
        os.write(w, line)
        os.close(w)
    print(json.dumps({"ready": True, "supervisor_pid": os.getpid(), "nodes": book}), flush=True)

    def on_term(signum, frame):  # noqa: ARG001
        raise _Stop

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    alive = dict(children)
    try:
        while alive:
            try:
                pid, _status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            for k, v in list(alive.items()):
                if v == pid:
                    print(f"node {k} exited", file=sys.stderr, flush=True)
                    del alive[k]
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _stop_children(alive)
    return 0


class _Stop(Exception):
    """Raised by the supervisor's SIGTERM handler to leave its wait."""


def _stop_children(children: dict[str, int], grace_s: float = 8.0) -> None:
    for pid in children.values():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    pending = set(children.values())
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.05)
    for pid in pending:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@dataclass
class LocalNetwork:
    """A running local network: start with `LocalNetwork.start(topology)`, stop with `.stop()` or `with`."""

    topology: Topology
    process: subprocess.Popen[bytes]
    nodes: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def start(
        cls, topology: Topology, *, host: str = "127.0.0.1", allow_inspect: bool = False, detach: bool = False,
        timeout_s: float = READY_TIMEOUT_S, log_file: str | None = None, metrics: bool = False,
    ) -> LocalNetwork:
        """Start the supervisor and wait until every node serves.

        With ``detach=True`` the supervisor outlives this process (`qnet up`): it gets its own session and
        its stderr goes to `log_file` (or nowhere), so it holds no pipe of the caller's open.
        """
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(topology.to_yaml())
            path = f.name
        cmd = [sys.executable, "-m", "qemu_net.node.launcher", "--topology", path, "--host", host]
        if allow_inspect:
            cmd.append("--allow-inspect")
        if metrics:
            cmd.append("--metrics")
        if not detach:
            # The supervisor watches this pipe: if this process dies, however abruptly, the nodes stop too.
            cmd.append("--exit-with-parent")
        stderr = None
        if detach:
            stderr = open(log_file or os.devnull, "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr,
                                stdin=subprocess.DEVNULL if detach else subprocess.PIPE, start_new_session=detach)
        if stderr is not None:
            stderr.close()
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = proc.stdout.readline()
            break
        os.unlink(path)
        try:
            info = json.loads(line) if line else {"ready": False, "error": "no answer from the launcher"}
        except json.JSONDecodeError:
            info = {"ready": False, "error": f"unexpected launcher output: {line[:200]!r}"}
        if not info.get("ready"):
            proc.kill()
            proc.wait(5)
            raise QnetError(f"local network did not start: {info.get('error')}")
        nodes = info["nodes"]
        addressed = topology.with_addresses({k: v["address"] for k, v in nodes.items()})
        addressed = addressed.model_copy(
            update={"nodes": tuple(n.model_copy(update={"peer_address": nodes[n.name]["peer_address"]})
                                   for n in addressed.nodes)}
        )
        return cls(addressed, proc, nodes)

    @property
    def addresses(self) -> dict[str, str]:
        return {k: str(v["address"]) for k, v in self.nodes.items()}

    def pid(self, node: str) -> int:
        return int(self.nodes[node]["pid"])  # type: ignore[arg-type]

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop_on_stdin_eof() -> None:
    """Block until standard input closes, then stop the supervisor (and with it every node)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qemu_net.node.launcher")
    ap.add_argument("--topology", required=True, type=Path)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--allow-inspect", action="store_true")
    ap.add_argument("--metrics", action="store_true", help="every node serves Prometheus /metrics on a free port")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="stop every node when standard input closes (the starting process is gone)")
    args = ap.parse_args(argv)
    if args.exit_with_parent:
        threading.Thread(target=_stop_on_stdin_eof, name="parent-watch", daemon=True).start()
    try:
        topology = load_topology(args.topology)
    except QnetError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), flush=True)
        return 2
    return supervise(topology, host=args.host, allow_inspect=args.allow_inspect, metrics=args.metrics)


if __name__ == "__main__":
    sys.exit(main())
