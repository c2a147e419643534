"""Wire forms of the NetQASM connection's calls: subroutine submission, qubit state, classical sockets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import numpy as np

from qemu_net._proto.v1 import netqasm_pb2 as nq
from qemu_net._proto.v1 import netqasm_pb2_grpc as nqg
from qemu_net._proto.v1 import node_pb2 as n
from qemu_net._proto.v1 import node_pb2_grpc as ng


@dataclass(frozen=True)
class SubmitReply:
    """What a submitted subroutine returned: the node's clock, registers and arrays."""

    virtual_time_ns: int
    #: (register name, index, value)
    registers: tuple[tuple[str, int, int], ...]
    #: (address, values with None where undefined)
    arrays: tuple[tuple[int, list[int | None]], ...]


def netqasm_stub(channel: grpc.Channel) -> nqg.NetQasmServiceStub:
    """The NetQasmService stub over `channel`."""
    return nqg.NetQasmServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated


def node_stub(channel: grpc.Channel) -> ng.NodeServiceStub:
    """The NodeService stub over `channel` (for classical sockets)."""
    return ng.NodeServiceStub(channel)  # type: ignore[no-untyped-call]  # generated, unannotated


def submit_to_proto(session_id: str, messages: Sequence[bytes]) -> nq.NetQasmSubmitRequest:
    """The Submit request carrying serialized netqasm messages."""
    return nq.NetQasmSubmitRequest(session_id=session_id, messages=list(messages))


def submit_reply_from_proto(reply: nq.NetQasmSubmitReply) -> SubmitReply:
    """The Submit reply as plain values."""
    return SubmitReply(
        virtual_time_ns=reply.virtual_time_ns,
        registers=tuple((r.name, r.index, int(r.value)) for r in reply.registers),
        arrays=tuple((a.address, [int(v) if d else None for v, d in zip(a.values, a.defined, strict=False)])
                     for a in reply.arrays),
    )


def qubit_state_to_proto(session_id: str, virtual_addresses: Sequence[int]) -> nq.NetQasmQubitStateRequest:
    """The QubitState request for an application's virtual qubit addresses."""
    return nq.NetQasmQubitStateRequest(session_id=session_id, virtual_addresses=list(virtual_addresses))


def density_matrix_from_proto(reply: nq.NetQasmQubitStateReply) -> np.ndarray:
    """The density matrix a QubitState reply carries."""
    d = reply.dimension
    return (np.asarray(reply.real) + 1j * np.asarray(reply.imag)).reshape(d, d)


def send_classical_to_proto(to: str, channel: str, payload: bytes) -> n.SendClassicalRequest:
    """A classical message to node `to` on `channel`."""
    return n.SendClassicalRequest(to=to, channel=channel, payload=payload)


def receive_classical_to_proto(sender: str, channel: str, timeout_s: float) -> n.ReceiveClassicalRequest:
    """A bounded wait for a classical message from `sender` on `channel`."""
    return n.ReceiveClassicalRequest(sender=sender, channel=channel, timeout_s=timeout_s)


def receive_any_to_proto(keys: list[tuple[str, str]], timeout_s: float) -> n.ReceiveClassicalRequest:
    """A bounded wait for the first classical message to arrive on any of the (sender, channel) pairs."""
    return n.ReceiveClassicalRequest(any_of=[n.ChannelKey(sender=s, channel=c) for s, c in keys], timeout_s=timeout_s)


def payload_from_proto(reply: n.ReceiveClassicalResponse) -> bytes:
    """The payload of a received classical message."""
    return reply.payload
