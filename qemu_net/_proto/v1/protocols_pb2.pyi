from qemu_net._proto.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PurifyMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURIFY_METHOD_UNSPECIFIED: _ClassVar[PurifyMethod]
    DEJMPS: _ClassVar[PurifyMethod]
    BBPSSW: _ClassVar[PurifyMethod]
PURIFY_METHOD_UNSPECIFIED: PurifyMethod
DEJMPS: PurifyMethod
BBPSSW: PurifyMethod

class TeleportSend(_message.Message):
    __slots__ = ("peer", "qubit", "pair_qubit")
    PEER_FIELD_NUMBER: _ClassVar[int]
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    PAIR_QUBIT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    qubit: str
    pair_qubit: str
    def __init__(self, peer: _Optional[str] = ..., qubit: _Optional[str] = ..., pair_qubit: _Optional[str] = ...) -> None: ...

class TeleportReceive(_message.Message):
    __slots__ = ("peer", "pair_qubit")
    PEER_FIELD_NUMBER: _ClassVar[int]
    PAIR_QUBIT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    pair_qubit: str
    def __init__(self, peer: _Optional[str] = ..., pair_qubit: _Optional[str] = ...) -> None: ...

class ChainNode(_message.Message):
    __slots__ = ("path", "pairs", "measure_bases")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    MEASURE_BASES_FIELD_NUMBER: _ClassVar[int]
    path: _containers.RepeatedScalarFieldContainer[str]
    pairs: int
    measure_bases: bytes
    def __init__(self, path: _Optional[_Iterable[str]] = ..., pairs: _Optional[int] = ..., measure_bases: _Optional[bytes] = ...) -> None: ...

class ChainResult(_message.Message):
    __slots__ = ("qubits", "outcomes", "epr_pairs", "swaps")
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    EPR_PAIRS_FIELD_NUMBER: _ClassVar[int]
    SWAPS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    outcomes: bytes
    epr_pairs: int
    swaps: int
    def __init__(self, qubits: _Optional[_Iterable[str]] = ..., outcomes: _Optional[bytes] = ..., epr_pairs: _Optional[int] = ..., swaps: _Optional[int] = ...) -> None: ...

class PurifyEnd(_message.Message):
    __slots__ = ("peer", "method", "rounds", "alice", "qubits", "repetitions", "measure_bases", "route")
    PEER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    ALICE_FIELD_NUMBER: _ClassVar[int]
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    REPETITIONS_FIELD_NUMBER: _ClassVar[int]
    MEASURE_BASES_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    peer: str
    method: PurifyMethod
    rounds: int
    alice: bool
    qubits: _containers.RepeatedScalarFieldContainer[str]
    repetitions: int
    measure_bases: bytes
    route: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, peer: _Optional[str] = ..., method: _Optional[_Union[PurifyMethod, str]] = ..., rounds: _Optional[int] = ..., alice: _Optional[bool] = ..., qubits: _Optional[_Iterable[str]] = ..., repetitions: _Optional[int] = ..., measure_bases: _Optional[bytes] = ..., route: _Optional[_Iterable[str]] = ...) -> None: ...

class PurifyResult(_message.Message):
    __slots__ = ("success", "qubits", "outcomes", "consumed")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    CONSUMED_FIELD_NUMBER: _ClassVar[int]
    success: bytes
    qubits: _containers.RepeatedScalarFieldContainer[str]
    outcomes: bytes
    consumed: int
    def __init__(self, success: _Optional[bytes] = ..., qubits: _Optional[_Iterable[str]] = ..., outcomes: _Optional[bytes] = ..., consumed: _Optional[int] = ...) -> None: ...

class RelayNode(_message.Message):
    __slots__ = ("left", "right")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    left: str
    right: str
    def __init__(self, left: _Optional[str] = ..., right: _Optional[str] = ...) -> None: ...

class RelayResult(_message.Message):
    __slots__ = ("forwarded",)
    FORWARDED_FIELD_NUMBER: _ClassVar[int]
    forwarded: int
    def __init__(self, forwarded: _Optional[int] = ...) -> None: ...

