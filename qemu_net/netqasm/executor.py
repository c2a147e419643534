"""Node-side NetQASM executor: runs an application's subroutines on this node's quantum memory.

The instruction set's classical part (registers, arrays, branching, the return instructions) is
`netqasm.backend.executor.Executor`'s own; this subclass supplies the quantum part over the node's
`NodeContext` (`qemu_net.node.context.CoreContext`):

- ``qalloc`` allocates a qubit in the node's memory; ``init`` resets it; gates are applied with the
  node's gate noise and duration (consecutive gates go to the node in one batch); ``meas`` /
  ``meas_basis*`` measure in place (the qubit stays allocated until ``qfree``).
- ``create_epr`` / ``recv_epr`` are served by the node's link layer. The creating node tells the
  receiving node what it asked for (keep or measure, the remote measurement rotations, how many pairs)
  in a classical message on the pair's channel, as a link layer's create request would; both ends then
  take their halves under one tag. Keep requests map each half to the virtual address the application
  chose; when that address is still in use (``sequential=True`` requests reuse one address), the pair
  is made when a ``wait_*`` instruction needs it and the address is free.
- Measure-directly requests measure each half at once after the requested rotations and store the
  outcome in the entanglement-results array, as the link layer's OK_M answer does.

Remote state preparation (``create_rsp``) and random measurement bases are not offered by this link
layer: such requests fail with a clear error.

Each application session has its own executor, so sessions never see each other's registers, arrays
or qubits.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from netqasm.backend.executor import Executor
from netqasm.backend.messages import (
    InitNewAppMessage,
    MessageType,
    OpenEPRSocketMessage,
    SignalMessage,
    StopAppMessage,
    SubroutineMessage,
    deserialize_host_msg,
)
from netqasm.lang import operand
from netqasm.lang.parsing.binary import deserialize as deserialize_subroutine
from netqasm.qlink_compat import BellState, LinkLayerOKTypeK, LinkLayerOKTypeM, RandomBasis, RequestType
from netqasm.sdk.shared_memory import SharedMemory
from numpy.typing import NDArray

from qemu_net.errors import InvalidOperation, MemoryFull, QnetError
from qemu_net.node.context import CoreContext
from qemu_net.node.core import NodeCore
from qemu_net.node.ops import DiscardOp, GateOp, MeasureOp, Op, ResetOp
from qemu_net.quantum import paulis
from qemu_net.quantum.register import DTYPE

if TYPE_CHECKING:
    # netqasm ships no type information: to mypy these are Any, named here for the reader.
    from netqasm.lang.instr.base import RegRegImm4Instruction
    from netqasm.lang.instr.core import (
        ControlledRotationInstruction,
        RotationInstruction,
        SingleQubitInstruction,
        TwoQubitInstruction,
    )
    from netqasm.lang.operand import Address, ArrayEntry, ArraySlice
    from netqasm.lang.subroutine import Subroutine

#: Channel prefix of the executors' own messages (a create request's announcement to the receiver).
EPR_CHANNEL_PREFIX = "_qnet/netqasm/"
#: At most this many application sessions at one node (a new one beyond: RESOURCE_EXHAUSTED).
MAX_SESSIONS = 256
#: A session untouched for this long is closed (its qubits freed) when a new session needs room.
IDLE_S = 600.0
#: Most host messages in one Submit, most bytes in one subroutine, most virtual qubits of one app.
MAX_MESSAGES = 64
MAX_SUBROUTINE_BYTES = 1 << 20
MAX_APP_QUBITS = 64
#: Parsed subroutines kept per session.
_PARSED_KEPT = 32
#: Most EPR pairs one request may ask for.
MAX_PAIRS = 10_000

#: The registers (name, index) -> value and the arrays address -> values (None: undefined) that a call's
#: subroutines wrote.
Registers = dict[tuple[str, int], int]
Arrays = dict[int, list[int | None]]

_I = paulis.I
_PAULI = {"x": paulis.X, "y": paulis.Y, "z": paulis.Z}
_FIXED: dict[str, np.ndarray] = {
    "x": paulis.X,
    "y": paulis.Y,
    "z": paulis.Z,
    "h": paulis.H,
    "s": paulis.S,
    # K maps Z-eigenstates to Y-eigenstates: K = (Y + Z) / sqrt(2).
    "k": np.array([[1, -1j], [1j, -1]], dtype=DTYPE) / np.sqrt(2),
    "t": np.array([[1, 0], [0, np.exp(1j * np.pi / 4)]], dtype=DTYPE),
}
_TWO: dict[str, np.ndarray] = {
    "cnot": paulis.CNOT,
    "cphase": paulis.CZ,
    "swp": np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=DTYPE),
    # mov overwrites the target with the source; as a unitary it is the swap (netqasm's definition).
    "mov": np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=DTYPE),
}
#: meas_basis variants: the three rotation axes, applied in order before a Z measurement.
_MEAS_AXES = {"meas_basis": "xyx", "meas_basis_yzy": "yzy", "meas_basis_zxz": "zxz"}
#: The link layer's axes enum (netqasm.sdk.qubit.QubitMeasureAxes) by value.
_AXES_BY_CODE = {0: "xyx", 1: "yzy", 2: "zxz"}


def rotation(axis: str, angle: float) -> np.ndarray:
    """exp(-i angle P / 2) for the Pauli P named by `axis`."""
    u: NDArray[np.complex128] = (np.cos(angle / 2) * _I - 1j * np.sin(angle / 2) * _PAULI[axis]).astype(DTYPE)
    return u


def _three_ints(values: Sequence[int | None]) -> tuple[int, int, int]:
    """A request's three rotation numbers (None read as 0)."""
    a, b, c = values
    return int(a or 0), int(b or 0), int(c or 0)


