"""The shared wire codec: preamble, framing, incremental decoder, asyncio reads on real sockets."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from am_rpc.codec import (
    DEFAULT_MAX_FRAME,
    MAGIC_ARPC,
    MAGIC_DBG,
    PREAMBLE_SIZE,
    Cap,
    FrameDecoder,
    decode_preamble,
    encode_frame,
    encode_preamble,
    negotiate,
    read_frame,
    read_preamble,
    write_frame,
    write_preamble,
)
from am_rpc.errors import (
    ConnectionClosedError,
    DecodeError,
    EncodeError,
    FrameError,
    FrameTooLargeError,
    PreambleError,
    ProtocolError,
)

# msgpack values that round-trip exactly (lists stay lists, str keys).
_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    _leaf,
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5)
    ),
    max_leaves=20,
)


def test_preamble_layout_matches_spec() -> None:
    assert encode_preamble() == b"aRPC\x01\x01\x00\x00"
    assert encode_preamble(Cap.PING | Cap.AUTH) == b"aRPC\x01\x01\x00\x05"
    assert encode_preamble(0x1234, magic=MAGIC_DBG) == b"amDB\x01\x01\x12\x34"


def test_preamble_roundtrip_and_caps() -> None:
    p = decode_preamble(encode_preamble(Cap.AUTH | Cap.SHALLOW))
    assert (p.magic, p.version, p.codec, p.caps) == (MAGIC_ARPC, 1, 1, 12)
    assert p.encode() == encode_preamble(12)
    assert negotiate(Cap.AUTH | Cap.PING, Cap.AUTH) == Cap.AUTH


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"amDB\x01\x01\x00\x00", "bad magic"),
        (b"aRPC\x02\x01\x00\x00", "unsupported protocol version 2"),
        (b"aRPC\x01\x07\x00\x00", "unsupported codec 7"),
        (b"aRPC\x01", "preamble must be 8 bytes"),
    ],
)
def test_bad_preamble_raises_with_reason(data: bytes, reason: str) -> None:
    with pytest.raises(PreambleError, match=reason):
        decode_preamble(data)


def test_magic_is_a_parameter() -> None:
    with pytest.raises(PreambleError):
        decode_preamble(encode_preamble(), magic=MAGIC_DBG)
    assert decode_preamble(encode_preamble(magic=MAGIC_DBG), magic=MAGIC_DBG).magic == MAGIC_DBG


def test_frame_layout() -> None:
    frame = encode_frame([0, 1, 1, None])
    assert frame[:4] == struct.pack(">I", len(frame) - 4)
    assert msgpack.unpackb(frame[4:]) == [0, 1, 1, None]


def test_encode_rejects_unencodable_and_oversize() -> None:
    with pytest.raises(EncodeError):
        encode_frame({"x": object()})
    with pytest.raises(FrameTooLargeError, match="exceeds max_frame 10"):
        encode_frame("x" * 100, max_frame=10)


def test_decoder_splits_and_joins_frames() -> None:
    data = encode_frame("a") + encode_frame({"k": [1, 2]}) + encode_frame(None)
    dec = FrameDecoder()
    out: list[Any] = []
    for i in range(len(data)):
        out += dec.feed(data[i : i + 1])
    assert out == ["a", {"k": [1, 2]}, None]
    assert dec.buffered == 0
    dec.eof()


def test_decoder_with_preamble() -> None:
    dec = FrameDecoder(expect_preamble=True, magic=MAGIC_DBG)
    assert dec.feed(encode_preamble(3, magic=MAGIC_DBG)[:5]) == []
    assert dec.feed(encode_preamble(3, magic=MAGIC_DBG)[5:] + encode_frame(7)) == [7]
    assert dec.preamble is not None and dec.preamble.caps == 3


def test_decoder_rejects_wrong_magic_early() -> None:
    dec = FrameDecoder(expect_preamble=True)
    with pytest.raises(PreambleError, match="bad magic"):
        dec.feed(b"GE")  # an HTTP client, say


@pytest.mark.parametrize(
    ("data", "exc", "reason"),
    [
        (b"\x00\x00\x00\x00", FrameError, "length 0"),
        (struct.pack(">I", DEFAULT_MAX_FRAME + 1), FrameTooLargeError, "exceeds max_frame"),
        (struct.pack(">I", 1) + b"\xc1", DecodeError, "invalid msgpack"),  # 0xc1 is never used
        (struct.pack(">I", 2) + b"\x01\x02", DecodeError, "trailing bytes"),
        (struct.pack(">I", 2) + b"\xa1\xff", DecodeError, "invalid msgpack"),  # bad utf-8
    ],
)
def test_decoder_errors_are_sticky(data: bytes, exc: type[Exception], reason: str) -> None:
    dec = FrameDecoder()
    with pytest.raises(exc, match=reason):
        dec.feed(data)
    with pytest.raises(exc):
        dec.feed(encode_frame(1))


def test_decoder_eof_inside_frame() -> None:
    dec = FrameDecoder()
    dec.feed(encode_frame("hello")[:6])
    with pytest.raises(FrameError, match="inside a frame"):
        dec.eof()


def test_configurable_max_frame() -> None:
    dec = FrameDecoder(max_frame=8)
    assert dec.feed(encode_frame("12345")) == ["12345"]
    with pytest.raises(FrameTooLargeError):
        dec.feed(encode_frame("123456789"))
    with pytest.raises(ValueError):
        FrameDecoder(max_frame=0)


@given(st.lists(values, max_size=8), st.data())
@settings(max_examples=200, deadline=None)
def test_decoder_roundtrips_any_split(objs: list[Any], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(o) for o in objs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    dec = FrameDecoder()
    out: list[Any] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += dec.feed(stream[prev:cut])
        prev = cut
    assert out == objs
    dec.eof()


@given(st.binary(max_size=300), st.booleans())
@settings(max_examples=500, deadline=None)
def test_decoder_fuzz_random_bytes_only_protocol_errors(data: bytes, preamble: bool) -> None:
    dec = FrameDecoder(max_frame=256, expect_preamble=preamble)
    try:
        dec.feed(data)
        dec.eof()
    except ProtocolError as err:
        assert str(err)


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=6))
@settings(max_examples=300, deadline=None)
def test_decoder_fuzz_random_payloads_in_valid_lengths(payloads: list[bytes]) -> None:
    stream = b"".join(struct.pack(">I", len(p)) + p for p in payloads)
    dec = FrameDecoder()
    try:
        dec.feed(stream)
    except ProtocolError:
        return


# -- asyncio over a real socket ------------------------------------------------------------


@pytest.fixture
async def raw_pair() -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """(reader on the server side, writer on the client side) of a real TCP connection."""
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.set_result((r, w))

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, cw = await asyncio.open_connection("127.0.0.1", port)
    sr, sw = await accepted
    yield sr, cw
    cw.close()
    sw.close()
    server.close()
    await server.wait_closed()


async def test_async_roundtrip(
    raw_pair: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = raw_pair
    write_preamble(writer, Cap.PING)
    write_frame(writer, [0, 1, 1, {"id": "rc-x"}])
    write_frame(writer, b"\x00" * 1000)
    await writer.drain()
    pre = await read_preamble(reader)
    assert pre.caps == Cap.PING
    assert await read_frame(reader) == [0, 1, 1, {"id": "rc-x"}]
    assert await read_frame(reader) == b"\x00" * 1000
    writer.close()
    with pytest.raises(ConnectionClosedError):
        await read_frame(reader)


async def test_async_oversize_is_rejected_before_reading_payload(
    raw_pair: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = raw_pair
    writer.write(struct.pack(">I", 2**31))  # no payload follows: must not wait for it
    await writer.drain()
    with pytest.raises(FrameTooLargeError):
        await asyncio.wait_for(read_frame(reader, max_frame=1024), 2)


async def test_async_truncated_frame_and_preamble(
    raw_pair: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = raw_pair
    writer.write(encode_frame("abcdef")[:-2])
    writer.close()
    with pytest.raises(FrameError, match="inside a frame"):
        await read_frame(reader)


async def test_async_short_preamble(
    raw_pair: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    reader, writer = raw_pair
    writer.write(b"aRP")
    writer.close()
    with pytest.raises(PreambleError, match=f"3 of {PREAMBLE_SIZE}"):
        await read_preamble(reader)
