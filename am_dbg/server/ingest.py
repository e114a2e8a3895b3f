"""The ingest server: many telemetry connections in, one ordered stream of model updates out.

Reading is cheap and happens as bytes arrive (`_Conn.data_received`): frames are split, the outer
map unpacked (each tx stays the packed ``bin`` it was sent as) and duplicates after a reconnect
skipped (by machine id, session token and seq). Everything else, the model updates (and through
the `Session`, the live recording), happens in *ticks* on the same loop: events are queued in
arrival order and drained in bounded slices, so a flood of transitions never holds the loop for
long. A sender is acked once what it sent is applied and, with a recording, flushed
(`am_dbg.server.durability`). The UI hears about it through `on_batch`, at most once per
`batch_interval` while streams are hot.

A bad client (malformed, oversize, too deep or wrong-version frames, malformed txs) is logged and
closed, and nothing it sent after the last applied batch is applied; nobody else notices. Who gets
in and for how long: `am_dbg.server.admission` (docs/protocol.md, "Limits").
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
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

from am_dbg.errors import DbgError
from am_dbg.server.admission import Admission, is_loopback
from am_dbg.server.durability import AckGate
from am_rpc.codec import DEFAULT_MAX_FRAME, FrameDecoder, encode_frame, encode_preamble, unpack
from am_rpc.dbg.addr import join_addr
from am_rpc.dbg.frames import (
    KIND_ACK,
    KIND_ERROR,
    MAGIC,
    DiscFrame,
    HelloFrame,
    SchemaFrame,
    TxsFrame,
    parse_client_frame,
)
from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, TxMsg, check_relations
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
    closed_bad: int = 0  # connections closed for a protocol error or malformed input
    auth_refused: int = 0  # connections refused for a missing or wrong secret


class _Conn(asyncio.Protocol):
    """One telemetry connection."""

    def __init__(self, server: IngestServer) -> None:
        self.server = server
        self.id = ""
        self.transport: asyncio.Transport | None = None
        # max_depth=0: parse_client_frame checks the nesting (the txs list is flat bins)
        self.decoder = FrameDecoder(
            server.max_frame, expect_preamble=True, magic=MAGIC, max_depth=0
        )
        self.conn_mach: dict[str, str] = {}  # conn id -> machine id (own id, or channels)
        self.keys: dict[str, tuple[str, str]] = {}  # conn id -> (machine id, token) of its run
        self.refused: set[str] = set()  # channels refused by max_clients (their frames ignored)
        self.authed = not server.admission.token
        self.established = False  # announced a machine (then the pending cap/timeout is off)
        self.owed: list[tuple[int, str, int]] = []  # (event number, channel, seq): acks owed
        self.bad = False  # closed for bad input: its queued events are not applied
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
        if len(srv.conns) - len(srv.admission.pending) >= srv.max_clients:
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
        srv.admission.hold(self)
        if srv.paused:
            transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        srv = self.server
        before = self.decoder.buffered
        try:
            frames = self.decoder.feed(data)
            for obj in frames:
                frame = parse_client_frame(obj)
                if not self.authed:
                    why = srv.admission.check(
                        frame.token if isinstance(frame, HelloFrame) else None, self.peer
                    )
                    if why:
                        srv.stats.auth_refused += 1
                        self.drop(why)
                        return
                    self.authed = True
                    continue
                if isinstance(frame, TxsFrame):
                    seq = srv.on_txs_frame(self, frame)
                elif isinstance(frame, SchemaFrame):
                    seq = srv.on_schema_frame(self, frame)
                elif isinstance(frame, HelloFrame):
                    continue
                else:
                    srv.on_disc_frame(self, frame)
                    continue
                if seq >= 0:  # -1: a refused channel, nothing to confirm
                    self.owed.append((srv.pushed, frame.conn, seq))
                if self.closed:
                    return
            if self.owed:
                srv.owe(self)
        except (ProtocolError, MessageError) as err:
            self.fail(str(err))
        finally:
            held = self.decoder.buffered
            srv.buffered += held - before
            if held > srv.max_pending_frame and not self.established and not self.closed:
                # checked after the frames of this read: a schema followed by a big txs frame
                # in one read is fine, a big partial frame before any machine is not
                self.fail(
                    f"{held:,} bytes of a frame before any machine was announced "
                    f"(max {srv.max_pending_frame:,})"
                )
            if srv.buffered > srv.max_buffered and not self.closed:
                srv.shed_buffers()

    def send_acks(self, upto: int) -> None:
        """Write the acks owed for events up to ``upto`` (the last one per channel)."""
        owed = self.owed
        n = 0
        while n < len(owed) and owed[n][0] <= upto:
            n += 1
        if not n:
            return
        acks: dict[str, int] = {}
        for _, ch, seq in owed[:n]:
            acks[ch] = max(acks.get(ch, 0), seq)
        del owed[:n]
        if self.closed or self.transport is None:
            return
        self.transport.write(
            b"".join(
                encode_frame(
                    {"k": KIND_ACK, "seq": seq, "conn": ch} if ch else {"k": KIND_ACK, "seq": seq}
                )
                for ch, seq in acks.items()
            )
        )

    def fail(self, reason: str) -> None:
        """Close this connection (only this one) for bad input; nothing it still owes is acked."""
        if self.closed:
            return
        self.server.stats.closed_bad += 1
        self.bad = True
        self.server.rate_log(
            logging.WARNING, "closing connection %s from %s: %s", self.id, self.peer, reason
        )
        self._close(reason)
        self.server.on_bad_conn(self)

    def drop(self, reason: str) -> None:
        """Close this connection for a limit (timeout, cap, secret): logged at most once a second."""
        if self.closed:
            return
        self.server.rate_log(
            logging.INFO, "closed connection %s from %s: %s", self.id, self.peer, reason
        )
        self._close(reason)

    def _close(self, reason: str) -> None:
        self.owed.clear()
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
            self.server.rate_log(
                logging.WARNING, "connection %s from %s ended badly: %s", self.id, self.peer, err
            )
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        srv = self.server
        srv.buffered -= self.decoder.buffered
        self.decoder = FrameDecoder(1)  # release the partial frame now
        srv.admission.release(self)
        srv.owing.discard(self)
        if not self.id or srv.conns.pop(self.id, None) is None:
            return
        srv.stats.connected -= 1
        srv.on_conn_lost(self)


_LOG_PER_S = 5


class IngestServer:
    """Listens for telemetry and feeds a `Session` (and optionally a live recording).

    Runs on the caller's loop (the UI's or the headless one). ``port=0`` picks a free port;
    :attr:`addr` is the bound ``(host, port)`` once :meth:`start` returned. Acks are sent once
    what they confirm is durable (`am_dbg.server.durability`); the limits on who gets in and for
    how long are `am_dbg.server.admission`.
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
        token: str = "",
        insecure: bool = False,
        max_unestablished: int = 128,
        handshake_timeout: float = 10.0,
        idle_timeout: float = 60.0,
        max_pending_frame: int = 1 << 20,
        max_buffered: int = 64 << 20,
        flush_delay: float = 0.02,
    ) -> None:
        self.session = session
        self.host = host
        self.port = port
        self.max_clients = max_clients
        self.max_frame = max_frame
        self.max_pending_frame = max_pending_frame
        self.max_buffered = max_buffered
        self.on_batch = on_batch
        self.batch_interval = batch_interval
        self.tick_delay = tick_delay
        self.tick_time = tick_time
        self.tick_slice = tick_slice
        self.max_pending = max_pending
        self.forward = forward
        self.clock_ns = clock_ns
        self.insecure = insecure
        self.admission = Admission(
            token,
            max_pending=max_unestablished,
            handshake_timeout=handshake_timeout,
            idle_timeout=idle_timeout,
        )
        self.stats = IngestStats()
        self.conns: dict[str, _Conn] = {}
        self.paused = False
        self.closing = False
        self.channels = 0  # machines announced on open connections (max_clients counts these)
        self.buffered = 0  # bytes of partial frames held, every connection together
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # (kind, conn id, payload, connection, run key, last seq) in arrival order; txs payloads
        # are lists of packed txs; run key and last seq only on txs of a run with a token
        self._events: list[tuple[int, str, Any, _Conn | None, Any, int]] = []
        self._pos = 0  # events before this index are done
        self.pushed = 0  # events queued, ever (the number of the last one)
        self._applied = 0  # events applied to the model, ever
        self._pending_txs = 0
        self._tick_handle: asyncio.Handle | None = None
        self._batch = IngestBatch()
        self._batch_handle: asyncio.TimerHandle | None = None
        self._last_batch = 0.0
        self._seen_machs: set[str] = set()
        rec = getattr(session, "recorder", None)
        self.recorder: Any = rec if hasattr(rec, "flush") and hasattr(rec, "error") else None
        # (machine id, token) -> last seq received: duplicate suppression across reconnects,
        # seeded from the recording this one continues (its SEQ records)
        self._seqs: dict[tuple[str, str], int] = dict(getattr(self.recorder, "seqs", None) or {})
        self._applied_seq: dict[tuple[str, str], int] = dict(self._seqs)  # ... applied
        self.gate = AckGate(self.recorder, self._release, flush_delay)
        self.owing: set[_Conn] = set()  # connections with acks owed
        self._chan_conn: dict[str, _Conn] = {}  # channel id -> its connection
        self._idle: asyncio.Event | None = None
        self._log_window = [0.0, 0]  # [start of the current second, lines in it]

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def addr(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> tuple[str, int]:
        """Bind and listen; raise :class:`ListenError` with a one-line reason on failure."""
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        if not self.admission.token and not self.insecure and not is_loopback(self.host):
            raise ListenError(
                0,
                f"refusing to listen on {join_addr(self.host, self.port)} without a secret: "
                "set AM_DBG_TOKEN (or --token), or say --insecure",
            )
        bind: str | None = self.host
        try:
            if self.port == 0:
                # One address only, or every resolved address would get its own free port.
                infos = await self._loop.getaddrinfo(self.host, 0, type=socket.SOCK_STREAM)
                infos.sort(key=lambda i: i[0] != socket.AF_INET)
                bind = str(infos[0][4][0])
            self._server = await self._loop.create_server(
                lambda: _Conn(self),
                bind,
                self.port,
                reuse_address=True,
                # asyncio accepts up to `backlog` connections per loop turn: kept under the cap of
                # not-established ones, so a burst of idle sockets cannot evict a sender whose
                # first bytes are waiting to be read in the same turn
                backlog=max(1, min(100, self.admission.max_pending // 2)),
            )
        except OSError as err:
            # asyncio's bind errors repeat the address: keep just the reason of the errno
            why = os.strerror(err.errno).lower() if err.errno else str(err)
            raise ListenError(
                err.errno or 0, f"cannot listen on {join_addr(self.host, self.port)}: {why}"
            ) from None
        self.admission.install(self._loop)
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
        self.admission.uninstall()

    def drain(self) -> None:
        """Apply every queued event now (used on exit and by tests that need a settled model)."""
        if self._pos < len(self._events):
            self._tick(drain=True)
        self.gate.flush_now()
        self._emit_batch()

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every received event was applied to the model."""
        assert self._idle is not None
        await asyncio.wait_for(self._idle.wait(), timeout)

    def rate_log(self, level: int, fmt: str, *args: Any) -> None:
        """Log at most `_LOG_PER_S` connection lines a second; a flood of bad peers is counted
        (one line says how many were left out)."""
        now = time.monotonic()
        win = self._log_window
        if now - win[0] >= 1.0:
            if win[1] > _LOG_PER_S:
                log.warning("(%d more connection messages in the last second)", win[1] - _LOG_PER_S)
            win[0] = now
            win[1] = 0
        win[1] += 1
        if win[1] <= _LOG_PER_S:
            log.log(level, fmt, *args)

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
        check_relations(schema)  # a MessageError naming the undefined states closes conn
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
        other = self._chan_conn.get(cid)
        if other is not None and other is not conn and not other.closed:
            raise MessageError(f"channel {cid!r} is in use by another connection")
        conn.conn_mach[cid] = schema.id
        self._chan_conn[cid] = conn
        if not conn.established:
            conn.established = True
            self.admission.release(conn)
        seq = 0
        if schema.token:
            key = (schema.id, schema.token)
            conn.keys[cid] = key
            seq = self._seqs.setdefault(key, 0)
        else:
            conn.keys.pop(cid, None)
        if schema.id not in self._seen_machs:
            self._seen_machs.add(schema.id)
            self.stats.clients += 1
        self._push(_SCHEMA, cid, schema, conn)
        if self.forward is not None:
            self.forward.schema(cid, schema)
        return seq

    def on_txs_frame(self, conn: _Conn, frame: TxsFrame) -> int:
        """Queue the new txs of a frame; return the seq to ack."""
        cid = frame.conn or conn.id
        if cid in conn.refused:
            return -1
        mach = conn.conn_mach.get(cid)
        if mach is None:
            raise MessageError(f"txs on channel {cid!r} before its schema")
        txs: list[Any] = frame.txs
        key = conn.keys.get(cid)
        last_seq = frame.seq + len(frame.txs) - 1 if frame.seq else 0
        if key is not None and frame.seq:
            last = self._seqs.get(key, 0)
            skip = last - frame.seq + 1
            if skip > 0:
                self.stats.duplicates += min(skip, len(txs))
                txs = txs[skip:]
            self._seqs[key] = max(last, last_seq)
            ack = self._seqs[key]
        else:
            ack = last_seq
        if frame.dropped:
            self.stats.dropped += frame.dropped
            log.warning("machine %s (conn %s) dropped %d messages", mach, cid, frame.dropped)
            if txs:
                txs = [_with_dropped_note(txs[0], frame.dropped), *txs[1:]]
        if txs:
            self._push(_TXS, cid, txs, conn, key if frame.seq else None, last_seq)
            self._pending_txs += len(txs)
            if self._pending_txs > self.max_pending and not self.paused:
                self._pause(True)
            if self.forward is not None:
                self.forward.txs(cid, frame.seq + (len(frame.txs) - len(txs)), txs)
        return ack

    def on_disc_frame(self, conn: _Conn, frame: DiscFrame) -> None:
        conn.refused.discard(frame.conn)
        if conn.conn_mach.pop(frame.conn, None) is not None:
            conn.keys.pop(frame.conn, None)
            if self._chan_conn.get(frame.conn) is conn:
                del self._chan_conn[frame.conn]
            self.channels -= 1
            self._push(_DISC, frame.conn, None, conn)
            if self.forward is not None:
                self.forward.disc(frame.conn)
            if not conn.conn_mach:  # no machines left: idle, timed out unless one comes
                conn.established = False
                self.admission.hold(conn, idle=True)

    def on_conn_lost(self, conn: _Conn) -> None:
        self.channels -= len(conn.conn_mach)
        for cid in [conn.id, *(c for c in conn.conn_mach if c != conn.id)]:
            if self._chan_conn.get(cid) is conn:
                del self._chan_conn[cid]
            self._push(_DISC, cid, None, conn)
            if self.forward is not None and cid in conn.conn_mach:
                self.forward.disc(cid)

    def on_bad_conn(self, conn: _Conn) -> None:
        """``conn`` was closed for bad input: what it sent and is not applied yet never will be,
        so the next connection of its runs must be able to send it again."""
        for key in conn.keys.values():
            self._seqs[key] = self._applied_seq.get(key, 0)

    def owe(self, conn: _Conn) -> None:
        """``conn`` owes acks: send the durable ones now, the rest when they are."""
        conn.send_acks(self.gate.durable)
        if conn.owed:
            self.owing.add(conn)

    def _release(self, upto: int) -> None:
        """Events up to ``upto`` are durable: send the acks that waited for them."""
        for conn in list(self.owing):
            conn.send_acks(upto)
            if not conn.owed:
                self.owing.discard(conn)

    def shed_buffers(self) -> None:
        """Partial frames over `max_buffered` in total: close the connection holding the most."""
        hog = max(self.conns.values(), key=lambda c: c.decoder.buffered, default=None)
        if hog is not None:
            held = hog.decoder.buffered
            hog.fail(
                f"ingest buffers full ({self.buffered >> 20} MiB in partial frames, max "
                f"{self.max_buffered >> 20} MiB): closed the connection holding {held:,} bytes"
            )

    # -- ticks ------------------------------------------------------------------------------

    def _push(
        self, kind: int, cid: str, payload: Any, conn: _Conn, key: Any = None, seq: int = 0
    ) -> None:
        self.pushed += 1
        self._events.append((kind, cid, payload, conn, key, seq))
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
        the rest goes to the next tick. Events of a connection closed for bad input are skipped."""
        self._tick_handle = None
        deadline = time.perf_counter() + self.tick_time
        events = self._events
        now = self.clock_ns()
        size = self.tick_slice
        while self._pos < len(events):
            kind, cid, payload, conn, key, seq = events[self._pos]
            if kind == _TXS:
                # consecutive tx events (any connections, arrival order kept) go to the model as
                # one batch of up to `size`: small frames of many senders cost less together
                batch: list[tuple[str, TxMsg | bytes]] = []
                done: list[tuple[Any, int, _Conn | None]] = []  # runs whose event completed
                skipped = 0
                while True:
                    if conn is not None and conn.bad:
                        self._pending_txs -= len(payload)
                        skipped += 1
                        self._pos += 1
                    else:
                        room = size - len(batch)
                        take = payload if len(payload) <= room else payload[:room]
                        batch += zip(repeat(cid), take, strict=False)
                        if len(take) < len(payload):
                            events[self._pos] = (kind, cid, payload[len(take) :], conn, key, seq)
                            break
                        self._pos += 1
                        done.append((key, seq, conn))
                    if len(batch) >= size or self._pos >= len(events):
                        break
                    kind, cid, payload, conn, key, seq = events[self._pos]
                    if kind != _TXS:
                        break
                if batch:
                    self._apply_txs(batch, now, done)
                self._applied += len(done) + skipped
            else:
                self._pos += 1
                self._applied += 1
                if kind == _SCHEMA:
                    if conn is None or not conn.bad:
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
        self.gate.on_applied(self._applied)
        self._maybe_emit()

    def _apply_txs(
        self,
        batch: list[tuple[str, TxMsg | bytes]],
        now: int,
        done: list[tuple[Any, int, _Conn | None]],
    ) -> None:
        """One model update; close the connections that sent malformed txs (and only those).

        Never re-applied: whatever the session stored stays stored once, and a failure of the
        session itself closes the connections of the batch (their senders resend what was not
        applied; the rest is skipped as duplicates)."""
        self._pending_txs -= len(batch)
        rec = self.recorder
        scope = rec.batch() if rec is not None and hasattr(rec, "batch") else nullcontext()
        with scope:  # the txs and their SEQ records in one chunk (a restart trusts the SEQs)
            self._apply_txs_in(batch, now, done)

    def _apply_txs_in(
        self,
        batch: list[tuple[str, TxMsg | bytes]],
        now: int,
        done: list[tuple[Any, int, _Conn | None]],
    ) -> None:
        try:
            outcome = self.session.on_txs(batch, now)
        except Exception as err:
            log.exception("model update failed (%d txs); closing their connections", len(batch))
            for cid in {c for c, _ in batch}:
                conn = self._chan_conn.get(cid) or self.conns.get(cid)
                if conn is not None:
                    conn.fail(f"internal error applying txs: {type(err).__name__}")
            return
        self._batch.txs.append(outcome)
        self._batch.n_txs += len(batch)
        self.stats.transitions += len(batch)
        bad: dict[str, str] = getattr(outcome, "bad_conns", None) or {}
        for cid, why in bad.items():
            conn = self._chan_conn.get(cid) or self.conns.get(cid)
            if conn is not None:
                conn.fail(f"invalid tx message: {why}")
        rec = self.recorder
        for key, seq, conn in done:
            if key is None or (conn is not None and conn.bad):
                continue
            if seq > self._applied_seq.get(key, 0):
                self._applied_seq[key] = seq
                if rec is not None and hasattr(rec, "write_seq"):
                    rec.write_seq(key[0], key[1], seq, now)

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
