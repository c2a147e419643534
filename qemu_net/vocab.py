"""The package's vocabulary: small enums every layer shares, importable without Cirq or NumPy.

Each enum is a ``str`` enum whose values are the spellings topology YAML files, CLI flags and JSON
results use, so a config keeps working and ``SourceModel("werner") is SourceModel.WERNER``; pydantic
accepts either spelling. ``str()`` and f-strings give the value (``f"{RoutingCost.HOPS}" == "hops"``).
See docs/nomenclature.md for the nouns (node, link, qubit, EPR pair, ...).
"""

from __future__ import annotations

from enum import Enum


class _Word(str, Enum):
    """A ``str`` enum that prints as its value (what ``enum.StrEnum`` does on Python >= 3.11)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Basis(_Word):
    """A single-qubit measurement basis, named by the Pauli operator whose eigenbasis it is.

    `code` is its byte on the wire (the EPR batch and protocol APIs): 0 Z, 1 X, 2 Y."""

    Z = "Z"
    X = "X"
    Y = "Y"

    @property
    def code(self) -> int:
        """The basis's byte on the wire: 0 Z, 1 X, 2 Y."""
        return _BASIS_ORDER.index(self)

    @classmethod
    def from_code(cls, code: int) -> Basis:
        """The basis with wire byte `code`; ValueError for any other byte."""
        if not 0 <= code < len(_BASIS_ORDER):
            raise ValueError(f"basis code {code} is not one of 0 (Z), 1 (X), 2 (Y)")
        return _BASIS_ORDER[code]


_BASIS_ORDER: tuple[Basis, ...] = (Basis.Z, Basis.X, Basis.Y)


class SourceModel(_Word):
    """How a link's EPR source imperfection is modelled (``links[i].source_model``).

    ``werner``: a depolarised pair of fidelity ``source_fidelity``; ``dephased``:
    F |Phi+><Phi+| + (1 - F) |Phi-><Phi-|, a pair whose phase flipped with probability 1 - F."""

    WERNER = "werner"
    DEPHASED = "dephased"


class Heralding(_Word):
    """Where a link's EPR generation is heralded (``links[i].heralding``).

    ``source``: one-sided, the emitting end heralds; ``single-click`` / ``double-click``: a midpoint
    station detects one photon (single-photon scheme) or two (Barrett-Kok type)."""

    SOURCE = "source"
    SINGLE_CLICK = "single-click"
    DOUBLE_CLICK = "double-click"


class RoutingCost(_Word):
    """What a route over the fiber links minimises (`qemu_net.protocols.routing`).

    ``hops``: every link costs 1 (fewest swaps); ``fidelity``: a link costs -log w, w its pair's Werner
    parameter, so the cheapest path has the highest expected end-to-end fidelity."""

    HOPS = "hops"
    FIDELITY = "fidelity"


__all__ = ["Basis", "Heralding", "RoutingCost", "SourceModel"]
