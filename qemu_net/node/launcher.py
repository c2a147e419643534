"""Start every node of a topology as a local process (what `qnet up` and the tests use).

A *supervisor* process imports the heavy modules once (Cirq, numpy, gRPC), freezes its heap, and forks
one child per node, so the children share those pages (about 30 MB PSS each instead of ~200 MB RSS,
and milliseconds instead of seconds to start). No gRPC object exists before the fork. Each child
binds free loopback ports (port 0), reports them through a pipe, receives everyone's addresses, and
turns SERVING. The supervisor prints one JSON line ``{"ready": ..., "nodes": {...}}`` on stdout and
stays until SIGTERM, which it passes on to the nodes.

    python -m qemu_net.node.launcher --topology FILE [--host 127.0.0.1] [--allow-inspect]

Lifecycle: no node outlives its supervisor. Each child asks the kernel (Linux ``prctl(PR_SET_PDEATHSIG)``)
for SIGTERM when the supervisor dies, by any signal including SIGKILL, and checks right after that the
supervisor is still its parent (it may have died before the request). A node whose supervisor is gone
drains with a short grace and exits within `ORPHAN_EXIT_S` even if draining stalls. With
``--exit-with-parent`` the supervisor itself stops when its standard input closes (the process that
started it is gone). Every process is described by a `ProcessRecord` (pid, start time, boot), so a
later `qnet status` / `qnet down` can find nodes left running (stopped or stuck ones) and never signals a
process that merely reuses a recorded pid.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from qemu_net.errors import QnetError
from qemu_net.network.topology import Topology, load_topology

#: How long a local network may take to start, unless its caller says otherwise (`LocalNetwork.start`'s
#: ``timeout_s`` or ``$QNET_START_TIMEOUT_S``). Generous, because only slowness waits it out: a node that
#: exits before it serves fails the start at once.
READY_TIMEOUT_S = 300.0
START_TIMEOUT_ENV = "QNET_START_TIMEOUT_S"
#: The caller hears the supervisor's own report of a start that missed its deadline within this long after it.
REPORT_MARGIN_S = 5.0
#: A node whose supervisor died drains with this grace for in-flight calls ...
ORPHAN_DRAIN_S = 1.5
#: ... and exits this long after its death signal at the latest, even if draining stalls.
ORPHAN_EXIT_S = 3.0
#: A node told to stop by its (living) supervisor exits this long after its drain grace at the latest.
DRAIN_MARGIN_S = 2.0
#: The supervisor waits this long for its nodes to drain before it SIGKILLs them.
CHILD_GRACE_S = 8.0
#: A LocalNetwork waits this long for its supervisor to stop the nodes (their grace, SIGKILL and its wait, the
#: interpreter's exit) before it SIGKILLs the supervisor, and then this long for the kernel to end it.
STOP_WAIT_S = CHILD_GRACE_S + 5.0 + 17.0
KILL_WAIT_S = 30.0
#: Exit status of a node that was stopped by its drain deadline rather than by a finished drain.
EXIT_DRAIN_STALLED = 3
#: Every launcher process (supervisor and the nodes it forks) has this in its command line.
LAUNCHER_MODULE = "qemu_net.node.launcher"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

# ---------------------------------------------------------------------------------------------------------
# Process records: recognising a process later, and stopping it without ever signalling a recycled pid.

RUNNING = "running"
EXITED = "exited"
REUSED = "pid reused"
TERMINATED = "stopped (SIGTERM)"
KILLED = "killed (SIGKILL)"
DENIED = "not permitted"
UNSTOPPABLE = "still running after SIGKILL"

_PROC = Path("/proc")


def parse_proc_stat(text: str) -> tuple[str, int]:
    """(state letter, start time in clock ticks after boot) from the text of ``/proc/PID/stat``.

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are
    counted from the last ``)``: state is field 3, start time field 22 (proc(5)).
    """
    rest = text[text.rindex(")") + 1:].split()
    return rest[0], int(rest[19])


def _proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        return parse_proc_stat((_PROC / str(pid) / "stat").read_text())
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _has_proc() -> bool:
    return (_PROC / "self/stat").exists()


class NodeRecord(TypedDict):
    """One node of a running network, as the supervisor reports it."""

    address: str
    peer_address: str
    pid: int
    start_ticks: int | None
    metrics_address: NotRequired[str]


@dataclass(frozen=True)
class ProcessRecord:
    """Enough to recognise one process later: its pid, its start time and the boot it started in.

    A pid alone is not an identity: after a process exits the kernel hands its pid to the next process.
    The start time (clock ticks after boot, ``/proc/PID/stat`` field 22) and the boot id together name
    one process for good. A record without a start time (a state file from an older version) falls back
    to the command line: the process is taken for ours only if it runs this launcher. Where there is no
    ``/proc`` (not Linux) only the pid's existence can be checked.
    """

    pid: int
    start_ticks: int | None = None
    boot_id: str | None = None

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        """The record of the process that holds `pid` now (call it while that process cannot be reaped)."""
        stat = _proc_stat(pid)
        return cls(pid, stat[1] if stat else None, _boot_id())

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, boot_id: str | None = None) -> ProcessRecord:
        ticks = data.get("start_ticks")
        return cls(int(data.get("pid", 0)), None if ticks is None else int(ticks), data.get("boot_id", boot_id))

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_ticks": self.start_ticks, "boot_id": self.boot_id}

    def status(self) -> str:
        """`RUNNING` (this very process is alive), `EXITED`, or `REUSED` (another process holds the pid)."""
        if self.pid <= 0:
            return EXITED
        if not _has_proc():
            return RUNNING if _pid_exists(self.pid) else EXITED
        if self.boot_id is not None and self.boot_id != _boot_id():
            return EXITED  # recorded before a reboot: that process is gone, whatever holds the pid now
        stat = _proc_stat(self.pid)
        if stat is None:
            return EXITED
        state, ticks = stat
        if self.start_ticks is not None and ticks != self.start_ticks:
            return REUSED
        if state in ("Z", "X"):
            return EXITED  # exited, waiting to be reaped
        if self.start_ticks is None and LAUNCHER_MODULE.encode() not in _cmdline(self.pid):
            return REUSED
        return RUNNING

    def running(self) -> bool:
        return self.status() == RUNNING


def _cmdline(pid: int) -> bytes:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Target:
    """A process to stop. Where the OS has pidfds it is held by one, so no signal can reach a later
    process that reuses its pid; elsewhere it is signalled by pid."""

    def __init__(self, pid: int, fd: int | None) -> None:
        self.pid = pid
        self.fd = fd

    @classmethod
    def open(cls, record: ProcessRecord) -> tuple[str, _Target | None]:
        status = record.status()
        if status != RUNNING:
            return status, None
        if not hasattr(os, "pidfd_open"):
            return status, cls(record.pid, None)
        try:
            fd = os.pidfd_open(record.pid)
        except ProcessLookupError:
            return EXITED, None
        except OSError:  # e.g. the pid now names a thread of another process
            status = record.status()
            return status, cls(record.pid, None) if status == RUNNING else None
        # Checked after opening: the process the pidfd names held the pid at least until this check.
        status = record.status()
        if status != RUNNING:
            os.close(fd)
            return status, None
        return RUNNING, cls(record.pid, fd)

    def signal(self, sig: int) -> None:
        try:
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _wait_exit(targets: Mapping[str, _Target], deadline: float) -> set[str]:
    """Wait until every target has exited or `deadline` (monotonic) passes; the names still running."""
    pending = dict(targets)
    if all(t.fd is not None for t in pending.values()):
        poller = select.poll()
        by_fd = {t.fd: name for name, t in pending.items() if t.fd is not None}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)  # a pidfd turns readable when its process exits
        while pending and (remaining := deadline - time.monotonic()) > 0:
            for fd, _event in poller.poll(remaining * 1000):
                poller.unregister(fd)
                pending.pop(by_fd[fd], None)
        return set(pending)
    # No pidfds (not Linux): the pid is all there is; look again every 50 ms until the deadline.
    while pending and time.monotonic() < deadline:
        pending = {n: t for n, t in pending.items() if _pid_exists(t.pid)}
        if pending:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return set(pending)


def stop_processes(records: Mapping[str, ProcessRecord], *, grace_s: float, kill_wait_s: float = 5.0,
                   reap: bool = False) -> dict[str, str]:
    """Stop every recorded process that is still the one recorded; say what happened to each.

    SIGTERM (followed by SIGCONT, so a stopped process can act on it) to all at once, SIGKILL to those
    still running after `grace_s`, then wait at most `kill_wait_s`. A record whose pid now belongs to
    another process is reported `REUSED` and that process is left alone. With `reap`, the caller is the
    processes' parent and collects their exit status. Outcomes: `EXITED` (was not running), `REUSED`,
    `TERMINATED`, `KILLED`, `DENIED`, `UNSTOPPABLE`.
    """
    outcome: dict[str, str] = {}
    live: dict[str, _Target] = {}
    for name, record in records.items():
        status, target = _Target.open(record)
        if target is None:
            outcome[name] = status
        else:
            live[name] = target
    try:
        for name, target in list(live.items()):
            try:
                target.signal(signal.SIGTERM)
                target.signal(signal.SIGCONT)
            except PermissionError:
                outcome[name] = DENIED
                live.pop(name).close()
        left = _wait_exit(live, time.monotonic() + grace_s)
        for name in set(live) - left:
            outcome[name] = TERMINATED
        for name in left:
            live[name].signal(signal.SIGKILL)
        still = _wait_exit({n: live[n] for n in left}, time.monotonic() + kill_wait_s)
        for name in left:
            outcome[name] = UNSTOPPABLE if name in still else KILLED
        if reap:
            for target in live.values():
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(target.pid, os.WNOHANG)
    finally:
        for target in live.values():
            target.close()
    return outcome


# ---------------------------------------------------------------------------------------------------------
# The supervisor and its nodes.

_LIBC: list[ctypes.CDLL] = []  # the C library, once resolved (Linux only)


def _load_libc() -> None:
    """Resolve prctl before forking, so a child does nothing but one call to set its death signal."""
    if sys.platform.startswith("linux") and not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))


def _die_with_parent(parent_pid: int) -> None:
    """In a freshly forked child: have the kernel send SIGTERM when the parent dies, by whatever signal.

    The parent may have died between fork and this call (then the request would never fire): if the
    parent is no longer `parent_pid`, the child exits at once. Linux only; elsewhere the check alone runs.
    """
    if _LIBC:
        ul = ctypes.c_ulong
        if _LIBC[0].prctl(_PR_SET_PDEATHSIG, ul(signal.SIGTERM), ul(0), ul(0), ul(0)) != 0:
            err = ctypes.get_errno()
            os.write(2, f"cannot set the parent-death signal: {os.strerror(err)}\n".encode())
            os._exit(1)
    if os.getppid() != parent_pid:
        os._exit(1)


#: The signals that stop a node. A node blocks them in every thread and takes them with sigwait in its
#: main thread: a signal that arrives while the node is stopped (SIGSTOP) or busy is then never taken by
#: another thread's handler while the main thread sleeps on, unaware.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def _serve_until_told(server: Any, name: str, supervisor_pid: int) -> int:
    """Serve until SIGTERM/SIGINT, then drain; exit by a hard deadline even if draining stalls.

    If the supervisor is gone (the signal is the parent-death signal), the drain grace is short: nobody
    is left to wait for this node, and the network is going down.
    """
    signal.sigwait(STOP_SIGNALS)
    if os.getppid() != supervisor_pid:
        server.grace_s = min(server.grace_s, ORPHAN_DRAIN_S)
        limit = ORPHAN_EXIT_S
        os.write(2, f"node {name}: supervisor {supervisor_pid} is gone, exiting\n".encode())
    else:
        limit = server.grace_s + DRAIN_MARGIN_S
    threading.Thread(target=server.drain_and_stop, name="drain", daemon=True).start()
    if server.wait(limit):
        return 0
    os.write(2, f"node {name}: drain did not finish within {limit:g} s, exiting\n".encode())
    return EXIT_DRAIN_STALLED


def _child(topology: Topology, name: str, host: str, allow_inspect: bool, wfd: int, rfd: int,
           supervisor_pid: int, metrics: bool = False, tls_dir: Path | None = None) -> int:
    from qemu_net.node.server import NodeServer  # already imported by the parent; no new import cost
    from qemu_net.security.tls import load_credentials

    try:
        tls = load_credentials(tls_dir, node=name) if tls_dir is not None else None
        server = NodeServer(topology, name, listen=f"{host}:0", peer_listen=f"{host}:0", allow_inspect=allow_inspect,
                            tls=tls)
        ports = server.start()
        report = {"name": name, "port": ports.port, "peer_port": ports.peer_port}
        if metrics:  # Prometheus /metrics on a free port of the same host (read by `qnet dashboard`)
            from qemu_net.node.metrics import serve_metrics

            report["metrics_port"] = serve_metrics(server.core, 0, host)
        os.write(wfd, (json.dumps(report) + "\n").encode())
        with os.fdopen(rfd) as r:
            line = r.readline()
        if not line:
            server.drain_and_stop()
            return 1
        book = json.loads(line)
        server.set_peer_addresses({k: v["peer_address"] for k, v in book.items()})
        server.mark_serving()
        # Only now may the supervisor say "ready": a client's first call finds every peer address known.
        os.write(wfd, (json.dumps({"name": name, "serving": True}) + "\n").encode())
        os.close(wfd)
        return _serve_until_told(server, name, supervisor_pid)
    except Exception as exc:
        print(f"node {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1


def supervise(topology: Topology, *, host: str, allow_inspect: bool, metrics: bool = False,
              tls_dir: Path | None = None, ready_by: float | None = None) -> int:
    """Fork a node per topology node and report on stdout, as one JSON line, when every node serves
    (``ready``: their addresses) or why not: a node exited before it served, or `ready_by` (a
    `time.monotonic()` instant, the caller's deadline; default `READY_TIMEOUT_S` from now) passed."""
    deadline = time.monotonic() + READY_TIMEOUT_S if ready_by is None else ready_by
    # Import everything the node needs before forking, then freeze the heap so children share it.
    import cirq  # noqa: F401
    import numpy  # noqa: F401

    import qemu_net.node.server

    if metrics:
        import qemu_net.node.metrics  # noqa: F401

    _load_libc()
    gc.collect()
    gc.freeze()
    if time.monotonic() >= deadline:  # nothing forked only to be stopped at once
        print(json.dumps({"ready": False, "error": "the start's deadline passed before its nodes were forked"}),
              flush=True)
        return 1
    me = os.getpid()
    children: dict[str, int] = {}
    records: dict[str, ProcessRecord] = {}
    to_child: dict[str, int] = {}
    report_r, report_w = os.pipe()
    for node in topology.nodes:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            # Blocked before any thread exists, so every thread of the node inherits the mask (see
            # STOP_SIGNALS). Until it serves, the node learns of the supervisor's death from its pipe.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            code = 1
            try:
                _die_with_parent(me)
                for fd in (report_r, w, *to_child.values()):  # the other nodes' pipes are not ours to hold
                    os.close(fd)
                code = _child(topology, node.name, host, allow_inspect, report_w, r, me, metrics, tls_dir)
            finally:
                os._exit(code)
        os.close(r)
        children[node.name] = pid
        records[node.name] = ProcessRecord.of(pid)  # a child's pid stays its own until we reap it
        to_child[node.name] = w
    os.close(report_w)
    book: dict[str, NodeRecord] = {}
    serving: set[str] = set()
    buf = b""
    exits = _ExitWatch(children)

    def read_reports(until: Callable[[], bool]) -> None:
        """Read the children's report lines (ports, then "serving") until `until()`, a child's exit or the
        deadline."""
        nonlocal buf
        poller = select.poll()  # not select.select: a pidfd of a big network may be above FD_SETSIZE
        for fd in (rep.fileno(), *exits.fds):
            poller.register(fd, select.POLLIN)
        while not until() and time.monotonic() < deadline:
            events = poller.poll(exits.poll_s(deadline) * 1000)
            if exits.check():
                return
            if not any(fd == rep.fileno() for fd, _ in events):
                continue
            chunk = os.read(rep.fileno(), 65536)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                info = json.loads(line)
                if info.get("serving"):
                    serving.add(info["name"])
                    continue
                record = records[info["name"]]
                book[info["name"]] = {
                    "address": f"{host}:{info['port']}",
                    "peer_address": f"{host}:{info['peer_port']}",
                    "pid": record.pid,
                    "start_ticks": record.start_ticks,
                }
                if "metrics_port" in info:
                    book[info["name"]]["metrics_address"] = f"{host}:{info['metrics_port']}"

    with os.fdopen(report_r, "rb") as rep, exits:
        read_reports(lambda: len(book) == len(children))
        if len(book) < len(children) or exits.exited:
            missing = sorted(set(children) - set(book))
            error = exits.why() or f"nodes failed to start: {', '.join(missing)}"
            print(json.dumps({"ready": False, "error": error}), flush=True)
            for w in to_child.values():  # a node waiting for the addresses reads EOF and exits
                os.close(w)
            stop_processes(exits.unreaped(records), grace_s=CHILD_GRACE_S, reap=True)
            return 1
        line = (json.dumps(book) + "\n").encode()
        for w in to_child.values():
            with contextlib.suppress(BrokenPipeError):  # that node has exited: read_reports tells
                os.write(w, line)
            os.close(w)
        # Ready only when every node has taken everyone's addresses and serves (no first call can find a
        # peer's address unknown).
        read_reports(lambda: len(serving) == len(children))
    if len(serving) < len(children) or exits.exited:
        missing = sorted(set(children) - serving)
        error = exits.why() or f"nodes did not start serving: {', '.join(missing)}"
        print(json.dumps({"ready": False, "error": error}), flush=True)
        stop_processes(exits.unreaped(records), grace_s=CHILD_GRACE_S, reap=True)
        return 1
    supervisor = ProcessRecord.of(me)
    print(json.dumps({"ready": True, "supervisor_pid": me, "supervisor": supervisor.to_json(),
                      "boot_id": supervisor.boot_id, "nodes": book}), flush=True)

    # From here on the supervisor takes its signals synchronously (see STOP_SIGNALS): a child's exit or a
    # stop request wakes this loop whichever thread the kernel would have picked to run a handler.
    signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISOR_SIGNALS)
    alive = dict(children)
    while True:
        _reap(alive)
        if not alive:
            break
        if signal.sigwaitinfo(_SUPERVISOR_SIGNALS).si_signo != signal.SIGCHLD:
            break
    stop_processes({k: records[k] for k in alive}, grace_s=CHILD_GRACE_S, reap=True)
    return 0