def basis_rotation(axes: str, nums: tuple[int, int, int], denom: int) -> np.ndarray:
    """The unitary a meas_basis instruction applies before measuring Z: rotations about axes[0], axes[1],
    axes[2] by nums[i] * pi / 2**denom, the first applied first."""
    u = _I
    for axis, num in zip(axes, nums, strict=True):
        u = rotation(axis, num * np.pi / 2**denom) @ u
    return u


@dataclass
class _EprRequest:
    """A create or receive request in progress: which pairs exist and where their results go."""

    subroutine_id: int
    app_id: int
    create: bool
    peer: str
    peer_id: int
    tag: str
    kind: RequestType
    number: int
    q_array_address: int | None
    results_address: int
    purpose_id: int
    rotations: tuple[int, int, int] = (0, 0, 0)
    axes: str = "xyx"
    done: int = 0
    announced: bool = False


@dataclass
class Session:
    """One application's executor at this node, and when it was last used."""

    executor: QnetExecutor
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)


class QnetExecutor(Executor):
    """netqasm's Executor with this node's memory and link layer underneath."""

    def __init__(self, core: NodeCore, session: str) -> None:
        super().__init__(name=core.name)
        self._core = core
        self.session = session
        self._node_names = sorted(core.topology.node_names)
        self._ctx: CoreContext | None = None
        self._deadline = 0.0
        #: physical address -> the node's qubit id.
        self._qubits: dict[int, str] = {}
        #: physical addresses whose qubit is fresh |0> (an init right after qalloc is then free).
        self._fresh: set[int] = set()
        #: (app_id, remote node id, epr_socket_id) -> remote epr socket id.
        self._epr_sockets: dict[tuple[int, int, int], int] = {}
        self._pending: list[_EprRequest] = []
        #: Create requests' announcements to their receivers, sent when the current call ends.
        self._announcements: list[tuple[str, str, bytes]] = []
        #: Gates not yet sent to the node's memory (applied in one batch before anything reads state).
        self._batch: list[Op] = []
        self._touched_regs: dict[tuple[str, int], int] = {}
        self._touched_arrays: set[tuple[int, int]] = set()
        #: Pairs made per tag: both ends count the pairs of one socket in the same order, so this is the
        #: sequence number both ends report for a pair (applications order pairs by it).
        self._pair_counts: dict[str, int] = {}
        #: Subroutines parsed in this session by their bytes (a loop sends the same one again and again;
        #: execution never changes a parsed subroutine).
        self._parsed: dict[bytes, Subroutine] = {}

    # ------------------------------------------------------------------ identities
    @property
    def node_id(self) -> int:
        return self._node_names.index(self._core.name)

    def node_name_of(self, node_id: int) -> str:
        if not 0 <= node_id < len(self._node_names):
            raise InvalidOperation(f"unknown remote node id {node_id} (the network has {len(self._node_names)} nodes)")
        return self._node_names[node_id]

    # ------------------------------------------------------------------ host messages
    def run_messages(self, raw_messages: Sequence[bytes], ctx: CoreContext) -> tuple[Registers, Arrays]:
        """Execute the host messages in order; returns (registers, arrays) the subroutines returned."""
        self._ctx = ctx
        self._deadline = ctx.deadline
        self._touched_regs = {}
        self._touched_arrays = set()
        try:
            try:
                for raw in raw_messages:
                    self._run_message(raw)
                self._flush_batch()
            finally:
                self._send_announcements()
        finally:
            self._ctx = None
        arrays: Arrays = {}
        for app_id, address in self._touched_arrays:
            mem = self._shared_memories.get(app_id)
            if mem is not None:
                arrays[address] = list(mem._get_array(address))
        return dict(self._touched_regs), arrays

    def _send_announcements(self) -> None:
        ctx = self._need_ctx()
        sent, self._announcements = self._announcements, []
        for peer, channel, payload in sent:
            ctx.send(peer, channel, payload)
        for req in self._pending:
            req.announced = True

    def _run_message(self, raw: bytes) -> None:
        if not raw:
            raise InvalidOperation("empty NetQASM host message")
        try:
            msg = deserialize_host_msg(raw)
        except Exception as exc:  # netqasm raises ValueError/KeyError/ctypes errors on malformed input
            raise InvalidOperation(f"malformed NetQASM host message: {type(exc).__name__}: {exc}") from None
        if isinstance(msg, InitNewAppMessage):
            if msg.app_id in self._qubit_unit_modules:
                raise InvalidOperation(f"NetQASM application {msg.app_id} is already registered in this session")
            if not 0 < msg.max_qubits <= MAX_APP_QUBITS:
                raise InvalidOperation(f"max_qubits must be 1 to {MAX_APP_QUBITS}, got {msg.max_qubits}")
            self.init_new_application(app_id=msg.app_id, max_qubits=msg.max_qubits)
        elif isinstance(msg, OpenEPRSocketMessage):
            self._require_app(msg.app_id)
            self.node_name_of(msg.remote_node_id)
            self._epr_sockets[(msg.app_id, msg.remote_node_id, msg.epr_socket_id)] = msg.remote_epr_socket_id
        elif isinstance(msg, SubroutineMessage):
            self._run_subroutine(msg.subroutine)
        elif isinstance(msg, StopAppMessage):
            if msg.app_id in self._qubit_unit_modules:
                self._flush_batch()
                list(self.stop_application(app_id=msg.app_id))
                self._epr_sockets = {k: v for k, v in self._epr_sockets.items() if k[0] != msg.app_id}
        elif isinstance(msg, SignalMessage):
            pass  # "stop the backend": the node outlives its applications
        else:
            raise InvalidOperation(f"unsupported NetQASM host message type {type(msg).__name__}")

    def _require_app(self, app_id: int) -> None:
        if app_id not in self._qubit_unit_modules:
            raise InvalidOperation(f"NetQASM application {app_id} is not registered in this session")

    def _run_subroutine(self, raw: bytes) -> None:
        if len(raw) > MAX_SUBROUTINE_BYTES:
            raise InvalidOperation(f"subroutine of {len(raw)} bytes exceeds {MAX_SUBROUTINE_BYTES}")
        subroutine = self._parsed.get(raw)
        if subroutine is None:
            try:
                subroutine = deserialize_subroutine(raw)
            except Exception as exc:  # the deserialiser raises assorted errors on malformed bytes
                raise InvalidOperation(f"malformed NetQASM subroutine: {type(exc).__name__}: {exc}") from None
            if len(self._parsed) >= _PARSED_KEPT:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[raw] = subroutine
        self._require_app(subroutine.app_id)
        try:
            list(self.execute_subroutine(subroutine))
        except QnetError:
            raise
        except Exception as exc:
            # An instruction the program got wrong (undefined register, unallocated qubit, bad array index)
            raise InvalidOperation(f"NetQASM subroutine failed: {type(exc).__name__}: {exc}") from None

    def _handle_command_exception(self, exc: Exception, prog_counter: int, traceback_str: str) -> None:
        if isinstance(exc, QnetError):
            raise exc
        raise InvalidOperation(f"instruction {prog_counter}: {type(exc).__name__}: {exc}") from None

    def close(self, ctx: CoreContext) -> None:
        """Free every qubit the session still holds (the application ended or was abandoned)."""
        self._ctx = ctx
        try:
            self._batch = []
            for q in list(self._qubits.values()):
                with contextlib.suppress(QnetError):
                    ctx.discard(q)
            self._qubits.clear()
        finally:
            self._ctx = None

    # ------------------------------------------------------------------ memory bookkeeping
    def _new_shared_memory(self, app_id: int) -> None:
        # One private memory per session's app (netqasm's default is a process-wide registry by app id).
        self._shared_memories[app_id] = SharedMemory()

    def _update_shared_memory(self, app_id: int, entry: operand.Register | Address | ArrayEntry | ArraySlice,
                              value: int | list[int]) -> None:
        super()._update_shared_memory(app_id, entry, value)
        if isinstance(entry, operand.Register):
            self._touched_regs[(entry.name.name, entry.index)] = cast(int, value)  # a register holds one value
        elif isinstance(entry, operand.Address):
            self._touched_arrays.add((app_id, entry.address))
        else:
            address, _ = self._expand_array_part(app_id=app_id, array_part=entry)
            self._touched_arrays.add((app_id, address))

    def _qubit(self, subroutine_id: int, address: int) -> str:
        unit = self._get_unit_module(subroutine_id)
        if not 0 <= address < len(unit) or unit[address] is None:
            raise InvalidOperation(f"qubit at virtual address {address} is not allocated")
        return self._qubits[unit[address]]

    def _reserve_physical_qubit(self, physical_address: int) -> None:
        ctx = self._need_ctx()
        (q,) = ctx.alloc(1)
        self._qubits[physical_address] = q
        self._fresh.add(physical_address)

    def _clear_phys_qubit_in_memory(self, physical_address: int) -> None:
        q = self._qubits.pop(physical_address, None)
        self._fresh.discard(physical_address)
        if q is not None:
            self._batch.append(DiscardOp(q))

    def _need_ctx(self) -> CoreContext:
        if self._ctx is None:
            raise InvalidOperation("no request in progress")
        return self._ctx

    def _flush_batch(self) -> list[int]:
        if not self._batch:
            return []
        ops, self._batch = self._batch, []
        ctx = self._need_ctx()
        return self._core.apply(ops, deadline=ctx.deadline, outbox=ctx.outbox)

    def _phys(self, subroutine_id: int, address: int) -> int:
        unit = self._get_unit_module(subroutine_id)
        if not 0 <= address < len(unit) or unit[address] is None:
            raise InvalidOperation(f"qubit at virtual address {address} is not allocated")
        phys: int = unit[address]
        return phys

    # ------------------------------------------------------------------ quantum instructions
    def _do_single_qubit_instr(self, instr: SingleQubitInstruction, subroutine_id: int, address: int) -> None:
        phys = self._phys(subroutine_id, address)
        q = self._qubits[phys]
        name = instr.mnemonic
        if name == "init":
            if phys in self._fresh:
                return None
            self._batch.append(ResetOp(q))
        elif name in _FIXED:
            self._batch.append(GateOp(_FIXED[name], (q,)))
        else:
            raise InvalidOperation(f"unsupported single-qubit instruction {name!r}")
        self._fresh.discard(phys)
        return None

    def _do_single_qubit_rotation(self, instr: RotationInstruction, subroutine_id: int, address: int,
                                  angle: float) -> None:
        phys = self._phys(subroutine_id, address)
        axis = instr.mnemonic.removeprefix("rot_")
        if axis not in _PAULI:
            raise InvalidOperation(f"unsupported rotation {instr.mnemonic!r}")
        self._batch.append(GateOp(rotation(axis, angle), (self._qubits[phys],)))
        self._fresh.discard(phys)
        return None

    def _do_controlled_qubit_rotation(self, instr: ControlledRotationInstruction, subroutine_id: int,
                                      address1: int, address2: int, angle: float) -> None:
        p1, p2 = self._phys(subroutine_id, address1), self._phys(subroutine_id, address2)
        axis = instr.mnemonic.removeprefix("crot_")
        if axis not in _PAULI:
            raise InvalidOperation(f"unsupported controlled rotation {instr.mnemonic!r}")
        u = np.eye(4, dtype=DTYPE)
        u[2:, 2:] = rotation(axis, angle)
        self._batch.append(GateOp(u, (self._qubits[p1], self._qubits[p2])))
        self._fresh.difference_update((p1, p2))
        return None

    def _do_two_qubit_instr(self, instr: TwoQubitInstruction, subroutine_id: int, address1: int,
                            address2: int) -> None:
        if address1 == address2:
            raise InvalidOperation(f"{instr.mnemonic} needs two different qubits, got address {address1} twice")
        p1, p2 = self._phys(subroutine_id, address1), self._phys(subroutine_id, address2)
        u = _TWO.get(instr.mnemonic)
        if u is None:
            raise InvalidOperation(f"unsupported two-qubit instruction {instr.mnemonic!r}")
        self._batch.append(GateOp(u, (self._qubits[p1], self._qubits[p2])))
        self._fresh.difference_update((p1, p2))
        return None

    def _measure(self, phys: int, pre: np.ndarray | None = None) -> int:
        q = self._qubits[phys]
        if pre is not None:
            self._batch.append(GateOp(pre, (q,)))
        self._batch.append(MeasureOp(q, "Z", True))
        self._fresh.discard(phys)
        outcomes = self._flush_batch()
        return int(outcomes[-1])

    def _do_meas(self, subroutine_id: int, q_address: int) -> int:
        return self._measure(self._phys(subroutine_id, q_address))

    def _get_instruction_handlers(self) -> dict[str, Callable[..., Any]]:
        handlers: dict[str, Callable[..., Any]] = super()._get_instruction_handlers()
        for mnemonic in _MEAS_AXES:
            handlers[mnemonic] = self._instr_meas_basis
        return handlers

    def _instr_meas_basis(self, subroutine_id: int, instr: RegRegImm4Instruction) -> None:
        app_id = self._get_app_id(subroutine_id=subroutine_id)
        address = self._get_register(app_id=app_id, register=instr.qreg)
        if address is None:
            raise InvalidOperation(f"register {instr.qreg} holds no qubit address")
        nums = (instr.imm0.value, instr.imm1.value, instr.imm2.value)
        pre = basis_rotation(_MEAS_AXES[instr.mnemonic], nums, instr.imm3.value)
        outcome = self._measure(self._phys(subroutine_id, address), pre)
        self._set_register(app_id=app_id, register=instr.creg, value=outcome)
        self._program_counters[subroutine_id] += 1

    # ------------------------------------------------------------------ entanglement
    def _get_purpose_id(self, remote_node_id: int, epr_socket_id: int) -> int:
        return epr_socket_id

    def _socket(self, app_id: int, epr_socket_id: int, remote_node_id: int) -> tuple[str, int]:
        remote_socket = self._epr_sockets.get((app_id, remote_node_id, epr_socket_id))
        if remote_socket is None:
            raise InvalidOperation(f"EPR socket {epr_socket_id} to node {remote_node_id} is not open "
                                   f"for application {app_id}")
        peer = self.node_name_of(remote_node_id)
        if peer == self._core.name:
            raise InvalidOperation("an EPR socket cannot connect a node to itself")
        return peer, remote_socket

    def _tag(self, creator: str, creator_socket: int, receiver: str, receiver_socket: int) -> str:
        return f"netqasm:{creator}:{creator_socket}>{receiver}:{receiver_socket}"

    def _do_create_epr(self, subroutine_id: int, remote_node_id: int, epr_socket_id: int, q_array_address: int | None,
                       arg_array_address: int, ent_results_array_address: int) -> None:
        app_id = self._get_app_id(subroutine_id)
        peer, remote_socket = self._socket(app_id, epr_socket_id, remote_node_id)
        try:
            request = self._get_create_request(subroutine_id, remote_node_id, epr_socket_id, arg_array_address)
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidOperation(f"malformed create_epr arguments: {exc}") from None
        kind = request.type
        number = int(request.number)
        if not 0 < number <= MAX_PAIRS:
            raise InvalidOperation(f"an EPR request asks for 1 to {MAX_PAIRS} pairs, got {number}")
        if kind == RequestType.R:
            raise InvalidOperation("remote state preparation (create_rsp) is not supported by this link layer")
        if kind not in (RequestType.K, RequestType.M):
            raise InvalidOperation(f"unsupported EPR request type {kind}")
        for which in ("random_basis_local", "random_basis_remote"):
            if getattr(request, which) not in (0, None, RandomBasis.NONE, RandomBasis.NONE.value):
                raise InvalidOperation(f"{which} is not supported by this link layer (give explicit bases)")
        results = self._app_arrays[app_id][ent_results_array_address, :]
        if len(results) != number * len(LinkLayerOKTypeK._fields):
            raise InvalidOperation(f"the results array holds {len(results)} entries, "
                                   f"{number} pairs need {number * len(LinkLayerOKTypeK._fields)}")
        if kind == RequestType.K:
            if q_array_address is None:
                raise InvalidOperation("create_keep needs an array of qubit addresses")
            qs = self._app_arrays[app_id][q_array_address, :]
            if len(qs) != number:
                raise InvalidOperation(f"{number} pairs but {len(qs)} qubit addresses")
        local = (request.rotation_local_1, request.rotation_local_2, request.rotation_local_3)
        remote = (request.rotation_remote_1, request.rotation_remote_2, request.rotation_remote_3)
        axes_local = _AXES_BY_CODE.get(int(request.rotation_axes_local or 0))
        axes_remote = _AXES_BY_CODE.get(int(request.rotation_axes_remote or 0))
        if axes_local is None or axes_remote is None:
            raise InvalidOperation("unknown rotation axes in the EPR request")
        req = _EprRequest(subroutine_id, app_id, True, peer, remote_node_id,
                          self._tag(self._core.name, epr_socket_id, peer, remote_socket), kind, number,
                          q_array_address, ent_results_array_address, epr_socket_id,
                          _three_ints(local), axes_local)
        self._pending.append(req)
        self._progress()
        # The receiver learns what was asked (as the link layer's create request would tell it) when this
        # call ends: the news of the halves made by then (and of groups pushed back to it) travels with it.
        announce = {"type": kind.value, "number": number, "rotations": [int(x or 0) for x in remote],
                    "axes": int(request.rotation_axes_remote or 0)}
        self._announcements.append((peer, EPR_CHANNEL_PREFIX + req.tag, json.dumps(announce).encode()))

    def _do_recv_epr(self, subroutine_id: int, remote_node_id: int, epr_socket_id: int, q_array_address: int | None,
                     ent_results_array_address: int) -> None:
        app_id = self._get_app_id(subroutine_id)
        peer, remote_socket = self._socket(app_id, epr_socket_id, remote_node_id)
        tag = self._tag(peer, remote_socket, self._core.name, epr_socket_id)
        self._flush_batch()
        self._send_announcements()  # never wait while holding an announcement a peer may be waiting for
        raw = self._need_ctx().recv(peer, EPR_CHANNEL_PREFIX + tag)
        try:
            announce = json.loads(raw)
            kind = RequestType(int(announce["type"]))
            number = int(announce["number"])
            rotations = tuple(int(x) for x in announce["rotations"])
            axes = _AXES_BY_CODE[int(announce["axes"])]
            if len(rotations) != 3:
                raise ValueError("three rotations expected")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidOperation(f"malformed EPR announcement from {peer}: {exc}") from None
        results = self._app_arrays[app_id][ent_results_array_address, :]
        fields = len(LinkLayerOKTypeK._fields)
        if len(results) != number * fields:
            raise InvalidOperation(f"{peer} creates {number} pairs on this socket, but recv_epr expects "
                                   f"{len(results) // fields}")
        if kind == RequestType.K and q_array_address is None:
            raise InvalidOperation(f"{peer} asked to keep the pairs, but recv_epr gave no qubit addresses "
                                   "(use recv_keep, or recv_measure against create_measure)")
        req = _EprRequest(subroutine_id, app_id, False, peer, remote_node_id, tag, kind, number, q_array_address,
                          ent_results_array_address, epr_socket_id, rotations, axes, announced=True)
        self._pending.append(req)
        self._progress()

    def _do_wait(self) -> None:
        if not self._progress():
            raise InvalidOperation("the subroutine waits for entanglement no pending request can deliver")
        return None

    def _progress(self) -> bool:
        """Make every pair the pending requests can have now; True if any pair was made."""
        made = False
        for req in list(self._pending):
            while req.done < req.number:
                count = self._ready_count(req)
                if count == 0:
                    break
                self._make_pairs(req, count)
                made = True
            if req.done == req.number:
                self._pending.remove(req)
        return made

    def _ready_count(self, req: _EprRequest) -> int:
        if req.kind == RequestType.M:
            return req.number - req.done
        unit = self._qubit_unit_modules[req.app_id]
        seen: set[int] = set()
        count = 0
        for i in range(req.done, req.number):
            v = self._app_arrays[req.app_id][req.q_array_address, i]
            if v is None or not 0 <= v < len(unit):
                raise InvalidOperation(f"EPR pair {i}: qubit address {v} is outside the application's memory")
            if unit[v] is not None or v in seen:
                break
            seen.add(v)
            count += 1
        return count

    def _make_pairs(self, req: _EprRequest, count: int) -> None:
        ctx = self._need_ctx()
        self._flush_batch()
        if req.create:
            halves = ctx.epr(req.peer, tag=req.tag, count=count)
        else:
            self._send_announcements()
            halves = ctx.await_epr(req.peer, tag=req.tag, count=count)
        fields = len(LinkLayerOKTypeK._fields)
        for half in halves:
            i = req.done
            seq = self._pair_counts.get(req.tag, 0) + 1
            self._pair_counts[req.tag] = seq
            if req.kind == RequestType.K:
                v = self._app_arrays[req.app_id][req.q_array_address, i]
                phys = self._get_unused_physical_qubit()
                self._qubit_unit_modules[req.app_id][v] = phys
                self._qubits[phys] = half.qubit
                info = LinkLayerOKTypeK(
                    type=0, create_id=i, logical_qubit_id=phys, directionality_flag=0 if req.create else 1,
                    sequence_number=seq, purpose_id=req.purpose_id, remote_node_id=req.peer_id, goodness=0,
                    goodness_time=int(half.ready_ns), bell_state=BellState.PHI_PLUS.value)
            else:
                if req.rotations != (0, 0, 0):
                    self._batch.append(GateOp(basis_rotation(req.axes, req.rotations, 4), (half.qubit,)))
                self._batch.append(MeasureOp(half.qubit, "Z", False))
                outcome = int(self._flush_batch()[-1])
                info = LinkLayerOKTypeM(
                    type=1, create_id=i, measurement_outcome=outcome, measurement_basis=0,
                    directionality_flag=0 if req.create else 1, sequence_number=seq, purpose_id=req.purpose_id,
                    remote_node_id=req.peer_id, goodness=0, bell_state=BellState.PHI_PLUS.value)
            self._app_arrays[req.app_id][req.results_address, i * fields:(i + 1) * fields] = list(info)
            req.done += 1
        # Halves of a request announced in an earlier call: the other end may be waiting for them now.
        if req.create and req.announced:
            ctx.flush()


