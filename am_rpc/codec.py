"""The wire codec shared by aRPC and the am-dbg telemetry protocol (docs/arpc.md).

A connection starts with an 8-byte preamble from each side::

    magic:4  version:u8  codec:u8  caps:u16be

then carries frames::

    length:u32be  payload:byte[length]      1 <= length <= max_frame (default 16 MiB)

where the payload is exactly one msgpack value. The magic is a parameter so that aRPC
(``b"aRPC"``) and telemetry (``b"amDB"``) peers can never be confused. Malformed input raises a
:class:`~am_rpc.errors.ProtocolError` subclass with a clear reason; the caller closes that
connection.

Two ways to read frames:

- asyncio: :func:`read_preamble` / :func:`read_frame` on an ``asyncio.StreamReader``;
- anything else (threads, fuzzing, custom transports): the pure incremental :class:`FrameDecoder`.

Writing is always one ``transport.write`` per frame (:func:`write_frame`), so concurrent writers
never interleave bytes and a diff can be computed and written with no ``await`` in between.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from dataclasses import dataclass
from typing import Any

import msgpack

from am_rpc import typed_wire
from am_rpc.errors import (
    ConnectionClosedError,
    DecodeError,
    EncodeError,
    FrameError,
    FrameTooLargeError,
    PreambleError,
)

MAGIC_ARPC = b"aRPC"
"""Magic of aRPC connections."""
MAGIC_DBG = b"amDB"
"""Magic of am-dbg telemetry connections."""
PROTOCOL_VERSION = 1
CODEC_MSGPACK = 1
PREAMBLE_SIZE = 8
LENGTH_SIZE = 4
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
"""Default upper bound of a frame payload, in bytes (16 MiB)."""
MAX_FRAME_LIMIT = 0xFFFFFFFF
"""The largest length a u32 prefix can express."""
DEFAULT_MAX_DEPTH = 64
"""Default bound on the nesting of a decoded value (maps and arrays inside each other): deeper
values are refused when decoded, so no later (recursive) reader can hit a ``RecursionError``."""

_PREAMBLE = struct.Struct(">4sBBH")
_LENGTH = struct.Struct(">I")


class Cap(enum.IntFlag):
    """Capability bits of the preamble (docs/arpc.md). Effective caps = AND of both sides."""

    NONE = 0
    PING = 1 << 0
    JSON = 1 << 1
    AUTH = 1 << 2
    SHALLOW = 1 << 3


@dataclass(frozen=True, slots=True)
class Preamble:
    """A decoded, validated connection preamble."""

    magic: bytes
    version: int
    codec: int
    caps: int

    def encode(self) -> bytes:
        return _PREAMBLE.pack(self.magic, self.version, self.codec, self.caps)


def encode_preamble(
    caps: int = 0,
    *,
    magic: bytes = MAGIC_ARPC,
    version: int = PROTOCOL_VERSION,
    codec: int = CODEC_MSGPACK,
) -> bytes:
    """The 8 preamble bytes for ``magic`` with capability flags ``caps`` (u16)."""
    if len(magic) != 4:
        raise ValueError(f"magic must be 4 bytes, got {magic!r}")
    if not 0 <= caps <= 0xFFFF:
        raise ValueError(f"caps must fit in u16, got {caps}")
    return _PREAMBLE.pack(magic, version, codec, int(caps))


def decode_preamble(
    data: bytes,
    *,
    magic: bytes = MAGIC_ARPC,
    version: int = PROTOCOL_VERSION,
    codec: int = CODEC_MSGPACK,
) -> Preamble:
    """Validate 8 preamble bytes; raise :class:`PreambleError` naming what is wrong."""
    if len(data) != PREAMBLE_SIZE:
        raise PreambleError(f"preamble must be {PREAMBLE_SIZE} bytes, got {len(data)}")
    got_magic, got_version, got_codec, caps = _PREAMBLE.unpack(data)
    if got_magic != magic:
        raise PreambleError(f"bad magic {got_magic!r}, expected {magic!r}")
    if got_version != version:
        raise PreambleError(f"unsupported protocol version {got_version}, expected {version}")
    if got_codec != codec:
        raise PreambleError(f"unsupported codec {got_codec}, expected {codec} (msgpack)")
    return Preamble(got_magic, got_version, got_codec, caps)


def _check_max_frame(max_frame: int) -> None:
    if not 1 <= max_frame <= MAX_FRAME_LIMIT:
        raise ValueError(f"max_frame must be in 1..{MAX_FRAME_LIMIT}, got {max_frame}")


def pack(obj: Any) -> bytes:
    """Encode one msgpack value; raise :class:`EncodeError` if it is not encodable."""
    try:
        return msgpack.packb(obj, use_bin_type=True, default=typed_wire.default)
    except (TypeError, ValueError, OverflowError) as err:
        raise EncodeError(f"value cannot be encoded as msgpack: {err}") from err


def unpack(payload: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Decode exactly one msgpack value; raise :class:`DecodeError` with the reason otherwise
    (also for a value nested deeper than ``max_depth``, see :func:`check_depth`; ``0``: the
    caller checks the nesting itself, e.g. while validating the value's shape)."""
    try:
        obj = msgpack.unpackb(
            payload, raw=False, strict_map_key=False, use_list=True, ext_hook=typed_wire.ext_hook
        )
    except msgpack.ExtraData as err:
        raise DecodeError(f"trailing bytes after the msgpack value ({len(err.extra)})") from err
    except Exception as err:  # msgpack raises ValueError, TypeError, UnicodeDecodeError, ...
        raise DecodeError(f"invalid msgpack payload: {type(err).__name__}: {err}") from err
    if max_depth and type(obj) in _CONTAINERS:
        check_depth(obj, max_depth)
    return obj


