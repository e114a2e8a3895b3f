"""Helpers on real machines: add_sync / remove_sync, wait_for_err_*, group_when1, healthcheck."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from am_core.ctx import Ctx, CtxCanceledError
from am_core.errors import AmTimeoutError
from am_core.helpers import (
    ExceptionStateError,
    add1_sync,
    add1_sync_blocking,
    add_sync,
    group_when1,
    healthcheck,
    remove1_sync,
    remove_sync_blocking,
    wait_for_all,
    wait_for_err_all,
    wait_for_err_all_blocking,
    wait_for_err_any,
)
from am_core.machine import Machine
from am_core.states import BasicStates
from am_core.types import State
from tests.waiting import wait_until

from .helpers import queue_held


def new_mach(id: str = "h1") -> Machine:
    return Machine(
        {**BasicStates.schema(), "A": State(), "B": State(require=["A"]), "Slow": State()},
        id=id,
    )


async def test_add_sync_idle_machine() -> None:
    m = new_mach()
    assert await add1_sync(None, m, "A") is True
    assert await add_sync(None, m, ["B"]) is True
    assert await remove1_sync(None, m, "A") is True
    assert await add1_sync(None, m, "B") is False  # canceled: requires A


def test_add_sync_blocking_while_another_thread_drains() -> None:
    m = new_mach()
    out: list[bool] = []
    with queue_held(m, "Slow"):
        t2 = threading.Thread(
            target=lambda: out.append(add1_sync_blocking(None, m, "A", timeout=5))
        )
        t2.start()
        wait_until(lambda: m.queue_len() == 1, what="A queued")
        assert out == []  # queued behind the slow handler
    t2.join(5)
    assert out == [True] and m.is1("A")
    assert remove_sync_blocking(None, m, ["A"]) is True


async def test_wait_for_err_all_ends_on_exception() -> None:
    m = new_mach()
    w = m.when1("A")
    asyncio.get_running_loop().call_later(0.01, m.add_err, ValueError("db down"))
    with pytest.raises(ExceptionStateError) as info:
        await wait_for_err_all(None, 5.0, m, w)
    assert str(info.value) == "Exception: db down"
    assert isinstance(info.value.__cause__, ValueError)


async def test_wait_for_err_any_success_and_ctx() -> None:
    m = new_mach()
    asyncio.get_running_loop().call_later(0.01, m.add1, "A")
    await wait_for_err_any(None, 5.0, m, m.when1("A"), m.when1("Ready"))
    ctx = Ctx()
    asyncio.get_running_loop().call_later(0.01, ctx.cancel)
    with pytest.raises(CtxCanceledError):
        await wait_for_err_any(ctx, 5.0, m, m.when1("Ready"))


def test_wait_for_err_all_blocking_timeout() -> None:
    m = new_mach()
    with pytest.raises(AmTimeoutError):
        wait_for_err_all_blocking(None, 0.02, m, m.when1("Ready"))


async def test_group_when1_over_several_machines() -> None:
    machs = [new_mach(f"g{i}") for i in range(3)]
    ws = group_when1(machs, "Start")
    for i, m in enumerate(machs):
        asyncio.get_running_loop().call_later(0.01 * (i + 1), m.add1, "Start")
    await wait_for_all(None, 5.0, *ws)
    assert all(m.is1("Start") for m in machs)


def test_healthcheck_ticks_until_stopped_or_disposed() -> None:
    m = new_mach()
    stop = healthcheck(m, interval=0.01)
    assert m.when_ticks("Healthcheck", 3).wait(5)
    stop.cancel()
    m2 = new_mach("h2")
    stop2 = healthcheck(m2, interval=0.01)
    m2.dispose()
    assert stop2.wait(5)
    # a machine without the state gets nothing
    plain = Machine({"A": State()})
    assert healthcheck(plain, interval=0.01).done()


def test_add_sync_rejects_when_ctx_expires() -> None:
    m = new_mach()
    res: list[Any] = []
    with queue_held(m, "Slow"):
        ctx = Ctx(timeout=0.02)
        res.append(add1_sync_blocking(ctx, m, "A"))
    assert res == [False]


def test_add_sync_blocking_returns_when_the_queued_mutation_is_canceled() -> None:
    m = new_mach()
    out: list[bool] = []
    with queue_held(m, "Slow"):
        t = threading.Thread(target=lambda: out.append(add1_sync_blocking(None, m, "B", timeout=5)))
        t.start()
        wait_until(lambda: m.queue_len() == 1, what="B queued")
    # released: B is canceled (requires A); no later transition follows
    t.join(5)
    assert out == [False]