_SUPERVISOR_SIGNALS = STOP_SIGNALS | {signal.SIGCHLD}


class _ExitWatch:
    """Notices a node that exits while the network starts: by its pidfd (readable when it exits) where the
    platform has them, else by a check every `POLL_S`. Exited children are reaped and their status kept."""

    POLL_S = 0.5

    def __init__(self, children: Mapping[str, int]) -> None:
        self._children = dict(children)
        self.exited: dict[str, int | None] = {}
        self.fds: list[int] = []
        if hasattr(os, "pidfd_open"):
            try:
                for pid in self._children.values():
                    self.fds.append(os.pidfd_open(pid))
            except OSError:  # a kernel without pidfds (before Linux 5.3), or out of descriptors
                self._close()

    def poll_s(self, deadline: float) -> float:
        left = max(0.0, deadline - time.monotonic())
        return left if self.fds else min(left, self.POLL_S)

    def check(self) -> bool:
        """Reap the children that have exited; True if any has."""
        for name, pid in list(self._children.items()):
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: its status is unknown
                got, status = pid, None
            if got == pid:
                self.exited[name] = None if status is None else os.waitstatus_to_exitcode(status)
                del self._children[name]
        return bool(self.exited)

    def unreaped(self, records: Mapping[str, ProcessRecord]) -> dict[str, ProcessRecord]:
        """`records` without the children reaped here: their pids are free for other processes."""
        return {name: record for name, record in records.items() if name not in self.exited}

    def why(self) -> str:
        def how(code: int | None) -> str:
            if code is None:
                return "exited"
            if code >= 0:
                return f"exited with status {code}"
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:  # e.g. a real-time signal, which has no name in `signal.Signals`
                return f"was killed by signal {-code}"

        return "; ".join(f"node {name} {how(code)} before it served"
                         + (" (its error is on the supervisor's stderr)" if code is not None and code > 0 else "")
                         for name, code in sorted(self.exited.items()))

    def _close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def __enter__(self) -> _ExitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()


