"""The fuzzed network and the channel credentials the fuzzer sends with.

`fuzz_credentials` is parametrised by what the network under test offers: a plaintext network is fuzzed
over plaintext channels; a network whose launcher hands out client credentials (a ``client_credentials()``
method returning ``grpc.ChannelCredentials``) is fuzzed twice, once with those valid credentials and once
with none (a plaintext channel to its TLS ports, which must be refused and must not hurt the node).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest

from qemu_net.client import Network
from qemu_net.node.launcher import LocalNetwork
from qemu_net.network.topology import Topology, parse_topology
from qemu_net.node.limits import MiB

FUZZ_TOPOLOGY = parse_topology({
    "name": "fuzz",
    "seed": 7,
    "nodes": [{"name": "alice", "memory_qubits": 512}, {"name": "bob", "memory_qubits": 512},
              {"name": "carol", "memory_qubits": 512}],
    "links": [["alice", "bob"], ["bob", "carol"]],
    # Unread classical messages (e.g. of fuzzed sessions nobody finishes) are bounded by this per node.
    "limits": {"max_queued_classical_bytes": 32 * MiB},
})

CHANNEL_OPTIONS = [("grpc.max_receive_message_length", 80 * MiB), ("grpc.max_send_message_length", 80 * MiB)]


@dataclass
class FuzzNet:
    local: LocalNetwork
    net: Network
    topology: Topology


@pytest.fixture(scope="module")
def fuzz_net() -> Iterator[FuzzNet]:
    local = LocalNetwork.start(FUZZ_TOPOLOGY, allow_inspect=True)
    try:
        with Network.connect(local.topology, timeout_s=30) as net:
            yield FuzzNet(local, net, local.topology)
    finally:
        local.stop()


@dataclass(frozen=True)
class Credentials:
    """How the fuzzer opens channels: `name` for the report, `open(address, node, peer)` for a channel to
    `node`'s public (or peer) port."""

    name: str
    open: Callable[[str, str, bool], grpc.Channel]
    #: Whether the nodes are expected to serve these calls (False: they must refuse them at the handshake).
    accepted: bool = True


def _plaintext(address: str, node: str, peer: bool) -> grpc.Channel:  # noqa: ARG001 - the same for every port
    return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)


def valid_credentials(local: LocalNetwork) -> Credentials:
    """The network's own credentials (`tests.security.limits_support.channel`): plaintext on a plaintext
    network; on a TLS network the ``client`` certificate on public ports and a node's on peer ports."""
    from tests.security.limits_support import channel

    if getattr(local, "tls_dir", None) is None:
        return Credentials("plaintext", _plaintext)
    return Credentials("tls-valid", lambda address, node, peer: channel(local, node, peer=peer))


@pytest.fixture(params=["valid", "none"])
def fuzz_credentials(request, fuzz_net: FuzzNet) -> Credentials:
    valid = valid_credentials(fuzz_net.local)
    if request.param == "valid":
        return valid
    if valid.name == "plaintext":
        pytest.skip("the network serves plaintext: fuzzing without credentials is the variant above")
    return Credentials("none", _plaintext, accepted=False)
