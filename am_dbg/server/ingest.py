"""The ingest server: many telemetry connections in, one ordered stream of model updates out.

Reading is cheap and happens as bytes arrive (`_Conn.data_received`): frames are split, the outer
map unpacked (each tx stays the packed ``bin`` it was sent as), duplicates after a reconnect are
skipped and the sender is acked. Everything else, the model updates (and through the `Session`,
the live recording), happens in *ticks* on the same loop: events are queued in arrival order and
drained in bounded slices, so a flood of transitions never holds the loop for long. The UI hears
about it through `on_batch`, at most once per `batch_interval` while streams are hot.

A bad client (malformed, oversize or wrong-version frames) is logged and closed; nobody else notices.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

from am_dbg.errors import DbgError
from am_rpc.codec import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame, encode_preamble, unpack
from am_rpc.dbg.addr import join_addr
from am_rpc.dbg.frames import (
    KIND_ACK,
    KIND_ERROR,
    MAGIC,
    DiscFrame,
    SchemaFrame,
    TxsFrame,
    parse_client_frame,
)
from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, TxMsg
from am_rpc.errors import ProtocolError

__all__ = ["IngestBatch", "IngestServer", "IngestStats", "ListenError", "SessionLike"]

log = logging.getLogger("am_dbg.server")

# Events of the ordered queue drained by ticks.
_SCHEMA = 0
_TXS = 1
_DISC = 2


class ListenError(DbgError, OSError):
    """The server cannot listen on the requested address (one-line reason in ``str()``)."""

    def __str__(self) -> str:
        return str(self.strerror)  # without OSError's "[Errno N]" prefix


class SessionLike(Protocol):
    """The part of `am_dbg.model.session.Session` the server drives (the session records, too)."""

    def on_schema(self, schema: SchemaMsg, conn_id: str, now_ns: int | None = None) -> Any: ...

    def on_txs(self, batch: Sequence[tuple[str, TxMsg | bytes]], now_ns: int) -> Any: ...

    def on_disconnect(self, conn_id: str, now_ns: int | None = None) -> str | None: ...


@dataclass(slots=True)
class IngestBatch:
    """What changed since the previous `on_batch` call (for the UI)."""

    schemas: list[Any] = field(default_factory=list)  # SchemaOutcome per schema, arrival order
    txs: list[Any] = field(default_factory=list)  # BatchOutcome per model update
    disconnected: list[str] = field(default_factory=list)  # machine ids marked disconnected
    n_txs: int = 0  # tx messages handed to the model


@dataclass(slots=True)
class IngestStats:
    """Counters since the server started (``Clients`` / ``Transitions`` of the exit summary)."""

    clients: int = 0  # machine ids that sent a schema
    connections: int = 0  # accepted connections, ever
    connected: int = 0  # open connections now
    transitions: int = 0  # tx messages handed to the model
    duplicates: int = 0  # tx messages skipped after a reconnect (already received)
    dropped: int = 0  # tx messages the senders reported dropped (outbox overflow)
    refused: int = 0  # connections refused (max clients)
    closed_bad: int = 0  # connections closed for a protocol error


class _Conn(asyncio.Protocol):
    """One telemetry connection."""

    def __init__(self, server: IngestServer) -> None:
        self.server = server
        self.id = ""
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(server.max_frame, expect_preamble=True, magic=MAGIC)
        self.conn_mach: dict[str, str] = {}  # conn id -> machine id (own id, or channels)
        self.refused: set[str] = set()  # channels refused by max_clients (their frames ignored)
        self.closed = False
        self.peer = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        srv = self.server
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if srv.closing:  # accepted in the same loop iteration as close(): not served
            self.closed = True
            transport.abort()
            return
        transport.write(encode_preamble(magic=MAGIC))
        if len(srv.conns) >= srv.max_clients:
            srv.stats.refused += 1
            msg = f"too many clients (max {srv.max_clients})"
            log.warning("refused connection from %s: %s", self.peer, msg)
            transport.write(encode_frame({"k": KIND_ERROR, "msg": msg}))
            self.closed = True
            transport.close()
            return
        self.id = srv.new_conn_id()
        srv.conns[self.id] = self
        srv.stats.connections += 1
        srv.stats.connected += 1
        if srv.paused:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            frames = self.decoder.feed(data)
            acks: dict[str, int] = {}  # channel ("" = the connection itself) -> seq to ack
            for obj in frames:
                frame = parse_client_frame(obj)
                if isinstance(frame, TxsFrame):
                    seq = self.server.on_txs_frame(self, frame)
                elif isinstance(frame, SchemaFrame):
                    seq = self.server.on_schema_frame(self, frame)
                else:
                    self.server.on_disc_frame(self, frame)
                    continue
                if seq >= 0:  # -1: a refused channel, nothing to confirm
                    acks[frame.conn] = max(acks.get(frame.conn, 0), seq)
            if acks and self.transport is not None:
                self.transport.write(
                    b"".join(
                        encode_frame(
                            {"k": KIND_ACK, "seq": seq, "conn": ch}
                            if ch
                            else {"k": KIND_ACK, "seq": seq}
                        )
                        for ch, seq in acks.items()
                    )
                )
        except (ProtocolError, MessageError) as err:
            self.fail(str(err))

    def fail(self, reason: str) -> None:
        """Close this connection (only this one) for a protocol error."""
        if self.closed:
            return
        self.server.stats.closed_bad += 1
        log.warning("closing connection %s from %s: %s", self.id, self.peer, reason)
        if self.transport is not None:
            try:
                self.transport.write(encode_frame({"k": KIND_ERROR, "msg": reason[:1000]}))
            except Exception:
                pass
            self.transport.close()
        self.closed = True

    def eof_received(self) -> bool | None:
        try:
            self.decoder.eof()
        except ProtocolError as err:
            log.warning("connection %s from %s ended badly: %s", self.id, self.peer, err)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        srv = self.server
        if not self.id or srv.conns.pop(self.id, None) is None:
            return
        srv.stats.connected -= 1
        srv.on_conn_lost(self)


class IngestServer:
    """Listens for telemetry and feeds a `Session` (and optionally a live recording).

    Runs on the caller's loop (the UI's or the headless one). ``port=0`` picks a free port;
    :attr:`addr` is the bound ``(host, port)`` once :meth:`start` returned.
    """

    def __init__(
        self,
        session: SessionLike,
        *,
        host: str = "localhost",
        port: int = 6831,
        max_clients: int = 5000,
        max_frame: int = DEFAULT_MAX_FRAME,
        on_batch: Callable[[IngestBatch], None] | None = None,
        batch_interval: float = 0.1,
        tick_delay: float = 0.005,
        tick_time: float = 0.02,
        tick_slice: int = 512,
        max_pending: int = 200_000,
        forward: Any = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.session = session
        self.host = host
        self.port = port
        self.max_clients = max_clients
        self.max_frame = max_frame
        self.on_batch = on_batch
        self.batch_interval = batch_interval
        self.tick_delay = tick_delay
        self.tick_time = tick_time
        self.tick_slice = tick_slice
        self.max_pending = max_pending
        self.forward = forward
        self.clock_ns = clock_ns
        self.stats = IngestStats()
        self.conns: dict[str, _Conn] = {}
        self.paused = False
        self.closing = False
        self.channels = 0  # machines announced on open connections (max_clients counts these)
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # (kind, conn id, payload) in arrival order; txs payloads are lists of packed txs
        self._events: list[tuple[int, str, Any]] = []
        self._pos = 0  # events before this index are done
        self._pending_txs = 0
        self._tick_handle: asyncio.Handle | None = None
        self._batch = IngestBatch()
        self._batch_handle: asyncio.TimerHandle | None = None
        self._last_batch = 0.0
        self._seen_machs: set[str] = set()
        # machine id -> [token, last seq received]: duplicate suppression across reconnects
        self._seqs: dict[str, list[Any]] = {}
        self._idle: asyncio.Event | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def addr(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> tuple[str, int]:
        """Bind and listen; raise :class:`ListenError` with a one-line reason on failure."""
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        bind: str | None = self.host
        try:
            if self.port == 0:
                # One address only, or every resolved address would get its own free port.
                infos = await self._loop.getaddrinfo(self.host, 0, type=socket.SOCK_STREAM)
                infos.sort(key=lambda i: i[0] != socket.AF_INET)
                bind = str(infos[0][4][0])
            self._server = await self._loop.create_server(
                lambda: _Conn(self), bind, self.port, reuse_address=True
            )
        except OSError as err:
            # asyncio's bind errors repeat the address: keep just the reason of the errno
            why = os.strerror(err.errno).lower() if err.errno else str(err)
            raise ListenError(
                err.errno or 0, f"cannot listen on {join_addr(self.host, self.port)}: {why}"
            ) from None
        sock = self._server.sockets[0].getsockname()
        self.port = int(sock[1])
        return self.addr

    async def close(self) -> None:
        """Stop listening, close every connection and apply everything already received."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.conns.values()):
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.sleep(0)  # let connection_lost callbacks run
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.drain()

    def drain(self) -> None:
        """Apply every queued event now (used on exit and by tests that need a settled model)."""
        if self._pos < len(self._events):
            self._tick(drain=True)
        self._emit_batch()

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every received event was applied to the model."""
        assert self._idle is not None
        await asyncio.wait_for(self._idle.wait(), timeout)

    def new_conn_id(self) -> str:
        while True:
            cid = secrets.token_hex(4)
            if cid not in self.conns:
                return cid

    # -- called by connections as bytes arrive -----------------------------------------------

    def on_schema_frame(self, conn: _Conn, frame: SchemaFrame) -> int:
        """Queue a schema; return the seq to ack (what this run already delivered)."""
        cid = frame.conn or conn.id
        schema = frame.schema
        if cid in conn.refused:
            return -1
        if cid not in conn.conn_mach:
            if self.channels >= self.max_clients:
                # one machine too many (on a shared connection): refuse it, not its neighbours
                self.stats.refused += 1
                conn.refused.add(cid)
                msg = f"too many clients (max {self.max_clients}): {schema.id!r} refused"
                log.warning("refused machine %s on connection %s: %s", schema.id, conn.id, msg)
                if conn.transport is not None:
                    conn.transport.write(encode_frame({"k": KIND_ERROR, "msg": msg, "conn": cid}))
                return -1
            self.channels += 1
        conn.conn_mach[cid] = schema.id
        seq = self._seqs.get(schema.id)
        if seq is None or seq[0] != schema.token or not schema.token:
            self._seqs[schema.id] = [schema.token, 0]
        if schema.id not in self._seen_machs:
            self._seen_machs.add(schema.id)
            self.stats.clients += 1
        self._push(_SCHEMA, cid, schema)
        if self.forward is not None:
            self.forward.schema(cid, schema)
        return int(self._seqs[schema.id][1])

    def on_txs_frame(self, conn: _Conn, frame: TxsFrame) -> int:
        """Queue the new txs of a frame; return the seq to ack."""
        cid = frame.conn or conn.id
        if cid in conn.refused:
            return -1
        txs: list[Any] = frame.txs
        mach = conn.conn_mach.get(cid)
        state = self._seqs.get(mach) if mach is not None else None
        if state is not None and frame.seq:
            last = state[1]
            skip = last - frame.seq + 1
            if skip > 0:
                self.stats.duplicates += min(skip, len(txs))
                txs = txs[skip:]
            state[1] = max(last, frame.seq + len(frame.txs) - 1)
            ack = int(state[1])
        else:
            ack = frame.seq + len(frame.txs) - 1 if frame.seq else 0
        if frame.dropped:
            self.stats.dropped += frame.dropped
            log.warning("machine %s (conn %s) dropped %d messages", mach, cid, frame.dropped)
            if txs:
                txs = [_with_dropped_note(txs[0], frame.dropped), *txs[1:]]
        if txs:
            self._push(_TXS, cid, txs)
            self._pending_txs += len(txs)
            if self._pending_txs > self.max_pending and not self.paused:
                self._pause(True)
            if self.forward is not None:
                self.forward.txs(cid, frame.seq + (len(frame.txs) - len(txs)), txs)
        return ack

    def on_disc_frame(self, conn: _Conn, frame: DiscFrame) -> None:
        conn.refused.discard(frame.conn)
        if conn.conn_mach.pop(frame.conn, None) is not None:
            self.channels -= 1
            self._push(_DISC, frame.conn, None)
            if self.forward is not None:
                self.forward.disc(frame.conn)

    def on_conn_lost(self, conn: _Conn) -> None:
        self.channels -= len(conn.conn_mach)
        for cid in [conn.id, *(c for c in conn.conn_mach if c != conn.id)]:
            self._push(_DISC, cid, None)
            if self.forward is not None and cid in conn.conn_mach:
                self.forward.disc(cid)

    # -- ticks ------------------------------------------------------------------------------

    def _push(self, kind: int, cid: str, payload: Any) -> None:
        self._events.append((kind, cid, payload))
        if self._tick_handle is None and self._loop is not None:
            if self._idle is not None:
                self._idle.clear()
            self._tick_handle = self._loop.call_later(self.tick_delay, self._tick)

    def _pause(self, pause: bool) -> None:
        self.paused = pause
        for conn in self.conns.values():
            if conn.transport is not None and not conn.closed:
                if pause:
                    conn.transport.pause_reading()
                else:
                    conn.transport.resume_reading()

    def _tick(self, drain: bool = False) -> None:
        """Apply queued events to the model in arrival order, for at most ``tick_time`` seconds
        (in batches of up to ``tick_slice`` txs, consecutive frames merged) unless ``drain``;
        the rest goes to the next tick."""
        self._tick_handle = None
        deadline = time.perf_counter() + self.tick_time
        events = self._events
        now = self.clock_ns()
        size = self.tick_slice
        while self._pos < len(events):
            kind, cid, payload = events[self._pos]
            if kind == _TXS:
                # consecutive tx events (any connections, arrival order kept) go to the model as
                # one batch of up to `size`: small frames of many senders cost less together
                batch: list[tuple[str, TxMsg | bytes]] = []
                while True:
                    room = size - len(batch)
                    take = payload if len(payload) <= room else payload[:room]
                    batch += zip(repeat(cid), take, strict=False)
                    if len(take) < len(payload):
                        events[self._pos] = (kind, cid, payload[len(take) :])
                        break
                    self._pos += 1
                    if len(batch) >= size or self._pos >= len(events):
                        break
                    kind, cid, payload = events[self._pos]
                    if kind != _TXS:
                        break
                self._apply_txs(batch, now)
            else:
                self._pos += 1
                if kind == _SCHEMA:
                    self._batch.schemas.append(self.session.on_schema(payload, cid, now))
                else:
                    mach = self.session.on_disconnect(cid, now)
                    if mach is not None:
                        self._batch.disconnected.append(mach)
            if not drain and time.perf_counter() > deadline:
                break
        if self._pos >= len(events):
            events.clear()
            self._pos = 0
        elif self._pos > 4096:
            del events[: self._pos]
            self._pos = 0
        if self.paused and self._pending_txs < self.max_pending // 2:
            self._pause(False)
        if events and self._loop is not None:
            self._tick_handle = self._loop.call_soon(self._tick)
        elif self._idle is not None:
            self._idle.set()
        self._maybe_emit()

    def _apply_txs(self, batch: list[tuple[str, TxMsg | bytes]], now: int) -> None:
        self._pending_txs -= len(batch)
        try:
            outcome = self.session.on_txs(batch, now)
        except Exception:
            # A tx the model cannot read: apply the batch one by one so only its sender is hurt.
            for item in batch:
                try:
                    self._batch.txs.append(self.session.on_txs([item], now))
                except Exception as err:
                    conn = self.conns.get(item[0])
                    reason = f"invalid tx message: {type(err).__name__}: {err}"
                    if conn is not None:
                        conn.fail(reason)
                    else:
                        log.warning("dropped a tx of conn %s: %s", item[0], reason)
                    continue
                self._batch.n_txs += 1
                self.stats.transitions += 1
            return
        self._batch.txs.append(outcome)
        self._batch.n_txs += len(batch)
        self.stats.transitions += len(batch)

    def _maybe_emit(self) -> None:
        if self.on_batch is None or self._batch_handle is not None or self._loop is None:
            return
        b = self._batch
        if not (b.schemas or b.txs or b.disconnected):
            return
        wait = self._last_batch + self.batch_interval - time.monotonic()
        if wait <= 0:
            self._emit_batch()
        else:
            self._batch_handle = self._loop.call_later(wait, self._emit_batch)

    def _emit_batch(self) -> None:
        self._batch_handle = None
        b = self._batch
        if self.on_batch is None or not (b.schemas or b.txs or b.disconnected):
            return
        self._batch = IngestBatch()
        self._last_batch = time.monotonic()
        try:
            self.on_batch(b)
        except Exception:
            log.exception("on_batch callback failed")


def _with_dropped_note(tx: TxMsg | bytes, dropped: int) -> TxMsg:
    """The tx with a pre-log line saying how many messages the sender had to drop before it."""
    msg = tx if isinstance(tx, TxMsg) else TxMsg.from_wire(unpack(tx))
    note = LogEntry(1, f"[dbg:dropped] {dropped} telemetry messages dropped by the sender")
    return dataclasses.replace(msg, pre_log=(note, *msg.pre_log))
