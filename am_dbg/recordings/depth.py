"""How deep a msgpack value nests, found without recursion (docs/protocol.md "Reading recordings").

A recording may hold a record a writer accepted but no reader can take apart: a value nested a
thousand levels deep makes the decoders and `str()` raise `RecursionError` at whatever stack depth
they run. Readers measure the depth first, iteratively, and skip a record deeper than `MAX_DEPTH`.
"""

from __future__ import annotations

import struct
from typing import Any

from am_dbg.errors import DbgError
from am_rpc.codec import DEFAULT_MAX_DEPTH, nesting_depth

__all__ = [
    "CONTAINER_BYTES",
    "MAX_DEPTH",
    "TooDeepError",
    "object_too_deep",
    "too_deep",
    "value_end",
]

MAX_DEPTH = DEFAULT_MAX_DEPTH
"""Deepest nesting a reader accepts in one record (a tx map is 3 deep: map, steps, step): the
wire's limit (`am_rpc.codec`), so a reader takes whatever the ingest accepted."""

_CONTAINER = frozenset((*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF))
CONTAINER_BYTES = bytes(1 if b in _CONTAINER else 0 for b in range(256))
"""`raw.translate(CONTAINER_BYTES).count(1)`: how many bytes of `raw` could open a container."""

# fixed sizes (type byte included) of the scalar types past the fix ranges
_FIXED = {
    0xC0: 1,
    0xC2: 1,
    0xC3: 1,
    0xCA: 5,
    0xCB: 9,
    0xCC: 2,
    0xCD: 3,
    0xCE: 5,
    0xCF: 9,
    0xD0: 2,
    0xD1: 3,
    0xD2: 5,
    0xD3: 9,
    0xD4: 3,
    0xD5: 4,
    0xD6: 6,
    0xD7: 10,
    0xD8: 18,
}
# (bytes of the length field, extra bytes after it) of the sized scalar types
_SIZED = {
    0xC4: (1, 0),
    0xC5: (2, 0),
    0xC6: (4, 0),
    0xC7: (1, 1),
    0xC8: (2, 1),
    0xC9: (4, 1),
    0xD9: (1, 0),
    0xDA: (2, 0),
    0xDB: (4, 0),
}
_UINT = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}


class TooDeepError(DbgError, ValueError):
    """A value nests deeper than allowed (or is not msgpack at all)."""


def value_end(buf: bytes | memoryview, pos: int = 0, limit: int = MAX_DEPTH) -> int:
    """The offset just past the msgpack value starting at `pos`.

    Raises `TooDeepError` when it nests deeper than `limit` containers, is cut short, or uses the
    reserved byte 0xC1. Iterative: any depth costs no Python stack.
    """
    size = len(buf)
    left: list[int] = []  # items still to read in each open container
    while True:
        if pos >= size:
            raise TooDeepError(f"msgpack value cut short at byte {pos:,}")
        b = buf[pos]
        n = -1  # items of a container opened here
        if b <= 0x7F or b >= 0xE0:
            pos += 1
        elif b <= 0x8F:
            n, pos = 2 * (b & 0x0F), pos + 1
        elif b <= 0x9F:
            n, pos = b & 0x0F, pos + 1
        elif b <= 0xBF:
            pos += 1 + (b & 0x1F)
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in _SIZED:
            width, extra = _SIZED[b]
            if pos + 1 + width > size:
                raise TooDeepError(f"msgpack value cut short at byte {pos:,}")
            pos += 1 + width + extra + _UINT[width].unpack_from(buf, pos + 1)[0]
        elif b in (0xDC, 0xDD, 0xDE, 0xDF):
            width = 2 if b in (0xDC, 0xDE) else 4
            if pos + 1 + width > size:
                raise TooDeepError(f"msgpack value cut short at byte {pos:,}")
            n = _UINT[width].unpack_from(buf, pos + 1)[0] * (2 if b >= 0xDE else 1)
            pos += 1 + width
        else:
            raise TooDeepError(f"not msgpack: reserved byte 0xc1 at byte {pos:,}")
        if n >= 0:
            if len(left) >= limit:
                raise TooDeepError(f"nested deeper than {limit} levels")
            if n:
                left.append(n)
                continue
        # a complete item: close every container it completes
        while left:
            left[-1] -= 1
            if left[-1]:
                break
            left.pop()
        if not left:
            if pos > size:
                raise TooDeepError(f"msgpack value cut short at byte {size:,}")
            return pos


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True if packed value `raw` nests deeper than `limit` containers (or is not one value).

    Nesting `limit` deep takes at least `limit` container headers, so a value with fewer bytes
    that could be one is shallow: counted in C, and only the rest is walked.
    """
    if raw.translate(CONTAINER_BYTES).count(1) <= limit:
        return False
    try:
        value_end(raw, 0, limit)
    except TooDeepError:
        return True
    return False


def object_too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """True if a decoded value (lists, tuples, dicts) nests deeper than `limit` containers."""
    return nesting_depth(obj, limit) > limit
