"""What `netqasm.sdk.toolbox.sim_states` resolves to in a role process run by qemu_net.

netqasm's own module builds reference states with NetSquid, which a qemu_net role process does not
have; applications use it only to compare a state they received (`get_qubit_state`) with the one they
meant to send. These are the same three functions on plain numpy vectors, with NetSquid's conventions:
`qubit_from(phi, theta)` is R_z(phi) R_y(theta) |0> = cos(theta/2)|0> + e^{i phi} sin(theta/2)|1> up to a
global phase, and `get_fidelity(q, rho)` is NetSquid's unsquared fidelity sqrt(<q| rho |q>).
"""

from __future__ import annotations

import numpy as np


def qubit_from(phi: float, theta: float) -> np.ndarray:
    """The pure state cos(theta/2)|0> + e^{i phi} sin(theta/2)|1> (a state vector)."""
    return np.array([np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)], dtype=complex)


def to_dm(q: np.ndarray) -> np.ndarray:
    """Density matrix of a state vector."""
    q = np.asarray(q, dtype=complex).reshape(-1)
    return np.outer(q, q.conj())


def get_fidelity(q1: np.ndarray, q2: np.ndarray) -> float:
    """sqrt(<q1| q2 |q1>) for a state vector q1 and a density matrix q2 (NetSquid's `fidelity`)."""
    v = np.asarray(q1, dtype=complex).reshape(-1)
    rho = np.asarray(q2, dtype=complex)
    return float(np.sqrt(max(np.real(v.conj() @ rho @ v), 0.0)))


def install() -> None:
    import sys

    import netqasm.sdk.toolbox

    sys.modules["netqasm.sdk.toolbox.sim_states"] = sys.modules[__name__]
    netqasm.sdk.toolbox.sim_states = sys.modules[__name__]
