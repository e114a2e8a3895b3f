"""fork / go / go_after / pool_fork: work under a context, errors into Exception."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from am_core.ctx import Ctx
from am_core.event import Event
from am_core.forks import NoLoopError
from am_core.machine import Machine
from am_core.types import State
from tests.waiting import await_until, wait_until


def new_mach(**kw: Any) -> Machine:
    return Machine({"Work": State(), "Other": State()}, id="f1", **kw)


def sleeper() -> tuple[Callable[[], Awaitable[None]], asyncio.Event, asyncio.Event]:
    """A coroutine function that sleeps long, and the events it sets: started, cancelled."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return job, started, cancelled


async def test_task_forked_under_state_ctx_is_cancelled_when_state_removed() -> None:
    m = new_mach()
    job, started, cancelled = sleeper()

    class H:
        def WorkState(self, e: Event) -> None:
            m.fork(m.new_state_ctx("Work"), e, job)

    m.handlers_bind(H())
    m.add1("Work")
    await asyncio.wait_for(started.wait(), 20)
    m.remove1("Work")
    await asyncio.wait_for(cancelled.wait(), 20)
    assert not m.is_err()  # an expired context is not an error
    assert not m._subs.forks().tasks  # the finished task is forgotten


async def test_coroutine_raising_in_fork_lands_in_exception_with_its_message() -> None:
    m = new_mach()

    async def job(ctx: Ctx) -> None:
        assert not ctx.done()
        raise ValueError("worker exploded: 42")

    w = m.when_err()
    m.add1("Work")
    m.go(m.new_state_ctx("Work"), job)
    await asyncio.wait_for(w, 20)
    assert m.is1("Exception")
    err = m.err()
    assert isinstance(err, ValueError) and str(err) == "worker exploded: 42"


def test_thread_callable_raising_lands_in_exception() -> None:
    m = new_mach()
    w = m.when_err()
    m.go(None, lambda: 1 / 0)
    assert w.wait(20)
    assert isinstance(m.err(), ZeroDivisionError)


def test_thread_callable_gets_the_ctx_to_check() -> None:
    m = new_mach()
    m.add1("Work")
    ctx = m.new_state_ctx("Work")
    seen: list[bool] = []
    running = threading.Event()

    def job(c: Ctx) -> None:
        running.set()
        seen.append(c.wait(20))

    m.go(ctx, job)
    assert running.wait(20)
    m.remove1("Work")
    wait_until(lambda: seen, what="the job's ctx.wait to return")
    assert seen == [True]


def test_go_with_expired_ctx_does_nothing() -> None:
    m = new_mach()
    ctx = Ctx()
    ctx.cancel()
    ran: list[int] = []
    m.go(ctx, lambda: ran.append(1))
    time.sleep(0.1)  # a negative check: give a wrongly started job the time to run
    assert ran == []


def test_go_after_runs_later_or_not_at_all() -> None:
    m = new_mach()
    ran = threading.Event()
    t0 = time.monotonic()
    m.go_after(None, 0.05, ran.set)
    assert ran.wait(20) and time.monotonic() - t0 >= 0.04  # not before its delay
    # cancelled during its (long) delay: the thread ends at once, the job never runs
    m2 = Machine({"Work": State()}, id="f-after")
    ctx = Ctx()
    skipped: list[int] = []
    m2.go_after(ctx, 30, lambda: skipped.append(1))
    ctx.cancel()
    wait_until(
        lambda: not any(t.name == "am-go-f-after" for t in threading.enumerate()),
        what="the delayed thread to end",
    )
    assert skipped == []


async def test_go_after_coroutine_cancelled_during_delay() -> None:
    m = new_mach()
    ctx = Ctx()
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)

    m.go_after(ctx, 30, job)
    await asyncio.sleep(0)  # the task starts its delay
    assert m._subs.forks().tasks
    ctx.cancel()
    await await_until(lambda: not m._subs.forks().tasks, what="the delayed task to end")
    assert ran == []


def test_fork_with_stale_event_is_skipped() -> None:
    m = new_mach()
    events: list[Event] = []

    class H:
        def WorkState(self, e: Event) -> None:
            events.append(e)

    m.handlers_bind(H())
    m.add1("Work")
    ran: list[int] = []
    m.fork(None, events[0], lambda: ran.append(1))  # the transition is over
    time.sleep(0.1)  # a negative check: give a wrongly started job the time to run
    assert ran == []


def test_coroutine_without_loop_is_a_clear_error() -> None:
    m = new_mach()

    async def job() -> None:
        pass

    with pytest.raises(NoLoopError, match="no asyncio loop"):
        m.go(None, job)


def test_coroutine_from_a_thread_runs_on_the_machines_loop() -> None:
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    try:
        m = new_mach(loop=loop)
        where: list[Any] = []
        done = threading.Event()

        async def job() -> None:
            where.append(asyncio.get_running_loop())
            done.set()

        m.go(None, job)
        assert done.wait(5) and where == [loop]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        t.join(5)
        loop.close()


def test_pool_limits_concurrency() -> None:
    m = new_mach()
    m.pool_set_limit(2)
    lock = threading.Lock()
    cur, peak, finished = [0], [0], []
    all_done = threading.Event()
    # two jobs meet before either ends: both slots are used at once however slow the box is
    both_running = threading.Barrier(2, timeout=20)

    def job() -> None:
        with lock:
            cur[0] += 1
            peak[0] = max(peak[0], cur[0])
        both_running.wait()
        with lock:
            cur[0] -= 1
            finished.append(1)
            if len(finished) == 8:
                all_done.set()

    for _ in range(8):
        m.pool_fork(None, None, job)
    assert all_done.wait(20)
    assert peak[0] == 2


async def test_pool_with_coroutines_and_raised_limit() -> None:
    m = new_mach()
    m.pool_set_limit(1)
    gate = asyncio.Event()
    started: list[int] = []

    async def job(i: int) -> None:
        started.append(i)
        await gate.wait()

    for i in range(3):
        m.pool_fork(None, None, functools.partial(job, i))
    await await_until(lambda: started, what="the first job")
    await asyncio.sleep(0.05)  # a negative check: the other two must not start meanwhile
    assert started == [0]
    m.pool_set_limit(3)  # frees two slots: the waiting jobs start
    await await_until(lambda: len(started) == 3, what="the waiting jobs")
    assert sorted(started) == [0, 1, 2]
    gate.set()
    await await_until(lambda: not m._subs.forks().tasks, what="the jobs to end")
    assert not m._subs.forks().tasks and m._subs.forks().running == 0


def test_callable_returning_a_coroutine_is_an_error() -> None:
    m = new_mach()

    async def job() -> None:
        pass

    w = m.when_err()
    m.go(None, lambda: job())
    assert w.wait(20)
    assert "returned a coroutine in a thread" in str(m.err())


async def test_dispose_cancels_work_forked_under_the_machine_context() -> None:
    m = new_mach()
    job, started, cancelled = sleeper()

    m.go(None, job)  # None: the machine's own context
    await asyncio.wait_for(started.wait(), 20)
    m.dispose()
    await asyncio.wait_for(cancelled.wait(), 20)
