"""An asyncio loop in a thread we own, so blocking ``Machine`` calls never deadlock the I/O.

The synchronous entry points (``serve``, ``connect``) run all network I/O on one of these; code that
already runs a loop uses the ``*_async`` variants instead.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("am_rpc")


class LoopThread:
    """A daemon thread running an event loop until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.stopping = False
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(self.loop)
                for t in pending:
                    t.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            finally:
                self.loop.close()

    @property
    def in_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block for its result (never call from the loop thread)."""
        if self.in_thread:
            coro.close()
            raise RuntimeError("LoopThread.run() called from its own loop thread (deadlock)")
        return self.submit(coro).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            return
        if not self.in_thread:
            self._thread.join(timeout)


class LoopOwner:
    """Closing, from any thread, an object whose I/O runs on ``self.loop``: a :class:`LoopThread`
    it owns (``self._thread``, stopped at the end) or the loop of the code that started it."""

    loop: asyncio.AbstractEventLoop | None
    _thread: LoopThread | None
    _closer: asyncio.Task[None] | None

    def _on_loop_thread(self) -> bool:
        loop = self.loop
        if loop is None:
            return False
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    def _close_blocking(self, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``close()`` to its end. On the object's own loop (a handler running inline) it
        cannot block: the close is scheduled and happens right after."""
        if self._on_loop_thread():
            assert self.loop is not None
            self._closer = self.loop.create_task(self._close_and_end(close))
            return
        untrack(self)
        thread = self._thread
        if thread is not None:
            # a stopping loop (closed from its own thread) runs nothing more: wait for its end
            if not thread.loop.is_closed() and not thread.stopping:
                with contextlib.suppress(RuntimeError, TimeoutError):
                    thread.run(close(), 10)
            thread.stop()
            self._thread = None
        elif self.loop is not None and not self.loop.is_closed():
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    async def _close_and_end(self, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        await close()
        untrack(self)
        if self._thread is not None:
            # kept: a close from another thread then waits for this loop's end (it is stopping)
            self._thread.stop()


_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def track(owner: Any) -> None:
    """Close ``owner`` (anything with ``close()``) at interpreter exit if still open.

    A client or server whose loop thread is still running at exit would otherwise have its
    pending tasks destroyed with the daemon thread ("Task was destroyed but it is pending").
    """
    _LIVE.add(owner)


def untrack(owner: Any) -> None:
    _LIVE.discard(owner)


@atexit.register
def _close_live() -> None:
    for owner in list(_LIVE):
        try:
            owner.close()
        except Exception:  # exiting anyway: say why, close the others
            log.exception("closing %r at exit failed", owner)
