"""`--fwd-data`: pass everything received on to other am-dbg instances (spec/debugger.md §3.6).

Each schema and tx frame goes to every target with its *original* connection id, so a target
groups and validates per connection exactly as this instance does; chains work because a target
forwards onwards. Unlike Go, disconnects are forwarded too (a ``disc`` frame), so a dashboard
greys out a machine when its program ends. A target that cannot keep up loses frames (counted and
logged) instead of growing this instance's memory.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os

from am_rpc.codec import encode_frame, encode_preamble, pack
from am_rpc.dbg.addr import split_addr
from am_rpc.dbg.frames import KIND_DISC, KIND_HELLO, KIND_SCHEMA, KIND_TXS, MAGIC
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

__all__ = ["ForwardError", "Forwarder"]

log = logging.getLogger("am_dbg.server")

_MAX_BUFFER = 64 * 1024 * 1024


class ForwardError(OSError):
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


class Forwarder:
    """Connections to every ``--fwd-data`` target."""

    def __init__(self, addrs: tuple[str, ...] | list[str], secret: str | None = None) -> None:
        self.addrs = tuple(addrs)
        # presented to every target (docs/protocol.md, "Authentication"); None: $AM_DBG_TOKEN
        self.secret = os.environ.get("AM_DBG_TOKEN", "") if secret is None else secret
        self._targets: list[tuple[asyncio.Transport, _Drain]] = []
        self.lost_frames = 0

    async def start(self) -> None:
        """Dial every target; raise :class:`ForwardError` naming the first one unreachable."""
        loop = asyncio.get_running_loop()
        for addr in self.addrs:
            try:
                host, port = split_addr(addr)
                transport, proto = await loop.create_connection(
                    functools.partial(_Drain, addr), host, port
                )
            except (OSError, ValueError) as err:
                self.close()
                raise ForwardError(f"cannot forward to {addr}: {err}") from None
            assert isinstance(transport, asyncio.Transport)
            hello = encode_frame({"k": KIND_HELLO, "token": self.secret}) if self.secret else b""
            transport.write(encode_preamble(magic=MAGIC) + hello)
            self._targets.append((transport, proto))

    def _send(self, obj: dict[str, object]) -> None:
        frame = encode_frame(obj)
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
        for transport, proto in self._targets:
            proto.lost = True
            transport.close()
        self._targets.clear()


def _pack_tx(tx: TxMsg) -> bytes:
    return pack(tx.to_wire())
