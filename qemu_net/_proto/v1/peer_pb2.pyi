from qemu_net._proto.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Ack(_message.Message):
    __slots__ = ("virtual_time_ns",)
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    virtual_time_ns: int
    def __init__(self, virtual_time_ns: _Optional[int] = ...) -> None: ...

class ForwardRequest(_message.Message):
    __slots__ = ("from_node", "operations", "virtual_time_ns", "pull_from", "txn", "min_epochs", "rebase_ns", "request_id", "repeat")
    class PullFromEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MinEpochsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class RebaseNsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    PULL_FROM_FIELD_NUMBER: _ClassVar[int]
    TXN_FIELD_NUMBER: _ClassVar[int]
    MIN_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    REBASE_NS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    from_node: str
    operations: _containers.RepeatedCompositeFieldContainer[_types_pb2.Operation]
    virtual_time_ns: int
    pull_from: _containers.ScalarMap[str, str]
    txn: Txn
    min_epochs: _containers.ScalarMap[str, int]
    rebase_ns: _containers.ScalarMap[str, int]
    request_id: int
    repeat: bool
    def __init__(self, from_node: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[_types_pb2.Operation, _Mapping]]] = ..., virtual_time_ns: _Optional[int] = ..., pull_from: _Optional[_Mapping[str, str]] = ..., txn: _Optional[_Union[Txn, _Mapping]] = ..., min_epochs: _Optional[_Mapping[str, int]] = ..., rebase_ns: _Optional[_Mapping[str, int]] = ..., request_id: _Optional[int] = ..., repeat: _Optional[bool] = ...) -> None: ...

class Txn(_message.Message):
    __slots__ = ("born_ns", "node", "seq")
    BORN_NS_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    born_ns: int
    node: str
    seq: int
    def __init__(self, born_ns: _Optional[int] = ..., node: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class ForwardResponse(_message.Message):
    __slots__ = ("outcomes", "virtual_time_ns", "moved", "moved_epochs", "sizes")
    class MovedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MovedEpochsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    MOVED_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SIZES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedScalarFieldContainer[int]
    virtual_time_ns: int
    moved: _containers.ScalarMap[str, str]
    moved_epochs: _containers.ScalarMap[str, int]
    sizes: bytes
    def __init__(self, outcomes: _Optional[_Iterable[int]] = ..., virtual_time_ns: _Optional[int] = ..., moved: _Optional[_Mapping[str, str]] = ..., moved_epochs: _Optional[_Mapping[str, int]] = ..., sizes: _Optional[bytes] = ...) -> None: ...

class TakeGroupRequest(_message.Message):
    __slots__ = ("qubit", "new_holder", "txn", "wait_unpinned", "min_epoch")
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    NEW_HOLDER_FIELD_NUMBER: _ClassVar[int]
    TXN_FIELD_NUMBER: _ClassVar[int]
    WAIT_UNPINNED_FIELD_NUMBER: _ClassVar[int]
    MIN_EPOCH_FIELD_NUMBER: _ClassVar[int]
    qubit: str
    new_holder: str
    txn: Txn
    wait_unpinned: bool
    min_epoch: int
    def __init__(self, qubit: _Optional[str] = ..., new_holder: _Optional[str] = ..., txn: _Optional[_Union[Txn, _Mapping]] = ..., wait_unpinned: _Optional[bool] = ..., min_epoch: _Optional[int] = ...) -> None: ...

class TakeGroupResponse(_message.Message):
    __slots__ = ("state", "moved_to", "moved_epoch", "busy")
    STATE_FIELD_NUMBER: _ClassVar[int]
    MOVED_TO_FIELD_NUMBER: _ClassVar[int]
    MOVED_EPOCH_FIELD_NUMBER: _ClassVar[int]
    BUSY_FIELD_NUMBER: _ClassVar[int]
    state: _types_pb2.GroupState
    moved_to: str
    moved_epoch: int
    busy: bool
    def __init__(self, state: _Optional[_Union[_types_pb2.GroupState, _Mapping]] = ..., moved_to: _Optional[str] = ..., moved_epoch: _Optional[int] = ..., busy: _Optional[bool] = ...) -> None: ...

class UpdateHolderRequest(_message.Message):
    __slots__ = ("qubits", "holder", "group_sizes", "epochs")
    class GroupSizesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class EpochsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZES_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    holder: str
    group_sizes: _containers.ScalarMap[str, int]
    epochs: _containers.ScalarMap[str, int]
    def __init__(self, qubits: _Optional[_Iterable[str]] = ..., holder: _Optional[str] = ..., group_sizes: _Optional[_Mapping[str, int]] = ..., epochs: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ArrivingQubit(_message.Message):
    __slots__ = ("qubit", "holder", "group_size", "pair_id", "tag", "ready_ns", "attempts", "owner")
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    READY_NS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    qubit: str
    holder: str
    group_size: int
    pair_id: str
    tag: str
    ready_ns: int
    attempts: int
    owner: str
    def __init__(self, qubit: _Optional[str] = ..., holder: _Optional[str] = ..., group_size: _Optional[int] = ..., pair_id: _Optional[str] = ..., tag: _Optional[str] = ..., ready_ns: _Optional[int] = ..., attempts: _Optional[int] = ..., owner: _Optional[str] = ...) -> None: ...

class ArriveRequest(_message.Message):
    __slots__ = ("from_node", "qubits", "virtual_time_ns", "state", "adopt")
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ADOPT_FIELD_NUMBER: _ClassVar[int]
    from_node: str
    qubits: _containers.RepeatedCompositeFieldContainer[ArrivingQubit]
    virtual_time_ns: int
    state: _types_pb2.GroupState
    adopt: _containers.RepeatedCompositeFieldContainer[_types_pb2.GroupState]
    def __init__(self, from_node: _Optional[str] = ..., qubits: _Optional[_Iterable[_Union[ArrivingQubit, _Mapping]]] = ..., virtual_time_ns: _Optional[int] = ..., state: _Optional[_Union[_types_pb2.GroupState, _Mapping]] = ..., adopt: _Optional[_Iterable[_Union[_types_pb2.GroupState, _Mapping]]] = ...) -> None: ...

class ClassicalMessage(_message.Message):
    __slots__ = ("from_node", "channel", "seq", "payload", "sent_ns", "arrival_ns", "attached")
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SENT_NS_FIELD_NUMBER: _ClassVar[int]
    ARRIVAL_NS_FIELD_NUMBER: _ClassVar[int]
    ATTACHED_FIELD_NUMBER: _ClassVar[int]
    from_node: str
    channel: str
    seq: int
    payload: bytes
    sent_ns: int
    arrival_ns: int
    attached: ArriveRequest
    def __init__(self, from_node: _Optional[str] = ..., channel: _Optional[str] = ..., seq: _Optional[int] = ..., payload: _Optional[bytes] = ..., sent_ns: _Optional[int] = ..., arrival_ns: _Optional[int] = ..., attached: _Optional[_Union[ArriveRequest, _Mapping]] = ...) -> None: ...

class EprOutcomes(_message.Message):
    __slots__ = ("from_node", "batch_id", "outcomes", "bases", "virtual_time_ns")
    FROM_NODE_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    BASES_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    from_node: str
    batch_id: str
    outcomes: bytes
    bases: bytes
    virtual_time_ns: int
    def __init__(self, from_node: _Optional[str] = ..., batch_id: _Optional[str] = ..., outcomes: _Optional[bytes] = ..., bases: _Optional[bytes] = ..., virtual_time_ns: _Optional[int] = ...) -> None: ...