class NetQasmSessions:
    """The node's application sessions (bounded), each run under its own lock."""

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def _get(self, session_id: str) -> Session:
        if not session_id or len(session_id) > 128:
            raise InvalidOperation("a NetQASM request needs a session_id of 1 to 128 characters")
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                if len(self._sessions) >= MAX_SESSIONS:
                    self._evict_idle()
                if len(self._sessions) >= MAX_SESSIONS:
                    raise MemoryFull(f"this node already runs {MAX_SESSIONS} NetQASM application sessions")
                s = self._sessions[session_id] = Session(QnetExecutor(self.core, session_id))
            s.last_used = time.monotonic()
            return s

    def _evict_idle(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._sessions.items()):
            if now - s.last_used > IDLE_S and s.lock.acquire(blocking=False):
                try:
                    s.executor.close(CoreContext(self.core, sid, timeout_s=5.0))
                finally:
                    s.lock.release()
                del self._sessions[sid]

    def submit(self, session_id: str, messages: Sequence[bytes], timeout_s: float) -> tuple[Registers, Arrays, int]:
        self.core.check_serving()
        if not messages:
            raise InvalidOperation("a NetQASM request needs at least one host message")
        if len(messages) > MAX_MESSAGES:
            raise InvalidOperation(f"at most {MAX_MESSAGES} host messages per request, got {len(messages)}")
        s = self._get(session_id)
        deadline = time.monotonic() + timeout_s
        if not s.lock.acquire(timeout=max(timeout_s, 0.0)):
            raise InvalidOperation(f"NetQASM session {session_id!r} is busy with another request")
        try:
            ctx = CoreContext(self.core, session_id, timeout_s=max(deadline - time.monotonic(), 0.0))
            try:
                regs, arrays = s.executor.run_messages(messages, ctx)
                ctx.flush()
            except BaseException:
                # News of halves already made must still reach the peer that waits for them.
                with contextlib.suppress(QnetError):
                    ctx.flush()
                raise
            stopped = any(m[:1] == bytes([MessageType.STOP_APP.value]) for m in messages) and not \
                s.executor._qubit_unit_modules
        finally:
            s.lock.release()
        if stopped:
            with self._lock:
                self._sessions.pop(session_id, None)
        return regs, arrays, self.core.clock.now()

    def qubit_state(self, session_id: str, addresses: list[int], timeout_s: float) -> np.ndarray:
        with self._lock:
            s = self._sessions.get(session_id)
        if s is None:
            raise InvalidOperation(f"no NetQASM session {session_id!r} at this node")
        if not addresses:
            raise InvalidOperation("name at least one virtual qubit address")
        with s.lock:
            ex = s.executor
            qubits = []
            for a in addresses:
                found = None
                for unit in ex._qubit_unit_modules.values():
                    if 0 <= a < len(unit) and unit[a] is not None:
                        found = ex._qubits[unit[a]]
                if found is None:
                    raise InvalidOperation(f"no qubit at virtual address {a} in session {session_id!r}")
                qubits.append(found)
            return self.core.inspect(qubits, deadline=time.monotonic() + timeout_s)
