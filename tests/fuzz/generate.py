"""Hypothesis strategies for any protobuf message, built from its descriptor (no hand-written cases).

Every field is set or left unset at random; scalars favour extreme values (0, the type's limits, NaN,
+-inf, 1e-300, 5e-324, huge counts), enums include values the enum does not define, strings come mostly
from a pool of names that mean something to the network under test (its node names, qubit ids that
exist, channel and session names) so requests get past the first checks, and sometimes random text.
Nesting is bounded in depth, repeated fields and maps in length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st

U32 = 2**32 - 1
U64 = 2**64 - 1
I32 = 2**31 - 1
I64 = 2**63 - 1

EXTREME_DOUBLES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-7, 1e-300, 5e-324, 1e308, -1e308, 1e15,
                   math.nan, math.inf, -math.inf]


@dataclass
class Pools:
    """Values that mean something to the network being fuzzed (filled in by the test)."""

    nodes: list[str] = field(default_factory=list)
    qubits: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=lambda: ["c", "fuzz", "_qnet/keys", "s/qkd/classical"])
    sessions: list[str] = field(default_factory=lambda: ["fz", "fz2", "s"])
    junk: list[str] = field(default_factory=lambda: ["", " ", "x" * 300, "\u00e9\u4e2d\U0001f600", "../..", "a.b.c",
                                                     "alice.000000.1", "0", "-1"])


def _int_strategy(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = sorted({v for v in (lo, hi, 0, 1, 2, 3, 8, 64, 1000, 10**6, 10**7, hi // 2, lo // 2) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(0, min(hi, 64)), st.integers(lo, hi))


_INTS = {
    FieldDescriptor.TYPE_UINT32: (0, U32), FieldDescriptor.TYPE_FIXED32: (0, U32),
    FieldDescriptor.TYPE_UINT64: (0, U64), FieldDescriptor.TYPE_FIXED64: (0, U64),
    FieldDescriptor.TYPE_INT32: (-I32 - 1, I32), FieldDescriptor.TYPE_SINT32: (-I32 - 1, I32),
    FieldDescriptor.TYPE_SFIXED32: (-I32 - 1, I32),
    FieldDescriptor.TYPE_INT64: (-I64 - 1, I64), FieldDescriptor.TYPE_SINT64: (-I64 - 1, I64),
    FieldDescriptor.TYPE_SFIXED64: (-I64 - 1, I64),
}

_NODE_FIELDS = ("peer", "to", "sender", "from_node", "holder", "new_holder", "node", "left", "right", "path",
                "nodes", "parents", "assignment", "route", "locations", "pull_from", "moved_to")


#: Whether to set a field: mostly yes, so requests get past "this field is required" to deeper checks.
_MOSTLY = st.integers(0, 3).map(bool)


class MessageStrategies:
    """`for_descriptor(desc)`: a strategy of random messages of that type."""

    def __init__(self, pools: Pools, *, max_depth: int = 3, max_repeated: int = 4) -> None:
        self.pools = pools
        self.max_depth = max_depth
        self.max_repeated = max_repeated

    # ------------------------------------------------------------------ scalars
    def _string(self, name: str) -> st.SearchStrategy[str]:
        p = self.pools
        junk = st.one_of(st.sampled_from(p.junk), st.text(max_size=20))
        if name in _NODE_FIELDS or name.endswith("node"):
            primary = st.sampled_from(p.nodes or ["alice"])
        elif "session" in name:
            primary = st.sampled_from(p.sessions)
        elif "qubit" in name or name.endswith("_id") or name == "key_ids":
            primary = st.sampled_from(p.qubits or ["q"])
        elif "channel" in name:
            primary = st.sampled_from(p.channels)
        else:
            primary = st.sampled_from([*p.nodes, *p.qubits[:8], *p.channels, *p.sessions])
        return st.one_of(primary, primary, primary, junk)

    def _scalar(self, fd: FieldDescriptor) -> st.SearchStrategy[object]:
        t = fd.type
        if t in _INTS:
            return _int_strategy(*_INTS[t])
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            floats = st.floats(allow_nan=True, allow_infinity=True, width=64 if t == FieldDescriptor.TYPE_DOUBLE else 32)
            return st.one_of(st.sampled_from(EXTREME_DOUBLES), floats)
        if t == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if t == FieldDescriptor.TYPE_STRING:
            return self._string(fd.name)
        if t == FieldDescriptor.TYPE_BYTES:
            return st.one_of(st.sampled_from([b"", b"\x00", b"\x01\x02", b"\x03" * 16, b"\xff" * 64]),
                             st.binary(max_size=64), st.integers(1, 4096).map(lambda n: b"\x01" * n))
        if t == FieldDescriptor.TYPE_ENUM:
            known = list(fd.enum_type.values_by_number)
            return st.one_of(st.sampled_from(known), st.sampled_from([99, -1, I32, max(known) + 1]))
        raise TypeError(f"no strategy for field type {t} ({fd.full_name})")

    # ------------------------------------------------------------------ messages
    def _value(self, fd: FieldDescriptor, depth: int) -> st.SearchStrategy[object]:
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            return self.for_descriptor(fd.message_type, depth + 1)
        return self._scalar(fd)

    def for_descriptor(self, desc: Descriptor, depth: int = 0) -> st.SearchStrategy[object]:
        cls = message_factory.GetMessageClass(desc)
        if depth > self.max_depth:
            return st.just(cls())
        plain = [fd for fd in desc.fields if fd.containing_oneof is None]
        oneofs = list(desc.oneofs)

        @st.composite
        def build(draw):  # noqa: ANN001, ANN202 - hypothesis' draw
            msg = cls()
            for fd in plain:
                if not draw(_MOSTLY):
                    continue
                self._set(draw, msg, fd, depth)
            for oneof in oneofs:
                if draw(_MOSTLY):
                    self._set(draw, msg, draw(st.sampled_from(list(oneof.fields))), depth)
            return msg

        return build()

    def _set(self, draw, msg, fd: FieldDescriptor, depth: int) -> None:  # noqa: ANN001
        if fd.is_repeated and fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
            kfd, vfd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            n = draw(st.integers(0, self.max_repeated))
            target = getattr(msg, fd.name)
            for _ in range(n):
                k = draw(self._scalar(kfd))
                if vfd.type == FieldDescriptor.TYPE_MESSAGE:
                    target[k].CopyFrom(draw(self._value(vfd, depth)))
                else:
                    target[k] = draw(self._scalar(vfd))
            return
        if fd.is_repeated:
            values = draw(st.lists(self._value(fd, depth), max_size=self.max_repeated))
            target = getattr(msg, fd.name)
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                for v in values:
                    target.add().CopyFrom(v)
            else:
                target.extend(values)
            return
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(msg, fd.name).CopyFrom(draw(self._value(fd, depth)))
        else:
            setattr(msg, fd.name, draw(self._scalar(fd)))


def raw_inputs(valid: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    """Raw request bytes: random bytes, and valid messages' bytes truncated, extended or with bytes flipped."""

    @st.composite
    def mutated(draw):  # noqa: ANN001, ANN202
        data = bytearray(draw(valid).SerializeToString())
        kind = draw(st.sampled_from(["truncate", "flip", "append", "varint"]))
        if kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)):]
        elif kind == "flip" and data:
            for _ in range(draw(st.integers(1, 4))):
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= draw(st.integers(1, 255))
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=32))
        else:  # an over-long varint / a length prefix larger than the message
            data += bytes([0x0A]) + b"\xff" * draw(st.integers(1, 10))
        return bytes(data)

    return st.one_of(st.binary(max_size=128), mutated())


