"""`--fwd-data`: pass everything received on to other am-dbg instances (docs/architecture.md).

Each schema and tx frame goes to every target with its *original* connection id, so a target
groups and validates per connection exactly as this instance does; chains work because a target
forwards onwards. Unlike Go, disconnects are forwarded too (a ``disc`` frame), so a dashboard
greys out a machine when its program ends. A target that cannot keep up loses frames (counted and
logged) instead of growing this instance's memory.

A target that is not up yet is dialled again with a backoff (50 ms doubling to 2 s) and every
frame waits for it in a bounded buffer, so it gets the schemas first; each wait and each
connection is announced through `on_note` (stderr before the UI, a toast in it, a log line
headless). A target that goes away later is logged and not dialled again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable

from am_dbg.errors import DbgError
from am_rpc.codec import encode_frame, encode_preamble, pack
from am_rpc.dbg.addr import split_addr
from am_rpc.dbg.frames import KIND_DISC, KIND_HELLO, KIND_SCHEMA, KIND_TXS, MAGIC
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

__all__ = ["ForwardError", "Forwarder"]

log = logging.getLogger("am_dbg.server")

_MAX_BUFFER = 64 * 1024 * 1024
_BACKOFF_MIN, _BACKOFF_MAX = 0.05, 2.0


class ForwardError(DbgError, OSError):
    """A forward target cannot be reached at startup."""


class _Drain(asyncio.Protocol):
    """Reads and ignores what a target answers (acks); notices when it goes away."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        self.lost = False

    def data_received(self, data: bytes) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost:  # set already when this instance hung up itself
            log.warning("forward target %s closed the connection", self.addr)
        self.lost = True


class _Waiting:
    """Frames for a target that is not connected yet (bounded like a write buffer)."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.size = 0


class Forwarder:
    """Connections to every ``--fwd-data`` target."""

    def __init__(
        self,
        addrs: tuple[str, ...] | list[str],
        on_note: Callable[[str], None] | None = None,
        secret: str | None = None,
    ) -> None:
        self.addrs = tuple(addrs)
        # presented to every target (docs/protocol.md, "Authentication"); None: $AM_DBG_TOKEN
        self.secret = os.environ.get("AM_DBG_TOKEN", "") if secret is None else secret
        self._targets: list[tuple[asyncio.Transport, _Drain]] = []
        self._waiting: dict[str, _Waiting] = {}
        self._dialers: list[asyncio.Task[None]] = []
        self.lost_frames = 0
        self.on_note = on_note or log.warning

    async def start(self) -> None:
        """Dial every target once; one that is not up yet is dialled again in the background.

        Raises :class:`ForwardError` only for an address that cannot be valid.
        """
        for addr in self.addrs:
            try:
                host, port = split_addr(addr)
            except ValueError as err:
                self.close()
                raise ForwardError(f"cannot forward to {addr}: {err}") from None
            try:
                await self._dial(addr, host, port)
            except OSError as err:
                self.on_note(
                    f"forward target {addr} is not up yet ({err.strerror or err}); "
                    "retrying with backoff, frames wait for it"
                )
                self._waiting[addr] = _Waiting()
                task = asyncio.get_running_loop().create_task(self._redial(addr, host, port))
                self._dialers.append(task)

    async def _dial(self, addr: str, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_connection(functools.partial(_Drain, addr), host, port)
        assert isinstance(transport, asyncio.Transport)
        hello = encode_frame({"k": KIND_HELLO, "token": self.secret}) if self.secret else b""
        transport.write(encode_preamble(magic=MAGIC) + hello)
        waiting = self._waiting.pop(addr, None)
        if waiting is not None:
            for frame in waiting.frames:
                transport.write(frame)
        self._targets.append((transport, proto))

    async def _redial(self, addr: str, host: str, port: int) -> None:
        delay = _BACKOFF_MIN
        attempts = 1
        while True:
            await asyncio.sleep(delay)
            attempts += 1
            try:
                await self._dial(addr, host, port)
            except OSError:
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            self.on_note(f"forwarding to {addr} (connected after {attempts} attempts)")
            return

    def _send(self, obj: dict[str, object]) -> None:
        frame = encode_frame(obj)
        for waiting in self._waiting.values():
            if waiting.size + len(frame) > _MAX_BUFFER:
                self.lost_frames += 1
                continue
            waiting.frames.append(frame)
            waiting.size += len(frame)
        for transport, proto in self._targets:
            if proto.lost:
                continue
            if transport.get_write_buffer_size() > _MAX_BUFFER:
                self.lost_frames += 1
                continue
            transport.write(frame)

    def schema(self, conn_id: str, schema: SchemaMsg) -> None:
        self._send({"k": KIND_SCHEMA, "schema": schema.to_wire(), "conn": conn_id})

    def txs(self, conn_id: str, seq: int, txs: list[TxMsg | bytes]) -> None:
        packed = [t if isinstance(t, bytes) else _pack_tx(t) for t in txs]
        self._send({"k": KIND_TXS, "seq": seq, "txs": packed, "conn": conn_id})

    def disc(self, conn_id: str) -> None:
        self._send({"k": KIND_DISC, "conn": conn_id})

    def close(self) -> None:
        for task in self._dialers:
            task.cancel()
        self._dialers.clear()
        self._waiting.clear()
        for transport, proto in self._targets:
            proto.lost = True
            transport.close()
        self._targets.clear()


def _pack_tx(tx: TxMsg) -> bytes:
    return pack(tx.to_wire())
