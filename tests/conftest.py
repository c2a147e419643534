"""Shared fixtures: real node processes started with the local launcher.

Networks run with mutual TLS by default (certificates in a temporary directory, the SDK connecting
with the ``client`` certificate), so the whole suite exercises TLS; ``tls=False`` (or the environment
variable ``QNET_TEST_TLS=0``) starts plaintext nodes instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import grpc
import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.network.topology import Topology

#: Whether test networks use TLS unless a test says otherwise.
TLS_DEFAULT = os.environ.get("QNET_TEST_TLS", "1") != "0"


@contextlib.contextmanager
def running(topology: Topology, *, allow_inspect: bool = True,
            tls: bool | None = None) -> Iterator[tuple[LocalNetwork, Network]]:
    """Start every node of `topology` as its own process; yield the launcher and a connected client."""
    local = LocalNetwork.start(topology, allow_inspect=allow_inspect, tls=TLS_DEFAULT if tls is None else tls)
    try:
        with Network.connect(local.topology, timeout_s=30) as net:
            yield local, net
    finally:
        local.stop()


def node_channel(local: LocalNetwork, node: str, *, peer: bool = False, identity: str | None = None,
                 as_node: str | None = None) -> grpc.Channel:
    """A raw channel to `node`'s public (or ``peer=True``: peer) port with the network's credentials: the
    ``client`` certificate, application `identity`, or node `as_node`'s certificate; plaintext on a
    plaintext network."""
    from qemu_net.client.credentials import open_channel
    from qemu_net.security.tls import load_credentials

    addr = str(local.nodes[node]["peer_address" if peer else "address"])
    creds = None
    if local.tls_dir is not None:
        creds = (load_credentials(local.tls_dir, node=as_node) if as_node
                 else load_credentials(local.tls_dir, app=identity))
    return open_channel(addr, node, creds, [])


@pytest.fixture
def start_network():
    """Factory fixture: `local, net = start_network(topology)`; everything is stopped after the test."""
    stack = contextlib.ExitStack()

    def start(topology: Topology, *, allow_inspect: bool = True, tls: bool | None = None) -> tuple[LocalNetwork, Network]:
        return stack.enter_context(running(topology, allow_inspect=allow_inspect, tls=tls))

    with stack:
        yield start
