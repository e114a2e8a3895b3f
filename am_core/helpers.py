"""Helpers users reach for (Go ``pkg/helpers``): waiting on several waiters at once, synchronous
mutations, group waiting and the healthcheck ticker.

Every waiting helper comes twice: an ``async`` function for asyncio code and a ``*_blocking`` twin
for plain threads (never call a blocking one from a handler: it would block the queue it waits on).
A wait returns ``None`` when its condition held, and raises otherwise:

- :class:`~am_core.ctx.CtxCanceledError` (``ctx.err()``) when the context expired first: for a state
  context that means the state changed, so stop quietly;
- :class:`~am_core.errors.AmTimeoutError` when ``timeout`` seconds passed first;
- :class:`ExceptionStateError` (``wait_for_err_*``) when ``Exception`` activated on the machine;
  its ``__cause__`` is the machine's last error.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .ctx import Ctx
from .errors import AmError, AmTimeoutError, CanceledError, QueuedError
from .types import Result
from .waiting import Latch, Waiter

if TYPE_CHECKING:
    from .machine import Machine

__all__ = [
    "ExceptionStateError",
    "add1_async",
    "add1_async_blocking",
    "add1_sync",
    "add1_sync_blocking",
    "add_sync",
    "add_sync_blocking",
    "ask_add",
    "ask_add1",
    "ask_remove",
    "ask_remove1",
    "cant_add",
    "cant_add1",
    "cant_remove",
    "cant_remove1",
    "group_when1",
    "healthcheck",
    "remove1_sync",
    "remove1_sync_blocking",
    "remove_sync",
    "remove_sync_blocking",
    "result_to_err",
    "wait_for_all",
    "wait_for_all_blocking",
    "wait_for_any",
    "wait_for_any_blocking",
    "wait_for_err_all",
    "wait_for_err_all_blocking",
    "wait_for_err_any",
    "wait_for_err_any_blocking",
]

HEALTHCHECK_INTERVAL = 30.0


class ExceptionStateError(AmError):
    """``Exception`` activated on the machine a ``wait_for_err_*`` watched (Go: ``"Exception: <err>"``)."""

    sentinel = "Exception"


class _ErrSource(Protocol):
    def when_err(self, ctx: Ctx | None = None) -> Waiter: ...
    def err(self) -> BaseException | None: ...


# outcome codes of a _Gate
_OK, _CTX, _TIMEOUT, _ERR = 0, 1, 2, 3


class _Gate:
    """Watches waiters, a context and an error latch; records the first outcome.

    The outcome is signalled through ``notify`` (set by the async / blocking front-ends). All
    callbacks are removed once decided, so long-lived latches do not collect dead callbacks.
    """

    __slots__ = ("_lock", "_regs", "_remaining", "notify", "outcome")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._regs: list[tuple[Latch, int]] = []
        self._remaining = 0
        self.outcome = -1
        self.notify: Any = None

    def decide(self, outcome: int) -> None:
        with self._lock:
            if self.outcome >= 0:
                return
            self.outcome = outcome
        notify = self.notify
        if notify is not None:
            notify()

    def _one_closed(self) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining <= 0
        if last:
            self.decide(_OK)

    def arm(
        self,
        ctx: Ctx | None,
        waiters: Sequence[Latch],
        need_all: bool,
        err_latch: Latch | None,
    ) -> None:
        """Register callbacks; may decide immediately."""
        if ctx is not None:
            self._regs.append((ctx, ctx.add_done_callback(lambda: self.decide(_CTX))))
        if err_latch is not None:
            self._regs.append((err_latch, err_latch.add_done_callback(lambda: self.decide(_ERR))))
        if need_all:
            self._remaining = len(waiters)
            for w in waiters:
                self._regs.append((w, w.add_done_callback(self._one_closed)))
        else:
            for w in waiters:
                self._regs.append((w, w.add_done_callback(lambda: self.decide(_OK))))

    def disarm(self) -> None:
        for latch, token in self._regs:
            latch.remove_done_callback(token)
        self._regs.clear()


def _precheck(ctx: Ctx | None, waiters: Sequence[Latch], need_all: bool) -> int:
    """Decide without waiting where Go does: a done context first, then already-closed waiters."""
    if ctx is not None and ctx.done():
        return _CTX
    if not waiters:
        return _OK if need_all else -1
    if need_all and all(w.done() for w in waiters):
        return _OK
    if not need_all and any(w.done() for w in waiters):
        return _OK
    return -1


def _raise_for(outcome: int, ctx: Ctx | None, mach: _ErrSource | None) -> None:
    if outcome == _OK:
        return
    if outcome == _CTX:
        assert ctx is not None
        err = ctx.err()
        assert err is not None
        raise err
    if outcome == _TIMEOUT:
        raise AmTimeoutError()
    cause = mach.err() if mach is not None else None
    raise ExceptionStateError(str(cause) if cause is not None else "") from cause


def _check_latches(waiters: Iterable[object]) -> list[Latch]:
    out: list[Latch] = []
    for w in waiters:
        if not isinstance(w, Latch):
            raise TypeError(
                f"expected a Waiter or Ctx (from a when* method or new_state_ctx), got {type(w).__name__}"
            )
        out.append(w)
    return out


async def _wait_async(
    ctx: Ctx | None,
    timeout: float | None,
    waiters: Sequence[Latch],
    need_all: bool,
    mach: _ErrSource | None,
) -> None:
    outcome = _precheck(ctx, waiters, need_all)
    if outcome >= 0:
        _raise_for(outcome, ctx, mach)
        return
    err_latch = mach.when_err(ctx) if mach is not None else None
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(_set_result, fut)
        except RuntimeError:
            pass  # loop closed

    gate = _Gate()
    gate.notify = wake
    gate.arm(ctx, waiters, need_all, err_latch)
    timer = None
    if timeout is not None and gate.outcome < 0:
        timer = loop.call_later(max(0.0, timeout), gate.decide, _TIMEOUT)
    try:
        if gate.outcome < 0:
            await fut
    finally:
        gate.disarm()
        if timer is not None:
            timer.cancel()
    _raise_for(gate.outcome, ctx, mach)


def _wait_blocking(
    ctx: Ctx | None,
    timeout: float | None,
    waiters: Sequence[Latch],
    need_all: bool,
    mach: _ErrSource | None,
) -> None:
    outcome = _precheck(ctx, waiters, need_all)
    if outcome >= 0:
        _raise_for(outcome, ctx, mach)
        return
    err_latch = mach.when_err(ctx) if mach is not None else None
    ev = threading.Event()
    gate = _Gate()
    gate.notify = ev.set
    gate.arm(ctx, waiters, need_all, err_latch)
    try:
        if gate.outcome < 0 and not ev.wait(timeout):
            gate.decide(_TIMEOUT)
    finally:
        gate.disarm()
    _raise_for(gate.outcome, ctx, mach)


def _set_result(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def wait_for_all(ctx: Ctx | None, timeout: float | None, *waiters: Latch) -> None:
    """Wait until every waiter closed, the context expired or ``timeout`` seconds passed.

    Replaces a Go ``select`` over several channels: ``await wait_for_all(ctx, 1.0, w1, w2)``.
    """
    await _wait_async(ctx, timeout, _check_latches(waiters), True, None)


async def wait_for_any(ctx: Ctx | None, timeout: float | None, *waiters: Latch) -> None:
    """Wait until the first waiter closed (or the context / timeout ended the wait)."""
    await _wait_async(ctx, timeout, _check_latches(waiters), False, None)


async def wait_for_err_all(
    ctx: Ctx | None, timeout: float | None, mach: _ErrSource, *waiters: Latch
) -> None:
    """:func:`wait_for_all`, also ended by ``Exception`` activating on ``mach``."""
    await _wait_async(ctx, timeout, _check_latches(waiters), True, mach)


async def wait_for_err_any(
    ctx: Ctx | None, timeout: float | None, mach: _ErrSource, *waiters: Latch
) -> None:
    """:func:`wait_for_any`, also ended by ``Exception`` activating on ``mach``."""
    await _wait_async(ctx, timeout, _check_latches(waiters), False, mach)


def wait_for_all_blocking(ctx: Ctx | None, timeout: float | None, *waiters: Latch) -> None:
    """Thread twin of :func:`wait_for_all`."""
    _wait_blocking(ctx, timeout, _check_latches(waiters), True, None)


def wait_for_any_blocking(ctx: Ctx | None, timeout: float | None, *waiters: Latch) -> None:
    """Thread twin of :func:`wait_for_any`."""
    _wait_blocking(ctx, timeout, _check_latches(waiters), False, None)


def wait_for_err_all_blocking(
    ctx: Ctx | None, timeout: float | None, mach: _ErrSource, *waiters: Latch
) -> None:
    """Thread twin of :func:`wait_for_err_all`."""
    _wait_blocking(ctx, timeout, _check_latches(waiters), True, mach)


def wait_for_err_any_blocking(
    ctx: Ctx | None, timeout: float | None, mach: _ErrSource, *waiters: Latch
) -> None:
    """Thread twin of :func:`wait_for_err_any`."""
    _wait_blocking(ctx, timeout, _check_latches(waiters), False, mach)


# --- synchronous mutations -------------------------------------------------------------------


def _as_list(states: str | Sequence[str]) -> list[str]:
    return [states] if isinstance(states, str) else list(states)


def _queued_waiters(mach: Machine, res: int) -> tuple[Waiter, Waiter]:
    """A queued mutation has run once its queue tick passed, or once the running queue drained
    (``when_queue`` alone would wait for a later transition if it was canceled, spec §8)."""
    return mach.when_queue(res), mach.when_queue_ends()


async def _mutate_sync(
    ctx: Ctx | None, mach: Machine, remove: bool, states: list[str], args: dict[str, Any] | None
) -> bool:
    res = mach.remove(states, args) if remove else mach.add(states, args)
    if res == Result.CANCELED:
        return False
    if Result.is_queued(res):
        try:
            await wait_for_any(ctx, None, *_queued_waiters(mach, res))
        except AmError:
            return False
    return mach.not_(states) if remove else mach.is_(states)


def _mutate_sync_blocking(
    ctx: Ctx | None,
    mach: Machine,
    remove: bool,
    states: list[str],
    args: dict[str, Any] | None,
    timeout: float | None,
) -> bool:
    res = mach.remove(states, args) if remove else mach.add(states, args)
    if res == Result.CANCELED:
        return False
    if Result.is_queued(res):
        try:
            wait_for_any_blocking(ctx, timeout, *_queued_waiters(mach, res))
        except AmError:
            return False
    return mach.not_(states) if remove else mach.is_(states)


async def add_sync(
    ctx: Ctx | None, mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None
) -> bool:
    """Add; if queued, wait for that queue tick (or the context). True iff the states are active."""
    return await _mutate_sync(ctx, mach, False, _as_list(states), args)


async def add1_sync(
    ctx: Ctx | None, mach: Machine, state: str, args: dict[str, Any] | None = None
) -> bool:
    """:func:`add_sync` for one state."""
    return await _mutate_sync(ctx, mach, False, [state], args)


async def remove_sync(
    ctx: Ctx | None, mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None
) -> bool:
    """Remove; if queued, wait for that queue tick (or the context). True iff all are inactive."""
    return await _mutate_sync(ctx, mach, True, _as_list(states), args)


async def remove1_sync(
    ctx: Ctx | None, mach: Machine, state: str, args: dict[str, Any] | None = None
) -> bool:
    """:func:`remove_sync` for one state."""
    return await _mutate_sync(ctx, mach, True, [state], args)


def add_sync_blocking(
    ctx: Ctx | None,
    mach: Machine,
    states: Sequence[str],
    args: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> bool:
    """Thread twin of :func:`add_sync` (``timeout`` bounds the wait for a queued mutation)."""
    return _mutate_sync_blocking(ctx, mach, False, _as_list(states), args, timeout)


def add1_sync_blocking(
    ctx: Ctx | None,
    mach: Machine,
    state: str,
    args: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> bool:
    """Thread twin of :func:`add1_sync`."""
    return _mutate_sync_blocking(ctx, mach, False, [state], args, timeout)


def remove_sync_blocking(
    ctx: Ctx | None,
    mach: Machine,
    states: Sequence[str],
    args: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> bool:
    """Thread twin of :func:`remove_sync`."""
    return _mutate_sync_blocking(ctx, mach, True, _as_list(states), args, timeout)


def remove1_sync_blocking(
    ctx: Ctx | None,
    mach: Machine,
    state: str,
    args: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> bool:
    """Thread twin of :func:`remove1_sync`."""
    return _mutate_sync_blocking(ctx, mach, True, [state], args, timeout)


# --- groups and tickers ------------------------------------------------------------------------


def group_when1(machs: Iterable[Machine], state: str, ctx: Ctx | None = None) -> list[Waiter]:
    """One ``when1(state, ctx)`` waiter per machine; raises if a machine lacks the state."""
    return [m.when1(state, ctx) for m in machs]


def healthcheck(
    mach: Machine, interval: float = HEALTHCHECK_INTERVAL, ctx: Ctx | None = None
) -> Ctx:
    """Add ``Healthcheck`` every ``interval`` seconds (so log lines reach the debugger) until the
    machine is disposed or the returned context is cancelled. A machine without the state gets
    nothing (the returned context is already cancelled)."""
    stop = Ctx(ctx)
    if not mach.has1("Healthcheck"):
        stop.cancel()
        return stop
    disposed = mach.when_disposed()
    token = disposed.add_done_callback(stop.cancel)

    def tick() -> None:
        try:
            while not stop.wait(interval):
                mach.add1("Healthcheck")
        finally:
            disposed.remove_done_callback(token)

    threading.Thread(target=tick, name=f"am-healthcheck-{mach.id}", daemon=True).start()
    return stop


# --- async-state adds, results as errors, ask / cant ------------------------------------------


async def add1_async(
    ctx: Ctx | None,
    mach: Machine,
    wait_state: str,
    add_state: str,
    args: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> Result:
    """Add ``add_state`` and wait until ``wait_state`` activates (Go ``Add1Async``: the pattern
    of a state like ``Connecting`` whose work ends by adding ``Connected``). Returns
    :data:`Result.CANCELED` when the add was canceled, :data:`Result.EXECUTED` once ``wait_state``
    is active; raises like :func:`wait_for_err_any` on context, timeout or ``Exception``."""
    waiter = mach.when1(wait_state, ctx)
    res = mach.add1(add_state, args)
    if res == Result.CANCELED:
        return res
    await wait_for_err_any(ctx, timeout, mach, waiter)
    return Result.EXECUTED


def add1_async_blocking(
    ctx: Ctx | None,
    mach: Machine,
    wait_state: str,
    add_state: str,
    args: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> Result:
    """Thread twin of :func:`add1_async`."""
    waiter = mach.when1(wait_state, ctx)
    res = mach.add1(add_state, args)
    if res == Result.CANCELED:
        return res
    wait_for_err_any_blocking(ctx, timeout, mach, waiter)
    return Result.EXECUTED


def result_to_err(res: int) -> AmError | None:
    """``None`` for an executed mutation, :class:`CanceledError` / :class:`QueuedError` otherwise
    (Go ``ResultToErr``), for code that raises on anything but a done mutation."""
    if res == Result.EXECUTED:
        return None
    if res == Result.CANCELED:
        return CanceledError()
    return QueuedError(f"queue tick {int(res)}")


def ask_add(mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None) -> Result:
    """Add only when a dry run (``can_add``) accepts it; CANCELED without a mutation otherwise."""
    if mach.can_add(states, args) == Result.CANCELED:
        return Result.CANCELED
    return mach.add(states, args)


def ask_add1(mach: Machine, state: str, args: dict[str, Any] | None = None) -> Result:
    """:func:`ask_add` for one state."""
    return ask_add(mach, [state], args)


def ask_remove(mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None) -> Result:
    """Remove only when ``can_remove`` accepts it."""
    if mach.can_remove(states, args) == Result.CANCELED:
        return Result.CANCELED
    return mach.remove(states, args)


def ask_remove1(mach: Machine, state: str, args: dict[str, Any] | None = None) -> Result:
    """:func:`ask_remove` for one state."""
    return ask_remove(mach, [state], args)


def cant_add(mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None) -> bool:
    """True when adding ``states`` would be canceled (a dry run, nothing changes)."""
    return mach.can_add(states, args) == Result.CANCELED


def cant_add1(mach: Machine, state: str, args: dict[str, Any] | None = None) -> bool:
    """:func:`cant_add` for one state."""
    return cant_add(mach, [state], args)


def cant_remove(mach: Machine, states: Sequence[str], args: dict[str, Any] | None = None) -> bool:
    """True when removing ``states`` would be canceled."""
    return mach.can_remove(states, args) == Result.CANCELED


def cant_remove1(mach: Machine, state: str, args: dict[str, Any] | None = None) -> bool:
    """:func:`cant_remove` for one state."""
    return cant_remove(mach, [state], args)
