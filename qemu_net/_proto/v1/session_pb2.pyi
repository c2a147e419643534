from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class RenewSessionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SessionLease(_message.Message):
    __slots__ = ("session_id", "owner", "lease_s", "qubits_owned")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LEASE_S_FIELD_NUMBER: _ClassVar[int]
    QUBITS_OWNED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    owner: str
    lease_s: float
    qubits_owned: int
    def __init__(self, session_id: _Optional[str] = ..., owner: _Optional[str] = ..., lease_s: _Optional[float] = ..., qubits_owned: _Optional[int] = ...) -> None: ...
