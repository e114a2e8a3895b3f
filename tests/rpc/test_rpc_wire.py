"""Hostile and malformed peers on the wire: each is answered or dropped alone (spec §13, E-j).

A raw asyncio client speaks the protocol by hand next to a real, well-behaved client on the same Mux.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from am_core import Machine, Result
from am_rpc import Client, HandshakeError, Mux, codec, connect, serve
from am_rpc.errors import ConnectionClosedError
from am_rpc.protocol import ErrCode, Method

from .helpers import NAMES, norels


@pytest.fixture
def served() -> Iterator[tuple[Machine, Mux, Client]]:
    src = Machine(norels(), id="ns-wire")
    src.verify_states(NAMES)
    mux = serve(src, hello_timeout=2)
    good = connect(mux.addr, id="good")
    yield src, mux, good
    good.close()
    mux.close()


class Raw:
    """A hand-driven aRPC client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r, self.w = reader, writer
        self.seq = 0

    @classmethod
    async def open(cls, addr: str, preamble: bool = True) -> Raw:
        host, port = addr.rsplit(":", 1)
        r, w = await asyncio.open_connection(host, int(port))
        raw = cls(r, w)
        if preamble:
            codec.write_preamble(w)
            await codec.read_preamble(r)
        return raw

    async def call(self, method: int, body: Any) -> Any:
        self.seq += 1
        codec.write_frame(self.w, [0, self.seq, method, body])
        await self.w.drain()
        return await asyncio.wait_for(codec.read_frame(self.r), 2)

    async def handshake(self, id: str = "rc-raw") -> None:
        resp = await self.call(Method.HELLO, {"id": id, "ss": True})
        assert resp[0] == 2 and resp[2]["ser"]["names"] == NAMES
        assert await self.call(Method.HANDSHAKE, None) == [2, self.seq, None]

    async def closed_by_peer(self) -> bool:
        """Read until the server closes the connection (callers bound the wait)."""
        try:
            while True:
                await codec.read_frame(self.r, 1 << 20)
        except (ConnectionClosedError, ConnectionError):
            return True
        except codec.FrameError:
            return True

    def close(self) -> None:
        self.w.close()


def _still_fine(src: Machine, mux: Mux, good: Client, state: str) -> None:
    assert good.mach.add1(state) == Result.EXECUTED
    assert src.is1(state) and good.mach.is1(state)
    assert mux.mach.is1("Ready")


async def test_wrong_preamble_is_dropped(served: tuple[Machine, Mux, Client]) -> None:
    src, mux, good = served
    raw = await Raw.open(mux.addr, preamble=False)
    raw.w.write(b"GET / HTTP/1.1\r\n\r\n")
    assert await asyncio.wait_for(raw.closed_by_peer(), 2)
    raw.close()
    _still_fine(src, mux, good, "A")


async def test_wrong_version_is_dropped(served: tuple[Machine, Mux, Client]) -> None:
    src, mux, good = served
    raw = await Raw.open(mux.addr, preamble=False)
    raw.w.write(b"aRPC\x09\x01\x00\x00")
    assert await asyncio.wait_for(raw.closed_by_peer(), 2)
    _still_fine(src, mux, good, "A")


async def test_oversize_frame_is_dropped(served: tuple[Machine, Mux, Client]) -> None:
    src, mux, good = served
    raw = await Raw.open(mux.addr)
    await raw.handshake()
    raw.w.write(struct.pack(">I", 2**31))
    assert await asyncio.wait_for(raw.closed_by_peer(), 2)
    _still_fine(src, mux, good, "B")


@pytest.mark.parametrize(
    "frame",
    [
        b"\x00\x00\x00\x00",  # length 0
        struct.pack(">I", 1) + b"\xc1",  # not msgpack
        codec.encode_frame({"not": "an array"}),
        codec.encode_frame([7, 1, 1, None]),  # unknown kind
        codec.encode_frame([0, 0, 1, None]),  # seq 0
    ],
)
async def test_malformed_frames_are_dropped(
    served: tuple[Machine, Mux, Client], frame: bytes
) -> None:
    src, mux, good = served
    raw = await Raw.open(mux.addr)
    raw.w.write(frame)
    assert await asyncio.wait_for(raw.closed_by_peer(), 2)
    _still_fine(src, mux, good, "C")


async def test_unknown_method_and_early_calls_get_errors(
    served: tuple[Machine, Mux, Client],
) -> None:
    src, mux, good = served
    raw = await Raw.open(mux.addr)
    assert await raw.call(0x7F, None) == [3, 1, ErrCode.UNKNOWN_METHOD, "unknown method 127"]
    resp = await raw.call(Method.ADD, {"s": [1]})  # before the handshake (Q13)
    assert resp[:3] == [3, 2, ErrCode.NOT_CONNECTED]
    resp = await raw.call(Method.HELLO, {"ss": True})  # no id
    assert resp[:3] == [3, 3, ErrCode.INVALID_PARAMS] and "ID missing" in resp[3]
    await raw.handshake()
    resp = await raw.call(Method.ADD, {"s": [99]})  # unknown index (Q13)
    assert resp[:3] == [3, raw.seq, ErrCode.INVALID_PARAMS] and "out of range" in resp[3]
    resp = await raw.call(Method.ADD, {"s": "A"})
    assert resp[:3] == [3, raw.seq, ErrCode.INVALID_PARAMS]
    resp = await raw.call(Method.ADD, {"s": [1]})  # the connection survived all of it
    assert resp[0] == 2 and resp[2]["r"] == 0
    assert src.is1("A")
    raw.w.write(codec.encode_frame([1, 0x7E, None]))  # unknown notification: ignored
    assert (await raw.call(Method.PING, None))[0] == 2
    raw.close()
    _still_fine(src, mux, good, "D")


async def test_silent_peer_is_dropped_after_hello_timeout(
    served: tuple[Machine, Mux, Client],
) -> None:
    src, mux, good = served
    raw = await Raw.open(mux.addr)  # preamble, then nothing
    assert await asyncio.wait_for(raw.closed_by_peer(), 4)
    _still_fine(src, mux, good, "A")


def test_client_refuses_a_non_arpc_server() -> None:
    """Connecting to something that is not aRPC fails with a reason, nothing crashes."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"SSH-2.0-OpenSSH\r\n")
        await w.drain()
        await asyncio.sleep(1)
        w.close()

    from am_rpc.loop_thread import LoopThread

    lt = LoopThread("fake")

    async def start() -> asyncio.Server:
        return await asyncio.start_server(handler, "127.0.0.1", 0)

    srv = lt.run(start())
    port = srv.sockets[0].getsockname()[1]
    try:
        with pytest.raises(HandshakeError, match="bad magic"):
            connect(f"127.0.0.1:{port}", id="x", timeout=1, conn_retry_delay=0.05)
    finally:
        srv.close()
        lt.stop()
