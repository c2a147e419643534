"""Receive `rounds` teleported qubits; measure each (in Z) after its corrections (a NetQASM application).

The corrections and measurement of one qubit go to the node in the same subroutine as the request for
the next pair (one subroutine per round)."""

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection, Socket


def main(app_config=None, rounds=100):
    socket = Socket("receiver", "sender", log_config=app_config.log_config)
    epr_socket = EPRSocket("sender")
    receiver = NetQASMConnection(app_name=app_config.app_name, log_config=app_config.log_config,
                                 epr_sockets=[epr_socket])
    results = []
    with receiver:
        epr = epr_socket.recv_keep()[0]
        receiver.flush()
        for i in range(rounds):
            msg = socket.recv()
            if msg[1] == "1":
                epr.X()
            if msg[0] == "1":
                epr.Z()
            m = epr.measure()
            if i + 1 < rounds:
                epr = epr_socket.recv_keep()[0]
            receiver.flush()
            results.append(int(m))
    return {"rounds": rounds, "measured": results}
