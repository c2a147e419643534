"""The one table of single-qubit matrices every layer uses: the Paulis, the Clifford generators, CNOT
and CZ, and the basis changes that turn a Z measurement into one in X or Y.

Every matrix is a read-only complex128 ``numpy`` array (copy before changing one). Two-qubit matrices
act on the first qubit as the more significant bit (Cirq's big-endian order).
"""

from __future__ import annotations

import numpy as np

from qemu_net.vocab import Basis


def _frozen(m: object) -> np.ndarray:
    a = np.array(m, dtype=np.complex128)
    a.setflags(write=False)
    return a


I = _frozen(np.eye(2))  # noqa: E741 - the identity's conventional name
X = _frozen([[0, 1], [1, 0]])
Y = _frozen([[0, -1j], [1j, 0]])
Z = _frozen([[1, 0], [0, -1]])
H = _frozen(np.array([[1, 1], [1, -1]]) / np.sqrt(2))
S = _frozen([[1, 0], [0, 1j]])
S_DAG = _frozen([[1, 0], [0, -1j]])
CNOT = _frozen([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
CZ = _frozen(np.diag([1, 1, 1, -1]))

#: The Paulis in the order I, X, Y, Z (the index of a Pauli channel's probabilities).
PAULIS: tuple[np.ndarray, ...] = (I, X, Y, Z)
#: The Paulis by their letter.
PAULI: dict[str, np.ndarray] = {"I": I, "X": X, "Y": Y, "Z": Z}
#: Unitary applied before a Z measurement to measure in each basis (outcome 0 <-> eigenvalue +1):
#: none for Z, H for X, H.S^dagger for Y.
BASIS_CHANGE: dict[Basis, np.ndarray] = {Basis.Z: I, Basis.X: H, Basis.Y: _frozen(H @ S_DAG)}

__all__ = ["BASIS_CHANGE", "CNOT", "CZ", "PAULI", "PAULIS", "S_DAG", "H", "I", "S", "X", "Y", "Z"]
