"""Readiness means "can serve protocols" (every linked peer reachable); liveness stays local.

The nodes run as in a pod: mutual TLS on the public and peer ports, the health service also on a
plaintext probe port (what the kubelet asks), and readiness checks each peer's TLS-only peer port with
the node's own certificate.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import yaml

from qemu_net.network.topology import parse_topology
from qemu_net.node.readiness import READY_SERVICE, needed_peers
from tests.k8s.nodeproc import certify, health, node, reserve_port, wait_status


def _topology(tmp: Path, b_port: int, b_peer_port: int) -> Path:
    path = tmp / "topology.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ready",
        "nodes": [{"name": "a", "address": "127.0.0.1:1"},
                  {"name": "b", "address": f"127.0.0.1:{b_port}", "peer_address": f"127.0.0.1:{b_peer_port}"},
                  {"name": "c", "address": "127.0.0.1:9"}],
        "links": [{"nodes": ["a", "b"], "length_km": 1}],
    }))
    return path


def _pod_args(topo: Path, tls: Path, name: str, listen: str = "127.0.0.1:0",
              peer_listen: str = "127.0.0.1:0") -> list[str]:
    """`qnet node` as a pod runs it: mutual TLS, plus the plaintext probe port (any free one here)."""
    return ["--topology", str(topo), "--name", name, "--listen", listen, "--peer-listen", peer_listen,
            "--tls-dir", str(tls), "--probe-port", "0"]


def test_needed_peers_are_the_link_neighbours_at_their_peer_address() -> None:
    """A node waits for its quantum and classical neighbours (at peer_address when set), nobody else."""
    topo = parse_topology({
        "name": "t",
        "nodes": [{"name": "a", "address": "h:1", "peer_address": "h:2"}, {"name": "b", "address": "h:3"},
                  {"name": "c", "address": "h:4"}, {"name": "d", "address": "h:5"}],
        "links": [{"nodes": ["a", "b"], "length_km": 1}, {"nodes": ["b", "c"], "length_km": 1}],
        "classical_links": [{"nodes": ["a", "d"], "length_km": 1}],
    }, source="t")
    assert needed_peers(topo, "a") == {"b": "h:3", "d": "h:5"}
    assert needed_peers(topo, "b") == {"a": "h:2", "c": "h:4"}
    assert needed_peers(topo, "d") == {"a": "h:2"}


def test_unreachable_peer_means_not_ready_and_its_arrival_makes_ready(tmp_path: Path) -> None:
    """Node a with peer b down: alive but not ready; b starts: a turns ready; b dies: a not ready, still alive.

    b's peer port speaks only mutual TLS, so a's check succeeds only with a's certificate and b's
    certificate naming b; the status is read where the kubelet reads it, on a's plaintext probe port."""
    held = [reserve_port(), reserve_port()]  # b's ports: refuse connections until b binds them
    b_port, b_peer = (h.getsockname()[1] for h in held)
    topo = _topology(tmp_path, b_port, b_peer)
    tls = certify(topo, tmp_path / "tls")
    with node(_pod_args(topo, tls, "a")) as a:
        probe = a.probe_port()
        assert health(probe, "") == "SERVING"  # liveness: the process itself is fine
        a.wait_line("not ready: unreachable peers b", 60)  # a real check ran and failed
        assert health(probe, READY_SERVICE) == "NOT_SERVING"
        for h in held:
            h.close()
        with node(_pod_args(topo, tls, "b", f"127.0.0.1:{b_port}", f"127.0.0.1:{b_peer}")) as b:
            assert b.port() == b_port and b.probe_port() not in (b_port, b_peer)
            took = wait_status(probe, READY_SERVICE, "SERVING", 60)
            a.wait_line("ready: all 1 linked peers reachable", 10)
            assert health(probe, "") == "SERVING"
            with pytest.raises(grpc.RpcError) as plain:  # b's peer port is TLS only: no plaintext check passes
                health(b_peer, "", timeout_s=5)
            assert plain.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            b.proc.kill()  # b dies without draining
            b.proc.wait(10)
        wait_status(probe, READY_SERVICE, "NOT_SERVING", 60)
        assert health(probe, "") == "SERVING"  # a dead peer never makes a kubelet restart this pod
        assert a.proc.poll() is None
    assert took < 60


def test_drain_turns_readiness_and_liveness_off(tmp_path: Path) -> None:
    """SIGTERM: both services report NOT_SERVING while the node drains (readiness stops re-checking)."""
    topo = tmp_path / "one.yaml"
    topo.write_text(yaml.safe_dump({"name": "one", "nodes": [{"name": "a", "address": "127.0.0.1:1"}]}))
    with node(_pod_args(topo, certify(topo, tmp_path / "tls"), "a")) as a:
        port = a.probe_port()
        wait_status(port, READY_SERVICE, "SERVING", 60)  # no links: nothing to wait for
        a.proc.terminate()
        assert a.proc.wait(30) == 0
        a.wait_line("draining", 5)
