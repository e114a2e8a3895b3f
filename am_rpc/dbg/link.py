"""The sender's network side: every machine of a process shares one connection per debugger.

The machine thread only touches its `Outbox` and asks for a wake-up; everything else happens on an
asyncio loop. Plain-thread programs share one daemon thread running a loop (:func:`shared_loop`);
asyncio programs use their running loop.

Each machine is a *channel* (`DbgLink`) of a `_Mux`, the one connection of that loop to that
debugger address: frames carry the channel id in ``"conn"``, acks name it back. Multiplexing is
what keeps hundreds of machines in one process cheap: a flush of every machine that produced
something is *one* socket write, where a connection per machine costs a write (and, with busy
threads, a GIL hand-off back to the loop thread) per machine. The mux dials with backoff, opens
every channel on each new connection (a fresh channel id, then the schema with the session token,
then every unacked tx again), writes while the socket accepts (``pause_writing`` stops it, the
outboxes absorb the rest), and closes the connection when its last channel closes.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import random
import secrets
import socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from am_rpc.codec import FrameDecoder, encode_frame, encode_preamble
from am_rpc.dbg.frames import (
    KIND_DISC,
    KIND_HELLO,
    KIND_SCHEMA,
    KIND_TXS,
    MAGIC,
    AckFrame,
    parse_server_frame,
)
from am_rpc.dbg.outbox import Outbox
from am_rpc.dbg.protocol import MessageError, SchemaMsg
from am_rpc.errors import ProtocolError

__all__ = ["DbgLink", "LinkStats", "shared_loop"]

log = logging.getLogger("am_rpc.dbg")

_CONNECT_TIMEOUT = 5.0
_FLUSH_BYTES = 4 << 20  # at most this much per socket write; the rest waits for the next flush


class _SharedLoop:
    """One daemon thread + loop for every sender of the process that has no loop of its own."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name="am-dbg-sender", daemon=True).start()
                ready.wait()
                cls._loop = loop
                atexit.register(_flush_at_exit, loop)
            return cls._loop


_EXIT_FLUSH_TIMEOUT = 1.0


def _flush_at_exit(loop: asyncio.AbstractEventLoop) -> None:
    """A script that ends without closing its tracers still delivers what they produced (for at
    most a second; the daemon loop thread is still running while atexit handlers run)."""
    if loop.is_closed() or not loop.is_running():
        return

    async def flush_all() -> None:
        links = [link for mux in _Mux._muxes.get(loop, {}).values() for link in mux.links]
        waiting = [link.aclose(_EXIT_FLUSH_TIMEOUT) for link in links if not link._confirmed()]
        if waiting:
            await asyncio.gather(*waiting, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(flush_all(), loop).result(_EXIT_FLUSH_TIMEOUT + 0.5)
    except Exception:
        pass


def shared_loop() -> asyncio.AbstractEventLoop:
    """The process-wide background loop used by senders created outside asyncio."""
    return _SharedLoop.get()


class _Hub:
    """Coalesces wake-ups of every link on one loop: at most one cross-thread wake per
    ``delay``, however many machines produce. Waking the loop once per message would make every
    transition pay a self-pipe write and a GIL hand-off to the loop thread."""

    _lock = threading.Lock()
    _hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self.loop = loop
        self.delay = delay
        self.lock = threading.Lock()
        self.dirty: set[DbgLink] = set()
        self.pending = False
        self.thread: int | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop, delay: float = 0.003) -> _Hub:
        with cls._lock:
            hub = cls._hubs.get(loop)
            if hub is None:
                hub = cls._hubs[loop] = cls(loop, delay)
            return hub

    def wake(self, link: DbgLink) -> None:
        with self.lock:
            self.dirty.add(link)
            if self.pending:
                return
            self.pending = True
        if threading.get_ident() == self.thread:
            self.loop.call_later(self.delay, self._flush)
        else:
            try:
                self.loop.call_soon_threadsafe(self._later)
            except RuntimeError:  # loop closed (interpreter exit)
                pass

    def _later(self) -> None:
        self.thread = threading.get_ident()
        self.loop.call_later(self.delay, self._flush)

    def _flush(self) -> None:
        with self.lock:
            dirty, self.dirty = self.dirty, set()
            self.pending = False
        by_mux: dict[_Mux, list[DbgLink]] = {}
        for link in dirty:
            if link.attached:  # the others flush once attached
                by_mux.setdefault(link.mux, []).append(link)
        for mux, links in by_mux.items():
            mux.flush(links)


@dataclass(frozen=True, slots=True)
class LinkStats:
    connected: bool
    connects: int  # connections this machine was opened on, the first included
    produced: int  # tx messages queued by the machine
    acked: int  # seq of the last tx the debugger confirmed
    dropped: int  # tx messages lost to outbox overflow
    queued: int  # messages waiting in the outbox (unsent or unacked)


