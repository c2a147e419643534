"""The public SessionService: a client renews or closes its session's lease (`qemu_net.node.sessions`)."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from qemu_net._proto.v1 import session_pb2 as s
from qemu_net._proto.v1 import session_pb2_grpc as sg
from qemu_net.errors import InvalidOperation
from qemu_net.node.core import NodeCore
from qemu_net.node.servicers import rpc
from qemu_net.node.sessions import current_owner, session_of

SESSION_SERVICE = s.DESCRIPTOR.services_by_name["SessionService"].full_name
#: The generated (unannotated) registration function, typed.
_add_servicer: Callable[[sg.SessionServiceServicer, grpc.Server], None] = sg.add_SessionServiceServicer_to_server


class SessionServicer(sg.SessionServiceServicer):
    """Renew / Close for the session named in the call's ``qnet-session`` metadata (the `rpc` wrapper
    has already started or renewed its lease)."""

    SERVICE = "SessionService"

    def __init__(self, core: NodeCore) -> None:
        self.core = core

    @staticmethod
    def _owner() -> str:
        owner = current_owner.get()
        if not session_of(owner):
            raise InvalidOperation("name the session in the call's qnet-session metadata")
        return owner

    @rpc
    def Renew(self, request: s.RenewSessionRequest, context: grpc.ServicerContext) -> s.SessionLease:
        owner = self._owner()
        return s.SessionLease(session_id=session_of(owner), owner=owner.partition("/")[0],
                              lease_s=self.core.sessions.lease_s, qubits_owned=self.core.sessions.owned(owner))

    @rpc
    def Close(self, request: s.CloseSessionRequest, context: grpc.ServicerContext) -> s.SessionLease:
        owner = self._owner()
        freed = self.core.sessions.close(owner)
        return s.SessionLease(session_id=session_of(owner), owner=owner.partition("/")[0], lease_s=0.0,
                              qubits_owned=freed)


def add_session_service(core: NodeCore, server: grpc.Server) -> None:
    _add_servicer(SessionServicer(core), server)


__all__ = ["SESSION_SERVICE", "SessionServicer", "add_session_service"]
