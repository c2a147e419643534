from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyStatusRequest(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: str
    def __init__(self, peer: _Optional[str] = ...) -> None: ...

class KeyStatus(_message.Message):
    __slots__ = ("node", "peer", "stored_bits", "stored_sessions", "stored_key_count", "default_key_size_bits", "min_key_size_bits", "max_key_size_bits", "max_keys_per_request", "pending_keys")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    STORED_BITS_FIELD_NUMBER: _ClassVar[int]
    STORED_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    STORED_KEY_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_KEY_SIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    MIN_KEY_SIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    MAX_KEY_SIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_PER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    PENDING_KEYS_FIELD_NUMBER: _ClassVar[int]
    node: str
    peer: str
    stored_bits: int
    stored_sessions: int
    stored_key_count: int
    default_key_size_bits: int
    min_key_size_bits: int
    max_key_size_bits: int
    max_keys_per_request: int
    pending_keys: int
    def __init__(self, node: _Optional[str] = ..., peer: _Optional[str] = ..., stored_bits: _Optional[int] = ..., stored_sessions: _Optional[int] = ..., stored_key_count: _Optional[int] = ..., default_key_size_bits: _Optional[int] = ..., min_key_size_bits: _Optional[int] = ..., max_key_size_bits: _Optional[int] = ..., max_keys_per_request: _Optional[int] = ..., pending_keys: _Optional[int] = ...) -> None: ...

class GetKeysRequest(_message.Message):
    __slots__ = ("peer", "number", "size_bits", "slave_id")
    PEER_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    SIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    SLAVE_ID_FIELD_NUMBER: _ClassVar[int]
    peer: str
    number: int
    size_bits: int
    slave_id: str
    def __init__(self, peer: _Optional[str] = ..., number: _Optional[int] = ..., size_bits: _Optional[int] = ..., slave_id: _Optional[str] = ...) -> None: ...

class GetKeysWithIdsRequest(_message.Message):
    __slots__ = ("peer", "key_ids")
    PEER_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    peer: str
    key_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, peer: _Optional[str] = ..., key_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Key(_message.Message):
    __slots__ = ("key_id", "size_bits", "key")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    size_bits: int
    key: bytes
    def __init__(self, key_id: _Optional[str] = ..., size_bits: _Optional[int] = ..., key: _Optional[bytes] = ...) -> None: ...

class KeyContainer(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[Key]
    def __init__(self, keys: _Optional[_Iterable[_Union[Key, _Mapping]]] = ...) -> None: ...