def methods_of(service_descriptors: Sequence[object]) -> list[tuple[str, object]]:
    """(path, method descriptor) of every method of the services, e.g. ``/qemu_net.v1.NodeService/GetInfo``."""
    out = []
    for svc in service_descriptors:
        for m in svc.methods:
            out.append((f"/{svc.full_name}/{m.name}", m))
    return out


class FastMessages:
    """The same kind of random messages as `MessageStrategies`, drawn with a seeded `random.Random` (about
    a hundred times cheaper than hypothesis' draws): the bulk of the fuzzing inputs."""

    def __init__(self, pools: Pools, seed: int, *, max_depth: int = 3, max_repeated: int = 4) -> None:
        import random

        self.pools = pools
        self.rng = random.Random(seed)
        self.max_depth = max_depth
        self.max_repeated = max_repeated
        self._classes: dict[str, type] = {}

    def _int(self, lo: int, hi: int) -> int:
        r = self.rng
        k = r.random()
        if k < 0.4:
            return r.choice([v for v in (lo, hi, 0, 1, 2, 3, 8, 64, 1000, 10**6, 10**7, hi // 2) if lo <= v <= hi])
        if k < 0.8:
            return r.randint(max(lo, 0), min(hi, 64))
        return r.randint(lo, hi)

    def _string(self, name: str) -> str:
        p, r = self.pools, self.rng
        if r.random() < 0.2:
            return r.choice(p.junk) if r.random() < 0.7 else "".join(chr(r.randint(1, 0x2FFF)) for _ in range(r.randint(0, 12)))
        if name in _NODE_FIELDS or name.endswith("node"):
            return r.choice(p.nodes or ["alice"])
        if "session" in name:
            return r.choice(p.sessions)
        if "qubit" in name or name.endswith("_id") or name == "key_ids":
            return r.choice(p.qubits or ["q"])
        if "channel" in name:
            return r.choice(p.channels)
        return r.choice([*p.nodes, *p.qubits[:8], *p.channels, *p.sessions])

    def scalar(self, fd: FieldDescriptor) -> object:
        t, r = fd.type, self.rng
        if t in _INTS:
            return self._int(*_INTS[t])
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            if r.random() < 0.6:
                return r.choice(EXTREME_DOUBLES)
            return r.uniform(-1e3, 1e3) if r.random() < 0.7 else math.ldexp(r.random(), r.randint(-1070, 1020))
        if t == FieldDescriptor.TYPE_BOOL:
            return r.random() < 0.5
        if t == FieldDescriptor.TYPE_STRING:
            return self._string(fd.name)
        if t == FieldDescriptor.TYPE_BYTES:
            k = r.random()
            if k < 0.3:
                return r.choice([b"", b"\x00", b"\x01\x02", b"\x03" * 16, b"\xff" * 64])
            if k < 0.8:
                return r.randbytes(r.randint(0, 64))
            return b"\x01" * r.randint(1, 4096)
        if t == FieldDescriptor.TYPE_ENUM:
            known = list(fd.enum_type.values_by_number)
            return r.choice(known) if r.random() < 0.8 else r.choice([99, -1, I32, max(known) + 1])
        raise TypeError(f"no value for field type {t} ({fd.full_name})")

    def message(self, desc: Descriptor, depth: int = 0) -> object:
        cls = self._classes.get(desc.full_name)
        if cls is None:
            cls = self._classes[desc.full_name] = message_factory.GetMessageClass(desc)
        msg = cls()
        if depth > self.max_depth:
            return msg
        r = self.rng
        for fd in desc.fields:
            if fd.containing_oneof is not None or r.random() < 0.25:
                continue
            self._set(msg, fd, depth)
        for oneof in desc.oneofs:
            if r.random() < 0.75:
                self._set(msg, r.choice(list(oneof.fields)), depth)
        return msg

    def _value(self, fd: FieldDescriptor, depth: int) -> object:
        return self.message(fd.message_type, depth + 1) if fd.type == FieldDescriptor.TYPE_MESSAGE else self.scalar(fd)

    def _set(self, msg, fd: FieldDescriptor, depth: int) -> None:  # noqa: ANN001
        r = self.rng
        if fd.is_repeated and fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
            kfd, vfd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            target = getattr(msg, fd.name)
            for _ in range(r.randint(0, self.max_repeated)):
                k = self.scalar(kfd)
                if vfd.type == FieldDescriptor.TYPE_MESSAGE:
                    target[k].CopyFrom(self._value(vfd, depth))
                else:
                    target[k] = self.scalar(vfd)
            return
        if fd.is_repeated:
            values = [self._value(fd, depth) for _ in range(r.randint(0, self.max_repeated))]
            target = getattr(msg, fd.name)
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                for v in values:
                    target.add().CopyFrom(v)
            else:
                target.extend(values)
            return
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(msg, fd.name).CopyFrom(self._value(fd, depth))
        else:
            setattr(msg, fd.name, self.scalar(fd))

    def raw(self, desc: Descriptor) -> bytes:
        """Random bytes, or a valid message's bytes truncated, flipped or extended."""
        r = self.rng
        if r.random() < 0.4:
            return r.randbytes(r.randint(0, 128))
        data = bytearray(self.message(desc).SerializeToString())
        kind = r.choice(["truncate", "flip", "append", "varint"])
        if kind == "truncate" and data:
            del data[r.randint(0, len(data) - 1):]
        elif kind == "flip" and data:
            for _ in range(r.randint(1, 4)):
                data[r.randint(0, len(data) - 1)] ^= r.randint(1, 255)
        elif kind == "append":
            data += r.randbytes(r.randint(1, 32))
        else:
            data += b"\x0a" + b"\xff" * r.randint(1, 10)
        return bytes(data)
