"""Helpers on real machines: failsafe mutation requests, add1_async, StateLoop, interval,
result_to_err, ask_* / cant_*."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from am_core import (
    CanceledError,
    Ctx,
    CtxCanceledError,
    Event,
    LoopError,
    Machine,
    QueuedError,
    Result,
    State,
    StateLoop,
    StateUnknownError,
    add1_async,
    add1_async_blocking,
    ask_add1,
    ask_remove1,
    cant_add,
    cant_add1,
    cant_remove1,
    interval,
    interval_async,
    new_req_add1,
    new_req_remove,
    result_to_err,
)
from am_core.errors import AmTimeoutError
from am_core.states import BasicStates


class Gate:
    """``BEnter`` refuses until ``opens_after`` attempts were made; ``on_attempt`` runs on each."""

    def __init__(self, opens_after: int, on_attempt: Any = None) -> None:
        self.attempts = 0
        self.opens_after = opens_after
        self.on_attempt = on_attempt

    def BEnter(self, e: Event) -> bool:
        self.attempts += 1
        if self.on_attempt is not None:
            self.on_attempt(self.attempts)
        return self.attempts > self.opens_after


def new_mach(gate: Gate | None = None) -> Machine:
    m = Machine(
        {
            **BasicStates.schema(),
            "A": State(),
            "B": State(),
            "Loop": State(),
            "Connecting": State(),
            "Connected": State(remove=["Connecting"]),
        },
        id="hm",
    )
    if gate is not None:
        m.handlers_bind(gate)
    return m


def test_req_add_retries_until_accepted() -> None:
    gate = Gate(opens_after=2)
    m = new_mach(gate)
    req = new_req_add1(m, "B", delay=0.001)
    assert req.run() == Result.EXECUTED
    assert m.is1("B")
    assert gate.attempts == 3 and req.attempts == 3


def test_req_add_gives_up_after_retries() -> None:
    gate = Gate(opens_after=100)
    m = new_mach(gate)
    assert new_req_add1(m, "B", retries=4, delay=0.001).run() == Result.CANCELED
    assert gate.attempts == 4
    assert m.not1("B")


def test_req_add_max_duration_raises_timeout() -> None:
    m = new_mach(Gate(opens_after=10**9))
    req = new_req_add1(m, "B", retries=10**9, delay=0.005, backoff=0.005, max_duration=0.05)
    with pytest.raises(AmTimeoutError):
        req.run()
    assert m.not1("B")


def test_req_add_ctx_cancel_stops_retrying() -> None:
    ctx = Ctx()
    gate = Gate(opens_after=100, on_attempt=lambda n: n == 2 and ctx.cancel())
    m = new_mach(gate)
    with pytest.raises(CtxCanceledError):
        new_req_add1(m, "B", delay=0.001).run(ctx)
    assert gate.attempts == 2


def test_req_unknown_state_named() -> None:
    with pytest.raises(StateUnknownError, match="Nope"):
        new_req_remove(new_mach(), ["A", "Nope"])


async def test_req_add_async_and_task_cancel() -> None:
    gate = Gate(opens_after=1)
    m = new_mach(gate)
    assert await new_req_add1(m, "B", delay=0.001).run_async() == Result.EXECUTED

    m2 = new_mach(Gate(opens_after=10**9))
    attempted = asyncio.Event()
    req = new_req_add1(m2, "B", retries=10**9, delay=3600, backoff=3600, max_duration=7200)
    task = asyncio.create_task(req.run_async())
    m2.handlers_bind(type("W", (), {"BState": lambda self, e: None})())
    while req.attempts == 0:
        await asyncio.sleep(0)
    attempted.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert req.attempts == 1


async def test_req_add_async_ctx_cancel_wakes_backoff() -> None:
    m = new_mach(Gate(opens_after=10**9))
    ctx = Ctx()
    req = new_req_add1(m, "B", retries=10**9, delay=3600, backoff=3600, max_duration=7200)
    task = asyncio.create_task(req.run_async(ctx))
    while req.attempts == 0:
        await asyncio.sleep(0)
    ctx.cancel()
    with pytest.raises(CtxCanceledError):
        await asyncio.wait_for(task, 30)


class Connector:
    """``ConnectingState`` finishes its work in a thread that adds ``Connected``."""

    def __init__(self, mach: Machine, release: threading.Event) -> None:
        self.mach = mach
        self.release = release

    def ConnectingState(self, e: Event) -> None:
        def work() -> None:
            self.release.wait(30)
            self.mach.add1("Connected")

        threading.Thread(target=work, daemon=True).start()


async def test_add1_async_waits_for_the_target_state() -> None:
    m = new_mach()
    release = threading.Event()
    m.handlers_bind(Connector(m, release))
    task = asyncio.create_task(add1_async(None, m, "Connected", "Connecting", timeout=30))
    while m.not1("Connecting"):
        await asyncio.sleep(0.001)
    assert not task.done()
    release.set()
    assert await task == Result.EXECUTED
    assert m.is1("Connected") and m.not1("Connecting")


def test_add1_async_blocking_timeout_and_canceled() -> None:
    m = new_mach()
    m.handlers_bind(Connector(m, threading.Event()))  # never released
    with pytest.raises(AmTimeoutError):
        add1_async_blocking(None, m, "Connected", "Connecting", timeout=0.05)

    m2 = new_mach(Gate(opens_after=10**9))
    assert add1_async_blocking(None, m2, "A", "B", timeout=30) == Result.CANCELED


async def test_add1_async_ctx_cancel() -> None:
    m = new_mach()
    m.handlers_bind(Connector(m, threading.Event()))
    ctx = Ctx()
    task = asyncio.create_task(add1_async(ctx, m, "Connected", "Connecting"))
    while m.not1("Connecting"):
        await asyncio.sleep(0.001)
    ctx.cancel()
    with pytest.raises(CtxCanceledError):
        await asyncio.wait_for(task, 30)


def test_state_loop_stops_when_state_changes() -> None:
    m = new_mach()
    m.add1("Loop")
    loop = StateLoop(m, "Loop", window=3600)
    assert loop.ok() and loop.ok()
    m.remove1("Loop")
    assert not loop.ok()
    assert loop.ended == "state" and loop.sum() == 2


def test_state_loop_runaway_adds_exception() -> None:
    m = new_mach()
    m.add1("Loop")
    loop = StateLoop(m, "Loop", max_iter=5, window=3600)
    n = 0
    while loop.ok():
        n += 1
        assert n < 100, "the guard never tripped"
    assert n == 5 and loop.ended == "limit"
    assert m.is1("Exception")
    assert isinstance(m.err(), LoopError)
    assert "Loop" in str(m.err())


def test_state_loop_ctx_and_check() -> None:
    m = new_mach()
    ctx = Ctx()
    flag = [True]
    loop = StateLoop(m, "Loop", lambda: flag[0], window=3600)
    assert loop.ok(ctx)
    flag[0] = False
    assert not loop.ok(ctx) and loop.ended == "check"
    loop2 = StateLoop(m, "Loop")
    ctx.cancel()
    assert not loop2.ok(ctx) and loop2.ended == "ctx"
    with pytest.raises(StateUnknownError, match="Nope"):
        StateLoop(m, "Nope")


def test_interval_stops_on_false_and_ctx() -> None:
    calls: list[int] = []

    def fn() -> bool:
        calls.append(1)
        return len(calls) < 3

    interval(None, None, 0.001, fn)
    assert len(calls) == 3

    ctx = Ctx()

    def cancel_on_2nd() -> bool:
        calls.append(2)
        if calls.count(2) == 2:
            ctx.cancel()
        return True

    with pytest.raises(CtxCanceledError):
        interval(ctx, None, 0.001, cancel_on_2nd)
    assert calls.count(2) == 2


def test_interval_length_ends_it() -> None:
    calls: list[int] = []
    interval(None, 0.05, 0.001, lambda: calls.append(1) is None)
    assert calls  # it ran, then the length ended it (returns instead of looping forever)


async def test_interval_async_coroutine_fn_and_cancel() -> None:
    calls: list[int] = []

    async def fn() -> bool:
        calls.append(1)
        return len(calls) < 3

    await interval_async(None, None, 0.001, fn)
    assert len(calls) == 3

    ctx = Ctx()
    task = asyncio.create_task(interval_async(ctx, None, 3600, lambda: True))
    await asyncio.sleep(0)
    ctx.cancel()
    with pytest.raises(CtxCanceledError):
        await asyncio.wait_for(task, 30)


def test_result_to_err() -> None:
    assert result_to_err(Result.EXECUTED) is None
    assert isinstance(result_to_err(Result.CANCELED), CanceledError)
    assert isinstance(result_to_err(Result(7)), QueuedError)


def test_ask_and_cant() -> None:
    gate = Gate(opens_after=10**9)
    m = new_mach(gate)
    assert cant_add1(m, "B") and cant_add(m, ["A", "B"])
    assert ask_add1(m, "B") == Result.CANCELED
    assert m.not1("B")
    assert not cant_add1(m, "A")
    assert ask_add1(m, "A") == Result.EXECUTED and m.is1("A")
    assert not cant_remove1(m, "A")
    assert ask_remove1(m, "A") == Result.EXECUTED and m.not1("A")
