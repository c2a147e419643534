"""The NetQASM SDK's connection, classical sockets and broadcast channel over qemu_net nodes.

An application role's process is *bound* (`bind`) to a network: which node each role runs at and
each node's address. `QnetConnection` then subclasses netqasm's `BaseNetQASMConnection` (as
SimulaQron's and SquidASM's connections do): every subroutine the SDK compiles is sent, with the
host messages before it, to the role's node in one `NetQasmService.Submit` call, and the registers
and arrays the subroutine returned are written to the connection's shared memory, where the SDK's
futures read them. `QnetSocket` is netqasm's classical `Socket` over the nodes' classical channels
(the message goes from this role's node to the peer role's node, with the link's latency on the
virtual clocks).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from netqasm.backend.messages import MessageType
from netqasm.lang.parsing.text import parse_register
from netqasm.sdk.classical_communication.broadcast_channel import BroadcastChannelBySockets
from netqasm.sdk.classical_communication.message import StructuredMessage
from netqasm.sdk.classical_communication.socket import Socket
from netqasm.sdk.connection import BaseNetQASMConnection
from netqasm.sdk.network import NetworkInfo
from netqasm.sdk.shared_memory import SharedMemory

from qemu_net._serde import netqasm as wire
from qemu_net._serde.status import error_from_rpc
from qemu_net.errors import InvalidOperation, ProtocolTimeout

#: Default deadline of one subroutine or one classical receive (seconds); $QNET_NETQASM_TIMEOUT_S overrides.
DEFAULT_TIMEOUT_S = 120.0
#: gRPC channel options (as the SDK's; kept here so a role process never imports the simulator stack).
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
#: Channel prefix of application sockets between roles.
SOCKET_CHANNEL_PREFIX = "netqasm/"


@dataclass
class Binding:
    """Where this process's roles run: role -> node, node -> address."""

    roles: dict[str, str]
    addresses: dict[str, str]
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def node_names(self) -> list[str]:
        return sorted(self.addresses)


@dataclass
class _ProcessState:
    """This process's binding and TLS credentials (None: plaintext), set by `bind`."""

    binding: Binding | None = None
    creds: Any = None


_state = _ProcessState()
_channels: dict[str, grpc.Channel] = {}
_lock = threading.Lock()


