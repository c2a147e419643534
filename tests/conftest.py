"""Shared fixtures: real node processes started with the local launcher."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from qemu_net.client import LocalNetwork, Network
from qemu_net.network.topology import Topology


@contextlib.contextmanager
def running(topology: Topology, *, allow_inspect: bool = True) -> Iterator[tuple[LocalNetwork, Network]]:
    """Start every node of `topology` as its own process; yield the launcher and a connected client."""
    local = LocalNetwork.start(topology, allow_inspect=allow_inspect)
    try:
        with Network.connect(local.topology, timeout_s=30) as net:
            yield local, net
    finally:
        local.stop()


@pytest.fixture
def start_network():
    """Factory fixture: `local, net = start_network(topology)`; everything is stopped after the test."""
    stack = contextlib.ExitStack()

    def start(topology: Topology, *, allow_inspect: bool = True) -> tuple[LocalNetwork, Network]:
        return stack.enter_context(running(topology, allow_inspect=allow_inspect))

    with stack:
        yield start
