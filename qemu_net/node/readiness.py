"""Readiness that means "can serve protocols": every peer this node's links need is reachable.

The node's standard gRPC health service answers two questions on its public and peer ports (mutual
TLS) and on its plaintext probe port (what Kubernetes' gRPC probes ask):

* ``""`` (and the service names) - **liveness**: this process is up and not draining. Purely local, so
  a dead peer never makes a kubelet restart a healthy pod (Kubernetes' liveness and startup probes).
* ``qemu_net.ready`` (`READY_SERVICE`) - **readiness**: SERVING only while every neighbour over a
  quantum or classical link answers its own liveness check at its peer address (over mutual TLS
  with this node's certificate when the network uses TLS, `tls_channel_factory`). Kubernetes' readiness
  probe asks for this name, so a pod that cannot reach its peers leaves the Service's ready endpoints
  (and ``kubectl rollout status`` waits) instead of passing while protocols would fail.

A background thread re-checks every `period_s` (every `retry_s` while not ready); each check is one
``Health/Check`` per neighbour bounded by `check_timeout_s`, all neighbours concurrently, so a round
takes at most about that long however many peers are down. Peers' liveness, not their readiness, is
asked: readiness that waited on the peers' readiness could never become true for two nodes that need
each other. The thread waits on an Event between rounds (it stops at once on drain); once the health
service has entered graceful shutdown the servicer ignores further updates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from qemu_net.network.topology import ClassicalLinkSpec, LinkSpec, Topology
from qemu_net.security.tls import TlsCredentials, channel_credentials, target_name_options

log = logging.getLogger("qemu_net.node")

#: The health service name whose status is readiness (the readiness probe's ``service``).
READY_SERVICE = "qemu_net.ready"
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
#: Reconnect quickly after a peer comes back (gRPC's default first backoff is about 1 s).
_CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000)]


def needed_peers(topology: Topology, name: str) -> dict[str, str]:
    """Neighbour name -> the address this node calls it on, for every link (quantum or classical) of `name`."""
    others: set[str] = set()
    links: tuple[LinkSpec | ClassicalLinkSpec, ...] = (*topology.links, *topology.classical_links)
    for link in links:
        a, b = link.nodes
        if name in (a, b):
            others.add(b if a == name else a)
    others.discard(name)
    out = {}
    for n in topology.nodes:
        if n.name in others and (n.peer_address or n.address):
            out[n.name] = n.peer_address or n.address
    return out


def tls_channel_factory(tls: TlsCredentials) -> Callable[[str, str], grpc.Channel]:
    """Peer channels for readiness checks under mutual TLS: this node's certificate, the network CA, and
    the peer's certificate must name the peer (as for `qemu_net.node.peers.GrpcPeers`), whatever host
    its address has."""
    creds = channel_credentials(tls)

    def open_channel(peer: str, address: str) -> grpc.Channel:
        return grpc.secure_channel(address, creds, options=_CHANNEL_OPTIONS + target_name_options(peer))

    return open_channel


class Readiness:
    """Keeps `READY_SERVICE` of `servicer` equal to "every needed peer is reachable"."""

    def __init__(self, servicer: health.HealthServicer, topology: Topology, name: str, *, period_s: float = 10.0,
                 retry_s: float = 1.0, check_timeout_s: float = 2.0,
                 channel: Callable[[str, str], grpc.Channel] | None = None) -> None:
        """`channel(peer, address)` opens a channel to a peer (default: plaintext); a node whose peers
        speak mutual TLS passes `tls_channel_factory` of its own certificate, so the check presents the
        same credentials as its peer calls and verifies that the answer comes from that peer."""
        self.servicer = servicer
        self.name = name
        self.peers = needed_peers(topology, name)
        self.period_s, self.retry_s, self.check_timeout_s = period_s, retry_s, check_timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._channels: dict[str, grpc.Channel] = {}
        self._open = channel or (lambda peer, address: grpc.insecure_channel(address, options=_CHANNEL_OPTIONS))
        #: Peers that did not answer in the last round (name -> reason); empty while ready.
        self.unreachable: dict[str, str] = {}
        self.ready = False
        servicer.set(READY_SERVICE, _NOT_SERVING)

    def _check(self, peer: str) -> str | None:
        """None when `peer` answers SERVING, else why not."""
        ch = self._channels.get(peer)
        if ch is None:
            ch = self._channels[peer] = self._open(peer, self.peers[peer])
        try:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""),
                                                        timeout=self.check_timeout_s)
        except grpc.RpcError as exc:
            return f"{exc.code().name}"
        return None if resp.status == _SERVING else health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

    def check_once(self) -> bool:
        """One round over every needed peer (concurrently); update the health status; return readiness."""
        if self.peers:
            with futures.ThreadPoolExecutor(min(8, len(self.peers)), thread_name_prefix=f"{self.name}-ready") as ex:
                results = dict(zip(self.peers, ex.map(self._check, self.peers), strict=True))
        else:
            results = {}
        unreachable = {p: why for p, why in results.items() if why is not None}
        ready = not unreachable
        if ready != self.ready or unreachable.keys() != self.unreachable.keys():
            if ready:
                log.info("node %s ready: all %d linked peers reachable", self.name, len(self.peers))
            else:
                log.warning("node %s not ready: unreachable peers %s", self.name,
                            ", ".join(f"{p} ({w})" for p, w in sorted(unreachable.items())))
        self.unreachable, self.ready = unreachable, ready
        if not self._stop.is_set():
            self.servicer.set(READY_SERVICE, _SERVING if ready else _NOT_SERVING)
        return ready

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ready = self.check_once()
            except Exception:  # a failed round must not end readiness checking
                log.exception("node %s: readiness check failed", self.name)
                ready = False
            self._stop.wait(self.period_s if ready else self.retry_s)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"{self.name}-readiness", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # the thread ends after its current round (a check in flight is cancelled below)
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()


__all__ = ["READY_SERVICE", "Readiness", "needed_peers", "tls_channel_factory"]
