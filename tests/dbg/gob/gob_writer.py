"""A small Go `encoding/gob` ENCODER for tests only: type definitions + values, as Go lays them out.

It lets the tests build streams in the current Go am-dbg format (and damaged ones) without Go.
Structs are written from dicts in field order, omitting zero values as Go does.
"""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass, field
from typing import Any

BOOL, INT, UINT, FLOAT, BYTES, STRING, COMPLEX, INTERFACE = 1, 2, 3, 4, 5, 6, 7, 8


@dataclass(eq=False)
class T:
    """A user type: kind is struct, slice, array, map or gobencoder."""

    kind: str
    name: str = ""
    fields: list[tuple[str, Any]] = field(default_factory=list)  # (name, T | builtin id)
    elem: Any = None
    key: Any = None
    length: int = 0
    id: int = 0
    common_id: int = 0  # CommonType.Id when it differs from the message id (Go does that)


@dataclass
class Iface:
    """An interface value: registered name, concrete builtin type id, value."""

    name: str
    tid: int
    value: Any


def uint(n: int) -> bytes:
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([256 - len(b)]) + b


def sint(i: int) -> bytes:
    return uint((~i << 1) | 1 if i < 0 else i << 1)


def string(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return uint(len(b)) + b


def message(payload: bytes) -> bytes:
    return uint(len(payload)) + payload


def _is_zero(v: Any) -> bool:
    return v is None or (not isinstance(v, Iface) and not v)


class GobWriter:
    """Assigns ids from 65 and writes type definitions (outer type first, like Go) + values."""

    def __init__(self, first_id: int = 65) -> None:
        self.next_id = first_id
        self.sent: set[int] = set()

    @staticmethod
    def tid(t: Any) -> int:
        return t if isinstance(t, int) else t.id

    def assign(self, t: Any) -> None:
        if isinstance(t, int) or t.id:
            return
        t.id = self.next_id
        self.next_id += 1
        for _, ft in t.fields:
            self.assign(ft)
        for sub in (t.elem, t.key):
            if sub is not None:
                self.assign(sub)

    def wire_type(self, t: T) -> bytes:
        cid = t.common_id or t.id
        common = (
            (uint(1) + string(t.name) + uint(1) + sint(cid) + b"\x00")
            if t.name
            else (uint(2) + sint(cid) + b"\x00")
        )
        if t.kind == "struct":
            flds = b"".join(
                uint(1) + string(n) + uint(1) + sint(self.tid(ft)) + b"\x00" for n, ft in t.fields
            )
            body = uint(1) + common + uint(1) + uint(len(t.fields)) + flds + b"\x00"
            return uint(3) + body + b"\x00"
        if t.kind == "slice":
            body = uint(1) + common + uint(1) + sint(self.tid(t.elem)) + b"\x00"
            return uint(2) + body + b"\x00"
        if t.kind == "array":
            body = (
                uint(1) + common + uint(1) + sint(self.tid(t.elem)) + uint(1) + sint(t.length)
            ) + b"\x00"
            return uint(1) + body + b"\x00"
        if t.kind == "map":
            body = (
                uint(1)
                + common
                + uint(1)
                + sint(self.tid(t.key))
                + uint(1)
                + sint(self.tid(t.elem))
            ) + b"\x00"
            return uint(4) + body + b"\x00"
        if t.kind == "gobencoder":
            return uint(5) + uint(1) + common + b"\x00" + b"\x00"
        raise ValueError(t.kind)

    def typedefs(self, t: Any) -> bytes:
        """Definitions of `t` and every type it reaches, outer first, each once."""
        if isinstance(t, int) or t.id in self.sent:
            return b""
        self.sent.add(t.id)
        out = message(sint(-t.id) + self.wire_type(t))
        for _, ft in t.fields:
            out += self.typedefs(ft)
        for sub in (t.elem, t.key):
            if sub is not None:
                out += self.typedefs(sub)
        return out

    def value(self, t: Any, v: Any) -> bytes:
        """Encoding of `v` as a field / element of type `t`."""
        if isinstance(t, int):
            if t == BOOL:
                return uint(1 if v else 0)
            if t == INT:
                return sint(v)
            if t == UINT:
                return uint(v)
            if t == FLOAT:
                return uint(int.from_bytes(_struct.pack(">d", v), "little"))
            if t in (STRING, BYTES):
                return string(v)
            if t == COMPLEX:
                return self.value(FLOAT, v.real) + self.value(FLOAT, v.imag)
            if t == INTERFACE:
                if v is None:
                    return uint(0)
                inner = b"\x00" + self.value(v.tid, v.value)
                return string(v.name) + sint(v.tid) + uint(len(inner)) + inner
            raise ValueError(t)
        if t.kind == "struct":
            out, last = b"", -1
            for i, (name, ft) in enumerate(t.fields):
                if name in v and not _is_zero(v[name]):
                    out += uint(i - last) + self.value(ft, v[name])
                    last = i
            return out + b"\x00"
        if t.kind in ("slice", "array"):
            return uint(len(v)) + b"".join(self.value(t.elem, x) for x in v)
        if t.kind == "map":
            return uint(len(v)) + b"".join(
                self.value(t.key, k) + self.value(t.elem, x) for k, x in v.items()
            )
        if t.kind == "gobencoder":
            return string(v)
        raise ValueError(t.kind)

    def encode(self, t: Any, v: Any) -> bytes:
        """A whole `Encoder.Encode(v)` call: needed type definitions, then the value message."""
        self.assign(t)
        body = self.value(t, v)
        if isinstance(t, int) or t.kind != "struct":
            body = b"\x00" + body
        return self.typedefs(t) + message(sint(self.tid(t)) + body)


def go_time(unix_ns: int, offset_min: int = 0) -> bytes:
    """time.Time.MarshalBinary (version 1) for a Unix time in ns."""
    sec, nsec = divmod(unix_ns, 1_000_000_000)
    return (
        b"\x01"
        + (sec + 62_135_596_800).to_bytes(8, "big", signed=True)
        + nsec.to_bytes(4, "big", signed=True)
        + offset_min.to_bytes(2, "big", signed=True)
    )
