"""wait_for_all / wait_for_any over plain waiters and contexts (asyncio and thread twins)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from am_core.ctx import Ctx, CtxCanceledError
from am_core.errors import AmTimeoutError
from am_core.helpers import (
    wait_for_all,
    wait_for_all_blocking,
    wait_for_any,
    wait_for_any_blocking,
)
from am_core.waiting import Waiter
from tests.waiting import await_until


def _close_later(w: Waiter, delay: float) -> None:
    threading.Timer(delay, w.close).start()


async def test_wait_for_all_returns_when_every_waiter_closed() -> None:
    w1, w2, w3 = Waiter(), Waiter(), Waiter()
    _close_later(w1, 0.01)
    _close_later(w2, 0.03)
    asyncio.get_running_loop().call_later(0.02, w3.close)
    await wait_for_all(Ctx(), 20.0, w1, w2, w3)
    assert w1.done() and w2.done() and w3.done()


async def test_wait_for_all_times_out_when_one_stays_open() -> None:
    w1, w2 = Waiter(), Waiter()
    w1.close()
    t0 = time.monotonic()
    with pytest.raises(AmTimeoutError) as info:
        await wait_for_all(None, 0.05, w1, w2)
    assert str(info.value) == "timeout"
    assert time.monotonic() - t0 >= 0.04  # the full timeout, not an early return
    assert not w2._callbacks  # nothing left registered on the open waiter


async def test_wait_for_all_ends_with_ctx_error_when_ctx_expires() -> None:
    ctx = Ctx()
    w = Waiter()
    threading.Timer(0.01, ctx.cancel).start()
    with pytest.raises(CtxCanceledError):
        await wait_for_all(ctx, 20.0, w)
    assert not w._callbacks


async def test_done_ctx_wins_over_closed_waiters() -> None:
    ctx = Ctx()
    ctx.cancel()
    with pytest.raises(CtxCanceledError):
        await wait_for_all(ctx, 1.0, Waiter.closed())


async def test_no_waiters_is_immediate_success() -> None:
    await wait_for_all(None, 0.01)


async def test_wait_for_any_first_one_wins() -> None:
    w1, w2 = Waiter(), Waiter()
    _close_later(w2, 0.01)
    await wait_for_any(None, 20.0, w1, w2)
    assert w2.done() and not w1.done()
    assert not w1._callbacks


async def test_wait_for_any_timeout() -> None:
    with pytest.raises(AmTimeoutError):
        await wait_for_any(None, 0.02, Waiter(), Waiter())


async def test_cancelling_the_awaiting_task_cleans_up() -> None:
    w = Waiter()
    ctx = Ctx()
    task = asyncio.ensure_future(wait_for_all(ctx, None, w))
    await await_until(lambda: w._callbacks and ctx._callbacks, what="the task registered")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not w._callbacks and not ctx._callbacks


async def test_rejects_non_waiters() -> None:
    with pytest.raises(TypeError, match="expected a Waiter or Ctx"):
        await wait_for_all(None, 1.0, object())  # type: ignore[arg-type]


def test_blocking_twins() -> None:
    w1, w2 = Waiter(), Waiter()
    _close_later(w1, 0.01)
    _close_later(w2, 0.02)
    wait_for_all_blocking(None, 20.0, w1, w2)
    with pytest.raises(AmTimeoutError):
        wait_for_all_blocking(None, 0.02, Waiter())
    w3 = Waiter()
    _close_later(w3, 0.01)
    wait_for_any_blocking(None, 20.0, Waiter(), w3)
    ctx = Ctx()
    threading.Timer(0.01, ctx.cancel).start()
    with pytest.raises(CtxCanceledError):
        wait_for_any_blocking(ctx, 20.0, Waiter())
