"""The local launcher's lifecycle with real processes: no node outlives its supervisor, `qnet status` /
`qnet down` find and stop nodes left running without one, and a pid now used by another process is never
signalled.

Processes are recognised here independently of the code under test: by pid plus the start time in
``/proc/PID/stat``; a process counts as gone when its pid is free, a zombie, or held by a later process.
Waits use pidfds (readable when the process exits) bounded by a deadline.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.errors import QnetError
from qemu_net.network.topology import parse_topology

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process lifecycle checks use /proc")

QNET = [sys.executable, "-m", "qemu_net.cli.main"]
#: How long nodes may take to vanish after their supervisor dies (nominally ~0.1 s, at most ~3 s; a busy
#: 2-core machine gets a wide margin).
GONE_WITHIN_S = 20.0
THREE = {"name": "life", "nodes": ["a", "b", "c"], "links": [["a", "b"], ["b", "c"]]}


def start_ticks(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return int(text[text.rindex(")") + 1:].split()[19])


def proc_state(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return text[text.rindex(")") + 1:].split()[0]


def running(pid: int, ticks: int) -> bool:
    """True while the process that started at `ticks` still holds `pid` and has not exited."""
    return start_ticks(pid) == ticks and proc_state(pid) not in (None, "Z", "X")


def wait_gone(procs: dict[int, int], within_s: float) -> set[int]:
    """Wait until every (pid -> start ticks) process has exited, at most `within_s`; the pids still running."""
    fds: dict[int, int] = {}
    for pid, ticks in procs.items():
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        if running(pid, ticks):
            fds[fd] = pid
        else:
            os.close(fd)
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + within_s
    pending = dict(fds)
    try:
        while pending and (left := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(left * 1000):
                poller.unregister(fd)
                pending.pop(fd)
    finally:
        for fd in fds:
            os.close(fd)
    return {pid for pid in pending.values() if running(pid, procs[pid])}


def kill_if_ours(procs: dict[int, int]) -> None:
    """Clean-up after a failed assertion: SIGKILL whatever of these processes still runs."""
    for pid, ticks in procs.items():
        if running(pid, ticks):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def qnet(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QNET, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["QNET_STATE_DIR"] = str(tmp_path / "state")
    return e


@pytest.fixture
def topo(tmp_path):
    path = tmp_path / "life.yaml"
    path.write_text(json.dumps(THREE))  # JSON is YAML
    return path


def state_of(env: dict[str, str], name: str = "life") -> dict:
    return json.loads((Path(env["QNET_STATE_DIR"]) / f"{name}.json").read_text())


def node_procs(state: dict) -> dict[str, tuple[int, int]]:
    return {name: (int(v["pid"]), int(v["start_ticks"])) for name, v in state["nodes"].items()}


def test_sigkill_of_a_local_network_supervisor_leaves_no_node():
    """SIGKILL of a LocalNetwork's supervisor: every node process exits, none is left behind."""
    local = LocalNetwork.start(parse_topology(THREE))
    procs = {local.pid(n): start_ticks(local.pid(n)) for n in local.nodes}
    try:
        assert all(running(p, t) for p, t in procs.items())
        with Network.connect(local.topology, timeout_s=30) as net:
            assert all(net.node(n).info().memory_qubits > 0 for n in local.nodes)
        # The supervisor wrote the same identities it reports.
        assert {r.pid: r.start_ticks for r in local.records().values()} == procs
        assert local.supervisor is not None and local.supervisor.pid == local.process.pid
        local.process.send_signal(signal.SIGKILL)
        local.process.wait(10)
        assert wait_gone(procs, GONE_WITHIN_S) == set()
    finally:
        kill_if_ours(procs)
        local.stop()


def test_a_node_whose_supervisor_dies_exits_promptly_with_a_call_in_flight():
    """A node serving a long call when its supervisor is killed still exits within a few seconds."""
    local = LocalNetwork.start(parse_topology(THREE))
    procs = {local.pid(n): start_ticks(local.pid(n)) for n in local.nodes}
    outcome: list[BaseException | bytes] = []
    try:
        with Network.connect(local.topology, timeout_s=30) as net:
            b = net.node("b")
            b.info()

            def wait_long() -> None:
                try:
                    outcome.append(b.receive("a", "never-sent", timeout_s=60))
                except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
                    outcome.append(exc)

            waiter = threading.Thread(target=wait_long, daemon=True)
            waiter.start()
            waiter.join(0.5)  # give the call time to reach the node; not an assertion
            assert waiter.is_alive(), f"the receive returned early: {outcome}"
            t0 = time.monotonic()
            local.process.send_signal(signal.SIGKILL)
            local.process.wait(10)
            assert wait_gone(procs, GONE_WITHIN_S) == set()
            took = time.monotonic() - t0
            waiter.join(30)
        assert not waiter.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], QnetError), outcome
        assert took < 15.0, f"nodes took {took:.1f} s to exit with a 60 s call in flight"
    finally:
        kill_if_ours(procs)
        local.stop()