def bind(roles: Mapping[str, str], addresses: Mapping[str, str], *, timeout_s: float | None = None,
         tls_dir: str | None = None, identity: str | None = None) -> Binding:
    """Bind this process to a network: `roles` maps application role names to node names. With `tls_dir`
    (a `qnet certs` directory) the nodes are called over mutual TLS as application `identity`."""
    for role, node in roles.items():
        if node not in addresses:
            raise InvalidOperation(f"role {role!r} runs at node {node!r}, which the network does not have")
    if timeout_s is None:
        timeout_s = float(os.environ.get("QNET_NETQASM_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    if tls_dir:
        from qemu_net.security.tls import load_credentials

        _state.creds = load_credentials(tls_dir, app=identity)
    else:
        _state.creds = None
    with _lock:  # channels to the nodes of an earlier binding are not this one's
        for ch in _channels.values():
            ch.close()
        _channels.clear()
    _state.binding = Binding(dict(roles), dict(addresses), timeout_s)
    return _state.binding


def binding() -> Binding:
    if _state.binding is None:
        raise RuntimeError("this process is not bound to a qemu_net network (qemu_net.netqasm.connection.bind)")
    return _state.binding


def _channel(node: str) -> grpc.Channel:
    with _lock:
        ch = _channels.get(node)
        if ch is None:
            address = binding().addresses[node]
            if _state.creds is None:
                ch = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
            else:  # the server's certificate must name the node (not the SDK's module: no simulator imports)
                from qemu_net.security.tls import channel_credentials, target_name_options

                ch = grpc.secure_channel(address, channel_credentials(_state.creds),
                                         options=list(CHANNEL_OPTIONS) + target_name_options(node))
            _channels[node] = ch
        return ch


def node_of(role: str) -> str:
    b = binding()
    if role in b.roles:
        return b.roles[role]
    raise InvalidOperation(f"unknown application role {role!r}; roles: {', '.join(sorted(b.roles))}")


class QnetNetworkInfo(NetworkInfo):
    """Node ids are positions in the sorted node names (the nodes' executors use the same numbering)."""

    @classmethod
    def _get_node_id(cls, node_name: str) -> int:
        names = binding().node_names
        if node_name not in names:
            raise ValueError(f"{node_name} is not a known node name")
        return names.index(node_name)

    @classmethod
    def _get_node_name(cls, node_id: int) -> str:
        names = binding().node_names
        if not 0 <= node_id < len(names):
            raise ValueError(f"{node_id} is not a known node ID")
        return names[node_id]

    @classmethod
    def get_node_id_for_app(cls, app_name: str) -> int:
        return cls._get_node_id(node_of(app_name))

    @classmethod
    def get_node_name_for_app(cls, app_name: str) -> str:
        return node_of(app_name)


class QnetConnection(BaseNetQASMConnection):
    """A NetQASM connection to the node this role runs at."""

    def __init__(self, app_name: str, node_name: str | None = None, **kwargs: Any) -> None:
        self._memory = SharedMemory()
        self._pending: list[bytes] = []
        self._session = f"nq-{app_name}-{uuid.uuid4().hex[:16]}"
        self._node = node_name or node_of(app_name)
        self._stub = wire.netqasm_stub(_channel(self._node))
        self.virtual_time_ns = 0
        super().__init__(app_name=app_name, node_name=self._node, **kwargs)

    @property
    def session_id(self) -> str:
        return self._session

    @property
    def shared_memory(self) -> SharedMemory:
        return self._memory

    def _get_network_info(self) -> type[NetworkInfo]:
        return QnetNetworkInfo

    def _commit_serialized_message(self, raw_msg: bytes, block: bool = True,
                                   callback: Callable[[], object] | None = None) -> None:
        kind = raw_msg[0]
        if kind == MessageType.SIGNAL.value:
            return  # "stop the backend": the node outlives the application
        self._pending.append(raw_msg)
        if kind in (MessageType.INIT_NEW_APP.value, MessageType.OPEN_EPR_SOCKET.value):
            return  # sent with the first subroutine (one round trip fewer)
        messages, self._pending = self._pending, []
        try:
            reply = wire.submit_reply_from_proto(
                self._stub.Submit(wire.submit_to_proto(self._session, messages), timeout=binding().timeout_s))
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=f"node {self._node}") from None
        self.virtual_time_ns = reply.virtual_time_ns
        mem = self._memory
        for name, index, value in reply.registers:
            mem.set_register(parse_register(f"{name}{index}"), value)
        for address, values in reply.arrays:
            mem.init_new_array(address, new_array=values)
        if callback is not None:
            callback()

    def qubit_state(self, virtual_addresses: list[int]) -> np.ndarray:
        """Density matrix of this application's qubits (the node must allow inspection)."""
        self.flush()
        try:
            reply = self._stub.QubitState(wire.qubit_state_to_proto(self._session, virtual_addresses),
                                          timeout=binding().timeout_s)
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=f"node {self._node}") from None
        return wire.density_matrix_from_proto(reply)


def get_qubit_state(qubit: Any, reduced_dm: bool = True) -> np.ndarray | None:
    """The simulated state of a qubit (netqasm's `get_qubit_state`): its reduced density matrix.

    With ``reduced_dm=False`` netqasm's simulators return the state of every qubit the qubit is
    entangled with; such a group can span other nodes' memories, which one node cannot read, so this
    returns None then (as netqasm's simulators do when no state is available)."""
    if not reduced_dm:
        return None
    conn = qubit._conn
    if not isinstance(conn, QnetConnection):
        raise TypeError("get_qubit_state needs a qubit of a QnetConnection")
    return conn.qubit_state([qubit.qubit_id])


