"""Teleport `rounds` qubits to the receiver, one after the other (a NetQASM application)."""

from netqasm.sdk import EPRSocket, Qubit
from netqasm.sdk.external import NetQASMConnection, Socket
from netqasm.sdk.toolbox import set_qubit_state


def main(app_config=None, rounds=100, phi=0.0, theta=0.0):
    socket = Socket("sender", "receiver", log_config=app_config.log_config)
    epr_socket = EPRSocket("receiver")
    sender = NetQASMConnection(app_name=app_config.app_name, log_config=app_config.log_config,
                               epr_sockets=[epr_socket])
    outcomes = []
    with sender:
        for _ in range(rounds):
            q = Qubit(sender)
            set_qubit_state(q, phi, theta)
            epr = epr_socket.create_keep()[0]
            q.cnot(epr)
            q.H()
            m1 = q.measure()
            m2 = epr.measure()
            sender.flush()
            m1, m2 = int(m1), int(m2)
            socket.send(f"{m1}{m2}")
            outcomes.append(2 * m1 + m2)
    return {"rounds": rounds, "outcomes": outcomes}
