"""Raw telemetry peers for the ingest tests: real sockets, frames built from `protocol.py` messages."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from am_rpc.codec import FrameDecoder, encode_frame, encode_preamble, pack
from am_rpc.dbg.frames import MAGIC
from am_rpc.dbg.protocol import SchemaMsg, StateDef, TxMsg

STATES = ("Start", "Ready", "Exception")


def schema(mid: str, token: str = "tok", states: tuple[str, ...] = STATES) -> SchemaMsg:
    return SchemaMsg(
        id=mid, states_index=states, states={s: StateDef() for s in states}, token=token
    )


def tx(mid: str, n: int) -> TxMsg:
    return TxMsg(mach_id=mid, id=f"{mid}-tx{n}", clocks=(n, n % 2, 0), called=(0,))


def schema_frame(s: SchemaMsg) -> bytes:
    return encode_frame({"k": "schema", "schema": s.to_wire()})


def txs_frame(txs: list[TxMsg], seq: int = 0, **extra: Any) -> bytes:
    return encode_frame({"k": "txs", "seq": seq, "txs": [pack(t.to_wire()) for t in txs], **extra})


class RawClient:
    """A telemetry peer writing exactly the bytes a test gives it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder(expect_preamble=True, magic=MAGIC)
        self.frames: list[Any] = []

    @classmethod
    async def open(cls, port: int, preamble: bytes | None = None) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(encode_preamble(magic=MAGIC) if preamble is None else preamble)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_until_closed(self, timeout: float = 20.0) -> list[Any]:
        """Every frame the server sends until it closes the connection."""

        async def run() -> None:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                self.frames.extend(self.decoder.feed(data))

        await asyncio.wait_for(run(), timeout)
        return self.frames

    async def read_until(self, pred: Any, timeout: float = 20.0) -> Any:
        """Read frames until one satisfies `pred`; return it."""

        async def run() -> Any:
            while True:
                for f in self.frames:
                    if pred(f):
                        return f
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("closed before the expected frame")
                self.frames.extend(self.decoder.feed(data))

        return await asyncio.wait_for(run(), timeout)

    async def read_ack(self, seq: int, timeout: float = 20.0) -> None:
        await self.read_until(lambda f: f.get("k") == "ack" and f.get("seq") == seq, timeout)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
