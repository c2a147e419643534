from qemu_net._proto.v1 import types_pb2 as _types_pb2
from qemu_net._proto.v1 import protocols_pb2 as _protocols_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("name", "virtual_time_ns", "qubits_in_use", "memory_qubits", "neighbours", "inspect_allowed", "groups_held")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    QUBITS_IN_USE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_QUBITS_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOURS_FIELD_NUMBER: _ClassVar[int]
    INSPECT_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_HELD_FIELD_NUMBER: _ClassVar[int]
    name: str
    virtual_time_ns: int
    qubits_in_use: int
    memory_qubits: int
    neighbours: _containers.RepeatedScalarFieldContainer[str]
    inspect_allowed: bool
    groups_held: int
    def __init__(self, name: _Optional[str] = ..., virtual_time_ns: _Optional[int] = ..., qubits_in_use: _Optional[int] = ..., memory_qubits: _Optional[int] = ..., neighbours: _Optional[_Iterable[str]] = ..., inspect_allowed: _Optional[bool] = ..., groups_held: _Optional[int] = ...) -> None: ...

class AllocateRequest(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class AllocateResponse(_message.Message):
    __slots__ = ("qubits",)
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, qubits: _Optional[_Iterable[str]] = ...) -> None: ...

class FreeRequest(_message.Message):
    __slots__ = ("qubits",)
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, qubits: _Optional[_Iterable[str]] = ...) -> None: ...

class FreeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ApplyRequest(_message.Message):
    __slots__ = ("operations",)
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Operation]
    def __init__(self, operations: _Optional[_Iterable[_Union[_types_pb2.Operation, _Mapping]]] = ...) -> None: ...

class ApplyResponse(_message.Message):
    __slots__ = ("outcomes", "virtual_time_ns")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedScalarFieldContainer[int]
    virtual_time_ns: int
    def __init__(self, outcomes: _Optional[_Iterable[int]] = ..., virtual_time_ns: _Optional[int] = ...) -> None: ...

class SendQubitRequest(_message.Message):
    __slots__ = ("qubit", "to")
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    qubit: str
    to: str
    def __init__(self, qubit: _Optional[str] = ..., to: _Optional[str] = ...) -> None: ...

class SendQubitResponse(_message.Message):
    __slots__ = ("lost", "arrival_ns")
    LOST_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_NS_FIELD_NUMBER: _ClassVar[int]
    lost: bool
    arrival_ns: int
    def __init__(self, lost: _Optional[bool] = ..., arrival_ns: _Optional[int] = ...) -> None: ...

class CreateEprRequest(_message.Message):
    __slots__ = ("peer", "count")
    PEER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    count: int
    def __init__(self, peer: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class CreateEprResponse(_message.Message):
    __slots__ = ("pairs",)
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[_types_pb2.EprPair]
    def __init__(self, pairs: _Optional[_Iterable[_Union[_types_pb2.EprPair, _Mapping]]] = ...) -> None: ...

class CreateMeasureEprRequest(_message.Message):
    __slots__ = ("peer", "count", "local_bases", "remote_bases")
    PEER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LOCAL_BASES_FIELD_NUMBER: _ClassVar[int]
    REMOTE_BASES_FIELD_NUMBER: _ClassVar[int]
    peer: str
    count: int
    local_bases: bytes
    remote_bases: bytes
    def __init__(self, peer: _Optional[str] = ..., count: _Optional[int] = ..., local_bases: _Optional[bytes] = ..., remote_bases: _Optional[bytes] = ...) -> None: ...

class CreateMeasureEprResponse(_message.Message):
    __slots__ = ("batch_id", "local_outcomes", "attempts", "virtual_time_ns")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    local_outcomes: bytes
    attempts: int
    virtual_time_ns: int
    def __init__(self, batch_id: _Optional[str] = ..., local_outcomes: _Optional[bytes] = ..., attempts: _Optional[int] = ..., virtual_time_ns: _Optional[int] = ...) -> None: ...

class FetchEprOutcomesRequest(_message.Message):
    __slots__ = ("batch_id", "timeout_s")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    timeout_s: float
    def __init__(self, batch_id: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class FetchEprOutcomesResponse(_message.Message):
    __slots__ = ("peer", "outcomes", "bases")
    PEER_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    BASES_FIELD_NUMBER: _ClassVar[int]
    peer: str
    outcomes: bytes
    bases: bytes
    def __init__(self, peer: _Optional[str] = ..., outcomes: _Optional[bytes] = ..., bases: _Optional[bytes] = ...) -> None: ...

class SendClassicalRequest(_message.Message):
    __slots__ = ("to", "channel", "payload", "message_id")
    TO_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    to: str
    channel: str
    payload: bytes
    message_id: str
    def __init__(self, to: _Optional[str] = ..., channel: _Optional[str] = ..., payload: _Optional[bytes] = ..., message_id: _Optional[str] = ...) -> None: ...

class SendClassicalResponse(_message.Message):
    __slots__ = ("seq", "arrival_ns")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_NS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    arrival_ns: int
    def __init__(self, seq: _Optional[int] = ..., arrival_ns: _Optional[int] = ...) -> None: ...

class ReceiveClassicalRequest(_message.Message):
    __slots__ = ("sender", "channel", "timeout_s", "acknowledged", "ack", "any_of")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_FIELD_NUMBER: _ClassVar[int]
    sender: str
    channel: str
    timeout_s: float
    acknowledged: bool
    ack: int
    any_of: _containers.RepeatedCompositeFieldContainer[ChannelKey]
    def __init__(self, sender: _Optional[str] = ..., channel: _Optional[str] = ..., timeout_s: _Optional[float] = ..., acknowledged: _Optional[bool] = ..., ack: _Optional[int] = ..., any_of: _Optional[_Iterable[_Union[ChannelKey, _Mapping]]] = ...) -> None: ...

class ChannelKey(_message.Message):
    __slots__ = ("sender", "channel")
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    sender: str
    channel: str
    def __init__(self, sender: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class ReceiveClassicalResponse(_message.Message):
    __slots__ = ("payload", "seq", "arrival_ns", "delivery_id", "sender", "channel")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_NS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    seq: int
    arrival_ns: int
    delivery_id: int
    sender: str
    channel: str
    def __init__(self, payload: _Optional[bytes] = ..., seq: _Optional[int] = ..., arrival_ns: _Optional[int] = ..., delivery_id: _Optional[int] = ..., sender: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class InspectRequest(_message.Message):
    __slots__ = ("qubits",)
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, qubits: _Optional[_Iterable[str]] = ...) -> None: ...

class InspectResponse(_message.Message):
    __slots__ = ("dim", "density_matrix")
    DIM_FIELD_NUMBER: _ClassVar[int]
    DENSITY_MATRIX_FIELD_NUMBER: _ClassVar[int]
    dim: int
    density_matrix: bytes
    def __init__(self, dim: _Optional[int] = ..., density_matrix: _Optional[bytes] = ...) -> None: ...
