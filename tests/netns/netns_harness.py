"""A multi-host lab in Linux network namespaces, for tests that need real addresses and a real network.

::

    with NetnsLab(hosts=["alice", "bob", "client"]) as lab:
        lab.spawn("alice", ["qnet", "node", ...])        # runs inside alice's namespace
        lab.run("client", ["qnet", "run", ...], timeout_s=60)
        lab.set_loss(5)                                   # 5 % random drop on the bridge

Layout (all names carry a random suffix, so concurrent or leaked labs never clash)::

    netns qn<sfx>-br:  bridge br0 (no address) + one veth end per host; nftables loss rules live here
    netns qn<sfx>-<i>: lo + eth0 = 10.77.0.<i+1>/24 (veth to the bridge); /etc/hosts names every host

Nothing is created in the root namespace: veth pairs are created directly inside the lab's
namespaces, and clients run inside a lab namespace (`run`), never from the root namespace, which has a
default route. Each host's name resolves through /etc/netns/<ns>/hosts (``ip netns exec`` bind-mounts
it over /etc/hosts), so a topology can use names, as Kubernetes uses DNS.

Cleanup is guaranteed: `close()` (called by ``__exit__``, on any exception, and by an atexit hook for
labs still open) kills the processes this lab started (by pid, then whatever else is left inside its
namespaces), deletes the namespaces (which deletes the veths and the bridge) and the /etc/netns dirs.
Every wait here is bounded in time.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import sys
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.77.0"
#: Labs not yet closed (strong references, so the atexit hook can still clean them up).
_LIVE: dict[int, NetnsLab] = {}


def _ip(*args: str, check: bool = True, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    # `ip netns del` waits for the kernel to release the namespace: seconds on a busy host, not milliseconds.
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=timeout_s)


def unusable_reason() -> str | None:
    """Why this machine cannot run a lab (None if it can): not root, or `ip netns` does not work."""
    if os.geteuid() != 0:
        return "network-namespace tests need root (ip netns add, veth, nftables)"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    name = f"qnprobe{secrets.token_hex(3)}"
    try:
        proc = _ip("netns", "add", name, check=False)
        if proc.returncode != 0:
            return f"`ip netns add` fails here: {proc.stderr.strip()}"
        return None
    finally:
        _ip("netns", "del", name, check=False)


def nft_unusable_reason() -> str | None:
    if shutil.which("nft") is None:
        return "nftables (`nft`) is not installed (apt-get install nftables)"
    return None


@dataclass
class Proc:
    """A process started inside a lab namespace; its output goes to `log`."""

    host: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout_s: float) -> int | None:
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout_s`; return the exit code."""
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout_s)
        if rc is None:
            self.signal(signal.SIGKILL)
            rc = self.wait(5.0)
        return rc


