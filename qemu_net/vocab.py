"""The package's vocabulary: small enums every layer shares, importable without Cirq or NumPy."""

from __future__ import annotations

from enum import Enum


class Basis(str, Enum):
    """A single-qubit measurement basis, named by the Pauli operator whose eigenbasis it is."""

    Z = "Z"
    X = "X"
    Y = "Y"