class QnetSocket(Socket):
    """netqasm's classical socket between two roles, over the nodes' classical channels."""

    def __init__(self, app_name: str, remote_app_name: str, socket_id: int = 0, timeout: float | None = None,
                 use_callbacks: bool = False, log_config: Any = None) -> None:
        self._app_name = app_name
        self._remote_app_name = remote_app_name
        self._id = socket_id
        self._node = node_of(app_name)
        self._peer = node_of(remote_app_name)
        self._timeout = timeout
        self._use_callbacks = use_callbacks
        self._stub = wire.node_stub(_channel(self._node))
        # One channel per direction and socket id, so two sockets between the same roles stay apart.
        self._out = f"{SOCKET_CHANNEL_PREFIX}{app_name}>{remote_app_name}/{socket_id}"
        self._in = f"{SOCKET_CHANNEL_PREFIX}{remote_app_name}>{app_name}/{socket_id}"

    @property
    def app_name(self) -> str:
        return self._app_name

    @property
    def remote_app_name(self) -> str:
        return self._remote_app_name

    @property
    def id(self) -> int:
        return self._id

    def _send_bytes(self, payload: bytes) -> None:
        try:
            self._stub.SendClassical(wire.send_classical_to_proto(self._peer, self._out, payload),
                                     timeout=binding().timeout_s)
        except grpc.RpcError as err:
            raise error_from_rpc(err, where=f"node {self._node}") from None

    def _recv_bytes(self, timeout: float | None) -> bytes:
        wait = timeout if timeout is not None else (self._timeout or binding().timeout_s)
        try:
            resp = self._stub.ReceiveClassical(
                wire.receive_classical_to_proto(self._peer, self._in, wait), timeout=wait + 5.0)
        except grpc.RpcError as err:
            exc = error_from_rpc(err, where=f"node {self._node}")
            if isinstance(exc, ProtocolTimeout):
                raise RuntimeError(f"no message from {self._remote_app_name} within {wait} s") from None
            raise exc from None
        return wire.payload_from_proto(resp)

    def send(self, msg: str) -> None:
        if not isinstance(msg, str):
            raise TypeError(f"a socket sends str, not {type(msg).__name__}")
        self._send_bytes(b"s" + msg.encode())

    def send_structured(self, msg: StructuredMessage) -> None:
        """A structured message travels as JSON (tuples kept), never pickled."""
        body = {"header": msg.header, "payload": _encode(msg.payload)}
        self._send_bytes(b"j" + json.dumps(body).encode())

    def _recv_any(self, block: bool, timeout: float | None) -> str | StructuredMessage:
        if not block:
            raise NotImplementedError("non-blocking recv is not offered: give a timeout instead")
        return _decoded(self._recv_bytes(timeout), self._remote_app_name)

    def recv(self, block: bool = True, timeout: float | None = None, maxsize: int | None = None) -> str:
        msg = self._recv_any(block, timeout)
        if isinstance(msg, str) and maxsize is not None:
            return msg[:maxsize]
        return msg  # a structured message sent with send_structured comes back as it is

    def recv_structured(self, block: bool = True, timeout: float | None = None,
                        maxsize: int | None = None) -> StructuredMessage:
        return self._recv_any(block, timeout)

    def send_silent(self, msg: str) -> None:
        self.send(msg)

    def recv_silent(self, block: bool = True, timeout: float | None = None, maxsize: int | None = None) -> str:
        return self.recv(block=block, timeout=timeout, maxsize=maxsize)


def _encode(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return {"__items__": [[_encode(k), _encode(v)] for k, v in value.items()]}
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return _encode(value.tolist())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"a structured message payload cannot hold {type(value).__name__} (JSON data and tuples only)")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__items__"}:
            return {_hashable(_decode(k)): _decode(v) for k, v in value["__items__"]}
        return {k: _decode(v) for k, v in value.items()}
    return value


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


#: Sent on each socket of a broadcast after the message went to every remote role.
_COMMIT = b"c"