def _reap(alive: dict[str, int]) -> None:
    """Collect every child that has exited (without blocking) and drop it from `alive`."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            alive.clear()
            return
        if pid == 0:
            return
        for name, child in list(alive.items()):
            if child == pid:
                print(f"node {name} exited", file=sys.stderr, flush=True)
                del alive[name]


def start_timeout_s() -> float:
    """The start-up deadline's length: ``$QNET_START_TIMEOUT_S`` (seconds, > 0) if set, else `READY_TIMEOUT_S`."""
    raw = os.environ.get(START_TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return READY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise QnetError(f"${START_TIMEOUT_ENV} must be a number of seconds > 0, not {raw!r}")
    return value


@dataclass
class LocalNetwork:
    """A running local network: start with `LocalNetwork.start(topology)`, stop with `.stop()` or `with`."""

    topology: Topology
    process: subprocess.Popen[bytes]
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    #: The supervisor process (pid, start time, boot), as the supervisor reported itself.
    supervisor: ProcessRecord | None = None
    #: The network's certificate directory (None: the nodes run plaintext, ``tls=False``).
    tls_dir: Path | None = None
    _own_tls: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def start(
        cls, topology: Topology, *, host: str = "127.0.0.1", allow_inspect: bool = False, detach: bool = False,
        timeout_s: float | None = None, log_file: str | None = None, metrics: bool = False,
        tls: bool = True, tls_dir: str | os.PathLike[str] | None = None,
    ) -> LocalNetwork:
        """Start the supervisor and wait until every node serves.

        With ``detach=True`` the supervisor outlives this process (`qnet up`): it gets its own session and
        its stderr goes to `log_file` (or nowhere), so it holds no pipe of the caller's open.

        The nodes have `timeout_s` to serve (default ``$QNET_START_TIMEOUT_S``, else `READY_TIMEOUT_S`); a
        node that exits before it serves fails the start at once.

        Mutual TLS is on unless ``tls=False``: the network's certificates are written to `tls_dir` (made
        if needed; a CA already there is kept) or to a temporary directory removed by `stop`, and clients
        of this process that connect to the nodes' addresses use its ``client`` certificate.
        """
        if timeout_s is None:
            timeout_s = start_timeout_s()
        deadline = time.monotonic() + timeout_s
        own: tempfile.TemporaryDirectory[str] | None = None
        cert_dir: Path | None = None
        if tls:
            from qemu_net.security.tls import write_network_certs

            if tls_dir is None:
                own = tempfile.TemporaryDirectory(prefix="qnet-tls-")
                cert_dir = Path(own.name)
            else:
                cert_dir = Path(tls_dir)
            write_network_certs(topology, cert_dir)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(topology.to_yaml())
            path = f.name
        # The supervisor keeps the same deadline (the monotonic clock is the host's, shared by processes).
        cmd = [sys.executable, "-m", "qemu_net.node.launcher", "--topology", path, "--host", host,
               "--ready-by", repr(deadline)]
        if allow_inspect:
            cmd.append("--allow-inspect")
        if metrics:
            cmd.append("--metrics")
        cmd += ["--tls-dir", str(cert_dir)] if cert_dir is not None else ["--insecure"]
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
        heard_by = deadline + REPORT_MARGIN_S
        line = b""
        while time.monotonic() < heard_by:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, heard_by - time.monotonic()))
            if not ready:
                break
            line = proc.stdout.readline()
            break
        late = time.monotonic() >= deadline
        os.unlink(path)
        info: dict[str, Any]  # the launcher's JSON report line
        try:
            info = json.loads(line) if line else {"ready": False, "error": "no answer from its supervisor"}
        except json.JSONDecodeError:
            info = {"ready": False, "error": f"unexpected launcher output: {line[:200]!r}"}
        if not info.get("ready"):
            proc.kill()
            left = ""
            try:
                proc.wait(KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                left = (f"; its supervisor (pid {proc.pid}) had not exited {KILL_WAIT_S:g} s after SIGKILL "
                        f"({_proc_state(proc.pid)})")
            if own is not None:
                own.cleanup()
            hint = "" if not late else (
                f" (a busy machine may need longer than {timeout_s:g} s: give timeout_s or ${START_TIMEOUT_ENV})")
            raise QnetError(f"local network did not start: {info.get('error')}{left}{hint}")
        nodes: dict[str, NodeRecord] = info["nodes"]
        addressed = topology.with_addresses({k: v["address"] for k, v in nodes.items()})
        addressed = addressed.model_copy(
            update={"nodes": tuple(n.model_copy(update={"peer_address": nodes[n.name]["peer_address"]})
                                   for n in addressed.nodes)}
        )
        boot = info.get("boot_id")
        supervisor = ProcessRecord.from_json(info.get("supervisor") or {"pid": info["supervisor_pid"]}, boot_id=boot)
        net = cls(addressed, proc, nodes, supervisor, cert_dir, own)
        if cert_dir is not None:
            from qemu_net.client.credentials import remember

            remember(net.addresses.values(), cert_dir)
        return net

    @property
    def addresses(self) -> dict[str, str]:
        return {k: str(v["address"]) for k, v in self.nodes.items()}

    def pid(self, node: str) -> int:
        return int(self.nodes[node]["pid"])

    def records(self) -> dict[str, ProcessRecord]:
        """node name -> its process record (pid, start time, boot), to recognise the node process later."""
        boot = self.supervisor.boot_id if self.supervisor else None
        return {name: ProcessRecord.from_json(v, boot_id=boot) for name, v in self.nodes.items()}

    def stop(self, timeout_s: float = STOP_WAIT_S) -> None:
        """Stop the supervisor and its nodes: SIGTERM, then SIGKILL if it has not exited within `timeout_s`."""
        if self.process.stdin:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                try:
                    self.process.wait(KILL_WAIT_S)
                except subprocess.TimeoutExpired as exc:
                    raise QnetError(f"the network's supervisor (pid {self.process.pid}) did not exit within "
                                    f"{KILL_WAIT_S:g} s of SIGKILL ({_proc_state(self.process.pid)})") from exc
        if self.process.stdout:
            self.process.stdout.close()
        if self.tls_dir is not None:
            from qemu_net.client.credentials import forget

            forget(self.addresses.values())
        if self._own_tls is not None:
            self._own_tls.cleanup()
            self._own_tls = None

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _proc_state(pid: int) -> str:
    """The kernel's one-letter state of `pid` and what it waits in, for an error message."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/wchan") as f:
            return f"state {state}, waiting in {f.read().strip() or '-'}"
    except (OSError, IndexError):
        return "no state readable"


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
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--tls-dir", type=Path, help="the network's certificate directory (qemu_net.security.tls)")
    tls.add_argument("--insecure", action="store_true", help="plaintext: no TLS, nobody authenticated")
    ap.add_argument("--ready-by", type=float, default=None, metavar="MONOTONIC_S",
                    help="the start's deadline, as a time.monotonic() instant of this host "
                         f"(default: {READY_TIMEOUT_S:g} s from now)")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="stop every node when standard input closes (the starting process is gone)")
    args = ap.parse_args(argv)
    if args.exit_with_parent:
        # The watch thread never takes a signal meant for the main thread (see supervise).
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISOR_SIGNALS)
        threading.Thread(target=_stop_on_stdin_eof, name="parent-watch", daemon=True).start()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    try:
        topology = load_topology(args.topology)
    except QnetError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), flush=True)
        return 2
    if args.tls_dir is None:
        print(f"WARNING: network {topology.name!r} runs WITHOUT TLS: anyone who reaches its ports controls it",
              file=sys.stderr, flush=True)
    return supervise(topology, host=args.host, allow_inspect=args.allow_inspect, metrics=args.metrics,
                     tls_dir=args.tls_dir, ready_by=args.ready_by)


if __name__ == "__main__":
    sys.exit(main())