def test_sigkill_of_a_qnet_up_supervisor_leaves_no_node_and_status_says_so(topo, env):
    """`qnet up`, then SIGKILL its supervisor: the nodes exit; status says not running; down cleans up."""
    up = qnet("up", "-t", str(topo), "--json", env=env)
    assert up.returncode == 0, up.stderr
    state = state_of(env)
    nodes = node_procs(state)
    sup = (int(state["supervisor"]["pid"]), int(state["supervisor"]["start_ticks"]))
    procs = dict([sup, *nodes.values()])
    try:
        assert start_ticks(sup[0]) == sup[1] and all(running(p, t) for p, t in nodes.values())
        os.kill(sup[0], signal.SIGKILL)
        assert wait_gone(procs, GONE_WITHIN_S) == set()
        st = qnet("status", "-t", str(topo), "--json", env=env)
        assert st.returncode == 1, st.stderr
        report = json.loads(st.stdout)
        assert report["running"] is False and report["supervisor"]["process"] == "exited"
        assert {r["node"]: r["status"] for r in report["nodes"]} == dict.fromkeys(nodes, "EXITED")
        text = qnet("status", "-t", str(topo), env=env)
        assert text.returncode == 1 and "is not running" in text.stdout and "supervisor gone" in text.stdout
        down = qnet("down", "-t", str(topo), env=env)
        assert down.returncode == 0, down.stderr
        assert "already gone" in down.stdout and "state file" in down.stdout
        assert not (Path(env["QNET_STATE_DIR"]) / "life.json").exists()
    finally:
        kill_if_ours(procs)


def test_down_stops_a_node_left_running_without_its_supervisor(topo, env):
    """A node stopped (SIGSTOP) when its supervisor is SIGKILLed cannot act on its death signal and stays:
    `qnet status` reports it, `qnet down` stops it, and `qnet up` refuses to start over it meanwhile."""
    up = qnet("up", "-t", str(topo), "--json", env=env)
    assert up.returncode == 0, up.stderr
    state = state_of(env)
    nodes = node_procs(state)
    sup = (int(state["supervisor"]["pid"]), int(state["supervisor"]["start_ticks"]))
    procs = dict([sup, *nodes.values()])
    stuck_pid, stuck_ticks = nodes["b"]
    try:
        os.kill(stuck_pid, signal.SIGSTOP)
        os.kill(sup[0], signal.SIGKILL)
        others = {p: t for n, (p, t) in nodes.items() if n != "b"}
        assert wait_gone({sup[0]: sup[1], **others}, GONE_WITHIN_S) == set()
        # Really left running, and no longer the supervisor's child.
        assert running(stuck_pid, stuck_ticks)
        assert f"PPid:\t{sup[0]}\n" not in Path(f"/proc/{stuck_pid}/status").read_text()

        st = qnet("status", "-t", str(topo), "--json", env=env)
        assert st.returncode == 1, st.stderr
        report = json.loads(st.stdout)
        assert report["running"] is False
        by_node = {r["node"]: r for r in report["nodes"]}
        assert by_node["b"]["status"] == "RUNNING WITHOUT SUPERVISOR" and by_node["b"]["pid"] == stuck_pid
        assert by_node["a"]["status"] == by_node["c"]["status"] == "EXITED"
        assert "supervisor gone" in report["message"] and "1 of 3" in report["message"]
        text = qnet("status", "-t", str(topo), env=env)
        assert text.returncode == 1 and "supervisor gone" in text.stdout and "1 of 3 node(s) still running" in text.stdout

        again = qnet("up", "-t", str(topo), env=env)
        assert again.returncode == 1 and "still running" in again.stderr and "qnet down" in again.stderr

        down = qnet("down", "-t", str(topo), "--json", env=env)
        assert down.returncode == 0, down.stderr
        done = json.loads(down.stdout)
        assert done["supervisor"]["outcome"] == "exited"
        assert done["nodes"]["b"] == {"pid": stuck_pid, "outcome": "stopped (SIGTERM)"}
        assert done["nodes"]["a"]["outcome"] == done["nodes"]["c"]["outcome"] == "exited"
        assert done["state_file_removed"] is True
        assert not running(stuck_pid, stuck_ticks)  # down returns once it has exited
        assert not (Path(env["QNET_STATE_DIR"]) / "life.json").exists()
        after = qnet("status", "-t", str(topo), env=env)
        assert after.returncode == 1 and "is not running" in after.stdout
    finally:
        kill_if_ours(procs)


