"""Typed QKD post-processing messages: one frozen dataclass per message, framed by `qemu_net.qkd.wire`.

A message's scalar fields travel in the frame's JSON header, its `numpy.ndarray` fields as raw arrays;
the header carries the message's tag, which `decode` maps to its class (the only place a string
selects anything). Decoding checks every field against the class's annotations -- a missing or extra
field, a wrong type or a non-array where an array belongs raises `InvalidOperation` -- so the roles
only ever see well-formed messages of the types they asked for (`Channel.recv(SiftReply, ...)`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from qemu_net.errors import InvalidOperation
from qemu_net.qkd import wire

_REGISTRY: dict[str, type[Message]] = {}


class Message:
    """Base of every post-processing message. Subclasses are frozen dataclasses with a ``TAG``."""

    TAG: ClassVar[str] = ""
    #: Set on every subclass by @dataclass; declared so that `dataclasses.fields` type-checks on the base.
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if cls.TAG:
            if cls.TAG in _REGISTRY:
                raise TypeError(f"duplicate QKD message tag {cls.TAG!r}")
            _REGISTRY[cls.TAG] = cls

    def encode(self) -> bytes:
        meta: dict[str, Any] = {"op": self.TAG}
        arrays: dict[str, np.ndarray] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                arrays[f.name] = v
            else:
                meta[f.name] = v
        return wire.pack(meta, arrays)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _check(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _check(name, value, a)
            except InvalidOperation:
                continue
        raise InvalidOperation(f"QKD message field {name}={value!r} has the wrong type")
    if hint is np.ndarray:
        if not isinstance(value, np.ndarray):
            raise InvalidOperation(f"QKD message field {name} must be an array")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InvalidOperation(f"QKD message field {name}={value!r} must be a boolean")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidOperation(f"QKD message field {name}={value!r} must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidOperation(f"QKD message field {name}={value!r} must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise InvalidOperation(f"QKD message field {name}={value!r} must be a string")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise InvalidOperation(f"QKD message field {name} must be a list")
        return [_check(f"{name}[]", v, args[0]) for v in value] if args else value
    raise InvalidOperation(f"QKD message field {name}: unsupported type {hint!r}")


def decode(payload: bytes) -> Message:
    """The typed message in a frame; InvalidOperation on anything malformed or unknown."""
    meta, arrays = wire.unpack(payload)
    tag = meta.pop("op", None)
    cls = _REGISTRY.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise InvalidOperation(f"unknown QKD message {tag!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    given = {**meta, **arrays}
    extra = set(given) - names
    if extra:
        raise InvalidOperation(f"QKD message {tag}: unexpected field(s) {sorted(extra)}")
    kw = {}
    for f in dataclasses.fields(cls):
        if f.name not in given:
            if f.default is dataclasses.MISSING:
                raise InvalidOperation(f"QKD message {tag}: missing field {f.name}")
            continue
        kw[f.name] = _check(f"{tag}.{f.name}", given[f.name], hints[f.name])
    return cls(**kw)


# ------------------------------------------------------------------------------- session skeleton
@dataclass(frozen=True)
class Hello(Message):
    """Alice's public settings of the session."""

    TAG = "hello"
    protocol: str
    n: int
    block: int
    rate_hz: float
    eps_sec: float
    eps_cor: float
    reconciliation: str
    ldpc_f: float | None = None
    p_z: float | None = None
    decoy: bool | None = None


@dataclass(frozen=True)
class Bb84Sift(Message):
    TAG = "bb84_sift"
    idx: np.ndarray
    bases: np.ndarray


@dataclass(frozen=True)
class E91Sift(Message):
    TAG = "e91_sift"
    idx: np.ndarray
    settings: np.ndarray


@dataclass(frozen=True)
class Bb84SiftReply(Message):
    TAG = "bb84_sift_reply"
    match: np.ndarray
    cls: np.ndarray


@dataclass(frozen=True)
class E91SiftReply(Message):
    TAG = "e91_sift_reply"
    settings: np.ndarray


@dataclass(frozen=True)
class Disclosed(Message):
    """Bob's test-basis bits (then, for E91, his bits at the CHSH positions)."""

    TAG = "disclosed"
    bits: np.ndarray


@dataclass(frozen=True)
class Estimate(Message):
    TAG = "estimate"
    qber: float
    q_ec: float
    n_key: int
    k_test: int
    gains: list[float] | None = None
    chsh: float | None = None
    chsh_stderr: float | None = None


@dataclass(frozen=True)
class Verify(Message):
    TAG = "verify"
    seeds: list[int]
    tags: list[int]


@dataclass(frozen=True)
class VerifyResult(Message):
    TAG = "verify_result"
    ok: bool
    corrected_errors: int
    frame_error_rate: float | None = None


@dataclass(frozen=True)
class PrivacyAmplification(Message):
    """The final length, the Toeplitz seed, and the finite-key report both ends give."""

    TAG = "pa"
    m: int
    seed: np.ndarray
    key_analysis: str
    asymptotic_bits: float
    asymptotic_rate_per_pulse: float
    s0_lower: float
    s1_lower: float
    e1_upper: float
    security_margin_bits: int
    y1_lower: float | None = None

    def report(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("m", "seed")}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class PaDone(Message):
    TAG = "pa_done"


@dataclass(frozen=True)
class Abort(Message):
    """Why the sender stops; ``kind`` names the error class the peer raises."""

    TAG = "abort"
    kind: str
    reason: str


# ------------------------------------------------------------------------------------------ Cascade
@dataclass(frozen=True)
class CascadeStart(Message):
    TAG = "cascade_start"
    n: int
    seed: int
    sizes: list[int]


@dataclass(frozen=True)
class CascadeBlocks(Message):
    TAG = "cascade_blocks"
    pass_index: int


@dataclass(frozen=True)
class CascadeQuery(Message):
    TAG = "cascade_query"
    pass_index: int
    lo: np.ndarray
    hi: np.ndarray


@dataclass(frozen=True)
class CascadeParities(Message):
    TAG = "cascade_parities"
    count: int
    p: np.ndarray


@dataclass(frozen=True)
class CascadeDone(Message):
    TAG = "cascade_done"


# --------------------------------------------------------------------------------------------- LDPC
@dataclass(frozen=True)
class LdpcStart(Message):
    TAG = "ldpc_start"
    n: int
    seed: int
    q: float
    f: float


@dataclass(frozen=True)
class LdpcSyndromes(Message):
    TAG = "ldpc_syndromes"
    count: int
    s: np.ndarray


@dataclass(frozen=True)
class LdpcMore(Message):
    TAG = "ldpc_more"
    seed: int
    frames: np.ndarray


@dataclass(frozen=True)
class LdpcDone(Message):
    TAG = "ldpc_done"


__all__ = [name for name, obj in list(globals().items())
           if isinstance(obj, type) and issubclass(obj, Message)] + ["decode"]
