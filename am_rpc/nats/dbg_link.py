"""Telemetry to am-dbg over NATS: the `DbgLink` counterpart for ``nats://`` addresses.

Same rules as the TCP link (docs/protocol.md): the machine thread only fills its bounded
`Outbox`; an asyncio loop (the caller's, or the shared sender thread) publishes. Every machine of
a loop shares one NATS connection (`_NatsMux`); each publishes its frames (the msgpack maps of the
TCP protocol, one per NATS message, without the length prefix) on its own subject. There is no
listener to ack: a frame counts as delivered once handed to a connected client. While NATS is
away nothing is taken from the outbox, so it absorbs the gap and then drops the oldest, counted
in the next frame's ``dropped``. A listener that starts later asks on ``<prefix>.hello`` and
every machine re-sends its schema.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import nats

from am_rpc.codec import pack
from am_rpc.dbg.frames import KIND_DISC, KIND_SCHEMA, KIND_TXS
from am_rpc.dbg.link import LinkStats, _Hub, shared_loop
from am_rpc.dbg.outbox import Outbox
from am_rpc.dbg.protocol import SchemaMsg
from am_rpc.nats.subjects import NatsAddr, parse_nats_addr

__all__ = ["ALIVE_EVERY", "NatsDbgLink"]

log = logging.getLogger("am_rpc.dbg")

_TAKE_BYTES = 256 << 10  # one NATS message stays well under the server's 1 MiB max_payload
_YIELD_EVERY = 64  # publishes between loop yields
ALIVE_EVERY = 2.0
"""Seconds between a sender process's ``alive`` messages and a listener's ``listening``."""
LISTENER_GONE = 3 * ALIVE_EVERY
"""No ``listening`` for this long: nobody listens, the outbox keeps (and bounds) what comes."""


class _NatsMux:
    """One NATS connection of one loop to one server, shared by every machine's link."""

    _lock = threading.Lock()
    _muxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _NatsMux]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, addr: NatsAddr) -> None:
        self.loop = loop
        self.addr = addr
        self.key = f"{addr.url}|{addr.prefix}"
        self.links: set[NatsDbgLink] = set()
        self.nc: Any = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self._dirty: set[NatsDbgLink] = set()
        self.listener_seen = -LISTENER_GONE  # monotonic time a listener last said it is there
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    def attach(cls, link: NatsDbgLink) -> _NatsMux:
        with cls._lock:
            per_loop = cls._muxes.setdefault(link.loop, {})
            key = f"{link.naddr.url}|{link.naddr.prefix}"
            mux = per_loop.get(key)
            if mux is None or mux.closed:
                mux = per_loop[key] = cls(link.loop, link.naddr)
        mux.links.add(link)
        if mux.connected:
            link.connects += 1
        if mux.task is None:
            mux.task = link.loop.create_task(mux._run())
        return mux

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    @property
    def listened(self) -> bool:
        """Some listener said it is there lately: publishing now reaches someone."""
        return time.monotonic() - self.listener_seen < LISTENER_GONE

    async def _run(self) -> None:
        delay = 0.05
        while not self.closed:
            try:
                self.nc = await nats.connect(
                    self.addr.url,
                    name="am-dbg-sender",
                    connect_timeout=5,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
                break
            except Exception:  # refused, no servers: retry with backoff
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        if self.closed:
            return
        await self.nc.subscribe(self.addr.hello, cb=self._on_hello)
        await self.nc.subscribe(self.addr.listening, cb=self._on_listening)
        await self.nc.publish(self.addr.probe, b"")  # listeners answer on `listening`
        for link in self.links:
            link.connects += 1
        self.flush(list(self.links))
        while not self.closed:  # liveness: listeners disconnect channels of a silent process
            if self.connected and self.links:
                chans = sorted(link.channel for link in self.links)
                try:
                    await self.nc.publish(self.addr.alive, pack({"k": "alive", "conns": chans}))
                except Exception:
                    pass
            await asyncio.sleep(ALIVE_EVERY)

    async def _reconnected(self) -> None:
        for link in self.links:
            link.connects += 1
        self.flush(list(self.links))

    async def _error(self, err: Exception) -> None:
        log.debug("nats telemetry %s: %s", self.addr.url, err)

    async def _on_listening(self, msg: Any) -> None:
        was = self.listened
        self.listener_seen = time.monotonic()
        if not was:
            self.flush(list(self.links))

    async def _on_hello(self, msg: Any) -> None:
        """A new listener: every machine re-sends its schema (in order with its txs)."""
        self.listener_seen = time.monotonic()
        for link in list(self.links):
            link.outbox.put_schema(link.schema())
        self.flush(list(self.links))

    def flush(self, links: list[NatsDbgLink]) -> None:
        """Publish what these links have waiting (loop thread; the work runs as one task)."""
        self._dirty.update(links)
        if self._flusher is None or self._flusher.done():
            self._flusher = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        n = 0
        while self._dirty and self.connected and self.listened:
            link = self._dirty.pop()
            for subject, payload, seq in link.messages():
                try:
                    await self.nc.publish(subject, payload)
                except Exception as err:  # too big, or the connection went away mid-flush
                    log.warning("telemetry of %s not published: %s", link.name, err)
                    if not self.connected:
                        link.outbox.rewind()
                        self._dirty.add(link)
                        return
                if seq:
                    link.outbox.ack(seq)
                n += 1
                if n % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            link.notify_idle()

    async def detach(self, link: NatsDbgLink) -> None:
        self.links.discard(link)
        self._dirty.discard(link)
        if self.connected:
            try:
                await self.nc.publish(link.subject, pack({"k": KIND_DISC, "conn": link.channel}))
            except Exception:
                pass
        if self.links:
            return
        self.closed = True
        with self._lock:
            per_loop = self._muxes.get(self.loop, {})
            if per_loop.get(self.key) is self:
                del per_loop[self.key]
        if self.nc is not None:
            try:
                await self.nc.flush(timeout=2)
            except Exception:
                pass
            await self.nc.close()
        if self.task is not None and not self.task.done():
            self.task.cancel()


class NatsDbgLink:
    """Publishes one machine's outbox on ``<prefix>.m.<machine>`` (see the module docstring)."""

    def __init__(
        self,
        addr: str,
        schema: Callable[[], SchemaMsg],
        *,
        outbox: Outbox,
        loop: asyncio.AbstractEventLoop | None = None,
        name: str = "",
    ) -> None:
        self.naddr = parse_nats_addr(addr)
        self.addr = addr
        self.name = name
        self.subject = self.naddr.mach_subject(name)
        self.schema = schema
        self.outbox = outbox
        self.loop = loop or shared_loop()
        self.channel = secrets.token_hex(8)  # this machine instance's channel, for listeners
        self.connects = 0
        self._closing = False
        self._schema_sent = False
        self._hub = _Hub.of(self.loop)
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._attached = threading.Event()
        self.mux: _NatsMux
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._attach()
        elif not self.loop.is_running():
            self.loop.call_soon(self._attach)
        else:
            self.loop.call_soon_threadsafe(self._attach)
            self._attached.wait(10)

    def _attach(self) -> None:
        self.mux = _NatsMux.attach(self)
        self._attached.set()
        self.wake()

    # -- any thread -------------------------------------------------------------------------

    def wake(self) -> None:
        self._hub.wake(self)  # type: ignore[arg-type]  # the hub only needs attached/mux.flush

    @property
    def attached(self) -> bool:
        return self._attached.is_set()

    def stats(self) -> LinkStats:
        s = self.outbox.stats()
        connected = self.attached and self.mux.connected
        return LinkStats(connected, self.connects, s.produced, s.acked, s.dropped, s.queued)

    # -- loop -------------------------------------------------------------------------------

    def messages(self) -> list[tuple[str, bytes, int]]:
        """``(subject, payload, last seq in it or 0)`` of everything not yet published."""
        out: list[tuple[str, bytes, int]] = []
        outbox, ch, subj = self.outbox, self.channel, self.subject
        if not self._schema_sent or outbox.schema_lost:
            self._schema_sent = True
            outbox.schema_lost = False
            frame = {"k": KIND_SCHEMA, "schema": self.schema().to_wire(), "conn": ch}
            out.append((subj, pack(frame), 0))
        while True:
            schema, seq, txs, dropped = outbox.take(max_bytes=_TAKE_BYTES)
            if schema is not None:
                frame = {"k": KIND_SCHEMA, "schema": schema.to_wire(), "conn": ch}
                out.append((subj, pack(frame), 0))
                continue
            if not txs:
                return out
            tx_frame: dict[str, object] = {"k": KIND_TXS, "seq": seq, "txs": txs, "conn": ch}
            if dropped:
                tx_frame["dropped"] = dropped
            out.append((subj, pack(tx_frame), seq + len(txs) - 1))

    def notify_idle(self) -> None:
        if self._idle_waiters and self.outbox.delivered():
            for fut in self._idle_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._idle_waiters.clear()

    def _confirmed(self) -> bool:
        return (
            self.attached and self.mux.connected and self.mux.listened and self.outbox.delivered()
        )

    async def aclose(self, timeout: float = 2.0) -> bool:
        """Publish everything (waiting up to ``timeout`` for NATS), then leave."""
        if self._closing:
            return self._confirmed()
        if not self._attached.is_set():
            self._attach()
        self.mux.flush([self])
        ok = self._confirmed()
        if not ok:
            fut = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(fut)
            try:
                await asyncio.wait_for(fut, timeout)
                ok = True
            except TimeoutError:
                ok = False
        self._closing = True
        await self.mux.detach(self)
        return ok

    def close(self, timeout: float = 2.0) -> bool:
        """Flush and leave; from another thread it blocks up to ``timeout`` (see DbgLink)."""
        if self.loop.is_closed():
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.loop.create_task(self.aclose(timeout))
            return self._confirmed()
        fut = asyncio.run_coroutine_threadsafe(self.aclose(timeout), self.loop)
        try:
            return fut.result(timeout + 3.0)
        except Exception:
            return False
