"""The key manager (KME) of one node: ETSI GS QKD 014 semantics over the node's QKD key pools, with
trusted-node relay along a path of QKD links, and the background sessions that keep the pools full.

Runs inside the node process (`qemu_net.node.server` starts it when configured, see
`KmeConfig.from_env`). Applications (SAEs) are placed at nodes by `KmeConfig.saes` and identified by
their client certificate (`qemu_net.kme.http`). Three operations:

- ``status(caller, slave)``: the ETSI status of the pair (this KME, the slave's KME, key sizes, how
  many keys the first link's pool holds);
- ``enc_keys(caller, slave, number, size, additional_slaves)``: for each key a fresh random key K
  (``os.urandom``) is sent to every slave's node along the shortest path of QKD links
  (networkx): at every hop X -> Y it travels one-time-pad encrypted with link key bits cut from X's
  pool for Y (positions, never key bits, tell Y which bits: the same reservation mechanism as
  `qemu_net.node.key_delivery`); Y decrypts and re-encrypts for the next hop. The last node stores K
  for its SAE and acknowledges back along the path; only then are the keys handed to the master, so
  a key is given out only when both ends hold it. An empty pool on the way fails the request with
  `PoolEmpty` (HTTP 503) naming the link; link bits consumed by a failed relay are dropped, never
  reused. The route is returned in each key's ``key_extension`` (``{"route": [...]}``).
- ``dec_keys(caller, master, key_ids)``: the keys delivered for (master, caller) at this node, each
  once. A master may also read back, once, a key it was issued (what a one-certificate conformance
  probe such as ``qkdsec doctor`` does); ETSI 014 leaves that case open.

Trust model: every node on a relay path sees K in the clear (trusted nodes); the links are
authenticated by the node PKI. The ciphertext on each hop is information-theoretically secret given
the link key (one-time pad).

Key pools (`KeyPoolFiller`): for every QKD link the node whose name sorts first runs decoy-BB84
sessions with its neighbour in the background, Alice's role here and Bob's there (started with a
control message; both roles run in their own node processes over the classical channels), until the
pool holds ``pool_max_bits``. After each session it waits ``time_factor`` x the session's virtual
duration minus the wall time spent, so the pool fills at the physics' rate scaled to wall time.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from qemu_net.errors import InvalidOperation, KeysExhausted, ProtocolTimeout, QnetError
from qemu_net.node.context import CoreContext
from qemu_net.qkd import BB84Params, bb84_alice, bb84_bob
from qemu_net.qkd.keystore import MAX_KEY_SIZE_BITS, MIN_KEY_SIZE_BITS, KeyReservation

log = logging.getLogger("qemu_net.kme")

RELAY_CHANNEL = "_qnet/kme/relay"
CONTROL_CHANNEL = "_qnet/kme/control"
DEFAULT_KEY_SIZE = 256
MAX_KEYS_PER_REQUEST = 128
MAX_SAE_ID_COUNT = 4


class KmeError(QnetError):
    """An ETSI 014 request that cannot be served; ``status`` is the HTTP status."""

    status = 400


class BadRequest(KmeError):  # noqa: N818 - named for the HTTP status it maps to
    status = 400


class Unauthorized(KmeError):  # noqa: N818 - named for the HTTP status it maps to
    status = 401


class NotFound(KmeError):  # noqa: N818 - named for the HTTP status it maps to
    status = 404


class PoolEmpty(KmeError):  # noqa: N818 - named for the HTTP status it maps to
    """A link on the key's path has too little key (HTTP 503); the message names the link."""

    status = 503


