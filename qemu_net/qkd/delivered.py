"""Key material as handed to applications: a wipeable buffer and a delivered key (id, size, bytes).

Kept apart from the key store (which needs numpy) so that SDK paths that only receive keys stay light.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class KeyBytes(bytearray):
    """Key material in a buffer that can be overwritten (`wipe`). Compares and hashes like the bytes it
    holds (so keys can be compared and collected in sets); do not change one while it sits in a set."""

    __slots__ = ()

    # bytearray declares __hash__ None (mutable); a key hashes as the bytes it holds (see the class docstring).
    def __hash__(self) -> int:  # type: ignore[override]
        return hash(bytes(self))

    def __repr__(self) -> str:
        return f"KeyBytes(<{len(self)} bytes>)"

    def wipe(self) -> None:
        self[:] = bytes(len(self))


@dataclass(frozen=True)
class DeliveredKey:
    """One key handed to an application: its id, size and bytes (excluded from the repr). The bytes are a
    `bytearray` the deliverer overwrites (`wipe`) once they are on their way."""

    key_id: str
    size_bits: int
    key: KeyBytes = field(repr=False)

    def wipe(self) -> None:
        """Overwrite the key bytes in memory with zeros."""
        if isinstance(self.key, bytearray):
            self.key[:] = bytes(len(self.key))


__all__ = ["DeliveredKey", "KeyBytes"]
