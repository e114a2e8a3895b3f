"""One aRPC connection: the preamble exchange, a frame reader, numbered calls and notifications.

Both ends use it. The reader dispatches every frame in wire order to a :class:`PeerHandler`; for
responses the handler sees the body *before* the waiting caller does (and even when the caller gave up
on a timeout), which is how clock diffs stay in wire order (docs/arpc.md). Writes are one frame
per ``transport.write`` and never await, so callers can compute, move a baseline and write atomically.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import Any, Protocol

from am_rpc import codec
from am_rpc.errors import (
    CallTimeoutError,
    ConnectionClosedError,
    NotConnectedError,
    ProtocolError,
    RemoteError,
    RpcError,
)
from am_rpc.protocol import (
    ErrorReply,
    Notify,
    Request,
    Response,
    error_reply,
    notify,
    parse_envelope,
    request,
    response,
)

log = logging.getLogger("am_rpc")

_ABANDONED_MAX = 1024
_READ_SIZE = 256 * 1024


class _Direct:
    """A future-like pending entry that calls back synchronously when answered."""

    __slots__ = ("_cb", "_done")

    def __init__(self, cb: Callable[[Any, BaseException | None], None]) -> None:
        self._cb = cb
        self._done = False

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return False

    def set_result(self, value: Any) -> None:
        if not self._done:
            self._done = True
            self._cb(value, None)

    def set_exception(self, err: BaseException) -> None:
        if not self._done:
            self._done = True
            self._cb(None, err)


class PeerHandler(Protocol):
    """What a connection end does with incoming frames. Called on the loop, in wire order."""

    def on_request(self, peer: Peer, req: Request) -> None: ...

    def on_notify(self, peer: Peer, msg: Notify) -> None: ...

    def on_response(self, peer: Peer, method: int | None, body: Any) -> Any:
        """Process a response body (``method`` is None when unknown); return what the caller gets.

        Raising :class:`RpcError` hands that error to the caller instead.
        """
        ...

    def on_close(self, peer: Peer, reason: str | None) -> None: ...


class Peer:
    """A framed, bidirectional aRPC stream. ``run()`` reads until EOF or a protocol error."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handler: PeerHandler,
        *,
        max_frame: int = codec.DEFAULT_MAX_FRAME,
        caps: int = 0,
        name: str = "peer",
        max_write_buffer: int | None = None,
        read_max_frame: int | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.handler = handler
        self.max_frame = max_frame
        self.caps = caps
        self.name = name
        self.max_write_buffer = max_write_buffer or 4 * max_frame
        self.close_reason: str | None = None
        self.bytes_out = 0
        self.frames_out = 0
        self._seq = 0
        self._pending: dict[int, tuple[int, Any]] = {}  # seq -> (method, future-like)
        self._abandoned: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._closed = asyncio.Event()
        self._closing = False
        # frames read may be held smaller than max_frame until raise_read_limit (before HELLO)
        self._dec = codec.FrameDecoder(read_max_frame or max_frame)

    # -- state -------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closing

    async def wait_closed(self) -> None:
        await self._closed.wait()

    @property
    def peername(self) -> Any:
        return self.writer.get_extra_info("peername")

    # -- writing -----------------------------------------------------------------------------------

    def _write(self, obj: Any) -> None:
        if self._closing or self.writer.is_closing():
            raise NotConnectedError(f"{self.name}: connection closed")
        n = codec.write_frame(self.writer, obj, self.max_frame)
        self.bytes_out += n
        self.frames_out += 1
        transport = self.writer.transport
        if transport.get_write_buffer_size() > self.max_write_buffer:
            self.close(f"peer too slow: {transport.get_write_buffer_size()} bytes unsent")

    def notify(self, method: int, body: Any) -> None:
        """Send a notification (no response, ever)."""
        self._write(notify(method, body))

    def respond(self, seq: int, body: Any) -> None:
        if not self._closing:
            self._write(response(seq, body))

    def error(self, seq: int, code: int, message: str) -> None:
        if not self._closing:
            self._write(error_reply(seq, code, message))

    def start_call(self, method: int, body: Any) -> asyncio.Future[Any]:
        """Write a request now (synchronously) and return the future of its answer."""
        self._seq += 1
        seq = self._seq
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._write(request(seq, method, body))
        self._pending[seq] = (method, fut)
        fut.add_done_callback(lambda _f, s=seq: self._forget(s))  # type: ignore[misc]
        return fut

    def start_call_cb(
        self, method: int, body: Any, cb: Callable[[Any, BaseException | None], None]
    ) -> int:
        """Write a request now; ``cb(value, error)`` runs on the reader, synchronously (no extra
        loop iteration). Returns the seq for :meth:`abandon`."""
        self._seq += 1
        seq = self._seq
        self._write(request(seq, method, body))
        self._pending[seq] = (method, _Direct(cb))
        return seq

    def abandon(self, seq: int, err: BaseException) -> None:
        """Give up on a call: its late answer is still processed by the handler (O2), then
        dropped; the caller gets ``err`` now."""
        entry = self._pending.pop(seq, None)
        if entry is None:
            return
        self._abandoned[seq] = entry[0]
        while len(self._abandoned) > _ABANDONED_MAX:
            self._abandoned.popitem(last=False)
        if not entry[1].done():
            entry[1].set_exception(err)

    def _forget(self, seq: int) -> None:
        entry = self._pending.pop(seq, None)
        if entry is not None and entry[1].cancelled():
            # the caller gave up: a late answer must still reach the handler (O2)
            self._abandoned[seq] = entry[0]
            while len(self._abandoned) > _ABANDONED_MAX:
                self._abandoned.popitem(last=False)

    async def wait_call(self, fut: asyncio.Future[Any], timeout: float | None) -> Any:
        """Await an answer; cancel the future after ``timeout`` (a timer, not a wrapper task)."""
        if timeout is None:
            return await fut
        fired = False

        def expire() -> None:
            nonlocal fired
            fired = True
            fut.cancel()

        timer = asyncio.get_running_loop().call_later(timeout, expire)
        try:
            return await fut
        except asyncio.CancelledError:
            if fired:
                raise CallTimeoutError(f"{self.name}: no answer within {timeout}s") from None
            raise
        finally:
            timer.cancel()

    async def call(self, method: int, body: Any, timeout: float | None = None) -> Any:
        """Send a request and wait for its answer (:class:`RemoteError` for ERROR frames)."""
        return await self.wait_call(self.start_call(method, body), timeout)

    # -- reading -----------------------------------------------------------------------------------

    def raise_read_limit(self) -> None:
        """Accept frames up to ``max_frame`` from now on (the peer has authenticated)."""
        self._dec.max_frame = self.max_frame

    async def run(self) -> None:
        """Read and dispatch frames until the stream ends; then fail pending calls and close."""
        reason: str | None = None
        dec = self._dec
        read = self.reader.read
        try:
            while not self._closing:
                data = await read(_READ_SIZE)
                if not data:
                    dec.eof()  # raises if the stream ended inside a frame
                    raise ConnectionClosedError("peer closed the connection")
                # one read may carry many frames: dispatch them in wire order, synchronously
                for obj in dec.feed(data):
                    self._dispatch(parse_envelope(obj))
                    if self._closing:
                        break
        except ConnectionClosedError:
            reason = None
        except ProtocolError as err:
            reason = f"protocol error: {err}"
            log.warning("%s: closing connection from %s: %s", self.name, self.peername, err)
        except (ConnectionError, OSError) as err:
            reason = f"connection error: {err}"
        except asyncio.CancelledError:
            reason = self.close_reason or "cancelled"
            raise
        finally:
            self.close(self.close_reason or reason)
            self._closed.set()

    def _dispatch(self, env: Request | Notify | Response | ErrorReply) -> None:
        if isinstance(env, Request | Notify):
            try:
                if isinstance(env, Request):
                    self.handler.on_request(self, env)
                else:
                    self.handler.on_notify(self, env)
            except (ProtocolError, NotConnectedError):
                raise
            except Exception as err:
                # a bug or a failing user hook must cost one answer, not the connection
                log.exception("%s: handling %s failed", self.name, env)
                if isinstance(env, Request) and not self._closing:
                    self._write(error_reply(env.seq, 9, f"internal: {err}"))
        else:
            entry = self._pending.pop(env.seq, None)
            method = entry[0] if entry else self._abandoned.pop(env.seq, None)
            fut = entry[1] if entry else None
            if isinstance(env, ErrorReply):
                if fut is not None and not fut.done():
                    fut.set_exception(RemoteError(env.code, env.message))
                return
            try:
                value = self.handler.on_response(self, method, env.body)
            except Exception as err:
                if not isinstance(err, RpcError):
                    log.exception("%s: handling a response failed", self.name)
                    err = RpcError(f"invalid response: {err}")
                if fut is not None and not fut.done():
                    fut.set_exception(err)
                return
            if fut is not None and not fut.done():
                fut.set_result(value)

    # -- closing -----------------------------------------------------------------------------------

    def close(self, reason: str | None = None) -> None:
        """Close the transport and fail pending calls. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self.close_reason = self.close_reason or reason
        for _method, fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(NotConnectedError(f"{self.name}: connection closed"))
        self._pending.clear()
        try:
            self.writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass
        try:
            self.handler.on_close(self, self.close_reason)
        except Exception:
            log.exception("%s: on_close failed", self.name)


async def exchange_preamble_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, caps: int, timeout: float
) -> int:
    """Client side: send our preamble, read the server's; return the effective capabilities."""
    codec.write_preamble(writer, caps)
    await writer.drain()
    pre = await asyncio.wait_for(codec.read_preamble(reader), timeout)
    return int(codec.negotiate(caps, pre.caps))


async def exchange_preamble_server(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, caps: int, timeout: float
) -> int:
    """Server side: read the client's preamble first, then answer with ours."""
    pre = await asyncio.wait_for(codec.read_preamble(reader), timeout)
    codec.write_preamble(writer, caps)
    await writer.drain()
    return int(codec.negotiate(caps, pre.caps))


def spawn(coro: Any, tasks: set[asyncio.Task[Any]], name: str = "") -> asyncio.Task[Any]:
    """Start a task and keep a strong reference until it ends (errors are logged, not lost)."""
    task = asyncio.get_running_loop().create_task(coro, name=name or None)
    tasks.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        tasks.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("task %s failed", t.get_name(), exc_info=t.exception())

    task.add_done_callback(done)
    return task
