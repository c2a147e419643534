from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
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

class Bb84Alice(_message.Message):
    __slots__ = ("peer", "n_pulses", "pulse_rate_hz", "block_pulses", "single_photon", "mu", "nu", "p_signal", "p_decoy", "p_vacuum", "p_z", "sample_fraction", "sample_size", "qber_threshold", "cascade_passes", "eps_pa", "eve_fraction", "report_abort")
    PEER_FIELD_NUMBER: _ClassVar[int]
    N_PULSES_FIELD_NUMBER: _ClassVar[int]
    PULSE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    BLOCK_PULSES_FIELD_NUMBER: _ClassVar[int]
    SINGLE_PHOTON_FIELD_NUMBER: _ClassVar[int]
    MU_FIELD_NUMBER: _ClassVar[int]
    NU_FIELD_NUMBER: _ClassVar[int]
    P_SIGNAL_FIELD_NUMBER: _ClassVar[int]
    P_DECOY_FIELD_NUMBER: _ClassVar[int]
    P_VACUUM_FIELD_NUMBER: _ClassVar[int]
    P_Z_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    QBER_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CASCADE_PASSES_FIELD_NUMBER: _ClassVar[int]
    EPS_PA_FIELD_NUMBER: _ClassVar[int]
    EVE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    REPORT_ABORT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    n_pulses: int
    pulse_rate_hz: float
    block_pulses: int
    single_photon: bool
    mu: float
    nu: float
    p_signal: float
    p_decoy: float
    p_vacuum: float
    p_z: float
    sample_fraction: float
    sample_size: int
    qber_threshold: float
    cascade_passes: int
    eps_pa: float
    eve_fraction: float
    report_abort: bool
    def __init__(self, peer: _Optional[str] = ..., n_pulses: _Optional[int] = ..., pulse_rate_hz: _Optional[float] = ..., block_pulses: _Optional[int] = ..., single_photon: _Optional[bool] = ..., mu: _Optional[float] = ..., nu: _Optional[float] = ..., p_signal: _Optional[float] = ..., p_decoy: _Optional[float] = ..., p_vacuum: _Optional[float] = ..., p_z: _Optional[float] = ..., sample_fraction: _Optional[float] = ..., sample_size: _Optional[int] = ..., qber_threshold: _Optional[float] = ..., cascade_passes: _Optional[int] = ..., eps_pa: _Optional[float] = ..., eve_fraction: _Optional[float] = ..., report_abort: _Optional[bool] = ...) -> None: ...

class Bb84Bob(_message.Message):
    __slots__ = ("peer", "cascade_passes", "report_abort")
    PEER_FIELD_NUMBER: _ClassVar[int]
    CASCADE_PASSES_FIELD_NUMBER: _ClassVar[int]
    REPORT_ABORT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    cascade_passes: int
    report_abort: bool
    def __init__(self, peer: _Optional[str] = ..., cascade_passes: _Optional[int] = ..., report_abort: _Optional[bool] = ...) -> None: ...

class E91Alice(_message.Message):
    __slots__ = ("peer", "n_pairs", "pair_rate_hz", "block_pairs", "visibility", "p_z", "sample_fraction", "sample_size", "qber_threshold", "chsh_threshold", "cascade_passes", "eps_pa", "eve_fraction", "report_abort")
    PEER_FIELD_NUMBER: _ClassVar[int]
    N_PAIRS_FIELD_NUMBER: _ClassVar[int]
    PAIR_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    BLOCK_PAIRS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    P_Z_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    QBER_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CHSH_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CASCADE_PASSES_FIELD_NUMBER: _ClassVar[int]
    EPS_PA_FIELD_NUMBER: _ClassVar[int]
    EVE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    REPORT_ABORT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    n_pairs: int
    pair_rate_hz: float
    block_pairs: int
    visibility: float
    p_z: float
    sample_fraction: float
    sample_size: int
    qber_threshold: float
    chsh_threshold: float
    cascade_passes: int
    eps_pa: float
    eve_fraction: float
    report_abort: bool
    def __init__(self, peer: _Optional[str] = ..., n_pairs: _Optional[int] = ..., pair_rate_hz: _Optional[float] = ..., block_pairs: _Optional[int] = ..., visibility: _Optional[float] = ..., p_z: _Optional[float] = ..., sample_fraction: _Optional[float] = ..., sample_size: _Optional[int] = ..., qber_threshold: _Optional[float] = ..., chsh_threshold: _Optional[float] = ..., cascade_passes: _Optional[int] = ..., eps_pa: _Optional[float] = ..., eve_fraction: _Optional[float] = ..., report_abort: _Optional[bool] = ...) -> None: ...

