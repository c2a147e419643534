"""The node process: gRPC servers for the public NodeService and the internal PeerService.

The public service (plus the standard health service and reflection) listens on the node's
``address``; the PeerService listens on ``peer_address`` when one is given, on its own server and
thread pool, so node-to-node traffic is never starved by protocol roles that wait for messages, and so
a Kubernetes NetworkPolicy can admit only nodes to it. Without a peer address both services share one
server.

SIGTERM drains: health turns NOT_SERVING, new work is refused with UNAVAILABLE ("shutting down"),
in-flight calls get a grace period, then the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from qemu_net._proto.v1 import keys_pb2_grpc, node_pb2, node_pb2_grpc, peer_pb2, peer_pb2_grpc
from qemu_net.kme import RunningKme, start_kme_from_env
from qemu_net.network.topology import Topology
from qemu_net.node.core import NodeCore
from qemu_net.node.faults import FaultPlan, delayed_peers, log_plan, plan_from_env, stall_interceptors
from qemu_net.node.key_delivery import KEY_SERVICE, KeyDeliveryServicer
from qemu_net.node.peers import GrpcPeers
from qemu_net.node.readiness import Readiness
from qemu_net.node.roles import run_protocol
from qemu_net.node.servicers import NodeServicer, PeerServicer
from qemu_net.observability import tracing

log = logging.getLogger("qemu_net.node")

SERVER_OPTIONS = [
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
]
NODE_SERVICE = node_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name
PEER_SERVICE = peer_pb2.DESCRIPTOR.services_by_name["PeerService"].full_name
#: Worker threads: roles may block on messages, so the public pool is larger than the core count.
PUBLIC_WORKERS = 48
PEER_WORKERS = 32


def peer_addresses(topology: Topology) -> dict[str, str]:
    return {n.name: n.peer_address or n.address for n in topology.nodes if n.peer_address or n.address}


@dataclass
class BoundPorts:
    port: int
    peer_port: int


class NodeServer:
    """One node: its core, its servers, its health status."""

    def __init__(
        self,
        topology: Topology,
        name: str,
        *,
        listen: str,
        peer_listen: str | None = None,
        allow_inspect: bool = False,
        seed: int | None = None,
        grace_s: float = 5.0,
        faults: FaultPlan | None = None,
    ) -> None:
        self.topology = topology
        self.name = name
        self.grace_s = grace_s
        #: Injected faults (qemu_net.node.faults): the given plan, else $QNET_FAULTS; None: nothing is wrapped.
        self.faults = faults if faults is not None else plan_from_env()
        log_plan(self.faults, name)
        self.peers = GrpcPeers(name, peer_addresses(topology))
        self.core = NodeCore(topology, name, peers=delayed_peers(self.peers, self.faults, name), seed=seed,
                             allow_inspect=allow_inspect)
        self.peers.on_peer_gone = self.core.peer_gone  # state held for a dead peer is reclaimed
        stall = stall_interceptors(self.faults, name, (NODE_SERVICE, PEER_SERVICE)) or None
        self.health = health.HealthServicer()
        self._stopped = threading.Event()
        self.kme: RunningKme | None = None
        # Tracing (OTEL_TRACES_EXPORTER): off by default, and then no interceptor is installed at all.
        interceptors = [*(tracing.server_interceptors() if tracing.setup_node(name) else []), *(stall or [])] or None
        self._public = grpc.server(futures.ThreadPoolExecutor(PUBLIC_WORKERS, thread_name_prefix=f"{name}-rpc"),
                                   options=SERVER_OPTIONS, interceptors=interceptors)
        node_pb2_grpc.add_NodeServiceServicer_to_server(
            NodeServicer(self.core, lambda req, timeout: run_protocol(self.core, req, timeout)), self._public
        )
        keys_pb2_grpc.add_KeyDeliveryServiceServicer_to_server(KeyDeliveryServicer(self.core), self._public)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._public)
        reflection.enable_server_reflection(
            (NODE_SERVICE, PEER_SERVICE, KEY_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME),
            self._public,
        )
        port = self._public.add_insecure_port(listen)
        if port == 0:
            raise OSError(f"node {name}: cannot listen on {listen}")
        if peer_listen:
            self._peer = grpc.server(futures.ThreadPoolExecutor(PEER_WORKERS, thread_name_prefix=f"{name}-peer"),
                                     options=SERVER_OPTIONS, interceptors=interceptors)
            peer_pb2_grpc.add_PeerServiceServicer_to_server(PeerServicer(self.core), self._peer)
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._peer)
            peer_port = self._peer.add_insecure_port(peer_listen)
            if peer_port == 0:
                raise OSError(f"node {name}: cannot listen on {peer_listen}")
        else:
            self._peer = None
            peer_pb2_grpc.add_PeerServiceServicer_to_server(PeerServicer(self.core), self._public)
            peer_port = port
        self.ports = BoundPorts(port, peer_port)
        for svc in ("", NODE_SERVICE, PEER_SERVICE):
            self.health.set(svc, health_pb2.HealthCheckResponse.NOT_SERVING)
        self.readiness = Readiness(self.health, topology, name)  # "qemu_net.ready": linked peers reachable

    def start(self) -> BoundPorts:
        self._public.start()
        if self._peer is not None:
            self._peer.start()
        self.kme = start_kme_from_env(self.core)  # the ETSI 014 key manager, when QNET_KME_* configures one
        return self.ports

    def set_peer_addresses(self, addresses: dict[str, str]) -> None:
        self.peers.set_addresses(addresses)

    def mark_serving(self) -> None:
        for svc in ("", NODE_SERVICE, PEER_SERVICE):
            self.health.set(svc, health_pb2.HealthCheckResponse.SERVING)
        self.readiness.start()

    def drain_and_stop(self) -> None:
        """Refuse new work, let in-flight calls finish within the grace period, stop."""
        if self._stopped.is_set():
            return
        log.info("node %s draining", self.name)
        if self.kme is not None:
            self.kme.stop()
        self.core.start_draining()
        self.readiness.stop()
        self.health.enter_graceful_shutdown()
        done = [self._public.stop(self.grace_s)]
        if self._peer is not None:
            done.append(self._peer.stop(self.grace_s))
        for ev in done:
            ev.wait(self.grace_s + 1)
        self.peers.close()
        tracing.shutdown()
        self._stopped.set()

    def install_signal_handlers(self) -> None:
        def on_term(signum, frame):  # noqa: ARG001
            threading.Thread(target=self.drain_and_stop, name="drain", daemon=True).start()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)
