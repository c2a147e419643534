"""Key delivery to applications (KeyDeliveryService, in the spirit of ETSI GS QKD 014) and the node's
key store.

Each node process has one `KeyStore` (`key_store(core)`), filled by the QKD roles
(`qemu_net.node.roles_qkd`) when a session succeeds. Applications then use the public
KeyDeliveryService:

1. the *master* application calls ``GetKeys(peer, number, size_bits, slave_id)`` at its node. The node
   cuts the keys (marking the bits used) and sends the *reservations* -- key id, session id, bit offset
   and size, the master's and the slave's identity; no key material -- to the peer's node on the
   reserved classical channel `RESERVATION_CHANNEL`. The peer's node applies them *on arrival* (cutting
   the same bits there) and answers only then; a reservation whose bits the peer already used (its own
   master cut them) is refused, and the master then gets an error instead of keys;
2. the *slave* application calls ``GetKeysWithIds(peer, ids)`` at the peer's node, which returns each
   key once.

Who may take keys (the trust boundary):

- **Applications on the link.** Every caller is identified by its certificate
  (`qemu_net.security.identity.caller_identity`). A link's ``key_consumers`` in the topology lists the
  application identities allowed to take its keys at either end; another caller gets PERMISSION_DENIED.
  Without a list any application identity may (node identities never: nodes are not applications).
  **Plaintext:** a caller without a certificate (a network started ``--insecure``) is refused on a link
  that has a list (nothing can be checked), and allowed on one without (the network is configured
  insecure; anyone who reaches the port gets keys -- for labs only).
- **Once to one master, once to its slave.** A key id is handed out once by the master's node (fresh
  UUID, bits marked used) and once by the slave's node (then forgotten); a reservation naming a slave is
  delivered only to that identity. Two masters at the two ends can never get the same bits: each node
  marks bits used *before* it sends their reservation and the receiving node refuses bits it already
  used, so of two crossing cuts at least one is refused (each end cuts from the other side of the pool,
  so this happens only when a pool runs dry).
- **Only the peer node reserves.** Reservations are accepted only from the node at the link's other
  end (the classical channel's sender; with mutual TLS that is the peer's certificate name), and are
  parsed strictly (`qemu_net.qkd.keystore.reservations_from_json`: a malformed one is INVALID_ARGUMENT).
- **Key bytes are wiped.** Bits cut for a key are overwritten in the pool at once; the key's own buffer
  (a `bytearray`) is overwritten with zeros as soon as the response message holds its copy. Nothing here
  logs key bytes.

If the forwarding fails the master gets an error and the cut bits are never used (they are safe to drop,
never safe to reuse). The key store refuses keys of a failed or aborted session.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref

import grpc

from qemu_net._proto.v1 import keys_pb2 as k
from qemu_net._proto.v1 import keys_pb2_grpc as kg
from qemu_net.errors import InvalidOperation, PermissionDenied
from qemu_net.node.core import NodeCore
from qemu_net.node.mailbox import Message
from qemu_net.node.servicers import rpc
from qemu_net.qkd.keystore import (
    MAX_KEY_SIZE_BITS,
    MAX_KEYS_PER_REQUEST,
    MIN_KEY_SIZE_BITS,
    DeliveredKey,
    KeyReservation,
    KeyStore,
    reservations_from_json,
    reservations_to_json,
)
from qemu_net.security.identity import caller_identity

log = logging.getLogger("qemu_net.node.keys")

#: The classical channel on which a node tells its peer which key bits it handed to an application.
RESERVATION_CHANNEL = "_qnet/qkd/key-reservations"
DEFAULT_KEY_SIZE_BITS = 256
#: Reservations kept for sessions not stored here yet (beyond: refused, the master gets an error).
MAX_DEFERRED = 100_000


class NodeKeys:
    """One node's key store, who may use it, and the reservations it could not apply yet."""

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        # QNET_KEY_STORE_DIR: keep the key pools on the node's volume (one subdirectory per node).
        base = os.environ.get("QNET_KEY_STORE_DIR")
        self.store = KeyStore(core.name, os.path.join(base, core.name) if base else None)
        self._drain_lock = threading.Lock()
        #: Reservations for a session this node has not stored yet (its role is still finishing).
        self._deferred: dict[str, list[KeyReservation]] = {}
        #: (peer, key id) -> the slave identity alone allowed to fetch it ("" = any the link admits).
        self._slaves: dict[tuple[str, str], str] = {}
        core.channel_handlers[RESERVATION_CHANNEL] = self.on_reservations

    def _check_peer(self, peer: str) -> None:
        if not peer:
            raise InvalidOperation("name the peer node the keys are shared with")
        if peer == self.core.name:
            raise InvalidOperation(f"{self.core.name} shares no key with itself")
        self.core.topology.require_node(peer)

    def authorize(self, caller: str | None, peer: str) -> None:
        """Refuse (PermissionDenied) a caller the topology does not admit to the keys of link (this, peer)."""
        link = self.core.topology.link(self.core.name, peer)
        allowed = None if link is None else link.key_consumers
        where = f"link {self.core.name}-{peer}"
        if caller is not None and caller in self.core.topology.node_names:
            raise PermissionDenied(f"{caller!r} is a node, not an application: it takes no keys of {where}")
        if allowed is None:
            return
        if caller is None:
            raise PermissionDenied(f"the keys of {where} are for {', '.join(allowed)} only, and this caller "
                                   "presented no certificate")
        if caller not in allowed:
            raise PermissionDenied(f"application {caller!r} is not allowed the keys of {where} "
                                   f"(topology links: key_consumers)")

    # ------------------------------------------------------------------------------ master
    def get_keys(self, peer: str, number: int, size_bits: int, *, caller: str | None = None,
                 slave: str = "") -> list[DeliveredKey]:
        self.core.check_serving()
        self._check_peer(peer)
        self.authorize(caller, peer)
        if slave:
            self.authorize(slave, peer)
        with self._drain_lock:
            self._apply_deferred(peer)  # bits the peer's masters took must not be cut here again
            keys = self.store.get_keys(peer, number, size_bits)
        try:
            items = [KeyReservation(r.key_id, r.session_id, r.offset_bits, r.size_bits, caller or "", slave)
                     for r in self.store.reservations(peer, [key.key_id for key in keys])]
            # The peer applies them on arrival; only then does the application see the keys.
            self.core.send_classical(peer, RESERVATION_CHANNEL, reservations_to_json(items))
        except BaseException:
            for key in keys:
                key.wipe()
            raise
        return keys

    # ------------------------------------------------------------------------------- slave
    def on_reservations(self, msg: Message) -> None:
        """The peer's node reserved keys (a peer handler): cut the same bits now, or refuse."""
        peer = msg.sender
        if peer == self.core.name or self.core.topology.link(self.core.name, peer) is None:
            raise PermissionDenied(f"key reservations come only from a node at the other end of a QKD link of "
                                   f"{self.core.name}; {peer!r} is not one")
        items = reservations_from_json(msg.payload)
        with self._drain_lock:
            self._apply_deferred(peer)
            ready = [r for r in items if self.store.has_session(peer, r.session_id)]
            later = [r for r in items if not self.store.has_session(peer, r.session_id)]
            if later:  # the session's key is not stored here yet (its role is still finishing)
                waiting = self._deferred.setdefault(peer, [])
                if len(waiting) + len(later) > MAX_DEFERRED:
                    raise InvalidOperation(f"too many key reservations from {peer} wait for their session")
            if ready:
                self.store.accept_reservations(peer, ready)  # refuses bits already used here
            if later:
                self._deferred[peer].extend(later)
            for r in items:
                self._slaves[(peer, r.key_id)] = r.slave

    def _apply_deferred(self, peer: str) -> None:
        """Apply the reservations whose session is stored by now (drain lock held)."""
        waiting = self._deferred.get(peer)
        if not waiting:
            return
        ready = [r for r in waiting if self.store.has_session(peer, r.session_id)]
        if not ready:
            return
        self._deferred[peer] = [r for r in waiting if not self.store.has_session(peer, r.session_id)]
        for r in ready:
            try:
                self.store.accept_reservations(peer, [r])
            except InvalidOperation as exc:
                log.warning("dropping a key reservation from %s: %s", peer, exc)

    def drain(self, peer: str) -> None:
        """Apply every reservation whose session is stored by now."""
        with self._drain_lock:
            self._apply_deferred(peer)

    def get_keys_with_ids(self, peer: str, key_ids: list[str], *, caller: str | None = None) -> list[DeliveredKey]:
        self.core.check_serving()
        self._check_peer(peer)
        self.authorize(caller, peer)
        with self._drain_lock:
            self._apply_deferred(peer)
            for kid in key_ids:
                slave = self._slaves.get((peer, kid), "")
                if slave and caller != slave:
                    raise PermissionDenied(f"key {kid} is for application {slave!r} only")
            keys = self.store.get_keys_with_ids(peer, key_ids)
            for kid in key_ids:
                self._slaves.pop((peer, kid), None)
        return keys

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
    """The response (which holds its own copy of the bytes); our buffers are wiped right after."""
    try:
        return k.KeyContainer(keys=[k.Key(key_id=d.key_id, size_bits=d.size_bits, key=bytes(d.key)) for d in keys])
    finally:
        for d in keys:
            d.wipe()