class _Proto(asyncio.Protocol):
    def __init__(self, mux: _Mux) -> None:
        self.mux = mux
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder(expect_preamble=True, magic=MAGIC)
        self.paused = False
        self.acked = False  # the debugger confirmed something on this connection
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            for obj in self.decoder.feed(data):
                frame = parse_server_frame(obj)
                if isinstance(frame, AckFrame):
                    self.acked = True
                    self.mux.on_ack(frame)
                else:
                    log.warning("am-dbg at %s refused us: %s", self.mux.addr, frame.msg)
        except (ProtocolError, MessageError) as err:
            log.warning("bad data from am-dbg at %s: %s", self.mux.addr, err)
            if self.transport is not None:
                self.transport.close()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.mux.flush(list(self.mux.links))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class _Mux:
    """The connection of one loop to one debugger address, shared by every machine's channel."""

    _lock = threading.Lock()
    _muxes: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, dict[tuple[str, int, str], _Mux]
    ] = weakref.WeakKeyDictionary()

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        backoff: tuple[float, float],
        secret: str = "",
    ) -> None:
        self.loop = loop
        self.host = host
        self.port = port
        self.secret = secret  # presented in a hello frame first thing on every connection
        self.addr = f"{host}:{port}"
        self.backoff = backoff
        self.links: set[DbgLink] = set()  # loop thread only
        self.channels: dict[str, DbgLink] = {}  # channel id -> link, on the live connection
        self.proto: _Proto | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    @classmethod
    def attach(
        cls,
        link: DbgLink,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        backoff: tuple[float, float],
        secret: str = "",
    ) -> _Mux:
        """The mux for (loop, address, secret), created on first use (loop thread only)."""
        with cls._lock:
            per_loop = cls._muxes.setdefault(loop, {})
            mux = per_loop.get((host, port, secret))
            if mux is None or mux.closed:
                mux = per_loop[(host, port, secret)] = cls(loop, host, port, backoff, secret)
        mux.links.add(link)
        if mux.task is None:
            mux.task = loop.create_task(mux._run())
        elif mux.proto is not None and mux.proto.transport is not None:
            mux.proto.transport.write(b"".join(mux._open(link)))
        return mux

    def detach(self, link: DbgLink) -> None:
        """A machine is done: tell the debugger, and hang up after the last one (loop thread)."""
        self.links.discard(link)
        proto = self.proto
        opened = bool(link.channel) and self.channels.pop(link.channel, None) is not None
        if opened and proto is not None and proto.transport is not None:
            proto.transport.write(encode_frame({"k": KIND_DISC, "conn": link.channel}))
        link.channel = ""
        if self.links:
            return
        self.closed = True
        with self._lock:
            per_loop = self._muxes.get(self.loop, {})
            if per_loop.get((self.host, self.port, self.secret)) is self:
                del per_loop[(self.host, self.port, self.secret)]
        if proto is not None and proto.transport is not None:
            proto.transport.close()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    @property
    def connected(self) -> bool:
        return self.proto is not None

    def _open(self, link: DbgLink) -> list[bytes]:
        """Open ``link`` as a new channel of the live connection: its frames, schema first."""
        link.channel = secrets.token_hex(8)
        link.channel_acked = False
        link.connects += 1
        self.channels[link.channel] = link
        link.outbox.rewind()
        schema = link.schema().to_wire()
        return [encode_frame({"k": KIND_SCHEMA, "schema": schema, "conn": link.channel})]

    def on_ack(self, frame: AckFrame) -> None:
        link = self.channels.get(frame.conn)
        if link is not None:
            link.on_ack(frame.seq)

    def flush(self, links: list[DbgLink]) -> None:
        """Write what these links have waiting, in one socket write (loop thread only)."""
        proto = self.proto
        if proto is None or proto.transport is None or proto.paused:
            return
        parts: list[bytes] = []
        size = 0
        rest: list[DbgLink] = []
        for link in links:
            if size >= _FLUSH_BYTES:
                rest.append(link)
                continue
            if link.channel:
                for frame in link.frames():
                    parts.append(frame)
                    size += len(frame)
        if parts:
            proto.transport.write(b"".join(parts))
        for link in rest:
            link.wake()

    async def _dial(self, loop: asyncio.AbstractEventLoop) -> _Proto:
        try:
            _, proto = await loop.create_connection(lambda: _Proto(self), self.host, self.port)
        except RuntimeError:
            # At interpreter exit (the atexit flush) the loop can no longer start the executor
            # thread that resolves host names: resolve here, then dial the addresses directly.
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            err: OSError = OSError(f"cannot resolve {self.addr}")
            for family, _, _, _, sockaddr in infos:
                try:
                    _, proto = await loop.create_connection(
                        lambda: _Proto(self), str(sockaddr[0]), int(sockaddr[1]), family=family
                    )
                    break
                except OSError as e:
                    err = e
            else:
                raise err from None
        assert isinstance(proto, _Proto)
        return proto

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.backoff[0]
        while not self.closed:
            try:
                proto = await asyncio.wait_for(self._dial(loop), _CONNECT_TIMEOUT)
            except (OSError, TimeoutError, RuntimeError):
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff[1])
                continue
            assert isinstance(proto, _Proto) and proto.transport is not None
            parts = [encode_preamble(magic=MAGIC)]
            if self.secret:
                parts.append(encode_frame({"k": KIND_HELLO, "token": self.secret}))
            for link in self.links:
                parts.extend(self._open(link))
            proto.transport.write(b"".join(parts))
            self.proto = proto
            self.flush(list(self.links))
            await proto.lost
            self.proto = None
            for link in self.channels.values():
                link.channel = ""
            self.channels.clear()
            if proto.acked:
                delay = self.backoff[0]  # a working connection: come back at once
            else:  # refused or broken at once: do not hammer the debugger
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.backoff[1])