class E91Bob(_message.Message):
    __slots__ = ("peer", "p_key", "cascade_passes", "report_abort")
    PEER_FIELD_NUMBER: _ClassVar[int]
    P_KEY_FIELD_NUMBER: _ClassVar[int]
    CASCADE_PASSES_FIELD_NUMBER: _ClassVar[int]
    REPORT_ABORT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    p_key: float
    cascade_passes: int
    report_abort: bool
    def __init__(self, peer: _Optional[str] = ..., p_key: _Optional[float] = ..., cascade_passes: _Optional[int] = ..., report_abort: _Optional[bool] = ...) -> None: ...

class QkdSessionResult(_message.Message):
    __slots__ = ("protocol", "role", "peer", "n_pulses", "pulse_rate_hz", "raw_bits", "sifted_bits", "sample_bits", "reconciled_bits", "final_bits", "qber", "leaked_ec_bits", "verification_bits", "security_margin_bits", "secret_fraction", "key_rate_per_pulse", "key_rate_per_s", "duration_ns", "corrected_errors", "ec_efficiency", "cascade_rounds", "y1_lower", "e1_upper", "asymptotic_rate_per_pulse", "gains", "chsh", "chsh_stderr", "aborted", "stored_bits")
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    N_PULSES_FIELD_NUMBER: _ClassVar[int]
    PULSE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    RAW_BITS_FIELD_NUMBER: _ClassVar[int]
    SIFTED_BITS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_BITS_FIELD_NUMBER: _ClassVar[int]
    RECONCILED_BITS_FIELD_NUMBER: _ClassVar[int]
    FINAL_BITS_FIELD_NUMBER: _ClassVar[int]
    QBER_FIELD_NUMBER: _ClassVar[int]
    LEAKED_EC_BITS_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_BITS_FIELD_NUMBER: _ClassVar[int]
    SECURITY_MARGIN_BITS_FIELD_NUMBER: _ClassVar[int]
    SECRET_FRACTION_FIELD_NUMBER: _ClassVar[int]
    KEY_RATE_PER_PULSE_FIELD_NUMBER: _ClassVar[int]
    KEY_RATE_PER_S_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    CORRECTED_ERRORS_FIELD_NUMBER: _ClassVar[int]
    EC_EFFICIENCY_FIELD_NUMBER: _ClassVar[int]
    CASCADE_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    Y1_LOWER_FIELD_NUMBER: _ClassVar[int]
    E1_UPPER_FIELD_NUMBER: _ClassVar[int]
    ASYMPTOTIC_RATE_PER_PULSE_FIELD_NUMBER: _ClassVar[int]
    GAINS_FIELD_NUMBER: _ClassVar[int]
    CHSH_FIELD_NUMBER: _ClassVar[int]
    CHSH_STDERR_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    STORED_BITS_FIELD_NUMBER: _ClassVar[int]
    protocol: str
    role: str
    peer: str
    n_pulses: int
    pulse_rate_hz: float
    raw_bits: int
    sifted_bits: int
    sample_bits: int
    reconciled_bits: int
    final_bits: int
    qber: float
    leaked_ec_bits: int
    verification_bits: int
    security_margin_bits: int
    secret_fraction: float
    key_rate_per_pulse: float
    key_rate_per_s: float
    duration_ns: float
    corrected_errors: int
    ec_efficiency: float
    cascade_rounds: int
    y1_lower: float
    e1_upper: float
    asymptotic_rate_per_pulse: float
    gains: _containers.RepeatedScalarFieldContainer[float]
    chsh: float
    chsh_stderr: float
    aborted: str
    stored_bits: int
    def __init__(self, protocol: _Optional[str] = ..., role: _Optional[str] = ..., peer: _Optional[str] = ..., n_pulses: _Optional[int] = ..., pulse_rate_hz: _Optional[float] = ..., raw_bits: _Optional[int] = ..., sifted_bits: _Optional[int] = ..., sample_bits: _Optional[int] = ..., reconciled_bits: _Optional[int] = ..., final_bits: _Optional[int] = ..., qber: _Optional[float] = ..., leaked_ec_bits: _Optional[int] = ..., verification_bits: _Optional[int] = ..., security_margin_bits: _Optional[int] = ..., secret_fraction: _Optional[float] = ..., key_rate_per_pulse: _Optional[float] = ..., key_rate_per_s: _Optional[float] = ..., duration_ns: _Optional[float] = ..., corrected_errors: _Optional[int] = ..., ec_efficiency: _Optional[float] = ..., cascade_rounds: _Optional[int] = ..., y1_lower: _Optional[float] = ..., e1_upper: _Optional[float] = ..., asymptotic_rate_per_pulse: _Optional[float] = ..., gains: _Optional[_Iterable[float]] = ..., chsh: _Optional[float] = ..., chsh_stderr: _Optional[float] = ..., aborted: _Optional[str] = ..., stored_bits: _Optional[int] = ...) -> None: ...

