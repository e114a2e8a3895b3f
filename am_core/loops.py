"""Guards and tickers for code that loops (Go ``pkg/helpers`` ``StateLoop`` and ``Interval``).

:class:`StateLoop` stops a loop tied to a state once that state changed, its context ended or it
spun more than ``max_iter`` times within ``window`` seconds (then ``LoopError`` goes to the
machine's ``Exception``). :func:`interval` / :func:`interval_async` call a function every
``every`` seconds for at most ``length`` seconds. See docs/helpers.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .ctx import Ctx
from .errors import AmError, StateUnknownError

if TYPE_CHECKING:
    from .machine import Machine

__all__ = ["LoopError", "StateLoop", "interval", "interval_async"]


class LoopError(AmError):
    """A :class:`StateLoop` ran more iterations within its window than allowed."""

    sentinel = "runaway loop"


class StateLoop:
    """A guard for ``while loop.ok(ctx):`` inside a state's handler or its forked work.

    ``ok`` is False once: the context ended; ``loop_state`` is no longer in the activation it was
    in when the guard was made (its tick changed); ``check()`` returned False; or ``ok`` was called
    more than ``max_iter`` times within ``window`` seconds, which also adds a :class:`LoopError`
    to the machine (a runaway loop shows up in the debugger instead of spinning forever).
    """

    __slots__ = (
        "_check",
        "_count",
        "_tick",
        "_win_count",
        "_win_start",
        "ended",
        "mach",
        "max_iter",
        "state",
        "window",
    )

    def __init__(
        self,
        mach: Machine,
        loop_state: str,
        check: Callable[[], bool] | None = None,
        *,
        max_iter: int = 1000,
        window: float = 1.0,
    ) -> None:
        if not mach.has1(loop_state):
            raise StateUnknownError(loop_state)
        self.mach = mach
        self.state = loop_state
        self._check = check
        self._tick = mach.tick(loop_state)
        self._count = 0
        self._win_start = time.monotonic()
        self._win_count = 0
        self.max_iter = max_iter
        self.window = window
        self.ended = ""

    def ok(self, ctx: Ctx | None = None) -> bool:
        """Count one iteration; False (and ``ended`` says why) when the loop must stop."""
        if self.ended:
            return False
        if ctx is not None and ctx.done():
            self.ended = "ctx"
            return False
        if self.mach.tick(self.state) != self._tick:
            self.ended = "state"
            return False
        if self._check is not None and not self._check():
            self.ended = "check"
            return False
        now = time.monotonic()
        if now - self._win_start > self.window:
            self._win_start, self._win_count = now, 0
        self._win_count += 1
        self._count += 1
        if self._win_count > self.max_iter:
            self.ended = "limit"
            self.mach.add_err(
                LoopError(f"{self.state}: over {self.max_iter} iterations in {self.window}s")
            )
            return False
        return True

    def sum(self) -> int:
        """Iterations counted so far."""
        return self._count


def _ctx_err(ctx: Ctx | None) -> None:
    if ctx is not None:
        err = ctx.err()
        if err is not None:
            raise err


def interval(ctx: Ctx | None, length: float | None, every: float, fn: Callable[[], bool]) -> None:
    """Call ``fn`` every ``every`` seconds (first call after one period) until it returns False or
    ``length`` seconds passed (``None``: no limit). Raises the context's error when it ended first.
    Blocking; the thread twin of :func:`interval_async`."""
    end = None if length is None else time.monotonic() + length
    waiter = ctx if ctx is not None else Ctx()
    while True:
        wait = _next_wait(end, every)
        if wait is None:
            return
        if waiter.wait(wait):
            _ctx_err(ctx)
        if end is not None and time.monotonic() >= end:
            return
        if not fn():
            return
        _ctx_err(ctx)


def _next_wait(end: float | None, every: float) -> float | None:
    if end is None:
        return every
    left = end - time.monotonic()
    return None if left <= 0 else min(every, left)


async def interval_async(
    ctx: Ctx | None,
    length: float | None,
    every: float,
    fn: Callable[[], bool | Awaitable[bool]],
) -> None:
    """Async :func:`interval`; ``fn`` may be a coroutine function. Task cancellation stops it."""
    end = None if length is None else time.monotonic() + length
    while True:
        wait = _next_wait(end, every)
        if wait is None:
            return
        if ctx is not None:
            try:
                await asyncio.wait_for(asyncio.shield(_awaitable(ctx)), wait)
            except TimeoutError:
                pass
            _ctx_err(ctx)
        else:
            await asyncio.sleep(wait)
        if end is not None and time.monotonic() >= end:
            return
        out = fn()
        if not isinstance(out, bool):
            out = await out
        if not out:
            return
        _ctx_err(ctx)


async def _awaitable(ctx: Ctx) -> None:
    await ctx
