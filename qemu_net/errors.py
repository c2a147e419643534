"""The qemu_net error tree. Every error raised on purpose by the package derives from `QnetError`.

::

    QnetError                    root: catch this to catch everything qemu_net raises on purpose
    ├── TopologyError            a topology file or override is invalid (message names the key path)
    ├── QubitNotFound            no qubit with that id exists (NOT_FOUND)
    ├── WrongLocation            the qubit exists but is located at another node (FAILED_PRECONDITION)
    ├── NotColocated             a multi-qubit operation names qubits at different nodes (FAILED_PRECONDITION)
    ├── MemoryFull               the node's quantum memory has no free slot (RESOURCE_EXHAUSTED)
    ├── InvalidOperation         malformed gate, parameters, matrix or request (INVALID_ARGUMENT)
    ├── NotConnected             the two nodes share no link of the kind needed (FAILED_PRECONDITION)
    ├── PeerUnavailable          a neighbour did not answer within its deadline (UNAVAILABLE)
    ├── ProtocolTimeout          a protocol step waited past its deadline (DEADLINE_EXCEEDED)
    ├── ProtocolAborted          a protocol ended on purpose without a result, e.g. QKD saw too many errors (ABORTED)
    ├── PermissionDenied         an operation the node was not started to allow, e.g. state inspection (PERMISSION_DENIED)
    ├── KeysExhausted            a key request asks for more QKD key than the node stores for that peer (RESOURCE_EXHAUSTED)
    ├── KeyNotFound              no delivered QKD key with that id waits at this node (NOT_FOUND)
    ├── LimitExceeded            a request exceeds one of the node's hard limits (qemu_net.node.limits) (RESOURCE_EXHAUSTED)
    ├── ShuttingDown             the node is draining after SIGTERM (UNAVAILABLE)
    └── Unauthenticated          no certificate where the caller must prove who it is (UNAUTHENTICATED)

Each error carries structured fields; `grpc_code` names the gRPC status it maps to. The node maps errors
to statuses in one table (`qemu_net._serde.status`); the client SDK maps statuses back to these types.
"""

from __future__ import annotations

import json


class QnetError(Exception):
    """Root of every error qemu_net raises on purpose."""

    grpc_code = "UNKNOWN"

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message

    def to_wire(self) -> str:
        """The error's typed fields as a JSON object, sent beside the status so the caller rebuilds them."""
        return json.dumps(self.fields, default=str, sort_keys=True)

    @classmethod
    def from_wire(cls, message: str, fields_json: str) -> QnetError:
        """This error type rebuilt from a status message and `to_wire`'s JSON (unknown or bad fields dropped)."""
        try:
            raw = json.loads(fields_json) if fields_json else {}
        except ValueError:
            raw = {}
        fields = {str(k): tuple(v) if isinstance(v, list) else v for k, v in raw.items()} if isinstance(raw, dict) else {}
        try:
            return cls(message, **fields)
        except TypeError:
            return cls(message)


class TopologyError(QnetError):
    """A topology is invalid; `problems` lists each 'key.path: what is wrong'."""

    grpc_code = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message, problems=problems)
        self.problems = problems


class QubitNotFound(QnetError):
    grpc_code = "NOT_FOUND"


class WrongLocation(QnetError):
    grpc_code = "FAILED_PRECONDITION"


class NotColocated(QnetError):
    grpc_code = "FAILED_PRECONDITION"


class MemoryFull(QnetError):
    grpc_code = "RESOURCE_EXHAUSTED"


class InvalidOperation(QnetError):
    grpc_code = "INVALID_ARGUMENT"


class NotConnected(QnetError):
    grpc_code = "FAILED_PRECONDITION"


class PeerUnavailable(QnetError):
    grpc_code = "UNAVAILABLE"


class ProtocolTimeout(QnetError):
    grpc_code = "DEADLINE_EXCEEDED"


class ProtocolAborted(QnetError):
    grpc_code = "ABORTED"


class PermissionDenied(QnetError):
    grpc_code = "PERMISSION_DENIED"


class KeysExhausted(QnetError):
    """A key request asks for more key material than the key store holds for that peer.

    Fields: ``peer``, ``number``, ``size_bits``, ``available_bits``."""

    grpc_code = "RESOURCE_EXHAUSTED"


class KeyNotFound(QnetError):
    """A key id is unknown here, was already delivered, or its reservation has not arrived. Field: ``key_ids``."""

    grpc_code = "NOT_FOUND"


class LimitExceeded(QnetError):
    """A request exceeds one of the node's hard limits (batch size, message size, queued bytes, waiting
    calls). Fields: ``limit`` and, where there is one, ``value``."""

    grpc_code = "RESOURCE_EXHAUSTED"


class ShuttingDown(QnetError):
    grpc_code = "UNAVAILABLE"


ALL_ERRORS: tuple[type[QnetError], ...] = (
    TopologyError,
    QubitNotFound,
    WrongLocation,
    NotColocated,
    MemoryFull,
    InvalidOperation,
    NotConnected,
    PeerUnavailable,
    ProtocolTimeout,
    ProtocolAborted,
    PermissionDenied,
    KeysExhausted,
    KeyNotFound,
    LimitExceeded,
    ShuttingDown,
)


class Unauthenticated(QnetError):
    """The caller proved no identity (no certificate) where one is required (UNAUTHENTICATED)."""

    grpc_code = "UNAUTHENTICATED"
