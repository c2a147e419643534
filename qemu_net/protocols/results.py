"""What the result types of the protocol and QKD roles share: a repr you can paste back into Python
(``SendOutcome(sent=3, lost=0)`` evaluates to an equal object, NaN written ``float('nan')``, enum members
as ``Type.NAME``) and NaN-aware equality, so a result read back from its repr compares equal.

Each result type is a frozen dataclass that checks its invariants in ``__post_init__`` (counts >= 0,
probabilities in [0, 1]) and raises `InvalidOperation` naming the field.
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum
from typing import Any

from qemu_net.errors import InvalidOperation


def _literal(value: object) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, tuple):
        items = ", ".join(_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def result_repr(obj: Any) -> str:
    """``ClassName(field=value, ...)`` of a dataclass, over its fields shown in the repr."""
    parts = [f"{f.name}={_literal(getattr(obj, f.name))}" for f in dataclasses.fields(obj) if f.repr]
    return f"{type(obj).__name__}({', '.join(parts)})"


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def result_eq(a: Any, b: Any) -> bool:
    """Equal type and equal compared fields, NaN equal to NaN."""
    if type(a) is not type(b):
        return NotImplemented  # type: ignore[no-any-return] # the == protocol: let the other operand decide
    return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a) if f.compare)


def check_count(owner: str, **counts: int) -> None:
    """Each count is an int >= 0; InvalidOperation naming ``owner.field`` otherwise."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidOperation(f"{owner}.{name} must be an integer >= 0, got {value!r}", parameter=name,
                                   value=value)


def check_probability(owner: str, **probabilities: float) -> None:
    """Each probability is in [0, 1] (within 1e-12); InvalidOperation naming ``owner.field`` otherwise."""
    for name, value in probabilities.items():
        if not (-1e-12 <= value <= 1 + 1e-12):
            raise InvalidOperation(f"{owner}.{name} must be in [0, 1], got {value!r}", parameter=name, value=value)


__all__ = ["check_count", "check_probability", "result_eq", "result_hash", "result_repr"]


def result_hash(obj: Any) -> int:
    """A hash consistent with `result_eq` (equal results have equal reprs)."""
    return hash(result_repr(obj))