def _decoded(raw: bytes, remote: str) -> str | StructuredMessage:
    """A socket message as netqasm hands it out: a str, or a structured message sent as JSON."""
    kind, body = raw[:1], raw[1:]
    if kind == b"s":
        return body.decode()
    if kind == b"j":
        try:
            data = json.loads(body)
            return StructuredMessage(data["header"], _decode(data["payload"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(f"malformed structured message from {remote}: {exc}") from None
    raise RuntimeError(f"malformed message from {remote}")


class QnetBroadcastChannel(BroadcastChannelBySockets):
    """netqasm's broadcast channel as one socket per remote role, in the order a protocol of rounds needs.

    `send` delivers the message to every remote role's node, then sends each a commit; `recv` takes the
    message that reached this node first among the remote roles' sockets (one `ReceiveClassical` over
    all of them) and returns it once its commit is in. So no role reads a broadcast before every other
    role's node has it, and a message sent after reading one arrives after it at every node: a role that
    reads one message from each of the others per round never takes a later round's message for the
    current one, however the processes are scheduled (docs/design.md, "A broadcast's order")."""

    _socket_class = QnetSocket

    def __init__(self, app_name: str, remote_app_names: list[str], **kwargs: Any) -> None:
        super().__init__(app_name, remote_app_names, **kwargs)
        self._node = node_of(app_name)
        self._stub = wire.node_stub(_channel(self._node))
        self._by_channel = {(s._peer, s._in): (remote, s) for remote, s in self._sockets.items()}
        #: A broadcast taken off the node whose commit has not come yet: (remote role, payload).
        self._pending: tuple[str, bytes] | None = None
        self._lock = threading.Lock()

    def send(self, msg: str) -> None:
        """Broadcast `msg`: to every remote role, then a commit to each (it went to all)."""
        if not isinstance(msg, str):
            raise TypeError(f"a broadcast channel sends str, not {type(msg).__name__}")
        for socket in self._sockets.values():
            socket._send_bytes(b"s" + msg.encode())
        for socket in self._sockets.values():
            socket._send_bytes(_COMMIT)

    def recv(self, block: bool = True, timeout: float | None = None) -> tuple[str, str]:
        """The first broadcast to reach this role's node from any remote role, once it is committed.

        A broadcast whose commit does not come within `timeout` is kept, and the next `recv` goes on
        waiting for it (it is still the first). One whose sender broadcast again instead (its send failed
        part way, so not every role has it) is dropped for the newer one."""
        if not block:
            raise NotImplementedError("non-blocking recv is not offered: give a timeout instead")
        wait = timeout if timeout is not None else binding().timeout_s
        end = time.monotonic() + wait
        with self._lock:
            if self._pending is None:
                try:
                    reply = self._stub.ReceiveClassical(wire.receive_any_to_proto(list(self._by_channel), wait),
                                                        timeout=wait + 5.0)
                except grpc.RpcError as err:
                    exc = error_from_rpc(err, where=f"node {self._node}")
                    if isinstance(exc, ProtocolTimeout):
                        raise TimeoutError("Timeout while trying to receive broadcasted message") from None
                    raise exc from None
                remote = self._by_channel[(reply.sender, reply.channel)][0]
                if reply.payload == _COMMIT:
                    raise RuntimeError(f"broadcast from {remote}: a commit came with no broadcast before it")
                self._pending = (remote, reply.payload)
            remote, payload = self._pending
            socket = self._sockets[remote]
            while True:
                try:
                    nxt = socket._recv_bytes(max(end - time.monotonic(), 0.001))
                except RuntimeError:  # no commit yet: kept for the next recv
                    raise TimeoutError(f"Timeout while waiting for the commit of a broadcast from {remote}") from None
                if nxt == _COMMIT:
                    break
                self._pending = (remote, payload := nxt)  # the earlier one was never committed to all
            self._pending = None
        msg = _decoded(payload, remote)
        if not isinstance(msg, str):
            raise RuntimeError(f"broadcast from {remote}: a structured message, where broadcasts carry str")
        return remote, msg