@dataclass(frozen=True)
class KmeConfig:
    """Where the KME listens, its certificates, where applications sit, and the pool settings."""

    saes: dict[str, str]
    cert_dir: str
    host: str = "127.0.0.1"
    port: int = 0
    #: The KME writes ``<node>.json`` ({"address": "host:port"}) here once it listens (local runs).
    address_dir: str | None = None
    pool_max_bits: int = 1 << 20
    pool_session_pulses: int = 4_000_000
    pool_p_z: float = 0.6
    #: Wall seconds per virtual second of a session (1: real time; 0: as fast as the machine goes).
    time_factor: float = 0.0
    fill_pools: bool = True
    relay_timeout_s: float = 15.0
    #: Serve the pool metrics (Prometheus) on this port (None: off; 0: any free port).
    metrics_port: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> KmeConfig | None:
        """``QNET_KME_CERT_DIR`` (ca.pem, <node>.pem, <node>.key) turns the KME on; ``QNET_KME_SAES``
        (JSON ``{"sae_id": "node"}``, inline or a file path), ``QNET_KME_HOST``, ``QNET_KME_PORT``,
        ``QNET_KME_ADDRESS_DIR``, ``QNET_KEY_POOL_MAX_BITS``, ``QNET_KEY_POOL_PULSES``,
        ``QNET_KEY_POOL_TIME_FACTOR``, ``QNET_KEY_POOL_FILL`` (0 to off), ``QNET_KME_METRICS_PORT``
        configure it."""
        env = dict(os.environ if env is None else env)
        cert_dir = env.get("QNET_KME_CERT_DIR")
        if not cert_dir:
            return None
        if not os.path.exists(os.path.join(cert_dir, "ca.pem")):
            log.warning("KME off: no certificates in %s (ca.pem, <node>.pem, <node>.key)", cert_dir)
            return None
        raw = env.get("QNET_KME_SAES", "{}")
        if raw and not raw.lstrip().startswith("{"):
            if not os.path.exists(raw):
                log.warning("KME: no application placement file %s; no SAE is attached", raw)
                raw = "{}"
            else:
                with open(raw) as f:
                    raw = f.read()
        try:
            saes = {str(k): str(v) for k, v in json.loads(raw).items()}
        except (ValueError, AttributeError) as exc:
            raise InvalidOperation(f"QNET_KME_SAES: not a JSON object of sae_id -> node: {exc}") from None
        return cls(saes=saes, cert_dir=cert_dir, host=env.get("QNET_KME_HOST", "127.0.0.1"),
                   port=int(env.get("QNET_KME_PORT", "0")), address_dir=env.get("QNET_KME_ADDRESS_DIR"),
                   pool_max_bits=int(env.get("QNET_KEY_POOL_MAX_BITS", str(1 << 20))),
                   pool_session_pulses=int(env.get("QNET_KEY_POOL_PULSES", "4000000")),
                   time_factor=float(env.get("QNET_KEY_POOL_TIME_FACTOR", "0")),
                   fill_pools=env.get("QNET_KEY_POOL_FILL", "1") != "0",
                   metrics_port=int(env["QNET_KME_METRICS_PORT"]) if env.get("QNET_KME_METRICS_PORT") else None)


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


def _xor(a: bytes, b: bytes) -> bytes:
    return (np.frombuffer(a, dtype=np.uint8) ^ np.frombuffer(b, dtype=np.uint8)).tobytes()


