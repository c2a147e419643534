"""Readiness means "can serve protocols" (every linked peer reachable); liveness stays local."""

from __future__ import annotations

from pathlib import Path

import yaml

from qemu_net.network.topology import parse_topology
from qemu_net.node.readiness import READY_SERVICE, needed_peers
from tests.k8s.nodeproc import health, node, reserve_port, wait_status


def _topology(tmp: Path, a_port: int, b_port: int) -> Path:
    path = tmp / "topology.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ready",
        "nodes": [{"name": "a", "address": f"127.0.0.1:{a_port}"}, {"name": "b", "address": f"127.0.0.1:{b_port}"},
                  {"name": "c", "address": "127.0.0.1:9"}],
        "links": [{"nodes": ["a", "b"], "length_km": 1}],
    }))
    return path


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
    """Node a with peer b down: alive but not ready; b starts: a turns ready; b dies: a not ready, still alive."""
    held = reserve_port()  # b's port: refuses connections until b binds it
    b_port = held.getsockname()[1]
    topo = _topology(tmp_path, 1, b_port)
    with node(["--topology", str(topo), "--name", "a", "--listen", "127.0.0.1:0"]) as a:
        a_port = a.port()
        assert health(a_port, "") == "SERVING"  # liveness: the process itself is fine
        a.wait_line("not ready: unreachable peers b", 60)  # a real check ran and failed
        assert health(a_port, READY_SERVICE) == "NOT_SERVING"
        held.close()
        with node(["--topology", str(topo), "--name", "b", "--listen", f"127.0.0.1:{b_port}"]) as b:
            assert b.port() == b_port
            took = wait_status(a_port, READY_SERVICE, "SERVING", 60)
            a.wait_line("ready: all 1 linked peers reachable", 10)
            assert health(a_port, "") == "SERVING"
            b.proc.kill()  # b dies without draining
            b.proc.wait(10)
        wait_status(a_port, READY_SERVICE, "NOT_SERVING", 60)
        assert health(a_port, "") == "SERVING"  # a dead peer never makes a kubelet restart this pod
        assert a.proc.poll() is None
    assert took < 60


def test_drain_turns_readiness_and_liveness_off(tmp_path: Path) -> None:
    """SIGTERM: both services report NOT_SERVING while the node drains (readiness stops re-checking)."""
    topo = tmp_path / "one.yaml"
    topo.write_text(yaml.safe_dump({"name": "one", "nodes": [{"name": "a", "address": "127.0.0.1:1"}]}))
    with node(["--topology", str(topo), "--name", "a", "--listen", "127.0.0.1:0"]) as a:
        port = a.port()
        wait_status(port, READY_SERVICE, "SERVING", 60)  # no links: nothing to wait for
        a.proc.terminate()
        assert a.proc.wait(30) == 0
        a.wait_line("draining", 5)
