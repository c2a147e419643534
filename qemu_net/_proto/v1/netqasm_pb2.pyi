from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NetQasmSubmitRequest(_message.Message):
    __slots__ = ("session_id", "messages")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    messages: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, session_id: _Optional[str] = ..., messages: _Optional[_Iterable[bytes]] = ...) -> None: ...

class NetQasmRegister(_message.Message):
    __slots__ = ("name", "index", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    value: int
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...

class NetQasmArray(_message.Message):
    __slots__ = ("address", "values", "defined")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    DEFINED_FIELD_NUMBER: _ClassVar[int]
    address: int
    values: _containers.RepeatedScalarFieldContainer[int]
    defined: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, address: _Optional[int] = ..., values: _Optional[_Iterable[int]] = ..., defined: _Optional[_Iterable[bool]] = ...) -> None: ...

class NetQasmSubmitReply(_message.Message):
    __slots__ = ("registers", "arrays", "virtual_time_ns")
    REGISTERS_FIELD_NUMBER: _ClassVar[int]
    ARRAYS_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    registers: _containers.RepeatedCompositeFieldContainer[NetQasmRegister]
    arrays: _containers.RepeatedCompositeFieldContainer[NetQasmArray]
    virtual_time_ns: int
    def __init__(self, registers: _Optional[_Iterable[_Union[NetQasmRegister, _Mapping]]] = ..., arrays: _Optional[_Iterable[_Union[NetQasmArray, _Mapping]]] = ..., virtual_time_ns: _Optional[int] = ...) -> None: ...

class NetQasmQubitStateRequest(_message.Message):
    __slots__ = ("session_id", "virtual_addresses")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    virtual_addresses: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, session_id: _Optional[str] = ..., virtual_addresses: _Optional[_Iterable[int]] = ...) -> None: ...

class NetQasmQubitStateReply(_message.Message):
    __slots__ = ("dimension", "real", "imag")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    REAL_FIELD_NUMBER: _ClassVar[int]
    IMAG_FIELD_NUMBER: _ClassVar[int]
    dimension: int
    real: _containers.RepeatedScalarFieldContainer[float]
    imag: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, dimension: _Optional[int] = ..., real: _Optional[_Iterable[float]] = ..., imag: _Optional[_Iterable[float]] = ...) -> None: ...
