"""Cancellation tokens usable from threads and asyncio (Go's ``context.Context``, the parts we need).

A :class:`Ctx` is a :class:`~am_core.waiting.Latch` that is closed by ``cancel()``: ``done()``,
``wait(timeout)``, ``await ctx``, ``err()``. A child is cancelled with its parent and forgets its
parent once cancelled, so a long-lived parent (the machine's context) does not accumulate dead
children. State contexts (``Machine.new_state_ctx``) are ``Ctx`` objects whose ``value`` is
``{"id": machine id, "state": name, "tick": tick, "event": event or None}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .errors import AmError
from .waiting import Latch

__all__ = ["Ctx", "CtxCanceledError", "CtxDeadlineError"]


class CtxCanceledError(AmError):
    """The context was cancelled (Go's ``context.Canceled``); for a state context: the state's tick
    changed. An expired context is a reason to stop quietly, not a failure."""

    sentinel = "context canceled"


class CtxDeadlineError(CtxCanceledError):
    """The context's timeout passed (Go's ``context.DeadlineExceeded``)."""

    sentinel = "context deadline exceeded"


class Ctx(Latch):
    """Cancellation token: ``done()``, ``cancel()``, ``err()``, ``wait(timeout)``, ``await ctx``.

    ``Ctx(parent)`` is cancelled with ``parent``; ``Ctx(timeout=1.5)`` cancels itself after 1.5 s
    (``err()`` is then a :class:`CtxDeadlineError`). Callbacks registered with ``on_done`` run once,
    in the cancelling thread (or immediately when already done).
    """

    __slots__ = ("_err", "_parent", "_parent_token", "_timer", "value")

    def __init__(
        self, parent: Ctx | None = None, value: Any = None, *, timeout: float | None = None
    ) -> None:
        super().__init__()
        self.value = value
        self._err: CtxCanceledError | None = None
        self._parent: Ctx | None = None
        self._parent_token = -1
        self._timer: threading.Timer | None = None
        if parent is not None:
            self._parent = parent
            self._parent_token = parent.add_done_callback(self._cancel_by_parent)
        if timeout is not None and not self._closed:
            timer = threading.Timer(max(0.0, timeout), self._cancel_by_deadline)
            timer.daemon = True
            self._timer = timer
            timer.start()

    def cancel(self) -> None:
        """Cancel it and every child. Idempotent."""
        self._cancel(None)

    def err(self) -> CtxCanceledError | None:
        """None while alive, then why it ended (Go's ``ctx.Err()``)."""
        if not self._closed:
            return None
        return self._err or CtxCanceledError()

    def on_done(self, fn: Callable[[], Any]) -> int:
        """Run ``fn()`` once cancelled; alias of ``add_done_callback``."""
        return self.add_done_callback(fn)

    def parent(self) -> Ctx | None:
        return self._parent

    def _cancel_by_parent(self) -> None:
        parent = self._parent
        self._cancel(parent.err() if parent is not None else None)

    def _cancel_by_deadline(self) -> None:
        self._cancel(CtxDeadlineError())

    def _cancel(self, err: CtxCanceledError | None) -> None:
        if self._closed:
            return
        self._err = err  # None: a plain cancel; err() builds the error only when asked
        if not self._close():
            return
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        parent, token = self._parent, self._parent_token
        if parent is not None and token >= 0:
            parent.remove_done_callback(token)
            self._parent_token = -1

    def _label(self) -> str:
        return repr(self.value) if self.value is not None else ""
