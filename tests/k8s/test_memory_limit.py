"""Memory limits that hold: a node under a 1 GiB cgroup limit refuses QKD sessions that cannot fit, runs
those that can, and is never killed.

The limit is a real kernel one: each node process runs in its own test-created memory cgroup, nested
inside the test process's own one (v2 ``memory.max`` where the v2 hierarchy has the memory controller,
else v1 ``memory.limit_in_bytes`` plus ``memory.memsw.limit_in_bytes`` so swap cannot stretch it),
which the node discovers through /proc/self/cgroup, as it would a container's. Without a writable
memory cgroup the tests are skipped.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from qemu_net.client import Network, qkd
from qemu_net.errors import LimitExceeded, MemoryFull, ProtocolAborted
from qemu_net.node import memlimit
from qemu_net.node.limits import Limits
from qemu_net.qkd import footprint
from tests.k8s.nodeproc import certify, node, reserve_port

GIB = 1 << 30
V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup")
APD_LINK = {"attenuation_db_per_km": 0.2, "detector_efficiency": 0.5, "dark_count_probability": 1e-6,
            "misalignment_error": 0.015}


def _own(controller_root: Path, v2: bool) -> Path:
    """This process's own cgroup directory under `controller_root`."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hid, controllers, path = line.split(":", 2)
        if (v2 and hid == "0") or (not v2 and "memory" in controllers.split(",")):
            return controller_root / path.lstrip("/")
    return controller_root


def _cgroup_kind() -> tuple[str, Path] | tuple[None, None]:
    if (V2 / "cgroup.controllers").is_file():
        own = _own(V2, True)
        if "memory" in (own / "cgroup.subtree_control").read_text() and os.access(own, os.W_OK):
            return "v2", own
    own = _own(V1, False)
    if (own / "memory.limit_in_bytes").is_file() and os.access(own, os.W_OK):
        return "v1", own
    return None, None


KIND, PARENT = _cgroup_kind()
pytestmark = pytest.mark.skipif(KIND is None, reason="no writable memory cgroup (v1 or v2) to impose a limit")


@contextlib.contextmanager
def memory_cgroup(limit: int) -> Iterator[Path]:
    """A fresh memory cgroup with a hard limit of `limit` bytes (swap included); removed afterwards."""
    path = PARENT / f"qnet-test-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        if KIND == "v2":
            (path / "memory.max").write_text(str(limit))
            if (path / "memory.swap.max").exists():
                (path / "memory.swap.max").write_text("0")
        else:
            (path / "memory.limit_in_bytes").write_text(str(limit))
            if (path / "memory.memsw.limit_in_bytes").exists():
                (path / "memory.memsw.limit_in_bytes").write_text(str(limit))
        yield path
    finally:
        for _ in range(50):  # the processes are gone by now; the kernel may need a moment to let go
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def _oom_kills(cg: Path) -> int:
    f = cg / ("memory.events" if KIND == "v2" else "memory.oom_control")
    for line in f.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0


def _enter(cg: Path):
    def join() -> None:  # runs in the child before exec: the node starts inside the cgroup
        (cg / "cgroup.procs").write_text(str(os.getpid()))
    return join


@pytest.fixture(scope="module")
def limited_pair(tmp_path_factory: pytest.TempPathFactory):
    """Nodes alice and bob (a 5 km metro link), each alone in a 1 GiB memory cgroup."""
    tmp = tmp_path_factory.mktemp("memlimit")
    held = [reserve_port(), reserve_port()]
    ports = [s.getsockname()[1] for s in held]
    topo = tmp / "topology.yaml"
    topo.write_text(yaml.safe_dump({
        "name": "memlimit",
        "nodes": [{"name": "alice", "address": f"127.0.0.1:{ports[0]}"},
                  {"name": "bob", "address": f"127.0.0.1:{ports[1]}"}],
        "links": [{"nodes": ["alice", "bob"], "length_km": 5, **APD_LINK}],
    }))
    tls = str(certify(topo, tmp / "tls"))  # mutual TLS, as in a pod
    env = {"QNET_MEMORY_LIMIT_BYTES": ""}  # the kernel's limit, not an inherited variable
    with memory_cgroup(GIB) as cg_a, memory_cgroup(GIB) as cg_b:
        for s in held:
            s.close()
        with node(["--topology", str(topo), "--name", "alice", "--tls-dir", tls], env=env, preexec=_enter(cg_a)) as a, \
                node(["--topology", str(topo), "--name", "bob", "--tls-dir", tls], env=env, preexec=_enter(cg_b)) as b:
            a.port(), b.port()
            with Network.connect(str(topo), timeout_s=60, tls_dir=tls) as net:
                yield net, (a, b), (cg_a, cg_b)