class GhzNode(_message.Message):
    __slots__ = ("nodes", "parents", "shots", "bases", "depolarize")
    NODES_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    SHOTS_FIELD_NUMBER: _ClassVar[int]
    BASES_FIELD_NUMBER: _ClassVar[int]
    DEPOLARIZE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    parents: _containers.RepeatedScalarFieldContainer[str]
    shots: int
    bases: bytes
    depolarize: float
    def __init__(self, nodes: _Optional[_Iterable[str]] = ..., parents: _Optional[_Iterable[str]] = ..., shots: _Optional[int] = ..., bases: _Optional[bytes] = ..., depolarize: _Optional[float] = ...) -> None: ...

class GhzResult(_message.Message):
    __slots__ = ("qubits", "outcomes", "epr_pairs")
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    EPR_PAIRS_FIELD_NUMBER: _ClassVar[int]
    qubits: _containers.RepeatedScalarFieldContainer[str]
    outcomes: bytes
    epr_pairs: int
    def __init__(self, qubits: _Optional[_Iterable[str]] = ..., outcomes: _Optional[bytes] = ..., epr_pairs: _Optional[int] = ...) -> None: ...

class SuperdenseSend(_message.Message):
    __slots__ = ("peer", "messages")
    PEER_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    peer: str
    messages: bytes
    def __init__(self, peer: _Optional[str] = ..., messages: _Optional[bytes] = ...) -> None: ...

