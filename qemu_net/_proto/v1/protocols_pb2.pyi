from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TeleportSend(_message.Message):
    __slots__ = ("peer", "qubit")
    PEER_FIELD_NUMBER: _ClassVar[int]
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    qubit: str
    def __init__(self, peer: _Optional[str] = ..., qubit: _Optional[str] = ...) -> None: ...

class TeleportReceive(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: str
    def __init__(self, peer: _Optional[str] = ...) -> None: ...

class ProtocolRequest(_message.Message):
    __slots__ = ("session_id", "timeout_s", "teleport_send", "teleport_receive")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_SEND_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    timeout_s: float
    teleport_send: TeleportSend
    teleport_receive: TeleportReceive
    def __init__(self, session_id: _Optional[str] = ..., timeout_s: _Optional[float] = ..., teleport_send: _Optional[_Union[TeleportSend, _Mapping]] = ..., teleport_receive: _Optional[_Union[TeleportReceive, _Mapping]] = ...) -> None: ...

class TeleportSendResult(_message.Message):
    __slots__ = ("m1", "m2")
    M1_FIELD_NUMBER: _ClassVar[int]
    M2_FIELD_NUMBER: _ClassVar[int]
    m1: int
    m2: int
    def __init__(self, m1: _Optional[int] = ..., m2: _Optional[int] = ...) -> None: ...

class TeleportReceiveResult(_message.Message):
    __slots__ = ("qubit",)
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    qubit: str
    def __init__(self, qubit: _Optional[str] = ...) -> None: ...

class ProtocolResult(_message.Message):
    __slots__ = ("session_id", "virtual_time_ns", "wall_time_s", "teleport_send", "teleport_receive")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_S_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_SEND_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    virtual_time_ns: int
    wall_time_s: float
    teleport_send: TeleportSendResult
    teleport_receive: TeleportReceiveResult
    def __init__(self, session_id: _Optional[str] = ..., virtual_time_ns: _Optional[int] = ..., wall_time_s: _Optional[float] = ..., teleport_send: _Optional[_Union[TeleportSendResult, _Mapping]] = ..., teleport_receive: _Optional[_Union[TeleportReceiveResult, _Mapping]] = ...) -> None: ...
