"""Key delivery to applications (KeyDeliveryService, in the spirit of ETSI GS QKD 014) and the node's
key store.

Each node process has one `KeyStore` (`key_store(core)`), filled by the QKD roles
(`qemu_net.node.roles_qkd`) when a session succeeds. Applications then use the public
KeyDeliveryService:

1. the *master* application calls ``GetKeys(peer, number, size_bits)`` at its node. The node cuts the
   keys (marking the bits used), sends the *reservations* -- key id, session id, bit offset and size;
   no key material -- to the peer's node on the reserved classical channel `RESERVATION_CHANNEL`,
   and only once that message is queued at the peer does it answer with the key ids and keys;
2. the *slave* application calls ``GetKeysWithIds(peer, ids)`` at the peer's node. That node first
   applies the reservations waiting on the channel (cutting the same bits), then returns the keys.

Because the classical channel delivers exactly once and in order, and the master's node answers only
after the peer's node queued the reservation, a slave that asks after the master got its keys always
finds them. If the forwarding fails the master gets an error and the cut bits are never used (they are
safe to drop, never safe to reuse). The key store refuses keys of a failed or aborted session, and
nothing here logs key bytes.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net._proto.v1 import keys_pb2_grpc as kg
from qemu_net.errors import InvalidOperation, ProtocolTimeout
from qemu_net.node.core import NodeCore
from qemu_net.node.servicers import rpc
from qemu_net.qkd.keystore import (
    DeliveredKey,
    MAX_KEY_SIZE_BITS,
    MAX_KEYS_PER_REQUEST,
    MIN_KEY_SIZE_BITS,
    KeyReservation,
    KeyStore,
    reservations_from_json,
    reservations_to_json,
)

log = logging.getLogger("qemu_net.node.keys")

#: The classical channel on which a node tells its peer which key bits it handed to an application.
RESERVATION_CHANNEL = "_qnet/qkd/key-reservations"
DEFAULT_KEY_SIZE_BITS = 256


class NodeKeys:
    """One node's key store plus the reservations it received but could not apply yet."""

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        # QNET_KEY_STORE_DIR: keep the key pools on the node's volume (one subdirectory per node).
        base = os.environ.get("QNET_KEY_STORE_DIR")
        self.store = KeyStore(core.name, os.path.join(base, core.name) if base else None)
        self._drain_lock = threading.Lock()
        #: Reservations for a session this node has not stored yet (its role is still finishing).
        self._deferred: dict[str, list[KeyReservation]] = {}

    def _check_peer(self, peer: str) -> None:
        if not peer:
            raise InvalidOperation("name the peer node the keys are shared with")
        if peer == self.core.name:
            raise InvalidOperation(f"{self.core.name} shares no key with itself")
        if peer not in self.core.topology.node_names:
            raise InvalidOperation(f"unknown node {peer!r}; nodes: {', '.join(self.core.topology.node_names)}")

    # ------------------------------------------------------------------------------ master
    def get_keys(self, peer: str, number: int, size_bits: int) -> list[DeliveredKey]:
        self.core.check_serving()
        self._check_peer(peer)
        keys = self.store.get_keys(peer, number, size_bits)
        items = self.store.reservations(peer, [key.key_id for key in keys])
        # Tell the peer before the application sees the keys: the slave may ask right away.
        self.core.send_classical(peer, RESERVATION_CHANNEL, reservations_to_json(items))
        return keys

    # ------------------------------------------------------------------------------- slave
    def drain(self, peer: str) -> None:
        """Apply every reservation the peer's node has sent (without waiting for more)."""
        with self._drain_lock:
            batches = [self._deferred.pop(peer, [])]
            while True:
                try:
                    msg = self.core.receive_classical(peer, RESERVATION_CHANNEL, 0.0)
                except ProtocolTimeout:
                    break
                try:
                    batches.append(reservations_from_json(msg.payload))
                except InvalidOperation as exc:
                    log.warning("dropping malformed key reservations from %s: %s", peer, exc)
            for items in batches:
                if not items:
                    continue
                try:
                    self.store.accept_reservations(peer, items)
                except InvalidOperation:
                    stored = self.store.status(peer)["stored_sessions"]
                    # Most likely the session's key is not stored here yet: keep them for the next call.
                    log.info("deferring %d key reservation(s) from %s (%d sessions stored)", len(items), peer, stored)
                    self._deferred.setdefault(peer, []).extend(items)

    def get_keys_with_ids(self, peer: str, key_ids: list[str]) -> list[DeliveredKey]:
        self.core.check_serving()
        self._check_peer(peer)
        self.drain(peer)
        return self.store.get_keys_with_ids(peer, key_ids)

    def status(self, peer: str) -> k.KeyStatus:
        self._check_peer(peer)
        self.drain(peer)
        st = self.store.status(peer)
        return k.KeyStatus(
            node=self.core.name, peer=peer, stored_bits=st["available_bits"], stored_sessions=st["stored_sessions"],
            stored_key_count=st["available_bits"] // DEFAULT_KEY_SIZE_BITS, default_key_size_bits=DEFAULT_KEY_SIZE_BITS,
            min_key_size_bits=MIN_KEY_SIZE_BITS, max_key_size_bits=MAX_KEY_SIZE_BITS,
            max_keys_per_request=MAX_KEYS_PER_REQUEST, pending_keys=st["pending_keys"],
        )


_NODE_KEYS: weakref.WeakKeyDictionary[NodeCore, NodeKeys] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def node_keys(core: NodeCore) -> NodeKeys:
    """The key store of the node process that owns `core` (created on first use)."""
    with _REGISTRY_LOCK:
        keys = _NODE_KEYS.get(core)
        if keys is None:
            keys = _NODE_KEYS[core] = NodeKeys(core)
        return keys


def key_store(core: NodeCore) -> KeyStore:
    return node_keys(core).store


def _keys_to_proto(keys: list[DeliveredKey]) -> k.KeyContainer:
    return k.KeyContainer(keys=[k.Key(key_id=d.key_id, size_bits=d.size_bits, key=d.key) for d in keys])


class KeyDeliveryServicer(kg.KeyDeliveryServiceServicer):
    """Thin servicer over `NodeKeys`: decode, call, encode; errors map to statuses in `rpc`."""

    SERVICE = "KeyDeliveryService"

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        self.keys = node_keys(core)

    @rpc
    def GetStatus(self, request, context):
        return self.keys.status(request.peer)

    @rpc
    def GetKeys(self, request, context):
        got = self.keys.get_keys(request.peer, request.number or 1, request.size_bits or DEFAULT_KEY_SIZE_BITS)
        return _keys_to_proto(got)

    @rpc
    def GetKeysWithIds(self, request, context):
        return _keys_to_proto(self.keys.get_keys_with_ids(request.peer, list(request.key_ids)))


KEY_SERVICE = k.DESCRIPTOR.services_by_name["KeyDeliveryService"].full_name

__all__ = ["KEY_SERVICE", "KeyDeliveryServicer", "NodeKeys", "RESERVATION_CHANNEL", "key_store", "node_keys"]