class KeyDeliveryServicer(kg.KeyDeliveryServiceServicer):
    """Thin servicer over `NodeKeys`: decode, call, encode; errors map to statuses in `rpc`."""

    SERVICE = "KeyDeliveryService"

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        self.keys = node_keys(core)

    @rpc
    def GetStatus(self, request: k.KeyStatusRequest, context: grpc.ServicerContext) -> k.KeyStatus:
        return self.keys.status(request.peer)

    @rpc
    def GetKeys(self, request: k.GetKeysRequest, context: grpc.ServicerContext) -> k.KeyContainer:
        got = self.keys.get_keys(request.peer, request.number or 1, request.size_bits or DEFAULT_KEY_SIZE_BITS,
                                 caller=caller_identity(context), slave=request.slave_id)
        return _keys_to_proto(got)

    @rpc
    def GetKeysWithIds(self, request: k.GetKeysWithIdsRequest, context: grpc.ServicerContext) -> k.KeyContainer:
        return _keys_to_proto(self.keys.get_keys_with_ids(request.peer, list(request.key_ids),
                                                          caller=caller_identity(context)))


KEY_SERVICE = k.DESCRIPTOR.services_by_name["KeyDeliveryService"].full_name

__all__ = ["KEY_SERVICE", "RESERVATION_CHANNEL", "KeyDeliveryServicer", "NodeKeys", "key_store", "node_keys"]