class DbgLink:
    """Delivers one machine's outbox to am-dbg: a channel of the loop's connection to ``addr``."""

    def __init__(
        self,
        host: str,
        port: int,
        schema: Callable[[], SchemaMsg],
        *,
        outbox: Outbox,
        loop: asyncio.AbstractEventLoop | None = None,
        name: str = "",
        backoff: tuple[float, float] = (0.05, 2.0),
        secret: str | None = None,
    ) -> None:
        self.host = host
        # the debugger's shared secret (docs/protocol.md, "Authentication"); None: $AM_DBG_TOKEN
        self.secret = os.environ.get("AM_DBG_TOKEN", "") if secret is None else secret
        self.port = port
        self.addr = f"{host}:{port}"
        self.name = name
        self.schema = schema
        self.outbox = outbox
        self.loop = loop or shared_loop()
        self.backoff = backoff
        self.connects = 0
        self.channel = ""  # id of this machine's channel on the live connection ("" = none)
        self.channel_acked = False  # the debugger answered on this channel
        self._closing = False
        self._hub = _Hub.of(self.loop)
        self._loop_thread: int | None = None
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._attached = threading.Event()
        self.mux: _Mux
        if _running_loop() is self.loop:
            self._loop_thread = threading.get_ident()
            self._attach()
        elif not self.loop.is_running():  # attached when the loop runs
            self.loop.call_soon(self._attach)
        else:
            self.loop.call_soon_threadsafe(self._attach)
            self._attached.wait(10)

    def _attach(self) -> None:
        self._loop_thread = threading.get_ident()
        self.mux = _Mux.attach(self, self.loop, self.host, self.port, self.backoff, self.secret)
        self._attached.set()
        self.wake()

    # -- any thread -------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to flush the outbox soon (cheap; coalesced across every link)."""
        self._hub.wake(self)

    def stats(self) -> LinkStats:
        s = self.outbox.stats()
        return LinkStats(
            bool(self.channel), self.connects, s.produced, s.acked, s.dropped, s.queued
        )

    # -- loop -------------------------------------------------------------------------------

    def frames(self) -> list[bytes]:
        """Frames of everything not yet written on this channel (loop thread only)."""
        out: list[bytes] = []
        outbox = self.outbox
        ch = self.channel
        if outbox.schema_lost:
            outbox.schema_lost = False
            out.append(
                encode_frame({"k": KIND_SCHEMA, "schema": self.schema().to_wire(), "conn": ch})
            )
        while True:
            schema, seq, txs, dropped = outbox.take()
            if schema is not None:
                out.append(encode_frame({"k": KIND_SCHEMA, "schema": schema.to_wire(), "conn": ch}))
                continue
            if not txs:
                return out
            frame: dict[str, object] = {"k": KIND_TXS, "seq": seq, "txs": txs, "conn": ch}
            if dropped:
                frame["dropped"] = dropped
            out.append(encode_frame(frame))

    @property
    def attached(self) -> bool:
        return self._attached.is_set()

    def flush(self) -> None:
        if self._attached.is_set():
            self.mux.flush([self])

    def on_ack(self, seq: int) -> None:
        self.channel_acked = True
        self.outbox.ack(seq)
        if self._idle_waiters and self.outbox.delivered():
            for fut in self._idle_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._idle_waiters.clear()

    def _confirmed(self) -> bool:
        return bool(self.channel) and self.channel_acked and self.outbox.delivered()

    async def aclose(self, timeout: float = 2.0) -> bool:
        """Wait (up to ``timeout``) until the debugger confirmed everything, then leave."""
        if self._closing:
            return self._confirmed()
        if not self._attached.is_set():
            self._attach()
        self.flush()
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
        self.mux.detach(self)
        return ok

    def close(self, timeout: float = 2.0) -> bool:
        """Flush and leave. From another thread it blocks up to ``timeout`` and returns whether
        everything was delivered; on the link's own loop it schedules that and returns."""
        if self.loop.is_closed():
            return False
        if threading.get_ident() == self._loop_thread:
            self.loop.create_task(self.aclose(timeout))
            return self._confirmed()
        fut = asyncio.run_coroutine_threadsafe(self.aclose(timeout), self.loop)
        try:
            return fut.result(timeout + 1.0)
        except Exception:
            return False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
