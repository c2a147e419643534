"""The qemu_net error tree. Every error raised on purpose by the package derives from `QnetError`.

Errors are grouped by what went wrong; the gRPC status each maps to is in brackets::

    QnetError                    root: catch this to catch everything qemu_net raises on purpose
    │
    │   the request itself is wrong
    ├── InvalidOperation         malformed gate, parameters, matrix or request [INVALID_ARGUMENT]
    │   └── UnknownNode          a name that is not a node of the topology [INVALID_ARGUMENT]
    ├── TopologyError            a topology file or override is invalid (names the key path) [INVALID_ARGUMENT]
    │
    │   the request names something that is not where it says
    ├── QubitNotFound            no qubit with that id exists [NOT_FOUND]
    ├── KeyNotFound              no delivered QKD key with that id waits at this node [NOT_FOUND]
    ├── WrongLocation            the qubit exists but is located at another node [FAILED_PRECONDITION]
    ├── NotColocated             a multi-qubit operation names qubits at different nodes [FAILED_PRECONDITION]
    ├── NotConnected             the two nodes share no link of the kind needed [FAILED_PRECONDITION]
    │
    │   a resource ran out
    ├── MemoryFull               the node's quantum (or process) memory has no room [RESOURCE_EXHAUSTED]
    ├── KeysExhausted            more QKD key asked for than the node stores for that peer [RESOURCE_EXHAUSTED]
    ├── LimitExceeded            a request exceeds one of the node's hard limits [RESOURCE_EXHAUSTED]
    │
    │   a peer or a protocol did not finish
    ├── PeerUnavailable          a neighbour did not answer within its deadline [UNAVAILABLE]
    ├── ShuttingDown             the node is draining after SIGTERM [UNAVAILABLE]
    ├── ProtocolTimeout          a protocol step waited past its deadline [DEADLINE_EXCEEDED]
    ├── ProtocolAborted          a protocol ended on purpose without a result, e.g. QKD saw too many errors [ABORTED]
    │
    │   the caller may not do this
    ├── PermissionDenied         an operation the node was not started to allow (state inspection) [PERMISSION_DENIED]
    └── Unauthenticated          no certificate where the caller must prove who it is [UNAUTHENTICATED]

Each error carries typed fields: keyword-only constructor arguments stored as attributes of the same
name (``KeysExhausted(msg, peer="b", number=2, size_bits=256, available_bits=128).available_bits``),
listed in each class's docstring; every error also has ``code``, the gRPC status name when the SDK
rebuilt it from a failed call. `QnetError.to_wire` serialises the fields as JSON beside the status and
`QnetError.from_wire` rebuilds the same type with the same fields. `grpc_code` names the status an error
maps to; the node maps errors to statuses in one table (`qemu_net._serde.status`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar


class QnetError(Exception):
    """Root of every error qemu_net raises on purpose. Field: ``code`` (the gRPC status name when rebuilt
    from a failed call, else None). Subclasses outside this module may add more keyword fields."""

    grpc_code: ClassVar[str] = "UNKNOWN"
    #: Names of the typed fields (constructor keywords stored as attributes), the root's first.
    field_names: ClassVar[tuple[str, ...]] = ("code",)

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self._extra = dict(extra)
        for name, value in extra.items():
            setattr(self, name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = tuple(n for n in cls.__dict__.get("_own_fields", ()) if n not in cls.field_names)
        cls.field_names = cls.field_names + own

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.fields))

    @property
    def fields(self) -> dict[str, object]:
        """Every typed field (and any extra keyword a subclass was given) by name."""
        out: dict[str, object] = {n: getattr(self, n) for n in self.field_names}
        out.update(self._extra)
        return out

    def to_wire(self) -> str:
        """The error's typed fields as a JSON object, sent beside the status so the caller rebuilds them."""
        return json.dumps({k: v for k, v in self.fields.items() if v is not None}, default=str, sort_keys=True)

    @classmethod
    def from_wire(cls, message: str, fields_json: str) -> QnetError:
        """This error type rebuilt from a status message and `to_wire`'s JSON (unknown or bad fields dropped)."""
        try:
            raw = json.loads(fields_json) if fields_json else {}
        except ValueError:
            raw = {}
        fields: dict[str, Any] = {}
        if isinstance(raw, dict):
            fields = {str(k): tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        try:
            return cls(message, **fields)
        except TypeError:
            known = {k: v for k, v in fields.items() if k in cls.field_names}
            try:
                return cls(message, **known)
            except TypeError:
                return cls(message)


def _rebuild(cls: type[QnetError], message: str, fields: dict[str, Any]) -> QnetError:
    return cls(message, **fields)


# ------------------------------------------------------------------ the request itself is wrong
class InvalidOperation(QnetError):
    """A malformed gate, parameter, matrix or request [INVALID_ARGUMENT].

    Fields: ``parameter`` (the name of the offending input, where there is one) and ``value``."""

    grpc_code = "INVALID_ARGUMENT"
    _own_fields = ("parameter", "value")

    def __init__(self, message: str, *, parameter: str | None = None, value: object = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.parameter = parameter
        self.value = value


class UnknownNode(InvalidOperation):
    """A name that is not a node of the topology [INVALID_ARGUMENT]; raised by `Topology.require_node`.

    Fields: ``node`` (the name asked for) and ``known`` (the topology's node names)."""

    _own_fields = ("node", "known")

    def __init__(self, message: str, *, node: str = "", known: Sequence[str] = (), **extra: Any) -> None:
        super().__init__(message, **extra)
        self.node = node
        self.known = tuple(known)


class TopologyError(QnetError):
    """A topology is invalid [INVALID_ARGUMENT]. Field: ``problems``, each 'key.path: what is wrong'."""

    grpc_code = "INVALID_ARGUMENT"
    _own_fields = ("problems",)

    def __init__(self, message: str, *, problems: Sequence[str] = (), **extra: Any) -> None:
        super().__init__(message, **extra)
        self.problems = tuple(problems)


# ------------------------------------------------------------------ something is not where the request says
class QubitNotFound(QnetError):
    """No qubit with that id exists (or it was lost) [NOT_FOUND]. Field: ``qubit``."""

    grpc_code = "NOT_FOUND"
    _own_fields = ("qubit",)

    def __init__(self, message: str, *, qubit: str | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.qubit = qubit


class KeyNotFound(QnetError):
    """A key id is unknown here, was already delivered, or its reservation has not arrived [NOT_FOUND].

    Fields: ``key_ids`` (the ids not found) and ``peer``."""

    grpc_code = "NOT_FOUND"
    _own_fields = ("key_ids", "peer")

    def __init__(self, message: str, *, key_ids: Sequence[str] = (), peer: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message, **extra)
        self.key_ids = tuple(key_ids)
        self.peer = peer


class WrongLocation(QnetError):
    """The qubit exists but is located at another node [FAILED_PRECONDITION]. Fields: ``qubit``, ``location``."""

    grpc_code = "FAILED_PRECONDITION"
    _own_fields = ("qubit", "location")

    def __init__(self, message: str, *, qubit: str | None = None, location: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message, **extra)
        self.qubit = qubit
        self.location = location


class NotColocated(QnetError):
    """A multi-qubit operation names qubits at different nodes [FAILED_PRECONDITION]. Field: ``qubits``."""

    grpc_code = "FAILED_PRECONDITION"
    _own_fields = ("qubits",)

    def __init__(self, message: str, *, qubits: Sequence[str] = (), **extra: Any) -> None:
        super().__init__(message, **extra)
        self.qubits = tuple(qubits)


class NotConnected(QnetError):
    """The two nodes share no link of the kind needed, or the link is down [FAILED_PRECONDITION].

    Fields: ``peer``, ``reason`` and ``delivered`` (the fidelity the best path delivers, when a target
    fidelity is unreachable)."""

    grpc_code = "FAILED_PRECONDITION"
    _own_fields = ("peer", "reason", "delivered")

    def __init__(self, message: str, *, peer: str | None = None, reason: str | None = None,
                 delivered: float | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.peer = peer
        self.reason = reason
        self.delivered = delivered


# ------------------------------------------------------------------ a resource ran out
class MemoryFull(QnetError):
    """The node's quantum memory has no free slot, or its process memory no room [RESOURCE_EXHAUSTED].

    Fields: ``capacity`` (qubit slots), ``needed_bytes``, ``available_bytes``, ``limit_bytes``."""

    grpc_code = "RESOURCE_EXHAUSTED"
    _own_fields = ("capacity", "needed_bytes", "available_bytes", "limit_bytes")

    def __init__(self, message: str, *, capacity: int | None = None, needed_bytes: int | None = None,
                 available_bytes: int | None = None, limit_bytes: int | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.capacity = capacity
        self.needed_bytes = needed_bytes
        self.available_bytes = available_bytes
        self.limit_bytes = limit_bytes


class KeysExhausted(QnetError):
    """A key request asks for more key material than the key store holds for that peer [RESOURCE_EXHAUSTED].

    Fields: ``peer``, ``number``, ``size_bits``, ``available_bits``."""

    grpc_code = "RESOURCE_EXHAUSTED"
    _own_fields = ("peer", "number", "size_bits", "available_bits")

    def __init__(self, message: str, *, peer: str | None = None, number: int | None = None,
                 size_bits: int | None = None, available_bits: int | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.peer = peer
        self.number = number
        self.size_bits = size_bits
        self.available_bits = available_bits


class LimitExceeded(QnetError):
    """A request exceeds one of the node's hard limits (`qemu_net.network.limits.Limits`: batch size, message
    size, queued bytes, waiting calls) [RESOURCE_EXHAUSTED]. Fields: ``limit`` and, where there is one, ``value``."""

    grpc_code = "RESOURCE_EXHAUSTED"
    _own_fields = ("limit", "value")

    def __init__(self, message: str, *, limit: int | float | None = None, value: int | float | None = None,
                 **extra: Any) -> None:
        super().__init__(message, **extra)
        self.limit = limit
        self.value = value


# ------------------------------------------------------------------ a peer or a protocol did not finish
class PeerUnavailable(QnetError):
    """A node did not answer within its deadline, or is unreachable [UNAVAILABLE]. Field: ``peer``."""

    grpc_code = "UNAVAILABLE"
    _own_fields = ("peer",)

    def __init__(self, message: str, *, peer: str | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.peer = peer


class ShuttingDown(QnetError):
    """The node is draining after SIGTERM and takes no new work [UNAVAILABLE]. No fields of its own."""

    grpc_code = "UNAVAILABLE"


class ProtocolTimeout(QnetError):
    """A protocol step waited past its deadline, or its caller cancelled [DEADLINE_EXCEEDED].

    Fields: ``sender`` and ``channel`` of the classical message waited for, where there is one."""

    grpc_code = "DEADLINE_EXCEEDED"
    _own_fields = ("sender", "channel")

    def __init__(self, message: str, *, sender: str | None = None, channel: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message, **extra)
        self.sender = sender
        self.channel = channel


class ProtocolAborted(QnetError):
    """A protocol ended on purpose without a result, e.g. QKD saw too many errors or an EPR source gave up
    [ABORTED]. Fields: ``peer``, ``reason``, ``result`` (the partial result, e.g. an aborted QKD session's),
    ``attempts``, ``max_attempts``, ``herald_probability``, ``discarded`` and ``cutoff_s`` (memory cut-off)."""

    grpc_code = "ABORTED"
    _own_fields = ("peer", "reason", "result", "attempts", "max_attempts", "herald_probability", "discarded",
                   "cutoff_s")

    def __init__(self, message: str, *, peer: str | None = None, reason: str | None = None,
                 result: object = None, attempts: int | None = None, max_attempts: int | None = None,
                 herald_probability: float | None = None, discarded: int | None = None,
                 cutoff_s: float | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.peer = peer
        self.reason = reason
        self.result = result
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.herald_probability = herald_probability
        self.discarded = discarded
        self.cutoff_s = cutoff_s


# ------------------------------------------------------------------ the caller may not do this
class PermissionDenied(QnetError):
    """An operation the node was not started to allow (e.g. state inspection), or a caller without the right
    to it [PERMISSION_DENIED]. Field: ``qubit``, where the operation names one."""

    grpc_code = "PERMISSION_DENIED"
    _own_fields = ("qubit",)

    def __init__(self, message: str, *, qubit: str | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.qubit = qubit


class Unauthenticated(QnetError):
    """The caller proved no identity (no certificate) where one is required [UNAUTHENTICATED]. No fields of
    its own."""

    grpc_code = "UNAUTHENTICATED"


#: Every error type of the tree (the root excluded), in the order of the module docstring.
ALL_ERRORS: tuple[type[QnetError], ...] = (
    InvalidOperation,
    UnknownNode,
    TopologyError,
    QubitNotFound,
    KeyNotFound,
    WrongLocation,
    NotColocated,
    NotConnected,
    MemoryFull,
    KeysExhausted,
    LimitExceeded,
    PeerUnavailable,
    ShuttingDown,
    ProtocolTimeout,
    ProtocolAborted,
    PermissionDenied,
    Unauthenticated,
)

__all__ = ["ALL_ERRORS", "InvalidOperation", "KeyNotFound", "KeysExhausted", "LimitExceeded", "MemoryFull",
           "NotColocated", "NotConnected", "PeerUnavailable", "PermissionDenied", "ProtocolAborted", "ProtocolTimeout",
           "QnetError",
           "QubitNotFound", "ShuttingDown", "TopologyError", "Unauthenticated", "UnknownNode", "WrongLocation"]
