"""Byte framing for QKD messages: a small JSON header plus raw numpy arrays. Never pickle.

A frame is::

    b"QK1" | uint32 header length (little endian) | JSON header | array bytes ...

The header holds the control fields (``meta``) and, for each array, its name, dtype string (from an
allow-list of fixed-width little-endian numeric types) and shape. Arrays are written back to back with
``ndarray.tobytes()`` and read with ``np.frombuffer`` using the declared dtype and shape, so a frame
from another process or machine decodes identically and nothing executable can ever be smuggled in.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from qemu_net.errors import InvalidOperation

_MAGIC = b"QK1"
_ALLOWED_DTYPES = frozenset({"|u1", "|i1", "<u2", "<u4", "<u8", "<i4", "<i8", "<f4", "<f8", "<c16", "|b1"})


def pack(meta: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """Encode a control dictionary (JSON-serialisable) and named numeric arrays into one frame."""
    descr = []
    blobs = []
    for name, arr in (arrays or {}).items():
        a = np.ascontiguousarray(arr)
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
        a = a.astype(dt, copy=False)
        if dt.str not in _ALLOWED_DTYPES:
            raise InvalidOperation(f"array {name!r} has dtype {a.dtype}, which QKD frames do not carry")
        descr.append({"name": name, "dtype": dt.str, "shape": list(a.shape)})
        blobs.append(a.tobytes())
    header = json.dumps({"meta": meta, "arrays": descr}, separators=(",", ":")).encode()
    return b"".join([_MAGIC, struct.pack("<I", len(header)), header, *blobs])


def unpack(payload: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Decode a frame made by `pack`; raises InvalidOperation on anything malformed."""
    if len(payload) < 7 or payload[:3] != _MAGIC:
        raise InvalidOperation("not a QKD frame (bad magic)")
    (hlen,) = struct.unpack_from("<I", payload, 3)
    start = 7 + hlen
    if start > len(payload):
        raise InvalidOperation("truncated QKD frame header")
    try:
        header = json.loads(payload[7:start])
    except ValueError as exc:
        raise InvalidOperation(f"QKD frame header is not JSON: {exc}") from None
    arrays: dict[str, np.ndarray] = {}
    offset = start
    for d in header.get("arrays", []):
        if d["dtype"] not in _ALLOWED_DTYPES:
            raise InvalidOperation(f"QKD frame declares forbidden dtype {d['dtype']!r}")
        dt = np.dtype(d["dtype"])
        shape = tuple(int(s) for s in d["shape"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        nbytes = count * dt.itemsize
        if offset + nbytes > len(payload):
            raise InvalidOperation(f"truncated QKD frame: array {d['name']!r} needs {nbytes} bytes")
        arrays[d["name"]] = np.frombuffer(payload, dtype=dt, count=count, offset=offset).reshape(shape)
        offset += nbytes
    if offset != len(payload):
        raise InvalidOperation(f"QKD frame has {len(payload) - offset} unexpected trailing bytes")
    return header.get("meta", {}), arrays


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """0/1 uint8 array -> packed uint8 (big bit order, as np.packbits)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8))


def unpack_bits(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of `pack_bits` for n bits."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8), count=n)


__all__ = ["pack", "pack_bits", "unpack", "unpack_bits"]
