"""`am-dbg --listen nats://HOST:PORT`: telemetry from NATS into the same `Session` as TCP ingest.

`NatsIngestServer` is an `IngestServer` whose frames come from NATS subscriptions instead of
sockets: each message on ``<prefix>.m.>`` is one telemetry frame (docs/protocol.md, "Telemetry
over NATS") and goes through the server's own schema / txs / disc path, so ordering, duplicate
suppression, ticks and batches are the TCP ones. Any number of am-dbg instances and recorders can
listen at once. On start it asks senders for their schemas (``<prefix>.hello``); txs of a machine
whose schema has not arrived yet wait (bounded) for it.

Without ``durable`` it is a plain (core NATS) subscriber: what is published while it is away is
gone. With ``durable`` (a recorder that must not lose anything) it reads through a JetStream
durable consumer of the stream that keeps the telemetry subjects (created if missing): a
restarted recorder with the same name continues where it stopped. A message is acked only once
the events it made are durable (applied and, with ``--record``, flushed to the recording: the
TCP acks' rule, `am_dbg.server.durability`), so even a recorder killed with SIGKILL loses nothing:
what it had not flushed is read again by the next one. When the server has no JetStream it says so
and falls back to core NATS.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from typing import Any

from am_dbg.server.ingest import IngestServer, ListenError, SessionLike
from am_rpc.codec import unpack
from am_rpc.dbg.frames import DiscFrame, SchemaFrame, TxsFrame, parse_client_frame
from am_rpc.dbg.protocol import MessageError
from am_rpc.nats.subjects import NatsAddr, parse_nats_addr

__all__ = ["NatsIngestServer"]

log = logging.getLogger("am_dbg.server")

_MAX_WAITING_TXS = 100_000  # txs of channels without a schema yet, over all channels
_STREAM_MAX_AGE = 24 * 3600.0
_STREAM_MAX_BYTES = 1 << 30
_FETCH = 512
_GONE_AFTER = 3  # alive intervals without news: the sender process is gone


class _NatsConn:
    """What `IngestServer` reads of a connection: NATS is one logical connection of channels."""

    def __init__(self) -> None:
        self.id = "nats"
        self.transport = None
        self.conn_mach: dict[str, str] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # channel -> (machine id, token) of its run
        self.refused: set[str] = set()
        self.owed: list[tuple[int, str, int]] = []  # NATS frames are not acked by the server
        self.authed = True  # NATS authenticates its own clients
        self.established = True
        self.bad = False
        self.closed = False
        self.peer = "nats"

    def fail(self, reason: str) -> None:
        log.warning("nats telemetry: %s", reason)

    def drop(self, reason: str) -> None:
        """The TCP server's idle timeout: NATS has no socket to close, the channels stay open."""
        log.debug("nats telemetry: %s", reason)


