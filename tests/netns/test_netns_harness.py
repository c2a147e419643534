"""The namespace lab itself: isolated hosts that reach each other by name, loss injection, cleanup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from netns_harness import NetnsLab, wait_until

# A standalone gRPC server with only the standard health service, SERVING, on 0.0.0.0:PORT.
HEALTH_SERVER = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
s = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)])
h = health.HealthServicer(); h.set("", health_pb2.HealthCheckResponse.SERVING)
health_pb2_grpc.add_HealthServicer_to_server(h, s)
s.add_insecure_port("0.0.0.0:" + sys.argv[1]); s.start(); print("ready", flush=True)
time.sleep(120)
"""
PY = sys.executable


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_hosts_reach_each_other_by_name_inside_the_lab(netns_lab_factory) -> None:
    """A client in one namespace reaches a gRPC server in another by host name; the root namespace is untouched."""
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=10).stdout
    lab: NetnsLab = netns_lab_factory(["server", "client"])
    assert set(lab.namespaces()) <= _namespaces()
    # Nothing was added to the root namespace.
    assert subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, timeout=10).stdout == root_links
    srv = lab.spawn("server", [PY, "-c", HEALTH_SERVER, "50051"])
    wait_until(lambda: "ready" in srv.output(), timeout_s=30, what="health server start")
    res = lab.run(
        "client", [PY, "-m", "qemu_net.deploy.healthcheck", "server:50051", "--wait-s", "20"], timeout_s=60
    )
    assert res.returncode == 0, res.stdout + res.stderr
    # The client namespace has no route anywhere but the lab subnet.
    routes = lab.run("client", ["ip", "route"], timeout_s=10).stdout
    assert "default" not in routes and "10.77.0.0/24" in routes


def test_loss_rule_drops_packets_and_tcp_still_delivers(netns_lab_factory, nft_available) -> None:
    """With 10% random drop on the bridge, frames are dropped but gRPC calls still succeed."""
    lab: NetnsLab = netns_lab_factory(["server", "client"])
    srv = lab.spawn("server", [PY, "-c", HEALTH_SERVER, "50051"])
    wait_until(lambda: "ready" in srv.output(), timeout_s=30, what="health server start")
    lab.set_loss(10)
    script = (
        "from qemu_net.deploy.healthcheck import check\n"
        "ok = sum(check('server:50051', timeout_s=15)[0] for _ in range(30))\n"
        "print(ok)\n"
    )
    res = lab.run("client", [PY, "-c", script], timeout_s=240)
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.split()[-1]) == 30
    assert lab.dropped_packets() > 0
    lab.set_loss(0)
    assert lab.dropped_packets() == 0


def test_lab_cleans_up_even_when_the_test_fails(tmp_path: Path) -> None:
    """An exception inside the lab still kills its processes and deletes its namespaces."""
    lab = NetnsLab(hosts=["a", "b"], workdir=tmp_path)
    with pytest.raises(RuntimeError), lab:
        p = lab.spawn("a", ["sleep", "300"])
        names = set(lab.namespaces())
        assert names <= _namespaces()
        raise RuntimeError("boom")
    assert not (names & _namespaces())
    assert p.popen.poll() is not None
    assert not any(Path("/etc/netns", n).exists() for n in names)