def test_down_kills_a_recorded_node_that_ignores_sigterm(tmp_path, env):
    """A node process that does not stop on SIGTERM is SIGKILLed after --grace-s."""
    # A stand-in recorded as a node (pid and start time) that blocks SIGTERM, as a node stuck beyond its
    # drain deadline would act.
    script = ("import signal, sys, time\n"
              "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
              "print('ready', flush=True)\n"
              "time.sleep(120)\n")
    stuck = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert stuck.stdout.readline() == "ready\n"
        ticks = start_ticks(stuck.pid)
        write_state(env, {"supervisor": {"pid": 0}, "nodes": {"x": {"pid": stuck.pid, "start_ticks": ticks}}})
        t0 = time.monotonic()
        down = qnet("down", "--json", "--grace-s", "1", env=env)
        assert down.returncode == 0, down.stderr
        assert json.loads(down.stdout)["nodes"]["x"] == {"pid": stuck.pid, "outcome": "killed (SIGKILL)"}
        assert stuck.wait(10) == -signal.SIGKILL
        assert time.monotonic() - t0 < 60
    finally:
        stuck.kill()
        stuck.wait(10)


def write_state(env: dict[str, str], state: dict) -> Path:
    """A state file for the embedded default topology (so commands need no -t)."""
    from qemu_net.network.topology import default_topology

    name = default_topology().name
    d = Path(env["QNET_STATE_DIR"])
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.json"
    path.write_text(json.dumps({"boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
                                "topology": {}, **state}))
    return path


@pytest.mark.parametrize("record", ["wrong_start_time", "legacy_pid_only"])
def test_a_pid_now_held_by_another_process_is_never_signalled(env, record):
    """A state file whose pids now belong to other processes: status says so, down leaves them alone."""
    foreign = subprocess.Popen(["sleep", "300"])
    try:
        ticks = start_ticks(foreign.pid)
        assert ticks is not None
        if record == "wrong_start_time":  # the pid was recycled: a later process holds it
            entry = {"pid": foreign.pid, "start_ticks": ticks - 1}
        else:  # a state file from an older version: pids only, and `sleep` is no launcher process
            entry = {"pid": foreign.pid}
        path = write_state(env, {"supervisor": dict(entry), "supervisor_pid": foreign.pid,
                                 "nodes": {"x": dict(entry), "y": dict(entry)}})
        st = qnet("status", "--json", env=env)
        assert st.returncode == 1, st.stderr
        report = json.loads(st.stdout)
        assert report["running"] is False and report["supervisor"]["process"] == "pid reused"
        assert {r["status"] for r in report["nodes"]} == {"GONE (pid now used by another process)"}
        down = qnet("down", "--json", "--grace-s", "1", env=env)
        assert down.returncode == 0, down.stderr
        done = json.loads(down.stdout)
        assert done["supervisor"]["outcome"] == "pid reused"
        assert {v["outcome"] for v in done["nodes"].values()} == {"pid reused"}
        assert foreign.poll() is None and proc_state(foreign.pid) in ("S", "R")  # never signalled
        assert not path.exists()
    finally:
        foreign.kill()
        foreign.wait(10)


def test_a_child_whose_parent_died_before_it_asked_for_the_death_signal_exits():
    """The race the death signal alone misses: the parent dies between fork and prctl; the check exits."""
    script = (
        "import os, sys\n"
        "from qemu_net.node import launcher\n"
        "launcher._load_libc()\n"
        "go, out = int(sys.argv[1]), int(sys.argv[2])\n"
        "parent = os.getpid()\n"
        "if os.fork() == 0:\n"
        "    os.read(go, 1)  # the test has reaped the parent: this child has been re-parented\n"
        "    os.write(out, b'before;')\n"
        "    launcher._die_with_parent(parent)\n"
        "    os.write(out, b'survived;')\n"
        "    os._exit(0)\n"
        "os._exit(0)\n"
    )
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-c", script, str(go_r), str(out_w)], pass_fds=(go_r, out_w))
        os.close(out_w)
        out_w = -1
        assert proc.wait(60) == 0
        os.write(go_w, b"x")
        got = b""
        deadline = time.monotonic() + 60
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([out_r], [], [], left)
            chunk = os.read(out_r, 100) if ready else b""
            if not chunk:  # the child has exited (it held the last write end)
                break
            got += chunk
        assert got == b"before;"
    finally:
        for fd in (go_r, go_w, out_r, out_w):
            if fd >= 0:
                os.close(fd)


def test_proc_stat_parsing_survives_odd_command_names():
    """The command name may hold spaces and parentheses; fields are counted from the last ')'."""
    from qemu_net.node.launcher import ProcessRecord, parse_proc_stat

    fields = [str(i) for i in range(4, 53)]  # fields 4..52
    fields[22 - 4] = "987654"
    text = "4242 (a) b (c)) S " + " ".join(fields) + "\n"
    assert parse_proc_stat(text) == ("S", 987654)
    me = ProcessRecord.of(os.getpid())
    assert me.start_ticks == start_ticks(os.getpid()) and me.running()
    assert ProcessRecord(os.getpid(), me.start_ticks + 1, me.boot_id).status() == "pid reused"
    assert ProcessRecord(os.getpid(), me.start_ticks, "another-boot").status() == "exited"