class SuperdenseReceive(_message.Message):
    __slots__ = ("peer", "count")
    PEER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    count: int
    def __init__(self, peer: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class SuperdenseSendResult(_message.Message):
    __slots__ = ("sent", "lost")
    SENT_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    sent: int
    lost: int
    def __init__(self, sent: _Optional[int] = ..., lost: _Optional[int] = ...) -> None: ...

class SuperdenseReceiveResult(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: bytes
    def __init__(self, messages: _Optional[bytes] = ...) -> None: ...

class NonlocalControl(_message.Message):
    __slots__ = ("peer", "qubit")
    PEER_FIELD_NUMBER: _ClassVar[int]
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    qubit: str
    def __init__(self, peer: _Optional[str] = ..., qubit: _Optional[str] = ...) -> None: ...

class NonlocalTarget(_message.Message):
    __slots__ = ("peer", "qubit", "u")
    PEER_FIELD_NUMBER: _ClassVar[int]
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    U_FIELD_NUMBER: _ClassVar[int]
    peer: str
    qubit: str
    u: _types_pb2.Matrix
    def __init__(self, peer: _Optional[str] = ..., qubit: _Optional[str] = ..., u: _Optional[_Union[_types_pb2.Matrix, _Mapping]] = ...) -> None: ...

class NonlocalResult(_message.Message):
    __slots__ = ("epr_pairs",)
    EPR_PAIRS_FIELD_NUMBER: _ClassVar[int]
    epr_pairs: int
    def __init__(self, epr_pairs: _Optional[int] = ...) -> None: ...

class TeleportedGateHome(_message.Message):
    __slots__ = ("peer", "qubit", "u")
    PEER_FIELD_NUMBER: _ClassVar[int]
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    U_FIELD_NUMBER: _ClassVar[int]
    peer: str
    qubit: str
    u: _types_pb2.Matrix
    def __init__(self, peer: _Optional[str] = ..., qubit: _Optional[str] = ..., u: _Optional[_Union[_types_pb2.Matrix, _Mapping]] = ...) -> None: ...

class TeleportedGateRemote(_message.Message):
    __slots__ = ("peer", "qubit")
    PEER_FIELD_NUMBER: _ClassVar[int]
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    peer: str
    qubit: str
    def __init__(self, peer: _Optional[str] = ..., qubit: _Optional[str] = ...) -> None: ...

class TeleportedGateResult(_message.Message):
    __slots__ = ("qubit", "epr_pairs")
    QUBIT_FIELD_NUMBER: _ClassVar[int]
    EPR_PAIRS_FIELD_NUMBER: _ClassVar[int]
    qubit: str
    epr_pairs: int
    def __init__(self, qubit: _Optional[str] = ..., epr_pairs: _Optional[int] = ...) -> None: ...

class Bb84Alice(_message.Message):
    __slots__ = ("peer", "n_pulses", "pulse_rate_hz", "block_pulses", "single_photon", "mu", "nu", "p_signal", "p_decoy", "p_vacuum", "p_z", "sample_fraction", "sample_size", "qber_threshold", "cascade_passes", "eps_pa", "eve_fraction", "report_abort", "f_ec")
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
    F_EC_FIELD_NUMBER: _ClassVar[int]
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
    f_ec: float
    def __init__(self, peer: _Optional[str] = ..., n_pulses: _Optional[int] = ..., pulse_rate_hz: _Optional[float] = ..., block_pulses: _Optional[int] = ..., single_photon: _Optional[bool] = ..., mu: _Optional[float] = ..., nu: _Optional[float] = ..., p_signal: _Optional[float] = ..., p_decoy: _Optional[float] = ..., p_vacuum: _Optional[float] = ..., p_z: _Optional[float] = ..., sample_fraction: _Optional[float] = ..., sample_size: _Optional[int] = ..., qber_threshold: _Optional[float] = ..., cascade_passes: _Optional[int] = ..., eps_pa: _Optional[float] = ..., eve_fraction: _Optional[float] = ..., report_abort: _Optional[bool] = ..., f_ec: _Optional[float] = ...) -> None: ...

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
    __slots__ = ("peer", "n_pairs", "pair_rate_hz", "block_pairs", "visibility", "p_z", "sample_fraction", "sample_size", "qber_threshold", "chsh_threshold", "cascade_passes", "eps_pa", "eve_fraction", "report_abort", "f_ec")
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
    F_EC_FIELD_NUMBER: _ClassVar[int]
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
    f_ec: float
    def __init__(self, peer: _Optional[str] = ..., n_pairs: _Optional[int] = ..., pair_rate_hz: _Optional[float] = ..., block_pairs: _Optional[int] = ..., visibility: _Optional[float] = ..., p_z: _Optional[float] = ..., sample_fraction: _Optional[float] = ..., sample_size: _Optional[int] = ..., qber_threshold: _Optional[float] = ..., chsh_threshold: _Optional[float] = ..., cascade_passes: _Optional[int] = ..., eps_pa: _Optional[float] = ..., eve_fraction: _Optional[float] = ..., report_abort: _Optional[bool] = ..., f_ec: _Optional[float] = ...) -> None: ...

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

class CircuitOp(_message.Message):
    __slots__ = ("kind", "qubits", "u", "key")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[CircuitOp.Kind]
        LOCAL: _ClassVar[CircuitOp.Kind]
        CONTROLLED: _ClassVar[CircuitOp.Kind]
        MEASURE: _ClassVar[CircuitOp.Kind]
    KIND_UNSPECIFIED: CircuitOp.Kind
    LOCAL: CircuitOp.Kind
    CONTROLLED: CircuitOp.Kind
    MEASURE: CircuitOp.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    U_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    kind: CircuitOp.Kind
    qubits: _containers.RepeatedScalarFieldContainer[int]
    u: _types_pb2.Matrix
    key: str
    def __init__(self, kind: _Optional[_Union[CircuitOp.Kind, str]] = ..., qubits: _Optional[_Iterable[int]] = ..., u: _Optional[_Union[_types_pb2.Matrix, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class CircuitRun(_message.Message):
    __slots__ = ("assignment", "ops", "repetitions", "keep")
    ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    OPS_FIELD_NUMBER: _ClassVar[int]
    REPETITIONS_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    assignment: _containers.RepeatedScalarFieldContainer[str]
    ops: _containers.RepeatedCompositeFieldContainer[CircuitOp]
    repetitions: int
    keep: bool
    def __init__(self, assignment: _Optional[_Iterable[str]] = ..., ops: _Optional[_Iterable[_Union[CircuitOp, _Mapping]]] = ..., repetitions: _Optional[int] = ..., keep: _Optional[bool] = ...) -> None: ...

class MeasurementRecord(_message.Message):
    __slots__ = ("key", "qubits", "bits")
    KEY_FIELD_NUMBER: _ClassVar[int]
    QUBITS_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    key: str
    qubits: _containers.RepeatedScalarFieldContainer[int]
    bits: bytes
    def __init__(self, key: _Optional[str] = ..., qubits: _Optional[_Iterable[int]] = ..., bits: _Optional[bytes] = ...) -> None: ...

class CircuitRunResult(_message.Message):
    __slots__ = ("qubit_index", "qubit_ids", "measurements", "epr_pairs")
    QUBIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    QUBIT_IDS_FIELD_NUMBER: _ClassVar[int]
    MEASUREMENTS_FIELD_NUMBER: _ClassVar[int]
    EPR_PAIRS_FIELD_NUMBER: _ClassVar[int]
    qubit_index: _containers.RepeatedScalarFieldContainer[int]
    qubit_ids: _containers.RepeatedScalarFieldContainer[str]
    measurements: _containers.RepeatedCompositeFieldContainer[MeasurementRecord]
    epr_pairs: int
    def __init__(self, qubit_index: _Optional[_Iterable[int]] = ..., qubit_ids: _Optional[_Iterable[str]] = ..., measurements: _Optional[_Iterable[_Union[MeasurementRecord, _Mapping]]] = ..., epr_pairs: _Optional[int] = ...) -> None: ...

class ProtocolRequest(_message.Message):
    __slots__ = ("session_id", "timeout_s", "teleport_send", "teleport_receive", "chain_node", "purify_end", "relay_node", "ghz_node", "superdense_send", "superdense_receive", "nonlocal_control", "nonlocal_target", "teleported_gate_home", "teleported_gate_remote", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob", "circuit_run")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_SEND_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_NODE_FIELD_NUMBER: _ClassVar[int]
    PURIFY_END_FIELD_NUMBER: _ClassVar[int]
    RELAY_NODE_FIELD_NUMBER: _ClassVar[int]
    GHZ_NODE_FIELD_NUMBER: _ClassVar[int]
    SUPERDENSE_SEND_FIELD_NUMBER: _ClassVar[int]
    SUPERDENSE_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    NONLOCAL_CONTROL_FIELD_NUMBER: _ClassVar[int]
    NONLOCAL_TARGET_FIELD_NUMBER: _ClassVar[int]
    TELEPORTED_GATE_HOME_FIELD_NUMBER: _ClassVar[int]
    TELEPORTED_GATE_REMOTE_FIELD_NUMBER: _ClassVar[int]
    BB84_ALICE_FIELD_NUMBER: _ClassVar[int]
    BB84_BOB_FIELD_NUMBER: _ClassVar[int]
    E91_ALICE_FIELD_NUMBER: _ClassVar[int]
    E91_BOB_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_RUN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    timeout_s: float
    teleport_send: TeleportSend
    teleport_receive: TeleportReceive
    chain_node: ChainNode
    purify_end: PurifyEnd
    relay_node: RelayNode
    ghz_node: GhzNode
    superdense_send: SuperdenseSend
    superdense_receive: SuperdenseReceive
    nonlocal_control: NonlocalControl
    nonlocal_target: NonlocalTarget
    teleported_gate_home: TeleportedGateHome
    teleported_gate_remote: TeleportedGateRemote
    bb84_alice: Bb84Alice
    bb84_bob: Bb84Bob
    e91_alice: E91Alice
    e91_bob: E91Bob
    circuit_run: CircuitRun
    def __init__(self, session_id: _Optional[str] = ..., timeout_s: _Optional[float] = ..., teleport_send: _Optional[_Union[TeleportSend, _Mapping]] = ..., teleport_receive: _Optional[_Union[TeleportReceive, _Mapping]] = ..., chain_node: _Optional[_Union[ChainNode, _Mapping]] = ..., purify_end: _Optional[_Union[PurifyEnd, _Mapping]] = ..., relay_node: _Optional[_Union[RelayNode, _Mapping]] = ..., ghz_node: _Optional[_Union[GhzNode, _Mapping]] = ..., superdense_send: _Optional[_Union[SuperdenseSend, _Mapping]] = ..., superdense_receive: _Optional[_Union[SuperdenseReceive, _Mapping]] = ..., nonlocal_control: _Optional[_Union[NonlocalControl, _Mapping]] = ..., nonlocal_target: _Optional[_Union[NonlocalTarget, _Mapping]] = ..., teleported_gate_home: _Optional[_Union[TeleportedGateHome, _Mapping]] = ..., teleported_gate_remote: _Optional[_Union[TeleportedGateRemote, _Mapping]] = ..., bb84_alice: _Optional[_Union[Bb84Alice, _Mapping]] = ..., bb84_bob: _Optional[_Union[Bb84Bob, _Mapping]] = ..., e91_alice: _Optional[_Union[E91Alice, _Mapping]] = ..., e91_bob: _Optional[_Union[E91Bob, _Mapping]] = ..., circuit_run: _Optional[_Union[CircuitRun, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("session_id", "virtual_time_ns", "wall_time_s", "virtual_start_ns", "teleport_send", "teleport_receive", "chain_node", "purify_end", "relay_node", "ghz_node", "superdense_send", "superdense_receive", "nonlocal_control", "nonlocal_target", "teleported_gate_home", "teleported_gate_remote", "bb84_alice", "bb84_bob", "e91_alice", "e91_bob", "circuit_run")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_TIME_NS_FIELD_NUMBER: _ClassVar[int]
    WALL_TIME_S_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_START_NS_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_SEND_FIELD_NUMBER: _ClassVar[int]
    TELEPORT_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_NODE_FIELD_NUMBER: _ClassVar[int]
    PURIFY_END_FIELD_NUMBER: _ClassVar[int]
    RELAY_NODE_FIELD_NUMBER: _ClassVar[int]
    GHZ_NODE_FIELD_NUMBER: _ClassVar[int]
    SUPERDENSE_SEND_FIELD_NUMBER: _ClassVar[int]
    SUPERDENSE_RECEIVE_FIELD_NUMBER: _ClassVar[int]
    NONLOCAL_CONTROL_FIELD_NUMBER: _ClassVar[int]
    NONLOCAL_TARGET_FIELD_NUMBER: _ClassVar[int]
    TELEPORTED_GATE_HOME_FIELD_NUMBER: _ClassVar[int]
    TELEPORTED_GATE_REMOTE_FIELD_NUMBER: _ClassVar[int]
    BB84_ALICE_FIELD_NUMBER: _ClassVar[int]
    BB84_BOB_FIELD_NUMBER: _ClassVar[int]
    E91_ALICE_FIELD_NUMBER: _ClassVar[int]
    E91_BOB_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_RUN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    virtual_time_ns: int
    wall_time_s: float
    virtual_start_ns: int
    teleport_send: TeleportSendResult
    teleport_receive: TeleportReceiveResult
    chain_node: ChainResult
    purify_end: PurifyResult
    relay_node: RelayResult
    ghz_node: GhzResult
    superdense_send: SuperdenseSendResult
    superdense_receive: SuperdenseReceiveResult
    nonlocal_control: NonlocalResult
    nonlocal_target: NonlocalResult
    teleported_gate_home: TeleportedGateResult
    teleported_gate_remote: TeleportedGateResult
    bb84_alice: QkdSessionResult
    bb84_bob: QkdSessionResult
    e91_alice: QkdSessionResult
    e91_bob: QkdSessionResult
    circuit_run: CircuitRunResult
    def __init__(self, session_id: _Optional[str] = ..., virtual_time_ns: _Optional[int] = ..., wall_time_s: _Optional[float] = ..., virtual_start_ns: _Optional[int] = ..., teleport_send: _Optional[_Union[TeleportSendResult, _Mapping]] = ..., teleport_receive: _Optional[_Union[TeleportReceiveResult, _Mapping]] = ..., chain_node: _Optional[_Union[ChainResult, _Mapping]] = ..., purify_end: _Optional[_Union[PurifyResult, _Mapping]] = ..., relay_node: _Optional[_Union[RelayResult, _Mapping]] = ..., ghz_node: _Optional[_Union[GhzResult, _Mapping]] = ..., superdense_send: _Optional[_Union[SuperdenseSendResult, _Mapping]] = ..., superdense_receive: _Optional[_Union[SuperdenseReceiveResult, _Mapping]] = ..., nonlocal_control: _Optional[_Union[NonlocalResult, _Mapping]] = ..., nonlocal_target: _Optional[_Union[NonlocalResult, _Mapping]] = ..., teleported_gate_home: _Optional[_Union[TeleportedGateResult, _Mapping]] = ..., teleported_gate_remote: _Optional[_Union[TeleportedGateResult, _Mapping]] = ..., bb84_alice: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., bb84_bob: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., e91_alice: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., e91_bob: _Optional[_Union[QkdSessionResult, _Mapping]] = ..., circuit_run: _Optional[_Union[CircuitRunResult, _Mapping]] = ...) -> None: ...
