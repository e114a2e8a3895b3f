"""Waiter: one-shot, closable from any thread, awaitable from asyncio and waitable from threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from am_core.waiting import Waiter


def test_closed_waiter_is_done_and_never_blocks() -> None:
    w = Waiter.closed("x")
    assert w.done()
    assert w.wait(0) is True
    assert "closed" in repr(w)


def test_wait_times_out_on_an_open_waiter() -> None:
    w = Waiter()
    t0 = time.monotonic()
    assert w.wait(0.05) is False
    assert time.monotonic() - t0 >= 0.04
    assert not w.done()


def test_close_is_idempotent_and_reports_who_closed() -> None:
    w = Waiter()
    assert w.close() is True
    assert w.close() is False
    assert w.done()


def test_thread_wait_is_woken_by_another_thread() -> None:
    w = Waiter()
    threading.Timer(0.02, w.close).start()
    assert w.wait(5) is True


def test_callbacks_run_once_and_can_be_removed() -> None:
    w = Waiter()
    calls: list[str] = []
    w.add_done_callback(lambda: calls.append("a"))
    tok = w.add_done_callback(lambda: calls.append("b"))
    w.remove_done_callback(tok)
    w.close()
    w.close()
    assert calls == ["a"]
    # registering on a closed waiter runs immediately
    assert w.add_done_callback(lambda: calls.append("c")) == -1
    assert calls == ["a", "c"]


def test_failing_callback_does_not_break_closing(capsys: pytest.CaptureFixture[str]) -> None:
    w = Waiter()
    seen: list[int] = []

    def bad() -> None:
        raise ValueError("boom")

    w.add_done_callback(bad)
    w.add_done_callback(lambda: seen.append(1))
    assert w.close() is True
    assert seen == [1]
    assert "boom" in capsys.readouterr().err


async def test_await_closed_in_same_loop() -> None:
    w = Waiter()
    asyncio.get_running_loop().call_later(0.01, w.close)
    await asyncio.wait_for(w, 5)
    assert w.done()


async def test_await_closed_from_another_thread() -> None:
    w = Waiter()
    loop_thread = threading.get_ident()
    closer: list[int] = []

    def close() -> None:
        closer.append(threading.get_ident())
        w.close()

    threading.Timer(0.02, close).start()
    await asyncio.wait_for(w, 5)
    assert closer and closer[0] != loop_thread


async def test_cancelled_await_leaves_no_callback_behind() -> None:
    w = Waiter()
    for _ in range(20):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(w, 0.001)
    assert not w._callbacks  # every timed-out await removed its wake-up
    w.close()
    await w


async def test_many_awaiters_on_one_waiter() -> None:
    w = Waiter()
    tasks = [asyncio.ensure_future(asyncio.wait_for(w, 5)) for _ in range(50)]
    await asyncio.sleep(0)
    threading.Thread(target=w.close).start()
    await asyncio.gather(*tasks)
