from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Basis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BASIS_UNSPECIFIED: _ClassVar[Basis]
    BASIS_Z: _ClassVar[Basis]
    BASIS_X: _ClassVar[Basis]
    BASIS_Y: _ClassVar[Basis]

class NamedGate(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NAMED_GATE_UNSPECIFIED: _ClassVar[NamedGate]
    I: _ClassVar[NamedGate]
    X: _ClassVar[NamedGate]
    Y: _ClassVar[NamedGate]
    Z: _ClassVar[NamedGate]
    H: _ClassVar[NamedGate]
    S: _ClassVar[NamedGate]
    S_DAG: _ClassVar[NamedGate]
    T: _ClassVar[NamedGate]
    T_DAG: _ClassVar[NamedGate]
    SQRT_X: _ClassVar[NamedGate]
    SQRT_X_DAG: _ClassVar[NamedGate]
    CNOT: _ClassVar[NamedGate]
    CZ: _ClassVar[NamedGate]
    SWAP: _ClassVar[NamedGate]
    ISWAP: _ClassVar[NamedGate]

class RotationAxis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROTATION_AXIS_UNSPECIFIED: _ClassVar[RotationAxis]
    RX: _ClassVar[RotationAxis]
    RY: _ClassVar[RotationAxis]
    RZ: _ClassVar[RotationAxis]
    PHASE: _ClassVar[RotationAxis]
BASIS_UNSPECIFIED: Basis
BASIS_Z: Basis
BASIS_X: Basis
BASIS_Y: Basis
NAMED_GATE_UNSPECIFIED: NamedGate
I: NamedGate
X: NamedGate
Y: NamedGate
Z: NamedGate
H: NamedGate
S: NamedGate
S_DAG: NamedGate
T: NamedGate
T_DAG: NamedGate
SQRT_X: NamedGate
SQRT_X_DAG: NamedGate
CNOT: NamedGate
CZ: NamedGate
SWAP: NamedGate
ISWAP: NamedGate
ROTATION_AXIS_UNSPECIFIED: RotationAxis
RX: RotationAxis
RY: RotationAxis
RZ: RotationAxis
PHASE: RotationAxis

class Rotation(_message.Message):
    __slots__ = ("axis", "angle_rad")
    AXIS_FIELD_NUMBER: _ClassVar[int]
    ANGLE_RAD_FIELD_NUMBER: _ClassVar[int]
    axis: RotationAxis
    angle_rad: float
    def __init__(self, axis: _Optional[_Union[RotationAxis, str]] = ..., angle_rad: _Optional[float] = ...) -> None: ...

class Matrix(_message.Message):
    __slots__ = ("dim", "real", "imag")
    DIM_FIELD_NUMBER: _ClassVar[int]
    REAL_FIELD_NUMBER: _ClassVar[int]
    IMAG_FIELD_NUMBER: _ClassVar[int]
    dim: int
    real: _containers.RepeatedScalarFieldContainer[float]
    imag: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, dim: _Optional[int] = ..., real: _Optional[_Iterable[float]] = ..., imag: _Optional[_Iterable[float]] = ...) -> None: ...

class Gate(_message.Message):
    __slots__ = ("named", "rotation", "matrix")
    NAMED_FIELD_NUMBER: _ClassVar[int]
    ROTATION_FIELD_NUMBER: _ClassVar[int]
    MATRIX_FIELD_NUMBER: _ClassVar[int]
    named: NamedGate
    rotation: Rotation
    matrix: Matrix
    def __init__(self, named: _Optional[_Union[NamedGate, str]] = ..., rotation: _Optional[_Union[Rotation, _Mapping]] = ..., matrix: _Optional[_Union[Matrix, _Mapping]] = ...) -> None: ...

class Measure(_message.Message):
    __slots__ = ("basis", "keep")
    BASIS_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    basis: Basis
    keep: bool
    def __init__(self, basis: _Optional[_Union[Basis, str]] = ..., keep: _Optional[bool] = ...) -> None: ...

class Reset(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Discard(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Wait(_message.Message):
    __slots__ = ("duration_ns",)
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    duration_ns: int
    def __init__(self, duration_ns: _Optional[int] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ("qubits", "gate", "measure", "reset", "discard", "wait")
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    MEASURE_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    DISCARD_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    gate: Gate
    measure: Measure
    reset: Reset
    discard: Discard
    wait: Wait
    def __init__(self, qubits: _Optional[_Iterable[str]] = ..., gate: _Optional[_Union[Gate, _Mapping]] = ..., measure: _Optional[_Union[Measure, _Mapping]] = ..., reset: _Optional[_Union[Reset, _Mapping]] = ..., discard: _Optional[_Union[Discard, _Mapping]] = ..., wait: _Optional[_Union[Wait, _Mapping]] = ...) -> None: ...

class GroupState(_message.Message):
    __slots__ = ("qubits", "locations", "last_ns", "mixed", "data", "epochs")
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_NS_FIELD_NUMBER: _ClassVar[int]
    MIXED_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    locations: _containers.RepeatedScalarFieldContainer[str]
    last_ns: _containers.RepeatedScalarFieldContainer[int]
    mixed: bool
    data: bytes
    epochs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, qubits: _Optional[_Iterable[str]] = ..., locations: _Optional[_Iterable[str]] = ..., last_ns: _Optional[_Iterable[int]] = ..., mixed: _Optional[bool] = ..., data: _Optional[bytes] = ..., epochs: _Optional[_Iterable[int]] = ...) -> None: ...

class EprPair(_message.Message):
    __slots__ = ("pair_id", "local_qubit", "remote_qubit", "ready_ns", "attempts")
    PAIR_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_QUBIT_FIELD_NUMBER: _ClassVar[int]
    REMOTE_QUBIT_FIELD_NUMBER: _ClassVar[int]
    READY_NS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    pair_id: str
    local_qubit: str
    remote_qubit: str
    ready_ns: int
    attempts: int
    def __init__(self, pair_id: _Optional[str] = ..., local_qubit: _Optional[str] = ..., remote_qubit: _Optional[str] = ..., ready_ns: _Optional[int] = ..., attempts: _Optional[int] = ...) -> None: ...