class ProtocolRequest(_message.Message):
    __slots__ = ("session_id", "timeout_s", "teleport_send", "teleport_receive", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_SEND_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    BB84_ALICE_FIELD_NUMBER: _ClassVar[int]
    BB84_BOB_FIELD_NUMBER: _ClassVar[int]
    E91_ALICE_FIELD_NUMBER: _ClassVar[int]
    E91_BOB_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    timeout_s: float
    teleport_send: TeleportSend
    teleport_receive: TeleportReceive
    bb84_alice: Bb84Alice
    bb84_bob: Bb84Bob
    e91_alice: E91Alice
    e91_bob: E91Bob
    def __init__(self, session_id: _Optional[str] = ..., timeout_s: _Optional[float] = ..., teleport_send: _Optional[_Union[TeleportSend, _Mapping]] = ..., teleport_receive: _Optional[_Union[TeleportReceive, _Mapping]] = ..., bb84_alice: _Optional[_Union[Bb84Alice, _Mapping]] = ..., bb84_bob: _Optional[_Union[Bb84Bob, _Mapping]] = ..., e91_alice: _Optional[_Union[E91Alice, _Mapping]] = ..., e91_bob: _Optional[_Union[E91Bob, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("session_id", "virtual_time_ns", "wall_time_s", "teleport_send", "teleport_receive", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_S_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_SEND_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    BB84_ALICE_FIELD_NUMBER: _ClassVar[int]
    BB84_BOB_FIELD_NUMBER: _ClassVar[int]
    E91_ALICE_FIELD_NUMBER: _ClassVar[int]
    E91_BOB_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    virtual_time_ns: int
    wall_time_s: float
    teleport_send: TeleportSendResult
    teleport_receive: TeleportReceiveResult
    bb84_alice: QkdSessionResult
    bb84_bob: QkdSessionResult
    e91_alice: QkdSessionResult
    e91_bob: QkdSessionResult
    def __init__(self, session_id: _Optional[str] = ..., virtual_time_ns: _Optional[int] = ..., wall_time_s: _Optional[float] = ..., teleport_send: _Optional[_Union[TeleportSendResult, _Mapping]] = ..., teleport_receive: _Optional[_Union[TeleportReceiveResult, _Mapping]] = ..., bb84_alice: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., bb84_bob: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., e91_alice: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., e91_bob: _Optional[_Union[QkdSessionResult, _Mapping]] = ...) -> None: ...