_CONTAINERS = (dict, list, tuple)
_CONTAINER_SET = frozenset(_CONTAINERS)


def nesting_depth(obj: Any, limit: int = DEFAULT_MAX_DEPTH) -> int:
    """How deeply maps and lists nest in ``obj`` (a scalar is 0, ``[]`` is 1), counted level by
    level without recursion; stops once above ``limit`` (and returns ``limit + 1``)."""
    depth = 0
    level = [obj] if type(obj) in _CONTAINERS else []
    while level:
        depth += 1
        if depth > limit:
            return depth
        nxt: list[Any] = []
        for o in level:
            items = o.values() if type(o) is dict else o
            if _CONTAINER_SET.isdisjoint(map(type, items)):  # in C: a list of bins, say
                continue
            nxt += [v for v in items if type(v) in _CONTAINERS]
        level = nxt
    return depth


def check_depth(obj: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise :class:`DecodeError` when ``obj`` nests maps/lists deeper than ``max_depth``."""
    if nesting_depth(obj, max_depth) > max_depth:
        raise DecodeError(f"value nested deeper than {max_depth} levels (refused)")


def encode_frame(obj: Any, max_frame: int = DEFAULT_MAX_FRAME) -> bytes:
    """Length prefix + msgpack payload of ``obj``; :class:`FrameTooLargeError` above max_frame."""
    payload = pack(obj)
    if len(payload) > max_frame:
        raise FrameTooLargeError(len(payload), max_frame)
    return _LENGTH.pack(len(payload)) + payload


def check_length(length: int, max_frame: int) -> None:
    """Validate a received length prefix."""
    if length == 0:
        raise FrameError("frame length 0 is not allowed")
    if length > max_frame:
        raise FrameTooLargeError(length, max_frame)


class FrameDecoder:
    """Incremental, I/O-free frame decoder: ``feed(bytes) -> [decoded values]``.

    Optionally expects a preamble first (``expect_preamble=True``; see :attr:`preamble`). After it
    raises once, the stream is unusable and every later call raises the same error again: the
    connection must be closed. Not thread-safe by itself; one decoder per connection.
    """

    __slots__ = (
        "_buf",
        "_error",
        "_expect_preamble",
        "_magic",
        "max_depth",
        "max_frame",
        "preamble",
    )

    def __init__(
        self,
        max_frame: int = DEFAULT_MAX_FRAME,
        *,
        expect_preamble: bool = False,
        magic: bytes = MAGIC_ARPC,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        _check_max_frame(max_frame)
        self.max_frame = max_frame
        self.max_depth = max_depth  # see `unpack`
        self.preamble: Preamble | None = None
        self._expect_preamble = expect_preamble
        self._magic = magic
        self._buf = bytearray()
        self._error: Exception | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Add bytes; return every value completed by them, in order."""
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[Any] = []
        try:
            if self._expect_preamble and self.preamble is None:
                if len(self._buf) < PREAMBLE_SIZE:
                    # Fail early on a wrong magic instead of waiting for 8 bytes.
                    n = min(len(self._buf), 4)
                    if bytes(self._buf[:n]) != self._magic[:n]:
                        raise PreambleError(
                            f"bad magic {bytes(self._buf[:n])!r}, expected {self._magic!r}"
                        )
                    return out
                self.preamble = decode_preamble(bytes(self._buf[:PREAMBLE_SIZE]), magic=self._magic)
                del self._buf[:PREAMBLE_SIZE]
            pos = 0
            buf = self._buf
            while len(buf) - pos >= LENGTH_SIZE:
                (length,) = _LENGTH.unpack_from(buf, pos)
                check_length(length, self.max_frame)
                end = pos + LENGTH_SIZE + length
                if end > len(buf):
                    break
                out.append(unpack(bytes(buf[pos + LENGTH_SIZE : end]), self.max_depth))
                pos = end
            if pos:
                del buf[:pos]
        except Exception as err:
            self._error = err
            self._buf.clear()
            raise
        return out

    def eof(self) -> None:
        """Signal the end of the stream; raise :class:`FrameError` if it ended inside a frame."""
        if self._error is not None:
            raise self._error
        if self._expect_preamble and self.preamble is None:
            raise PreambleError(
                f"stream ended after {len(self._buf)} of {PREAMBLE_SIZE} preamble bytes"
            )
        if self._buf:
            raise FrameError(f"stream ended inside a frame ({len(self._buf)} bytes pending)")


# -- asyncio --------------------------------------------------------------------------------


async def read_preamble(
    reader: asyncio.StreamReader,
    *,
    magic: bytes = MAGIC_ARPC,
    version: int = PROTOCOL_VERSION,
    codec: int = CODEC_MSGPACK,
) -> Preamble:
    """Read and validate the peer's preamble. EOF before 8 bytes is a :class:`PreambleError`."""
    try:
        data = await reader.readexactly(PREAMBLE_SIZE)
    except asyncio.IncompleteReadError as err:
        raise PreambleError(
            f"stream ended after {len(err.partial)} of {PREAMBLE_SIZE} preamble bytes"
        ) from None
    return decode_preamble(data, magic=magic, version=version, codec=codec)


def write_preamble(
    writer: asyncio.StreamWriter, caps: int = 0, *, magic: bytes = MAGIC_ARPC
) -> None:
    """Write our preamble (one transport write). Await ``writer.drain()`` to apply back-pressure."""
    writer.write(encode_preamble(caps, magic=magic))


async def read_frame(reader: asyncio.StreamReader, max_frame: int = DEFAULT_MAX_FRAME) -> Any:
    """Read one frame and return its decoded msgpack value.

    Raises :class:`ConnectionClosedError` on a clean EOF at a frame boundary, :class:`FrameError`
    on a bad length or EOF inside a frame, :class:`DecodeError` on a bad payload. The oversize check
    happens before the payload is read, so a hostile length never allocates.
    """
    try:
        head = await reader.readexactly(LENGTH_SIZE)
    except asyncio.IncompleteReadError as err:
        if not err.partial:
            raise ConnectionClosedError("peer closed the connection") from None
        raise FrameError(
            f"stream ended inside a length prefix ({len(err.partial)} bytes)"
        ) from None
    (length,) = _LENGTH.unpack(head)
    check_length(length, max_frame)
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as err:
        raise FrameError(
            f"stream ended inside a frame ({len(err.partial)} of {length} bytes)"
        ) from None
    return unpack(payload)


def write_frame(writer: asyncio.StreamWriter, obj: Any, max_frame: int = DEFAULT_MAX_FRAME) -> int:
    """Encode ``obj`` and write it as one frame in a single transport write; return its size.

    Synchronous on purpose: callers can compute state, move a baseline and write with no
    ``await`` in between. Raises :class:`EncodeError` / :class:`FrameTooLargeError` before
    writing anything.
    """
    frame = encode_frame(obj, max_frame)
    writer.write(frame)
    return len(frame)


async def send_frame(
    writer: asyncio.StreamWriter, obj: Any, max_frame: int = DEFAULT_MAX_FRAME
) -> int:
    """:func:`write_frame` then ``await writer.drain()``."""
    n = write_frame(writer, obj, max_frame)
    await writer.drain()
    return n


def negotiate(ours: int, theirs: int) -> Cap:
    """Effective capabilities of a connection: the bitwise AND of both sides' flags."""
    return Cap(ours & theirs & 0xFFFF)


__all__ = [
    "CODEC_MSGPACK",
    "DEFAULT_MAX_FRAME",
    "LENGTH_SIZE",
    "MAGIC_ARPC",
    "MAGIC_DBG",
    "PREAMBLE_SIZE",
    "PROTOCOL_VERSION",
    "Cap",
    "FrameDecoder",
    "Preamble",
    "check_length",
    "decode_preamble",
    "encode_frame",
    "encode_preamble",
    "negotiate",
    "pack",
    "read_frame",
    "read_preamble",
    "send_frame",
    "unpack",
    "write_frame",
    "write_preamble",
]
