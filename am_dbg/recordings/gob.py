"""A pure-Python reader for Go `encoding/gob` streams, driven by the type definitions in the stream.

Go am-dbg exports are one `gob.Encoder.Encode` call; this module turns such a stream into plain Python
values without knowing the Go structs in advance, so old and new export formats decode alike and the
semantic layer (`gob_import.py`) only looks fields up by name.

Values come out as: struct -> `dict` (only the fields present on the wire: gob omits zero values),
slice / array -> `list`, map -> `dict`, string -> `str`, []byte and GobEncoder / BinaryMarshaler /
TextMarshaler payloads -> `bytes`, interface -> `GobInterface` (or `None` for a nil one).

Damaged input never escapes as a traceback: every failure is a `GobError` naming the byte offset in
the (decompressed) stream and the gob type being read. Lengths and counts are checked against the
bytes that remain, so a mutated stream cannot make the reader allocate or loop without bound.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from am_dbg.errors import DbgError
from am_dbg.recordings.errors import GobError

__all__ = ["GobInterface", "GobStream", "GobType", "decode_gob"]

# Predefined type ids (Go `encoding/gob/type.go`).
BOOL, INT, UINT, FLOAT, BYTES, STRING, COMPLEX, INTERFACE = 1, 2, 3, 4, 5, 6, 7, 8
_WIRE_TYPE, _ARRAY_T, _COMMON_T, _SLICE_T, _STRUCT_T, _FIELD_T, _FIELDS_T, _MAP_T = range(16, 24)
_GOBENC_T = 24  # gobEncoderType; its real id never travels, it is only decoded as a wireType field
FIRST_USER_ID = 65
_MAX_IFACE_NAME = 1024  # as Go's decoder

_Decode = Callable[[int], tuple[Any, int]]


@dataclass(frozen=True, slots=True)
class GobType:
    """One type, predefined or defined by a message in the stream (keyed by the message's id)."""

    id: int
    kind: str  # bool int uint float bytes string complex interface struct slice array map
    # gobencoder binarymarshaler textmarshaler
    name: str = ""
    elem: int = 0
    key: int = 0
    length: int = 0
    fields: tuple[tuple[str, int], ...] = ()
    offset: int = -1  # byte offset of the defining message (-1: predefined)
    common_id: int = 0  # the id inside the definition; Go may send one that differs (go-dumps.md)


@dataclass(frozen=True, slots=True)
class GobInterface:
    """A non-nil interface value: the registered Go type name and the concrete value."""

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class GobStream:
    """Everything in a stream: the type table and each top-level value with its type id and offset."""

    types: dict[int, GobType]
    values: list[tuple[int, Any, int]]
    # Salvage mode only: what stopped the decoding, and for the top-level list it cut short,
    # (elements kept, elements announced). The kept elements are complete.
    damage: GobError | None = None
    partial: tuple[int, int] | None = None

    def describe(self, tid: int) -> str:
        return describe_type(self.types, tid)


_BUILTIN = {
    BOOL: "bool",
    INT: "int",
    UINT: "uint",
    FLOAT: "float",
    BYTES: "bytes",
    STRING: "string",
    COMPLEX: "complex",
    INTERFACE: "interface",
}


def _bootstrap() -> dict[int, GobType]:
    """The predefined types, plus the wireType machinery needed to read type definitions."""
    types = {tid: GobType(tid, kind) for tid, kind in _BUILTIN.items()}
    common = ("CommonType", _COMMON_T)
    types[_COMMON_T] = GobType(
        _COMMON_T, "struct", "CommonType", fields=(("Name", STRING), ("Id", INT))
    )
    types[_ARRAY_T] = GobType(
        _ARRAY_T, "struct", "arrayType", fields=(common, ("Elem", INT), ("Len", INT))
    )
    types[_SLICE_T] = GobType(_SLICE_T, "struct", "sliceType", fields=(common, ("Elem", INT)))
    types[_FIELD_T] = GobType(
        _FIELD_T, "struct", "fieldType", fields=(("Name", STRING), ("Id", INT))
    )
    types[_FIELDS_T] = GobType(_FIELDS_T, "slice", "[]fieldType", elem=_FIELD_T)
    types[_STRUCT_T] = GobType(
        _STRUCT_T, "struct", "structType", fields=(common, ("Field", _FIELDS_T))
    )
    types[_MAP_T] = GobType(
        _MAP_T, "struct", "mapType", fields=(common, ("Key", INT), ("Elem", INT))
    )
    types[_GOBENC_T] = GobType(_GOBENC_T, "struct", "gobEncoderType", fields=(common,))
    types[_WIRE_TYPE] = GobType(
        _WIRE_TYPE,
        "struct",
        "wireType",
        fields=(
            ("ArrayT", _ARRAY_T),
            ("SliceT", _SLICE_T),
            ("StructT", _STRUCT_T),
            ("MapT", _MAP_T),
            ("GobEncoderT", _GOBENC_T),
            ("BinaryMarshalerT", _GOBENC_T),
            ("TextMarshalerT", _GOBENC_T),
        ),
    )
    return types


def describe_type(types: dict[int, GobType], tid: int, depth: int = 0) -> str:
    """A short human name for a type: its Go name when gob sent one, else its shape and id."""
    t = types.get(tid)
    if t is None:
        return f"undefined type #{tid}"
    if t.kind in _BUILTIN.values() and tid < FIRST_USER_ID:
        return t.kind
    if depth > 3:
        return f"#{tid}"
    if t.kind == "struct":
        names = ", ".join(f for f, _ in t.fields[:3]) + (", ..." if len(t.fields) > 3 else "")
        base = t.name or "struct"
        return f"{base} (struct #{tid} {{{names}}})"
    if t.name:
        return f"{t.name} ({t.kind} #{tid})"
    if t.kind == "slice":
        return "[]" + describe_type(types, t.elem, depth + 1)
    if t.kind == "array":
        return f"[{t.length}]" + describe_type(types, t.elem, depth + 1)
    if t.kind == "map":
        k = describe_type(types, t.key, depth + 1)
        return f"map[{k}]" + describe_type(types, t.elem, depth + 1)
    return f"{t.kind} #{tid}"


class _WireError(DbgError):
    """Internal: a failure at `pos`; the enclosing decoders add the type and the field path."""

    def __init__(self, msg: str, pos: int, typ: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos
        self.typ = typ
        self.top = ""  # the top-level value's type
        self.path: list[str] = []


def _hashable(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple((k, _hashable(x)) for k, x in v.items())
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


class _Reader:
    """Decodes one whole stream. One instance per stream; closures are compiled per type id."""

    def __init__(self, buf: bytes, salvage: bool = False) -> None:
        self.buf = buf
        self.size = len(buf)
        self.salvage = salvage
        self.truncated_at = -1  # salvage: offset of a message header promising more than is left
        self.end = 0  # end of the current message
        self.types = _bootstrap()
        self._fns: dict[int, _Decode] = {}
        self._singles: dict[int, _Decode] = {}
        self.read_uint = self._make_read_uint()
        self.read_int = self._make_read_int()

    # -- primitives ---------------------------------------------------------------------------

    def _make_read_uint(self) -> Callable[[int], tuple[int, int]]:
        buf, size = self.buf, self.size

        def read_uint(pos: int) -> tuple[int, int]:
            b = buf[pos]
            if b < 128:
                return b, pos + 1
            n = 256 - b
            if n > 8:
                raise _WireError(f"bad uint: byte count {n} (at most 8)", pos)
            end = pos + 1 + n
            if end > size:
                raise _WireError("data ends inside a uint", pos)
            return int.from_bytes(buf[pos + 1 : end], "big"), end

        return read_uint

    def _make_read_int(self) -> Callable[[int], tuple[int, int]]:
        buf, read_uint = self.buf, self.read_uint

        def read_int(pos: int) -> tuple[int, int]:
            u = buf[pos]
            if u < 128:
                pos += 1
            else:
                u, pos = read_uint(pos)
            return (~(u >> 1) if u & 1 else u >> 1), pos

        return read_int

    # -- type table ---------------------------------------------------------------------------

    def describe(self, tid: int) -> str:
        return describe_type(self.types, tid)

    def define(self, tid: int, wire: dict[str, Any], offset: int) -> None:
        """Turn a decoded wireType into a `GobType` stored under the message's id."""
        if tid < FIRST_USER_ID:
            raise _WireError(f"type definition for reserved id {tid}", offset, "wireType")
        if tid in self.types:
            raise _WireError(f"duplicate definition of type id {tid}", offset, "wireType")
        present = [k for k in wire if wire[k] is not None]
        if len(present) != 1:
            raise _WireError(
                f"type definition for id {tid} sets {len(present)} kinds (need exactly 1)",
                offset,
                "wireType",
            )
        kind_key = present[0]
        body = wire[kind_key]
        common = body.get("CommonType", {})
        name, cid = common.get("Name", ""), common.get("Id", 0)
        if kind_key == "StructT":
            fields = tuple((f.get("Name", ""), f.get("Id", 0)) for f in body.get("Field", ()))
            t = GobType(tid, "struct", name, fields=fields, offset=offset, common_id=cid)
        elif kind_key == "SliceT":
            t = GobType(tid, "slice", name, elem=body.get("Elem", 0), offset=offset, common_id=cid)
        elif kind_key == "ArrayT":
            length = body.get("Len", 0)
            if length < 0:
                raise _WireError(
                    f"array type {tid} has negative length {length}", offset, "wireType"
                )
            t = GobType(
                tid,
                "array",
                name,
                elem=body.get("Elem", 0),
                length=length,
                offset=offset,
                common_id=cid,
            )
        elif kind_key == "MapT":
            t = GobType(
                tid,
                "map",
                name,
                key=body.get("Key", 0),
                elem=body.get("Elem", 0),
                offset=offset,
                common_id=cid,
            )
        else:
            kind = {
                "GobEncoderT": "gobencoder",
                "BinaryMarshalerT": "binarymarshaler",
                "TextMarshalerT": "textmarshaler",
            }[kind_key]
            t = GobType(tid, kind, name, offset=offset, common_id=cid)
        self.types[tid] = t

    def fn(self, tid: int) -> _Decode:
        """The decoder for values of `tid` (as a field / element: no singleton prefix)."""
        f = self._fns.get(tid)
        if f is not None:
            return f
        cell: list[_Decode] = []
        # A forwarder first, so recursive types compile; replaced by the real one below.
        self._fns[tid] = lambda pos: cell[0](pos)
        try:
            real = self._compile(tid)
        except BaseException:
            del self._fns[tid]
            raise
        cell.append(real)
        self._fns[tid] = real
        return real

    # -- compilation --------------------------------------------------------------------------

    def _compile(self, tid: int) -> _Decode:
        t = self.types.get(tid)
        if t is None:
            raise _WireError(f"type id {tid} is used but never defined", -1)
        buf, size, read_uint, read_int = self.buf, self.size, self.read_uint, self.read_int
        kind = t.kind
        if kind == "uint":
            return read_uint
        if kind == "int":
            return read_int
        if kind == "bool":

            def dec_bool(pos: int) -> tuple[Any, int]:
                b = buf[pos]
                if b < 128:
                    return b != 0, pos + 1
                u, pos = read_uint(pos)
                return u != 0, pos

            return dec_bool
        if kind == "float":

            def dec_float(pos: int) -> tuple[Any, int]:
                u, pos = read_uint(pos)
                return struct.unpack(">d", u.to_bytes(8, "little"))[0], pos

            return dec_float
        if kind == "complex":

            def dec_complex(pos: int) -> tuple[Any, int]:
                r, pos = read_uint(pos)
                i, pos = read_uint(pos)
                fr = struct.unpack(">d", r.to_bytes(8, "little"))[0]
                fi = struct.unpack(">d", i.to_bytes(8, "little"))[0]
                return complex(fr, fi), pos

            return dec_complex
        if kind == "string":

            def dec_str(pos: int) -> tuple[Any, int]:
                n = buf[pos]
                if n < 128:
                    pos += 1
                else:
                    n, pos = read_uint(pos)
                end = pos + n
                if end > size:
                    raise _WireError(f"string of {n:,} bytes runs past the end of the data", pos)
                return buf[pos:end].decode("utf-8", "replace"), end

            return dec_str
        if kind in ("bytes", "gobencoder", "binarymarshaler", "textmarshaler"):

            def dec_bytes(pos: int) -> tuple[Any, int]:
                n, pos = read_uint(pos)
                end = pos + n
                if end > size:
                    raise _WireError(
                        f"byte string of {n:,} bytes runs past the end of the data", pos
                    )
                return buf[pos:end], end

            return dec_bytes
        if kind == "interface":
            return self._interface
        if kind == "struct":
            return self._compile_struct(t)
        if kind in ("slice", "array"):
            return self._compile_slice(t)
        if kind == "map":
            return self._compile_map(t)
        raise _WireError(f"type id {tid} has unknown kind {kind!r}", -1)

    def _compile_struct(self, t: GobType) -> _Decode:
        buf, size, read_uint = self.buf, self.size, self.read_uint
        names = [f for f, _ in t.fields]
        decs = [self.fn(ftid) for _, ftid in t.fields]
        # Hot primitives are decoded inline (no call): 1 string, 2 int, 3 bool; 0 = call decs[f].
        codes = [{STRING: 1, INT: 2, BOOL: 3}.get(ftid, 0) for _, ftid in t.fields]
        nf = len(names)
        desc = self.describe(t.id)

        def dec_struct(pos: int) -> tuple[Any, int]:
            out: dict[str, Any] = {}
            f = -1
            try:
                while True:
                    d = buf[pos]
                    if d < 128:
                        pos += 1
                    else:
                        d, pos = read_uint(pos)
                    if d == 0:
                        return out, pos
                    f += d
                    if f >= nf:
                        raise _WireError(
                            f"field number {f} out of range (the struct has {nf})", pos
                        )
                    code = codes[f]
                    if code == 0:
                        out[names[f]], pos = decs[f](pos)
                        continue
                    u = buf[pos]
                    if u < 128:
                        p = pos + 1
                    else:
                        u, p = read_uint(pos)
                    if code == 1:
                        end = p + u
                        if end > size:
                            raise _WireError(
                                f"string of {u:,} bytes runs past the end of the data", p
                            )
                        out[names[f]] = buf[p:end].decode("utf-8", "replace")
                        pos = end
                    elif code == 2:
                        out[names[f]] = ~(u >> 1) if u & 1 else u >> 1
                        pos = p
                    else:
                        out[names[f]] = u != 0
                        pos = p
            except _WireError as e:
                if not e.typ:
                    e.typ = desc
                if 0 <= f < nf:
                    e.path.append(names[f])
                raise
            except IndexError:
                field = f" in field {names[f]}" if 0 <= f < nf else ""
                raise _WireError(f"the data ends{field}", pos, desc) from None

        return dec_struct

    def _compile_slice(self, t: GobType) -> _Decode:
        buf, size, read_uint = self.buf, self.size, self.read_uint
        elem_t = self.types.get(t.elem)
        elem = self.fn(t.elem)
        is_array, length = t.kind == "array", t.length

        def count(pos: int) -> tuple[int, int]:
            n = buf[pos]
            if n < 128:
                pos += 1
            else:
                n, pos = read_uint(pos)
            if is_array and n != length:
                raise _WireError(f"array of {n} elements, its type says {length}", pos)
            if n > size - pos:
                raise _WireError(f"{n:,} elements cannot fit in the {size - pos:,} bytes left", pos)
            return n, pos

        if elem_t is not None and elem_t.kind == "uint" and t.elem < FIRST_USER_ID:

            def dec_uints(pos: int) -> tuple[Any, int]:
                n, pos = count(pos)
                out: list[Any] = []
                append = out.append
                for _ in range(n):
                    b = buf[pos]
                    if b < 128:
                        append(b)
                        pos += 1
                    else:
                        b, pos = read_uint(pos)
                        append(b)
                return out, pos

            return dec_uints

        if elem_t is not None and elem_t.kind == "string" and t.elem < FIRST_USER_ID:

            def dec_strs(pos: int) -> tuple[Any, int]:
                n, pos = count(pos)
                out: list[Any] = []
                append = out.append
                for _ in range(n):
                    u = buf[pos]
                    if u < 128:
                        pos += 1
                    else:
                        u, pos = read_uint(pos)
                    end = pos + u
                    if end > size:
                        raise _WireError(
                            f"string of {u:,} bytes runs past the end of the data", pos
                        )
                    append(buf[pos:end].decode("utf-8", "replace"))
                    pos = end
                return out, pos

            return dec_strs

        def dec_list(pos: int) -> tuple[Any, int]:
            n, pos = count(pos)
            out: list[Any] = []
            append = out.append
            for _ in range(n):
                v, pos = elem(pos)
                append(v)
            return out, pos

        return dec_list

    def _compile_map(self, t: GobType) -> _Decode:
        buf, size, read_uint = self.buf, self.size, self.read_uint
        kdec, vdec = self.fn(t.key), self.fn(t.elem)

        def dec_map(pos: int) -> tuple[Any, int]:
            n = buf[pos]
            if n < 128:
                pos += 1
            else:
                n, pos = read_uint(pos)
            if 2 * n > size - pos:
                raise _WireError(
                    f"{n:,} map entries cannot fit in the {size - pos:,} bytes left", pos
                )
            out: dict[Any, Any] = {}
            for _ in range(n):
                k, pos = kdec(pos)
                v, pos = vdec(pos)
                try:
                    out[k] = v
                except TypeError:
                    out[_hashable(k)] = v
            return out, pos

        return dec_map

    def _interface(self, pos: int) -> tuple[Any, int]:
        start = pos
        n, pos = self.read_uint(pos)
        if n == 0:
            return None, pos
        if n > _MAX_IFACE_NAME or pos + n > self.size:
            raise _WireError(f"interface type name of {n:,} bytes", start, "interface")
        name = self.buf[pos : pos + n].decode("utf-8", "replace")
        pos += n
        cid, pos = self.type_sequence(pos, in_interface=True)
        nbytes, pos = self.read_uint(pos)  # byte count of the value, to skip it when unwanted
        if nbytes > self.size - pos:
            raise _WireError(
                f"interface value of {nbytes:,} bytes runs past the end", pos, "interface"
            )
        try:
            value, pos = self.single(cid)(pos)
        except _WireError as e:
            if not e.typ:
                e.typ = f"interface value {name!r}"
            if e.pos < 0:
                e.pos = start
            raise
        return GobInterface(name, value), pos

    def single(self, tid: int) -> _Decode:
        """Decoder for a top-level / interface value: non-structs carry a 0 'singleton' delta."""
        f = self._singles.get(tid)
        if f is not None:
            return f
        t = self.types.get(tid)
        if t is None:
            raise _WireError(f"value of type id {tid}, which is never defined", -1)
        inner = self.fn(tid)
        if t.kind == "struct":
            self._singles[tid] = inner
            return inner
        read_uint = self.read_uint

        def dec_single(pos: int) -> tuple[Any, int]:
            d, p = read_uint(pos)
            if d != 0:
                raise _WireError(f"non-zero field delta {d} before a single value", pos)
            return inner(p)

        self._singles[tid] = dec_single
        return dec_single

    # -- messages -----------------------------------------------------------------------------

    def message_header(self, pos: int) -> int:
        """Read a message length at `pos`, set `self.end`, return the payload start."""
        n, p = self.read_uint(pos)
        if n == 0:
            raise _WireError("empty gob message", pos, "message")
        if n > self.size - p:
            if not self.salvage:
                raise _WireError(
                    f"message of {n:,} bytes, but only {self.size - p:,} bytes are left "
                    "(truncated)",
                    pos,
                    "message",
                )
            self.truncated_at = pos  # read what is there; the value will end short
            n = self.size - p
        self.end = p + n
        return p

    def type_sequence(self, pos: int, in_interface: bool) -> tuple[int, int]:
        """Read type definitions until a value's type id (Go's decodeTypeSequence)."""
        while True:
            if pos >= self.end:
                if pos > self.end:
                    raise _WireError(
                        "a value runs past the end of its message", self.end, "message"
                    )
                pos = self.message_header(pos)
            start = pos
            tid, pos = self.read_int(pos)
            if tid >= 0:
                if tid == 0:
                    raise _WireError("type id 0", start, "message")
                return tid, pos
            try:
                wire, pos = self.fn(_WIRE_TYPE)(pos)
            except _WireError as e:
                e.top = e.top or f"type definition for id {-tid}"
                raise
            self.define(-tid, wire, start)
            if pos < self.end:
                if not in_interface:
                    raise _WireError("extra data after a type definition", pos, "wireType")
                _, pos = self.read_uint(pos)  # byte count of the delimited value that follows
            elif pos > self.end:
                raise _WireError(
                    "type definition runs past the end of its message", start, "wireType"
                )

    def run(self) -> GobStream:
        values: list[tuple[int, Any, int]] = []
        pos = 0
        while pos < self.size:
            tid, vpos = self.type_sequence(pos, in_interface=False)
            t = self.types.get(tid)
            if self.salvage and t is not None and t.kind in ("slice", "array"):
                value, pos, cut = self._salvage_list(tid, vpos)
                if cut is not None:
                    values.append((tid, value, vpos))
                    return GobStream(self._user_types(), values, cut[0], (len(value), cut[1]))
                values.append((tid, value, vpos))
                if pos != self.end:
                    raise _WireError("a value ends before its message", pos, self.describe(tid))
                if pos >= self.size:
                    break
                self.end = pos
                continue
            try:
                value, pos = self.single(tid)(vpos)
            except _WireError as e:
                if not e.typ:
                    e.typ = self.describe(tid)
                if e.pos < 0:
                    e.pos = vpos
                e.top = self.describe(tid)
                raise
            except IndexError:
                raise _WireError(
                    "the data ends inside a value", self.size, self.describe(tid)
                ) from None
            if pos != self.end:
                raise _WireError(
                    f"value of {self.describe(tid)} ends at byte {pos:,}, "
                    f"but its message ends at byte {self.end:,}",
                    vpos,
                    self.describe(tid),
                )
            values.append((tid, value, vpos))
            if pos >= self.size:
                break
            # The next message header is read by type_sequence.
            self.end = pos
        return GobStream(self._user_types(), values)

    def _user_types(self) -> dict[int, GobType]:
        return {k: v for k, v in self.types.items() if k >= FIRST_USER_ID or k <= INTERFACE}

    def _salvage_list(
        self, tid: int, pos: int
    ) -> tuple[list[Any], int, tuple[GobError, int] | None]:
        """Decode a top-level list element by element; on damage keep the complete elements.

        Returns (elements, end position, None) or, when cut short, (kept, _, (error, announced)).
        """
        t = self.types[tid]
        d, pos = self.read_uint(pos)
        if d != 0:
            raise _WireError(f"non-zero field delta {d} before a single value", pos)
        n, pos = self.read_uint(pos)
        if n > self.size - pos:
            raise _WireError(
                f"{n:,} elements cannot fit in the {self.size - pos:,} bytes left", pos
            )
        elem = self.fn(t.elem)
        out: list[Any] = []
        for _ in range(n):
            start = pos
            try:
                v, pos = elem(pos)
                if pos > self.end:
                    raise _WireError("an element runs past the end of its message", start)
            except (_WireError, IndexError, RecursionError) as exc:
                err = _as_gob_error(exc, start, self.describe(tid))
                if self.truncated_at >= 0:
                    err = GobError(
                        f"gob: the stream is truncated (message at byte {self.truncated_at:,}); "
                        f"{err.reason.removeprefix('gob: ')}",
                        err.offset,
                        err.gob_type,
                    )
                return out, pos, (err, n)
            out.append(v)
        if self.truncated_at >= 0:
            err = GobError(
                f"gob: the stream is truncated (message at byte {self.truncated_at:,}) right "
                "after its last element",
                pos,
                self.describe(tid),
            )
            return out, pos, (err, n)
        return out, pos, None


def _as_gob_error(exc: BaseException, pos: int, typ: str) -> GobError:
    if isinstance(exc, _WireError):
        path = ".".join(reversed(exc.path))
        where = f", in field {path} of a {exc.top or typ or 'value'}" if path else ""
        return GobError(f"gob: {exc.msg}{where}", max(exc.pos, 0), exc.typ or typ)
    if isinstance(exc, RecursionError):
        return GobError("gob: types or values nested too deeply", pos, typ)
    return GobError("gob: the data ends inside a value", pos, typ)


def decode_gob(data: bytes, salvage: bool = False) -> GobStream:
    """Decode every message of a gob stream; raises `GobError` (with offset and type) if damaged.

    With `salvage`, damage inside a top-level list (the Go export is one) keeps the elements
    decoded before it and reports the damage in `GobStream.damage` / `partial` instead.
    """
    reader = _Reader(bytes(data), salvage)
    try:
        return reader.run()
    except (_WireError, IndexError, RecursionError) as exc:
        pos = reader.size if isinstance(exc, IndexError) else reader.end
        raise _as_gob_error(exc, pos, "") from None
