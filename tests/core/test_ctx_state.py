"""State contexts (spec §9): one per state tick, cancelled when the tick changes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from am_core.ctx import Ctx, CtxCanceledError
from am_core.errors import StateMissingError
from am_core.event import Event
from am_core.machine import Machine
from am_core.types import LogLevel, State


def new_mach(**kw: Any) -> Machine:
    schema = {"A": State(), "B": State(require=["A"]), "M": State(multi=True), "C": State()}
    return Machine(schema, id="sc1", **kw)


def test_same_ctx_until_cancelled_and_its_value() -> None:
    m = new_mach()
    m.add1("A")
    ctx = m.new_state_ctx("A")
    assert isinstance(ctx, Ctx)
    assert m.new_state_ctx("A") is ctx
    assert ctx.value == {"id": "sc1", "state": "A", "tick": 1, "event": None}
    assert ctx.parent() is m.context()
    m.remove1("A")
    assert ctx.done() and isinstance(ctx.err(), CtxCanceledError)
    ctx2 = m.new_state_ctx("A")
    assert ctx2 is not ctx and ctx2.value["tick"] == 2 and not ctx2.done()


def test_ctx_for_inactive_state_cancelled_on_activation() -> None:
    m = new_mach()
    ctx = m.new_state_ctx("C")
    assert not ctx.done()
    m.add1("A")
    assert not ctx.done()
    m.add1("C")
    assert ctx.done()


def test_canceled_tx_and_noop_add_keep_the_ctx() -> None:
    m = new_mach()
    m.add1("C")
    ctx = m.new_state_ctx("C")
    m.add1("B")  # canceled: B requires A
    m.add1("C")  # no-op add
    assert not ctx.done()


def test_multi_state_ctx_cancelled_at_every_reactivation() -> None:
    m = new_mach()
    m.add1("M")
    ctx = m.new_state_ctx("M")
    m.add1("M")
    assert ctx.done()
    assert not m.new_state_ctx("M").done()


def test_ctx_made_inside_state_handler_belongs_to_new_tick() -> None:
    m = new_mach()
    made: list[Ctx] = []

    class H:
        def AState(self, e: Event) -> None:
            made.append(m.new_state_ctx("A", e))

    m.handlers_bind(H())
    m.add1("A")
    assert made and not made[0].done()
    assert made[0].value["tick"] == 1 and made[0].value["event"] is not None
    m.remove1("A")
    assert made[0].done()


def test_ctx_logs_and_unknown_state() -> None:
    lines: list[str] = []
    m = new_mach(log_level=LogLevel.OPS)
    m.semlogger().set_logger(lambda _l, msg: lines.append(msg))
    m.add1("A")
    m.new_state_ctx("A")
    m.remove1("A")
    assert "[sc1] [ctx:new] A" in lines and "[sc1] [ctx:match] A" in lines
    with pytest.raises(StateMissingError):
        m.new_state_ctx("Nope")


def test_dispose_cancels_state_contexts() -> None:
    m = new_mach()
    m.add1("A")
    a, c = m.new_state_ctx("A"), m.new_state_ctx("C")
    m.dispose()
    assert a.done() and c.done()


def test_thread_waits_on_state_ctx() -> None:
    m = new_mach()
    m.add1("A")
    ctx = m.new_state_ctx("A")
    out: list[bool] = []
    t = threading.Thread(target=lambda: out.append(ctx.wait(5)))
    t.start()
    m.remove1("A")
    t.join(5)
    assert out == [True]


async def test_await_state_ctx() -> None:
    m = new_mach()
    m.add1("A")
    ctx = m.new_state_ctx("A")
    asyncio.get_running_loop().call_later(0.01, m.remove1, "A")
    await asyncio.wait_for(ctx, 5)
