"""The node's NetQasmService: host messages in, returned registers and arrays out (thin)."""

from __future__ import annotations

import grpc
import numpy as np

from qemu_net._proto.v1 import netqasm_pb2 as nq
from qemu_net._proto.v1 import netqasm_pb2_grpc as nqg
from qemu_net.errors import InvalidOperation
from qemu_net.netqasm.executor import NetQasmSessions
from qemu_net.node.core import NodeCore
from qemu_net.node.servicers import _timeout, rpc

SERVICE = "qemu_net.v1.NetQasmService"
#: Default time a Submit may take when the caller set no deadline.
DEFAULT_TIMEOUT_S = 60.0


class NetQasmServicer(nqg.NetQasmServiceServicer):
    SERVICE = "NetQasmService"

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        self.sessions = NetQasmSessions(core)

    @rpc
    def Submit(self, request: nq.NetQasmSubmitRequest, context: grpc.ServicerContext) -> nq.NetQasmSubmitReply:
        regs, arrays, now = self.sessions.submit(request.session_id, list(request.messages),
                                                 _timeout(0.0, DEFAULT_TIMEOUT_S, context))
        reply = nq.NetQasmSubmitReply(virtual_time_ns=now)
        for (name, index), value in regs.items():
            reply.registers.add(name=name, index=index, value=int(value))
        for address, values in arrays.items():
            reply.arrays.add(address=address, values=[0 if v is None else int(v) for v in values],
                             defined=[v is not None for v in values])
        return reply

    @rpc
    def QubitState(self, request: nq.NetQasmQubitStateRequest,
                   context: grpc.ServicerContext) -> nq.NetQasmQubitStateReply:
        if len(request.virtual_addresses) > 10:
            raise InvalidOperation("at most 10 qubits per state request")
        rho = np.asarray(self.sessions.qubit_state(request.session_id, list(request.virtual_addresses),
                                                   _timeout(0.0, 10.0, context)))
        flat = rho.reshape(-1)
        return nq.NetQasmQubitStateReply(dimension=rho.shape[0], real=flat.real.tolist(), imag=flat.imag.tolist())


def add_to_server(core: NodeCore, server: grpc.Server) -> None:
    """Serve NetQASM applications at this node."""
    nqg.add_NetQasmServiceServicer_to_server(  # type: ignore[no-untyped-call]  # generated, unannotated
        NetQasmServicer(core), server)