class NatsIngestServer(IngestServer):
    """See the module docstring. ``addr`` is ``nats://HOST:PORT[?prefix=&durable=&stream=]``."""

    def __init__(
        self,
        session: SessionLike,
        addr: str,
        *,
        durable: str = "",
        say: Any = None,
        **kw: Any,
    ) -> None:
        self.naddr: NatsAddr = parse_nats_addr(addr)
        super().__init__(session, host=self.naddr.host, port=self.naddr.port, **kw)
        self.durable = durable or self.naddr.durable
        self.jetstream = False  # reading through a JetStream durable consumer
        self._say = say or (lambda msg: print(f"am-dbg: {msg}", file=sys.stderr, flush=True))
        self._nc: Any = None
        self._subs: list[Any] = []
        self._fetcher: asyncio.Task[None] | None = None
        self._nconn = _NatsConn()
        self._last_schema: dict[str, bytes] = {}  # channel -> schema frame bytes last applied
        # channel -> txs frames before a schema, each with its JetStream message (None: core NATS)
        self._waiting: dict[str, deque[tuple[TxsFrame, Any]]] = {}
        # JetStream messages applied but not acked yet: (number of the last event they made, msg);
        # each is acked once the gate says that event is durable (in the recording on disk)
        self._unacked: deque[tuple[int, Any]] = deque()
        self._acking: set[asyncio.Task[None]] = set()
        self._n_waiting = 0
        self._alive: dict[str, float] = {}  # channel -> monotonic time of its last alive
        self._checker: asyncio.Task[None] | None = None
        self._last_hello = 0.0
        self.lost_waiting = 0  # txs dropped while waiting for a schema (over the bound)

    @property
    def url(self) -> str:
        return self.naddr.url

    async def start(self) -> tuple[str, int]:
        try:
            import nats
        except ImportError:
            from am_rpc.nats.subjects import EXTRA_HINT

            raise ListenError(0, EXTRA_HINT) from None

        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Event()
        self._idle.set()
        try:
            self._nc = await nats.connect(
                self.naddr.url,
                name="am-dbg",
                connect_timeout=5,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                error_cb=self._error,
            )
        except Exception as err:
            raise ListenError(0, f"cannot connect to NATS at {self.naddr.url}: {err}") from None
        self.stats.connections += 1
        self.stats.connected += 1
        if self.durable:
            await self._start_jetstream()
        if not self.jetstream:
            self._subs.append(
                await self._nc.subscribe(
                    self.naddr.all_machs,
                    cb=self._on_msg,
                    pending_msgs_limit=1_000_000,
                    pending_bytes_limit=1 << 30,
                )
            )
        self._subs.append(await self._nc.subscribe(self.naddr.alive, cb=self._on_alive))
        self._subs.append(await self._nc.subscribe(self.naddr.probe, cb=self._on_probe))
        self._checker = asyncio.get_running_loop().create_task(self._check_alive())
        await self._nc.flush()
        await self._nc.publish(self.naddr.hello, b"")
        await self._nc.flush()
        return self.addr

    async def _error(self, err: Exception) -> None:
        log.warning("nats %s: %s", self.naddr.url, err)

    async def _start_jetstream(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

        js = self._nc.jetstream()
        stream = self.naddr.stream
        try:
            try:
                await js.stream_info(stream)
            except Exception as err:
                if "not found" not in str(err).lower():
                    raise
                await js.add_stream(
                    StreamConfig(
                        name=stream,
                        subjects=[self.naddr.all_machs],
                        max_age=_STREAM_MAX_AGE,
                        max_bytes=_STREAM_MAX_BYTES,
                    )
                )
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                max_ack_pending=100_000,
            )
            try:
                info = await js.consumer_info(stream, self.durable)
            except Exception as err:
                if "not found" not in str(err).lower():
                    raise
            else:
                # A restart: resume in stream order from the first frame not acked. (Binding
                # the old consumer would redeliver those only after its ack wait, behind newer
                # frames, where the seq check would take them for duplicates.)
                start = int(info.ack_floor.stream_seq) + 1 if info.ack_floor else 1
                await js.delete_consumer(stream, self.durable)
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = start
            psub = await js.pull_subscribe(
                self.naddr.all_machs, durable=self.durable, stream=stream, config=config
            )
        except Exception as err:
            self._say(
                f"nats: no JetStream at {self.naddr.url} ({type(err).__name__}: {err}); "
                "falling back to core NATS: what is published while this recorder is away is lost"
            )
            return
        self.jetstream = True
        self._subs.append(psub)
        self._say(f"nats: JetStream durable consumer {self.durable!r} on stream {stream!r}")
        self._fetcher = asyncio.get_running_loop().create_task(self._fetch(psub))

    async def _fetch(self, psub: Any) -> None:
        import nats.errors

        while not self.closing:
            try:
                msgs = await psub.fetch(_FETCH, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if self.closing:
                    return
                log.warning("nats fetch: %s", err)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                if not self._frame(msg.data, msg):  # held until its schema arrives
                    continue
                self._unacked.append((self.pushed, msg))
            self._ack_durable(self.gate.durable)

    def _release(self, upto: int) -> None:
        super()._release(upto)
        self._ack_durable(upto)

    def _ack_durable(self, upto: int) -> None:
        """Ack the JetStream messages whose events are durable: a recorder killed before its
        flush leaves the rest unacked, and the next one with the same durable reads them again."""
        done = []
        while self._unacked and self._unacked[0][0] <= upto:
            done.append(self._unacked.popleft()[1])
        if done and self._loop is not None:
            task = self._loop.create_task(self._ack(done))
            self._acking.add(task)
            task.add_done_callback(self._acking.discard)

    async def _ack(self, msgs: list[Any]) -> None:
        for msg in msgs:
            try:
                await msg.ack()
            except Exception as err:  # gone with the connection: redelivered, never lost
                log.debug("nats ack: %s", err)
                return

    def _ask_schemas(self) -> None:
        """Txs of a channel without a schema (joined late, or back after going silent): ask the
        senders for their schemas again, at most once a second."""
        now = time.monotonic()
        if self._nc is None or now - self._last_hello < 1.0:
            return
        self._last_hello = now
        asyncio.get_running_loop().create_task(self._nc.publish(self.naddr.hello, b""))

    async def _on_msg(self, msg: Any) -> None:
        self._frame(msg.data)

    async def _on_alive(self, msg: Any) -> None:
        try:
            obj = unpack(msg.data)
            conns = obj.get("conns") if isinstance(obj, dict) else None
            if not isinstance(conns, list):
                raise MessageError("alive: 'conns' must be a list")
        except Exception as err:
            log.warning("nats telemetry: bad alive message ignored: %s", err)
            return
        now = time.monotonic()
        for ch in conns:
            if isinstance(ch, str):
                self._alive[ch] = now

    async def _on_probe(self, msg: Any) -> None:
        if self._nc is not None:
            await self._nc.publish(self.naddr.listening, b"")

    async def _check_alive(self) -> None:
        """Say we listen; disconnect the channels of a sender process that went silent."""
        from am_rpc.nats.dbg_link import ALIVE_EVERY

        n = 0
        while not self.closing:
            await asyncio.sleep(ALIVE_EVERY / 2)
            n += 1
            if n % 2 == 0 and self._nc is not None:
                try:
                    await self._nc.publish(self.naddr.listening, b"")
                except Exception:
                    pass
            limit = time.monotonic() - _GONE_AFTER * ALIVE_EVERY
            for ch, seen in list(self._alive.items()):
                if seen < limit:
                    del self._alive[ch]
                    if ch in self._nconn.conn_mach:
                        log.warning("nats telemetry: channel %s went silent: disconnected", ch)
                        self._last_schema.pop(ch, None)
                        self.on_disc_frame(self._nconn, DiscFrame(ch))  # type: ignore[arg-type]

    def _frame(self, data: bytes, msg: Any = None) -> bool:
        """Apply one frame; False when a txs frame waits for its schema (its ack waits too)."""
        conn = self._nconn
        try:
            frame = parse_client_frame(unpack(data))
        except (MessageError, ValueError, TypeError, Exception) as err:
            self.stats.closed_bad += 1
            log.warning("nats telemetry: bad frame ignored: %s", err)
            return True
        if isinstance(frame, SchemaFrame):
            if not frame.conn:
                return True
            if self._last_schema.get(frame.conn) == data:
                return True  # a re-sent schema this listener already has
            self._last_schema[frame.conn] = data
            self.on_schema_frame(conn, frame)  # type: ignore[arg-type]
            waiting = self._waiting.pop(frame.conn, None)
            if waiting:
                self._n_waiting -= sum(len(f.txs) for f, _ in waiting)
                for f, held in waiting:
                    self.on_txs_frame(conn, f)  # type: ignore[arg-type]
                    if held is not None:
                        self._unacked.append((self.pushed, held))
        elif isinstance(frame, TxsFrame):
            if frame.conn in conn.conn_mach:
                self.on_txs_frame(conn, frame)  # type: ignore[arg-type]
                return True
            if self._n_waiting + len(frame.txs) > _MAX_WAITING_TXS:
                self.lost_waiting += len(frame.txs)
                return True  # counted as lost (the exit summary says so): not kept unacked
            self._waiting.setdefault(frame.conn, deque()).append((frame, msg))
            self._n_waiting += len(frame.txs)
            self._ask_schemas()
            return False
        elif isinstance(frame, DiscFrame):
            self._last_schema.pop(frame.conn, None)
            self.on_disc_frame(conn, frame)  # type: ignore[arg-type]
        return True

    async def close(self) -> None:
        self.closing = True
        if self._checker is not None:
            self._checker.cancel()
        if self._fetcher is not None:
            # let a fetch under way finish: what it got is applied, flushed and acked below
            try:
                await asyncio.wait_for(asyncio.shield(self._fetcher), 5.0)
            except (TimeoutError, asyncio.CancelledError, Exception):
                self._fetcher.cancel()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:
                pass
        self._subs.clear()
        self.drain()  # applied and flushed: the acks owed go out before the connection closes
        if self._acking:
            await asyncio.wait(set(self._acking), timeout=5.0)
        if self._nc is not None:
            try:
                await self._nc.close()
            except Exception:
                pass
            self._nc = None
            self.stats.connected -= 1
        self.drain()
