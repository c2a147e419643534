"""The node process: gRPC servers for the public NodeService and the internal PeerService.

The public service (NodeService, key delivery, the standard health service and reflection) listens on
the node's ``address``; the PeerService (plus health and reflection) listens on ``peer_address`` (by
default the port after the public one), on its own server and thread pool, so node-to-node traffic is
never starved by protocol roles that wait for messages, and so a Kubernetes NetworkPolicy can admit
only nodes to it. Each port's reflection lists only what that port serves.

With TLS credentials (``tls=``, `qemu_net.security.tls`) both ports require a client certificate signed
by the network CA; the peer port further accepts only node certificates and checks every call against
the caller's name (`qemu_net.security.peer_auth`). An optional plaintext probe port serves nothing but
the health service, for Kubernetes' built-in gRPC probes (which cannot speak TLS).

SIGTERM drains: health turns NOT_SERVING, new work is refused with UNAVAILABLE ("shutting down"),
in-flight calls get a grace period, then the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from qemu_net._proto.v1 import keys_pb2_grpc, netqasm_pb2, node_pb2, node_pb2_grpc, peer_pb2, peer_pb2_grpc
from qemu_net.kme import RunningKme, start_kme_from_env
from qemu_net.netqasm.servicer import add_to_server as add_netqasm
from qemu_net.network.topology import Topology
from qemu_net.node.core import NodeCore
from qemu_net.node.faults import FaultPlan, delayed_peers, log_plan, plan_from_env, stall_interceptors
from qemu_net.node.key_delivery import KEY_SERVICE, KeyDeliveryServicer
from qemu_net.node.limits import GuardedServer, Limits, cap_malloc_arenas
from qemu_net.node.peers import GrpcPeers
from qemu_net.node.readiness import Readiness, tls_channel_factory
from qemu_net.node.roles import run_protocol
from qemu_net.node.servicers import NodeServicer, PeerServicer
from qemu_net.node.sessions_service import SESSION_SERVICE, add_session_service
from qemu_net.observability import tracing
from qemu_net.security.peer_auth import PeerAuthorizer
from qemu_net.security.tls import TlsCredentials, server_credentials

log = logging.getLogger("qemu_net.node")

SERVER_OPTIONS = [("grpc.so_reuseport", 0)]  # plus the message-size limits (qemu_net.node.limits)
NODE_SERVICE = node_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name
PEER_SERVICE = peer_pb2.DESCRIPTOR.services_by_name["PeerService"].full_name
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
NETQASM_SERVICE = netqasm_pb2.DESCRIPTOR.services_by_name["NetQasmService"].full_name
# The generated (unannotated) registration functions, typed.
_add_node_service: Callable[[node_pb2_grpc.NodeServiceServicer, grpc.Server], None] = (
    node_pb2_grpc.add_NodeServiceServicer_to_server)
_add_key_delivery: Callable[[keys_pb2_grpc.KeyDeliveryServiceServicer, grpc.Server], None] = (
    keys_pb2_grpc.add_KeyDeliveryServiceServicer_to_server)
_add_peer_service: Callable[[peer_pb2_grpc.PeerServiceServicer, grpc.Server], None] = (
    peer_pb2_grpc.add_PeerServiceServicer_to_server)
#: Worker threads: roles may block on messages, so the public pool is larger than the core count.
PUBLIC_WORKERS = 48
PEER_WORKERS = 32


def default_peer_address(address: str) -> str:
    """A node without a ``peer_address`` serves PeerService on the port after its public one."""
    host, _, port = address.rpartition(":")
    return f"{host}:{int(port) + 1}" if host and port.isdigit() else ""


def peer_addresses(topology: Topology) -> dict[str, str]:
    out = {n.name: n.peer_address or default_peer_address(n.address) for n in topology.nodes}
    return {k: v for k, v in out.items() if v}


@dataclass
class BoundPorts:
    port: int
    peer_port: int
    #: The plaintext health-only port (0: none).
    probe_port: int = 0


def _host(listen: str) -> str:
    return listen.rsplit(":", 1)[0] if ":" in listen else listen


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
        tls: TlsCredentials | None = None,
        probe_listen: str | None = None,
    ) -> None:
        self.topology = topology
        self.name = name
        self.grace_s = grace_s
        #: Injected faults (qemu_net.node.faults): the given plan, else $QNET_FAULTS; None: nothing is wrapped.
        self.faults = faults if faults is not None else plan_from_env()
        #: Hard limits (qemu_net.node.limits): the topology's overrides, then $QNET_LIMIT_*.
        self.limits = Limits.resolve(topology.limits)
        cap_malloc_arenas()  # large messages' buffers are reused rather than kept per thread (limits.py)
        options = [*SERVER_OPTIONS, *self.limits.grpc_options()]
        log_plan(self.faults, name)
        #: This node's certificate (None: plaintext, nothing authenticated; see qemu_net.security).
        self.tls = tls
        self.peers = GrpcPeers(name, peer_addresses(topology), tls=tls)
        self.core = NodeCore(topology, name, peers=delayed_peers(self.peers, self.faults, name), seed=seed,
                             allow_inspect=allow_inspect)
        self.core.authenticated = tls is not None
        self.core.mailbox.max_queued = self.limits.max_queued_messages
        self.core.mailbox.max_queued_bytes = self.limits.max_queued_classical_bytes
        self.peers.on_peer_gone = self.core.peer_gone  # state held for a dead peer is reclaimed
        stall = stall_interceptors(self.faults, name, (NODE_SERVICE, PEER_SERVICE)) or None
        self.health = health.HealthServicer()
        self._stopped = threading.Event()
        self.kme: RunningKme | None = None
        # Tracing (OTEL_TRACES_EXPORTER): off by default, and then no interceptor is installed at all.
        # The decode guard wraps each handler once, as it is registered (`GuardedServer`), so it is
        # innermost and costs nothing per call beyond the wrapped handler. PeerService only on the peer port,
        # NodeService / key delivery only on the public port; with TLS both require a certificate of the
        # network CA, and peer calls are checked against its name.
        interceptors = [*(tracing.server_interceptors() if tracing.setup_node(name) else []), *(stall or [])]
        self._public = grpc.server(
            futures.ThreadPoolExecutor(self.limits.public_workers, thread_name_prefix=f"{name}-rpc"),
            options=options, interceptors=interceptors)
        public: Any = GuardedServer(self._public)
        _add_node_service(
            NodeServicer(self.core, lambda req, timeout: run_protocol(self.core, req, timeout), self.limits),
            public,
        )
        _add_key_delivery(KeyDeliveryServicer(self.core), public)
        add_netqasm(self.core, public)  # NetQASM applications (qemu_net/netqasm)
        add_session_service(self.core, public)  # client sessions and their leases
        health_pb2_grpc.add_HealthServicer_to_server(self.health, public)
        reflection.enable_server_reflection((NODE_SERVICE, KEY_SERVICE, SESSION_SERVICE, NETQASM_SERVICE,
                                             HEALTH_SERVICE, reflection.SERVICE_NAME), public)
        port = self._bind(self._public, listen, "public")
        self._peer = grpc.server(futures.ThreadPoolExecutor(PEER_WORKERS, thread_name_prefix=f"{name}-peer"),
                                 options=options, interceptors=interceptors)
        peer: Any = GuardedServer(self._peer)
        auth = PeerAuthorizer.for_topology(topology, name, required=tls is not None)
        _add_peer_service(PeerServicer(self.core, auth, self.limits), peer)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, peer)
        reflection.enable_server_reflection((PEER_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME), peer)
        peer_port = self._bind(self._peer, peer_listen or f"{_host(listen)}:0", "peer")
        # Kubernetes' built-in gRPC probes speak plaintext: a port serving nothing but the health service.
        self._probe: grpc.Server | None = None
        probe = 0
        if probe_listen:
            self._probe = grpc.server(futures.ThreadPoolExecutor(2, thread_name_prefix=f"{name}-probe"),
                                      options=[("grpc.so_reuseport", 0)])
            health_pb2_grpc.add_HealthServicer_to_server(self.health, self._probe)
            probe = self._probe.add_insecure_port(probe_listen)
            if probe == 0:
                raise OSError(f"node {name}: cannot listen on {probe_listen} (probe port)")
        self.ports = BoundPorts(port, peer_port, probe)
        for svc in ("", NODE_SERVICE, PEER_SERVICE):
            self.health.set(svc, health_pb2.HealthCheckResponse.NOT_SERVING)
        # "qemu_net.ready": linked peers reachable, asked over the same mutual TLS as peer calls.
        self.readiness = Readiness(self.health, topology, name,
                                   channel=tls_channel_factory(tls) if tls is not None else None)

    def _bind(self, server: grpc.Server, listen: str, what: str) -> int:
        if self.tls is not None:
            port = server.add_secure_port(listen, server_credentials(self.tls))
        else:
            port = server.add_insecure_port(listen)
        if port == 0:
            raise OSError(f"node {self.name}: cannot listen on {listen} ({what} port)")
        return port

    def start(self) -> BoundPorts:
        self._public.start()
        self._peer.start()
        if self._probe is not None:
            self._probe.start()
        self.kme = start_kme_from_env(self.core)  # the ETSI 014 key manager, when QNET_KME_* configures one
        return self.ports

    def set_peer_addresses(self, addresses: dict[str, str]) -> None:
        self.peers.set_addresses(addresses)

    def mark_serving(self) -> None:
        for svc in ("", NODE_SERVICE, PEER_SERVICE):
            self.health.set(svc, health_pb2.HealthCheckResponse.SERVING)
        # Tell the neighbours which incarnation serves now (a restart makes them drop what the old one held).
        threading.Thread(target=self.core.announce_incarnation, name="qnet-announce", daemon=True).start()
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
        done = [self._public.stop(self.grace_s), self._peer.stop(self.grace_s)]
        if self._probe is not None:
            done.append(self._probe.stop(self.grace_s))
        for ev in done:
            ev.wait(self.grace_s + 1)
        self.peers.close()
        tracing.shutdown()
        self._stopped.set()

    def install_signal_handlers(self) -> None:
        def on_term(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.drain_and_stop, name="drain", daemon=True).start()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)
