"""In-process nodes for key-delivery tests: real NodeCores and KeyDeliveryServicers, peer calls made
directly (a node-to-node delivery raises the receiving node's error at the sender, as over gRPC), and a
servicer context whose caller presents a certificate name (or none: plaintext)."""

from __future__ import annotations

import grpc
import numpy as np

from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net.errors import QnetError
from qemu_net.network.topology import parse_topology
from qemu_net.node.core import NodeCore
from qemu_net.node.key_delivery import KeyDeliveryServicer, node_keys
from qemu_net._serde.status import status_for


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code


class Ctx:
    """A servicer context; `identity` is the caller's certificate name (None: plaintext)."""

    def __init__(self, identity: str | None) -> None:
        self.identity = identity

    def auth_context(self):  # noqa: ANN201
        if self.identity is None:
            return {}
        return {"transport_security_type": [b"ssl"], "x509_subject_alternative_name": [self.identity.encode()]}

    def invocation_metadata(self):  # noqa: ANN201
        return ()

    def time_remaining(self):  # noqa: ANN201
        return 10.0

    def set_trailing_metadata(self, md) -> None:  # noqa: ANN001
        pass

    def abort(self, code, details):  # noqa: ANN001, ANN201
        raise Aborted(code, details)


class LoopPeers:
    """Peer calls straight into the other in-process core, errors carried back as the domain error."""

    def __init__(self) -> None:
        self.cores: dict[str, NodeCore] = {}

    def deliver_classical(self, node, msg, attached=None, *, deadline):  # noqa: ANN001, ANN201
        self.cores[node].on_deliver_classical(msg, attached)

    def arrive(self, *a, **kw):  # noqa: ANN002, ANN003, ANN201
        return None


def make_pair(consumers: list[str] | None = ("sae-a", "sae-b", "sae-c"), *, bits: int = 4096, seed: int = 5):
    """alice -- bob with one QKD link (key_consumers: `consumers`) and a third node mallory linked only to
    alice; both ends of alice-bob hold the same `bits`-bit session key "s1". Returns (cores, servicers, key)."""
    link = {"nodes": ["alice", "bob"]}
    if consumers is not None:
        link["key_consumers"] = list(consumers)
    topo = parse_topology({"name": "keys", "nodes": ["alice", "bob", "mallory"],
                           "links": [link, ["alice", "mallory"]]})
    peers = LoopPeers()
    cores = {n: NodeCore(topo, n, peers=peers) for n in ("alice", "bob", "mallory")}
    peers.cores.update(cores)
    key = np.random.default_rng(seed).integers(0, 256, bits // 8, dtype=np.uint8).tobytes()
    node_keys(cores["alice"]).store.add_key("bob", "s1", key, bits)
    node_keys(cores["bob"]).store.add_key("alice", "s1", key, bits)
    servicers = {n: KeyDeliveryServicer(c) for n, c in cores.items()}
    return cores, servicers, key


def get_keys(servicer, identity, peer, number=1, size_bits=256, slave=""):  # noqa: ANN001, ANN201
    return servicer.GetKeys(k.GetKeysRequest(peer=peer, number=number, size_bits=size_bits, slave_id=slave),
                            Ctx(identity))


def get_keys_with_ids(servicer, identity, peer, ids):  # noqa: ANN001, ANN201
    return servicer.GetKeysWithIds(k.GetKeysWithIdsRequest(peer=peer, key_ids=list(ids)), Ctx(identity))


def code_of(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, Aborted):
        return exc.code
    assert isinstance(exc, QnetError), exc
    return status_for(exc)