def _alive(procs, cgroups) -> None:
    for p, cg in zip(procs, cgroups):
        assert p.proc.poll() is None, "\n".join(p.lines[-20:])
        assert _oom_kills(cg) == 0


def test_node_reads_the_cgroup_limit(limited_pair) -> None:
    """Each node runs inside its 1 GiB group, and the node's lookup (through its /proc/PID/cgroup) finds 1 GiB."""
    _, procs, cgroups = limited_pair
    for p, cg in zip(procs, cgroups):
        node_cgroup = Path(f"/proc/{p.proc.pid}/cgroup")
        assert f"/{cg.name}" in node_cgroup.read_text()  # the node really runs inside the limited group
        assert memlimit.cgroup_limit_bytes(str(node_cgroup)) == GIB


@pytest.mark.parametrize("n_pulses", [60_000_000, 1_000_000_000], ids=["6e7", "1e9"])
def test_sessions_too_large_for_the_limit_are_refused_at_once(limited_pair, n_pulses: int) -> None:
    """6*10^7 and 10^9 pulses under 1 GiB: RESOURCE_EXHAUSTED before any pulse is made; no kill. 6*10^7 is
    within the node's fixed session cap, so the memory check refuses it (and Bob hears why); 10^9 is above
    the cap (`limits.max_qkd_pulses`), which refuses it first."""
    net, procs, cgroups = limited_pair
    t0 = time.monotonic()
    with pytest.raises((MemoryFull, LimitExceeded)) as info:
        qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=n_pulses, timeout_s=120)
    took = time.monotonic() - t0
    msg = str(info.value)
    assert info.value.fields.get("code") == "RESOURCE_EXHAUSTED"
    if n_pulses <= Limits().max_qkd_pulses:
        assert isinstance(info.value, MemoryFull)
        assert f"of {n_pulses} slots needs about" in msg and "memory limit of 1,024 MiB" in msg, msg
    else:
        assert isinstance(info.value, LimitExceeded)
        assert f"n_pulses of {n_pulses} is more than this node's limit" in msg, msg
    assert took < 60, took  # refused, not run until the deadline
    need = footprint.estimate_bytes("alice", n_pulses, 1_000_000)
    assert need > 0.85 * GIB - 150 * 2**20  # the estimate really exceeds what 1 GiB leaves beside the node
    _alive(procs, cgroups)


def test_bobs_error_names_alices_refusal_as_its_cause(limited_pair) -> None:
    """Bob's end of a refused session fails with an error that says it reports Alice's abort (its ``peer`` and
    ``kind``), whichever end's answer reaches the client first: so the client raises Alice's MemoryFull."""
    import threading

    net, procs, cgroups = limited_pair
    requests, _ = net._role_run(qkd.qkd_roles("bb84", "alice", "bob", n_pulses=60_000_000), 120, None)
    errors: dict[str, BaseException] = {}

    def run(name: str) -> None:
        try:
            net[name].run_protocol(requests[name])
        except Exception as exc:
            errors[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert isinstance(errors["alice"], MemoryFull), errors
    bob = errors["bob"]
    assert isinstance(bob, ProtocolAborted) and "memory limit of 1,024 MiB" in str(bob), bob
    assert bob.fields.get("peer") == "alice" and bob.fields.get("kind") == "MemoryFull", bob.fields
    _alive(procs, cgroups)


def test_a_session_that_fits_runs_to_a_key_under_the_limit(limited_pair) -> None:
    """4*10^6 pulses fit under 1 GiB: the session completes with a key; neither node is killed."""
    net, procs, cgroups = limited_pair
    s = qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=4_000_000, timeout_s=300)
    assert s.succeeded and s.final_bits > 1000
    _alive(procs, cgroups)


@pytest.mark.slow
def test_largest_admitted_session_completes_without_a_kill(limited_pair) -> None:
    """A session sized near the admission bound (2*10^7 pulses, ~440 MB estimated) completes under 1 GiB."""
    net, procs, cgroups = limited_pair
    try:
        s = qkd.run_qkd(net, "alice", "bob", "bb84", n_pulses=20_000_000, timeout_s=900)
    except MemoryFull as exc:  # admission may refuse if the node's resident set grew; never a kill
        pytest.fail(f"refused although the estimate fits: {exc}")
    except ProtocolAborted as exc:
        pytest.fail(str(exc))
    assert s.succeeded
    _alive(procs, cgroups)
