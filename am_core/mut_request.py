"""Failsafe mutation requests (Go ``pkg/helpers`` ``NewReqAdd*``): retry a canceled mutation with
exponential backoff until it is accepted, the retries run out, ``max_duration`` passes or the
context ends. See docs/helpers.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .ctx import Ctx
from .errors import AmTimeoutError, DisposedError, StateUnknownError
from .types import Result

if TYPE_CHECKING:
    from .machine import Machine

__all__ = [
    "MutRequest",
    "new_req_add",
    "new_req_add1",
    "new_req_remove",
    "new_req_remove1",
]


@dataclass(slots=True)
class MutRequest:
    """One mutation retried while the machine cancels it.

    ``run`` / ``run_async`` return the first non-canceled :class:`Result` (executed or queued),
    :data:`Result.CANCELED` once ``retries`` attempts were all canceled, and raise
    :class:`AmTimeoutError` when ``max_duration`` seconds passed first, the context's error when it
    ended first, :class:`DisposedError` when the machine is disposed. Between attempts it waits
    ``delay`` seconds, doubling each time up to ``backoff``.
    """

    mach: Machine
    remove: bool
    states: list[str]
    args: dict[str, Any] | None = None
    retries: int = 10
    delay: float = 0.1
    backoff: float = 5.0
    max_duration: float = 10.0
    attempts: int = field(default=0, init=False)

    def _attempt(self) -> Result:
        if self.mach.is_disposed():
            raise DisposedError(self.mach.id)
        self.attempts += 1
        if self.remove:
            return self.mach.remove(self.states, self.args)
        return self.mach.add(self.states, self.args)

    def _next_wait(self, delay: float, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AmTimeoutError(
                f"mutation {self.states} still canceled after {self.max_duration}s"
            )
        return min(delay, left)

    def run(self, ctx: Ctx | None = None) -> Result:
        """Blocking: retry in this thread (never from a handler)."""
        deadline = time.monotonic() + self.max_duration
        delay = self.delay
        for i in range(max(1, self.retries)):
            _raise_ctx(ctx)
            res = self._attempt()
            if res != Result.CANCELED or i == self.retries - 1:
                return res
            wait = self._next_wait(delay, deadline)
            if ctx is not None:
                if ctx.wait(wait):
                    _raise_ctx(ctx)
            else:
                time.sleep(wait)
            delay = min(delay * 2, self.backoff)
        return Result.CANCELED

    async def run_async(self, ctx: Ctx | None = None) -> Result:
        """Async twin of :meth:`run`; cancelling the awaiting task cancels the request."""
        deadline = time.monotonic() + self.max_duration
        delay = self.delay
        for i in range(max(1, self.retries)):
            _raise_ctx(ctx)
            res = self._attempt()
            if res != Result.CANCELED or i == self.retries - 1:
                return res
            wait = self._next_wait(delay, deadline)
            if ctx is not None:
                try:
                    await asyncio.wait_for(ctx, wait)
                except TimeoutError:
                    pass
                _raise_ctx(ctx)
            else:
                await asyncio.sleep(wait)
            delay = min(delay * 2, self.backoff)
        return Result.CANCELED


def _raise_ctx(ctx: Ctx | None) -> None:
    if ctx is not None:
        err = ctx.err()
        if err is not None:
            raise err


def _list(mach: Machine, states: str | Sequence[str]) -> list[str]:
    names = [states] if isinstance(states, str) else list(states)
    for name in names:
        if not mach.has1(name):
            raise StateUnknownError(name)
    return names


def new_req_add(
    mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None, **opts: Any
) -> MutRequest:
    """A failsafe add of ``states``; ``opts``: ``retries``, ``delay``, ``backoff``, ``max_duration``."""
    return MutRequest(mach, False, _list(mach, states), args, **opts)


def new_req_add1(
    mach: Machine, state: str, args: dict[str, Any] | None = None, **opts: Any
) -> MutRequest:
    """:func:`new_req_add` for one state."""
    return new_req_add(mach, [state], args, **opts)


def new_req_remove(
    mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None, **opts: Any
) -> MutRequest:
    """A failsafe remove of ``states``."""
    return MutRequest(mach, True, _list(mach, states), args, **opts)


def new_req_remove1(
    mach: Machine, state: str, args: dict[str, Any] | None = None, **opts: Any
) -> MutRequest:
    """:func:`new_req_remove` for one state."""
    return new_req_remove(mach, [state], args, **opts)
