"""One-shot signals usable from asyncio and from plain threads: :class:`Latch` and :class:`Waiter`.

Go closes a channel; we close a latch. A latch closes once, from any thread. Threads block on it
with ``wait(timeout)``; coroutines ``await`` it (the awaiting loop is woken with
``call_soon_threadsafe`` when another thread closes it). Callbacks let helpers and contexts chain
latches without a thread per wait.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback
from collections.abc import Callable, Generator
from typing import Any

__all__ = ["Latch", "Waiter"]


def _call_safely(fn: Callable[[], Any]) -> None:
    """Run a close callback; a failing callback is reported, never breaks the closing thread."""
    try:
        fn()
    except Exception:
        sys.stderr.write("am_core: exception in a waiter callback\n")
        traceback.print_exc()


class Latch:
    """A signal that is closed once: ``done()``, ``wait(timeout)``, ``await latch``.

    ``add_done_callback(fn)`` runs ``fn()`` when closed (immediately, in the calling thread, if
    already closed) and returns a token for ``remove_done_callback``.
    """

    __slots__ = ("__weakref__", "_callbacks", "_closed", "_event", "_lock", "_next_token")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._event: threading.Event | None = None
        self._callbacks: dict[int, Callable[[], Any]] | None = None
        self._next_token = 0

    def done(self) -> bool:
        """True once closed."""
        return self._closed

    def _close(self) -> bool:
        """Close it and run the callbacks in this thread. True if this call closed it."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            cbs = self._callbacks
            self._callbacks = None
            ev = self._event
        if ev is not None:
            ev.set()
        if cbs:
            for fn in cbs.values():
                _call_safely(fn)
        return True

    def add_done_callback(self, fn: Callable[[], Any]) -> int:
        """Call ``fn()`` once closed; returns a token (``-1`` when it already ran)."""
        with self._lock:
            if not self._closed:
                token = self._next_token
                self._next_token += 1
                if self._callbacks is None:
                    self._callbacks = {}
                self._callbacks[token] = fn
                return token
        _call_safely(fn)
        return -1

    def remove_done_callback(self, token: int) -> None:
        """Forget a callback that is no longer wanted (no-op if unknown or already run)."""
        if token < 0:
            return
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.pop(token, None)

    def wait(self, timeout: float | None = None) -> bool:
        """Block this thread until closed; False if ``timeout`` (seconds) passed first.

        Never call it from a handler for a condition that the same queue must produce: the
        handler would block the queue that closes it.
        """
        if self._closed:
            return True
        with self._lock:
            if self._closed:
                return True
            if self._event is None:
                self._event = threading.Event()
            ev = self._event
        return ev.wait(timeout)

    def __await__(self) -> Generator[Any, None, None]:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                if not fut.done():
                    fut.set_result(None)
                return
            try:
                loop.call_soon_threadsafe(_resolve, fut)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more

        token = self.add_done_callback(wake)
        if token >= 0:
            # a cancelled await must not leave its callback behind on a long-lived latch
            fut.add_done_callback(lambda _f: self.remove_done_callback(token))
        yield from fut.__await__()

    def _label(self) -> str:
        return ""

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        label = self._label()
        return f"{type(self).__name__}({label + ' ' if label else ''}{state})"


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Waiter(Latch):
    """What every ``when*`` method returns: closed once its condition held (or it was given up).

    Like a closed Go channel, a closed waiter says "stop waiting", not why: a waiter bound to a
    context is also closed when that context expired (lazily, at the machine's next accepted
    transition) and every pending waiter is closed when the machine is disposed. Check the
    machine or the context afterwards when the reason matters.
    """

    __slots__ = ("label",)

    def __init__(self, label: str = "") -> None:
        super().__init__()
        self.label = label

    @classmethod
    def closed(cls, label: str = "") -> Waiter:
        """A waiter that is already closed."""
        w = cls(label)
        w._closed = True
        return w

    def close(self) -> bool:
        """Close it (for producers: machines, remote machines). True if this call closed it."""
        return self._close()

    def _label(self) -> str:
        return self.label