@dataclass(eq=False)
class NetnsLab:
    """K hosts, each in its own network namespace, joined by veth pairs to a bridge in another one."""

    hosts: list[str]
    prefix: str = "qn"
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    workdir: Path | None = None
    procs: list[Proc] = field(default_factory=list)
    _created: list[str] = field(default_factory=list)
    _closed: bool = False

    def __post_init__(self) -> None:
        if not 1 <= len(self.hosts) <= 200 or len(set(self.hosts)) != len(self.hosts):
            raise ValueError("hosts: 1..200 distinct names")
        self.tag = f"{self.prefix}{self.suffix}"
        self.bridge_ns = f"{self.tag}-br"
        self.ns = {h: f"{self.tag}-{i}" for i, h in enumerate(self.hosts)}
        self.ip = {h: f"{SUBNET}.{i + 1}" for i, h in enumerate(self.hosts)}
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
            self._own_workdir = True
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._own_workdir = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> NetnsLab:
        _LIVE[id(self)] = self
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        for ns in (self.bridge_ns, *self.ns.values()):
            _ip("netns", "add", ns)
            self._created.append(ns)
        br = self.bridge_ns
        _ip("-n", br, "link", "add", "br0", "type", "bridge")
        _ip("-n", br, "link", "set", "lo", "up")
        _ip("-n", br, "link", "set", "br0", "up")
        hosts_file = "127.0.0.1 localhost\n" + "".join(f"{self.ip[h]} {h}\n" for h in self.hosts)
        for i, h in enumerate(self.hosts):
            ns = self.ns[h]
            # Both ends are created directly inside the lab's namespaces: nothing in the root namespace.
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"v{i}", "netns", br)
            _ip("-n", br, "link", "set", f"v{i}", "master", "br0")
            _ip("-n", br, "link", "set", f"v{i}", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "addr", "add", f"{self.ip[h]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            etc = Path("/etc/netns") / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(hosts_file)

    def close(self) -> None:
        """Kill everything the lab started and delete its namespaces. Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        for p in self.procs:
            p.signal(signal.SIGKILL)
        for p in self.procs:
            p.wait(5.0)
        for ns in self._created:
            # Anything still running inside our namespaces was started by this lab (e.g. a child).
            pids = _ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for ns in reversed(self._created):
            _ip("netns", "del", ns, check=False)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        self._created.clear()
        if self._own_workdir and self.workdir is not None and not os.environ.get("QNET_KEEP_NETNS_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        _LIVE.pop(id(self), None)

    # ------------------------------------------------------------------ running things
    def _argv(self, host: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host], *argv]

    def spawn(self, host: str, argv: list[str], *, env: dict[str, str] | None = None, name: str = "") -> Proc:
        """Start `argv` inside `host`'s namespace (own process group, output to a log file)."""
        assert self.workdir is not None
        log = self.workdir / f"{name or host}-{len(self.procs)}.log"
        with open(log, "wb") as fh:
            popen = subprocess.Popen(
                self._argv(host, argv),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        proc = Proc(host, argv, popen, log)
        self.procs.append(proc)
        return proc

    def run(
        self, host: str, argv: list[str], *, timeout_s: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside `host`'s namespace to completion (killed after `timeout_s`)."""
        proc = subprocess.Popen(
            self._argv(host, argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=10)
            raise TimeoutError(
                f"{argv!r} in {host} did not finish within {timeout_s} s\nstdout:\n{out}\nstderr:\n{err}"
            ) from None
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)

    # ------------------------------------------------------------------ impairments
    def set_loss(self, percent: int) -> None:
        """Drop `percent` % of the frames crossing the bridge, at random (nftables, bridge family)."""
        if not 0 <= percent <= 100:
            raise ValueError("percent must be in 0..100")
        nft = ["ip", "netns", "exec", self.bridge_ns, "nft"]
        subprocess.run([*nft, "delete", "table", "bridge", "qnet"], capture_output=True, timeout=10)
        if percent == 0:
            return
        rules = (
            "table bridge qnet {\n"
            "  chain loss {\n"
            "    type filter hook forward priority 0; policy accept;\n"
            "    counter comment \"seen\"\n"
            f"    numgen random mod 100 < {percent} counter drop\n"
            "  }\n"
            "}\n"
        )
        subprocess.run([*nft, "-f", "-"], input=rules, text=True, check=True, capture_output=True, timeout=10)

    def frame_counts(self) -> tuple[int, int]:
        """(frames that reached the loss rule, frames it dropped) so far; (0, 0) without a rule."""
        proc = subprocess.run(
            ["ip", "netns", "exec", self.bridge_ns, "nft", "list", "table", "bridge", "qnet"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        counts = [int(line.split("counter packets", 1)[1].split()[0])
                  for line in proc.stdout.splitlines() if "counter packets" in line]
        return (counts[0], counts[1]) if len(counts) == 2 else (0, 0)

    def dropped_packets(self) -> int:
        """How many frames the loss rule has dropped so far (0 without a rule)."""
        return self.frame_counts()[1]

    def namespaces(self) -> list[str]:
        return [self.bridge_ns, *self.ns.values()]


def _cleanup_at_exit() -> None:
    for lab in list(_LIVE.values()):
        lab.close()


atexit.register(_cleanup_at_exit)


def wait_until(pred, *, timeout_s: float, interval_s: float = 0.2, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll `pred` until true; raise TimeoutError after `timeout_s` (bounded in count and time)."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / interval_s) + 2):
        if pred():
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not reached within {timeout_s} s")


# ---------------------------------------------------------------------------------------------------
# A qemu_net network inside a lab: one node process per namespace, addressed by host name.

CLUSTER_TOPOLOGY = """\
name: netns
nodes:
  - {name: alice, address: "alice:50051", peer_address: "alice:50052"}
  - {name: repeater, address: "repeater:50051", peer_address: "repeater:50052"}
  - {name: bob, address: "bob:50051", peer_address: "bob:50052"}
links:
  - {nodes: [alice, repeater], length_km: 5}
  - {nodes: [repeater, bob], length_km: 5}
classical_links:
  - {nodes: [alice, bob], length_km: 10}
seed: 11
"""
HERE = Path(__file__).resolve().parent


def qnet_node_available() -> bool:
    """True once the `qnet node` command exists (else the tests use run_node.py, same contract)."""
    qnet = shutil.which("qnet") or str(Path(sys.executable).with_name("qnet"))
    try:
        proc = subprocess.run([qnet, "node", "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@dataclass(eq=False)
class QnetCluster:
    """alice, repeater, bob (node processes) and client, each in its own namespace of `lab`."""

    lab: NetnsLab
    topology_path: Path
    use_qnet_cli: bool
    nodes: dict[str, Proc] = field(default_factory=dict)
    #: The network's certificates (mutual TLS between the namespaces); None: plaintext.
    tls_dir: Path | None = None

    NODE_NAMES = ("alice", "repeater", "bob")

    @classmethod
    def start(cls, lab: NetnsLab, *, topology: str = CLUSTER_TOPOLOGY, wait_s: float = 120,
              tls: bool = True) -> QnetCluster:
        assert lab.workdir is not None
        path = lab.workdir / "topology.yaml"
        path.write_text(topology)
        tls_dir = None
        if tls:
            from qemu_net.network.topology import load_topology
            from qemu_net.security.tls import write_network_certs

            tls_dir = lab.workdir / "tls"
            write_network_certs(load_topology(path), tls_dir)
        cluster = cls(lab, path, qnet_node_available(), tls_dir=tls_dir)
        for name in cls.NODE_NAMES:
            cluster.start_node(name)
        cluster.wait_serving(wait_s)
        return cluster

    def node_argv(self, name: str) -> list[str]:
        if self.use_qnet_cli:
            qnet = shutil.which("qnet") or str(Path(sys.executable).with_name("qnet"))
            tls = ["--tls-dir", str(self.tls_dir)] if self.tls_dir else ["--insecure"]
            return [qnet, "node", "--topology", str(self.topology_path), "--name", name, "--allow-inspect",
                    "--bind", "0.0.0.0", *tls]
        tls = ["--tls-dir", str(self.tls_dir)] if self.tls_dir else []
        return [sys.executable, str(HERE / "run_node.py"), str(self.topology_path), name, "--allow-inspect", *tls]

    @property
    def env(self) -> dict[str, str]:
        """Environment of processes in the lab: the SDK and health checks find the certificates here."""
        return {"QNET_TLS_DIR": str(self.tls_dir)} if self.tls_dir else {}

    def start_node(self, name: str) -> Proc:
        self.nodes[name] = self.lab.spawn(name, self.node_argv(name), name=name)
        return self.nodes[name]

    def wait_serving(self, wait_s: float, names: tuple[str, ...] | None = None) -> None:
        addrs = [f"{n}:50051" for n in (names or self.NODE_NAMES)]
        res = self.lab.run(
            "client",
            [sys.executable, "-m", "qemu_net.deploy.healthcheck", *addrs[:1], "--wait-s", str(wait_s)]
            if len(addrs) == 1
            else [sys.executable, "-m", "qemu_net.deploy.healthcheck", "--topology", str(self.topology_path),
                  "--wait-s", str(wait_s)],
            timeout_s=wait_s + 30, env=self.env,
        )
        if res.returncode != 0:
            logs = "\n".join(f"--- {n}:\n{p.output()[-3000:]}" for n, p in self.nodes.items())
            raise RuntimeError(f"nodes not serving within {wait_s} s:\n{res.stdout}{res.stderr}\n{logs}")

    def client_argv(self, action: str, n: int) -> list[str]:
        return [sys.executable, str(HERE / "netns_clients.py"), action, str(self.topology_path), str(n)]

    def client(self, action: str, n: int, *, timeout_s: float) -> dict:
        """Run a netns_clients.py action in the client namespace; return its JSON output."""
        import json

        res = self.lab.run("client", self.client_argv(action, n), timeout_s=timeout_s, env=self.env)
        if res.returncode != 0:
            raise RuntimeError(f"client {action} failed ({res.returncode}):\n{res.stdout}\n{res.stderr[-4000:]}")
        return json.loads(res.stdout.strip().splitlines()[-1])