class NodeKme:
    """The KME logic of one node over its core (classical channels) and key store."""

    def __init__(self, core: Any, keys: Any, config: KmeConfig) -> None:
        self.core = core
        self.keys = keys  # qemu_net.node.key_delivery.NodeKeys
        self.config = config
        self.name = core.name
        topo = core.topology
        for node in sorted(set(config.saes.values())):
            topo.require_node(node, what="QNET_KME_SAES")
        self.graph: nx.Graph[str] = nx.Graph()
        self.graph.add_nodes_from(topo.node_names)
        self.graph.add_edges_from(link.nodes for link in topo.links)
        self.neighbours = sorted(self.graph.neighbors(self.name))
        self._lock = threading.Lock()
        #: slave side: (master, slave) -> key_ID -> (key, route)
        self._delivered: dict[tuple[str, str], dict[str, tuple[bytes, list[str]]]] = {}
        #: master side: keys issued, readable back once
        self._issued: dict[tuple[str, str], dict[str, bytes]] = {}
        self._pending: dict[str, _Pending] = {}
        self._back: dict[str, str] = {}  # relay request id -> the neighbour it came from
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.pool_changed = threading.Condition()
        self._sessions_run: dict[str, int] = {}

    # ------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for nb in self.neighbours:
            for ch, fn in ((RELAY_CHANNEL, self._on_relay), (CONTROL_CHANNEL, self._on_control)):
                t = threading.Thread(target=self._listen, args=(nb, ch, fn), name=f"kme-{self.name}-{nb}-{ch[-5:]}",
                                     daemon=True)
                t.start()
                self._threads.append(t)
        if self.config.fill_pools:
            for nb in self.neighbours:
                if self.name < nb:
                    t = threading.Thread(target=self._fill, args=(nb,), name=f"pool-{self.name}-{nb}", daemon=True)
                    t.start()
                    self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        with self.pool_changed:
            self.pool_changed.notify_all()

    def _listen(self, nb: str, channel: str, handler: Any) -> None:
        while not self._stop.is_set():
            try:
                msg = self.core.receive_classical(nb, channel, 1.0)
            except ProtocolTimeout:
                continue
            except QnetError as exc:  # shutting down
                log.info("kme %s: listener for %s stops: %s", self.name, nb, exc)
                return
            try:
                handler(nb, json.loads(msg.payload))
            except Exception as exc:
                log.warning("kme %s: message from %s on %s failed: %s", self.name, nb, channel, exc)

    # ------------------------------------------------------------------------------ SAEs
    def node_of(self, sae: str) -> str:
        node = self.config.saes.get(sae)
        if node is None:
            raise BadRequest(f"unknown SAE {sae!r}: no node hosts it")
        return node

    def check_caller(self, caller: list[str]) -> str:
        for name in caller:
            if self.config.saes.get(name) == self.name:
                return name
        raise Unauthorized(f"the client certificate names no SAE attached to KME {self.name} "
                           f"(certificate names: {caller or 'none'})")

    def route(self, target: str) -> list[str]:
        try:
            return list(nx.shortest_path(self.graph, self.name, target))
        except nx.NetworkXNoPath:
            raise PoolEmpty(f"no path of QKD links from {self.name} to {target}") from None

    # ------------------------------------------------------------------------------ ETSI operations
    def status(self, caller: str, slave: str) -> dict[str, Any]:
        target = self.node_of(slave)
        stored = self.config.pool_max_bits // DEFAULT_KEY_SIZE
        if target != self.name:
            first = self.route(target)[1]
            stored = self.keys.store.available_bits(first) // DEFAULT_KEY_SIZE
        return {"source_KME_ID": self.name, "target_KME_ID": target, "master_SAE_ID": caller, "slave_SAE_ID": slave,
                "key_size": DEFAULT_KEY_SIZE, "stored_key_count": int(stored),
                "max_key_count": int(self.config.pool_max_bits // DEFAULT_KEY_SIZE),
                "max_key_per_request": MAX_KEYS_PER_REQUEST, "max_key_size": MAX_KEY_SIZE_BITS,
                "min_key_size": MIN_KEY_SIZE_BITS, "max_SAE_ID_count": MAX_SAE_ID_COUNT}

    def enc_keys(self, caller: str, slave: str, number: int, size: int,
                 additional: list[str] | None = None) -> dict[str, Any]:
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_KEYS_PER_REQUEST:
            raise BadRequest(f"number={number!r} must be an integer in [1, {MAX_KEYS_PER_REQUEST}]")
        if (not isinstance(size, int) or isinstance(size, bool) or size % 8 or
                not MIN_KEY_SIZE_BITS <= size <= MAX_KEY_SIZE_BITS):
            raise BadRequest(f"size={size!r} must be a multiple of 8 in [{MIN_KEY_SIZE_BITS}, {MAX_KEY_SIZE_BITS}]")
        slaves = [slave, *(additional or [])]
        if len(set(slaves)) != len(slaves) or len(slaves) > 1 + MAX_SAE_ID_COUNT:
            raise BadRequest(f"slave SAEs must be distinct and at most {1 + MAX_SAE_ID_COUNT}")
        targets = [self.node_of(s) for s in slaves]
        keys = [(str(uuid.uuid4()), os.urandom(size // 8)) for _ in range(number)]
        routes: dict[str, list[str]] = {}
        for s, target in zip(slaves, targets, strict=True):
            if target == self.name:
                routes[s] = [self.name]
                self._store_delivered(caller, s, [(kid, k) for kid, k in keys], [self.name])
            else:
                routes[s] = self.route(target)
                self._relay_out(caller, s, routes[s], keys, size)
        with self._lock:
            issued = self._issued.setdefault((caller, slave), {})
            for kid, k in keys:
                issued[kid] = k
        ext = {"route": routes[slave]} if len(slaves) == 1 else {"routes": routes}
        return {"keys": [{"key_ID": kid, "key": base64.b64encode(k).decode(), "key_extension": ext} for kid, k in keys]}

    def dec_keys(self, caller: str, master: str, key_ids: list[str]) -> dict[str, Any]:
        if not key_ids or not all(isinstance(k, str) and k for k in key_ids) or len(set(key_ids)) != len(key_ids):
            raise BadRequest("key_IDs must be a non-empty list of distinct key IDs")
        self.node_of(master)
        with self._lock:
            got = self._delivered.get((master, caller), {})
            back = self._issued.get((caller, master), {})
            missing = [k for k in key_ids if k not in got and k not in back]
            if missing:
                raise NotFound(f"no key with ID(s) {missing} for SAE {caller} from {master} at KME {self.name} "
                               "(unknown, already delivered, or not for this SAE)")
            out = []
            for k in key_ids:
                if k in got:
                    key, route = got.pop(k)
                else:
                    key, route = back.pop(k), None
                item: dict[str, Any] = {"key_ID": k, "key": base64.b64encode(key).decode()}
                if route is not None:
                    item["key_extension"] = {"route": route}
                out.append(item)
        return {"keys": out}

    def _store_delivered(self, master: str, slave: str, keys: list[tuple[str, bytes]], route: list[str]) -> None:
        with self._lock:
            box = self._delivered.setdefault((master, slave), {})
            for kid, k in keys:
                box[kid] = (k, route)

    # ------------------------------------------------------------------------------ relay
    def _cut(self, nb: str, number: int, size: int) -> tuple[list[bytes], list[KeyReservation]]:
        try:
            got = self.keys.store.get_keys(nb, number, size)
        except KeysExhausted as exc:
            raise PoolEmpty(f"the key pool of link {self.name}-{nb} holds too little key for {number} key(s) of "
                            f"{size} bits ({exc.fields.get('available_bits', 0)} bits left)") from None
        with self.pool_changed:
            self.pool_changed.notify_all()
        return [k.key for k in got], self.keys.store.reservations(nb, [k.key_id for k in got])

    def _send_fwd(self, nb: str, req: str, master: str, slave: str, route: list[str], hop: int,
                  keys: list[tuple[str, bytes]], size: int) -> None:
        pads, res = self._cut(nb, len(keys), size)
        items = [{"key_ID": kid, "ct": base64.b64encode(_xor(k, pad)).decode(),
                  "res": [r.key_id, r.session_id, r.offset_bits, r.size_bits]}
                 for (kid, k), pad, r in zip(keys, pads, res, strict=True)]
        msg = {"t": "fwd", "req": req, "master": master, "slave": slave, "route": route, "hop": hop, "size": size,
               "keys": items}
        self.core.send_classical(nb, RELAY_CHANNEL, json.dumps(msg).encode())

    def _relay_out(self, master: str, slave: str, route: list[str], keys: list[tuple[str, bytes]], size: int) -> None:
        req = str(uuid.uuid4())
        pending = _Pending()
        with self._lock:
            self._pending[req] = pending
        try:
            self._send_fwd(route[1], req, master, slave, route, 1, keys, size)
            if not pending.done.wait(self.config.relay_timeout_s):
                raise PoolEmpty(f"relay to {route[-1]} along {'-'.join(route)} not acknowledged within "
                                f"{self.config.relay_timeout_s} s")
            if pending.error:
                raise PoolEmpty(pending.error)
        finally:
            with self._lock:
                self._pending.pop(req, None)

    def _on_relay(self, frm: str, msg: dict[str, Any]) -> None:
        kind, req = msg.get("t"), str(msg.get("req"))
        if kind in ("ack", "nack"):
            with self._lock:
                pending = self._pending.get(req)
                back = self._back.pop(req, None)
            if pending is not None:
                pending.error = msg.get("reason") if kind == "nack" else None
                pending.done.set()
            elif back is not None:
                self.core.send_classical(back, RELAY_CHANNEL, json.dumps(msg).encode())
            return
        if kind != "fwd":
            raise InvalidOperation(f"unknown relay message {kind!r}")
        route, hop, size = [str(x) for x in msg["route"]], int(msg["hop"]), int(msg["size"])
        if not (0 < hop < len(route)) or route[hop] != self.name or route[hop - 1] != frm:
            raise InvalidOperation(f"relay message from {frm} not addressed to {self.name} on its route")
        try:
            items = [KeyReservation(*(str(r[0]), str(r[1]), int(r[2]), int(r[3]))) for r in
                     (k["res"] for k in msg["keys"])]
            self.keys.store.accept_reservations(frm, items)
            pads = self.keys.store.get_keys_with_ids(frm, [r.key_id for r in items])
            keys = [(str(k["key_ID"]), _xor(base64.b64decode(k["ct"]), p.key))
                    for k, p in zip(msg["keys"], pads, strict=True)]
            if hop == len(route) - 1:
                self._store_delivered(str(msg["master"]), str(msg["slave"]), keys, route)
                self.core.send_classical(frm, RELAY_CHANNEL, json.dumps({"t": "ack", "req": req}).encode())
                return
            with self._lock:
                self._back[req] = frm
            self._send_fwd(route[hop + 1], req, str(msg["master"]), str(msg["slave"]), route, hop + 1, keys, size)
        except (KmeError, QnetError) as exc:
            with self._lock:
                self._back.pop(req, None)
            reason = exc.message if isinstance(exc, QnetError) else str(exc)
            nack = {"t": "nack", "req": req, "reason": reason}
            self.core.send_classical(frm, RELAY_CHANNEL, json.dumps(nack).encode())

    # ------------------------------------------------------------------------------ pools
    def _on_control(self, frm: str, msg: dict[str, Any]) -> None:
        if msg.get("t") != "bb84_bob":
            raise InvalidOperation(f"unknown control message {msg.get('t')!r}")
        threading.Thread(target=self._run_role, args=("bob", frm, str(msg["session"]), {}), daemon=True,
                         name=f"pool-bob-{self.name}").start()

    def _run_role(self, role: str, peer: str, session: str, kw: dict[str, Any]) -> Any:
        ctx = CoreContext(self.core, session, timeout_s=60.0)
        params = BB84Params(peer=peer, session_id=session, raise_on_abort=False, timeout_s=60.0, **kw)
        result = (bb84_alice if role == "alice" else bb84_bob)(ctx, params)
        if result.succeeded:
            self.keys.store.add_result(result)
            with self.pool_changed:
                self.pool_changed.notify_all()
        return result

    def _fill(self, nb: str) -> None:
        n = 0
        while not self._stop.is_set():
            with self.pool_changed:
                while (self.keys.store.available_bits(nb) >= self.config.pool_max_bits
                       and not self._stop.is_set()):
                    self.pool_changed.wait(5.0)
            if self._stop.is_set():
                return
            n += 1
            session = f"pool-{self.name}-{nb}-{n}-{uuid.uuid4().hex[:8]}"
            t0 = time.perf_counter()
            try:
                start = {"t": "bb84_bob", "session": session}
                self.core.send_classical(nb, CONTROL_CHANNEL, json.dumps(start).encode())
                r = self._run_role("alice", nb, session, {"n_pulses": self.config.pool_session_pulses,
                                                         "p_z": self.config.pool_p_z})
                with self._lock:
                    self._sessions_run[nb] = self._sessions_run.get(nb, 0) + 1
                wait = self.config.time_factor * r.duration_ns * 1e-9 - (time.perf_counter() - t0)
            except QnetError as exc:
                log.warning("kme %s: pool session with %s failed: %s", self.name, nb, exc)
                wait = 1.0
            if wait > 0 and self._stop.wait(wait):
                return

    def sessions_by_peer(self) -> dict[str, int]:
        with self._lock:
            return dict(self._sessions_run)

    def pool_levels(self) -> dict[str, int]:
        return {nb: self.keys.store.available_bits(nb) for nb in self.neighbours}


__all__ = ["BadRequest", "KmeConfig", "KmeError", "NodeKme", "NotFound", "PoolEmpty", "Unauthorized"]
