"""Every ``when*`` method: resolution rules of spec §8 (immediate, later, lazy ctx, reuse, dispose)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from am_core.ctx import Ctx
from am_core.errors import StateMissingError
from am_core.event import Event
from am_core.machine import Machine
from am_core.types import LogLevel, Result, State


def new_mach(log: list[str] | None = None, **kw: Any) -> Machine:
    schema = {
        "A": State(),
        "B": State(),
        "C": State(require=["A"]),
        "M": State(multi=True),
        "Ready": State(),
    }
    m = Machine(schema, id="w1", **kw)
    if log is not None:
        m.semlogger().set_logger(lambda _lvl, msg: log.append(msg))
        m.set_log_level(LogLevel.OPS)
    return m


# -- when / when1 ---------------------------------------------------------------------------


def test_when_closed_now_when_all_active_shared_waiter() -> None:
    m = new_mach()
    m.add(["A", "B"])
    w1, w2 = m.when(["A", "B"]), m.when1("A")
    assert w1.done() and w2.done()
    assert w1 is w2  # the shared, already closed waiter


def test_when_resolves_once_all_active_at_the_same_time() -> None:
    m = new_mach()
    w = m.when(["A", "B"])
    m.add1("A")
    assert not w.done()
    m.remove1("A")
    m.add1("B")
    assert not w.done()  # A was activated and deactivated before B: doesn't count
    m.add1("A")
    assert w.done()


def test_when_unknown_state_raises() -> None:
    m = new_mach()
    with pytest.raises(StateMissingError, match="Unknown not defined in schema for w1"):
        m.when(["A", "Unknown"])


def test_when1_and_logs() -> None:
    log: list[str] = []
    m = new_mach(log)
    w = m.when1("B")
    m.add1("B")
    assert w.done()
    assert "[w1] [when:new] B" in log and "[w1] [when:match] B" in log


# -- when_not / when_not1 -------------------------------------------------------------------


def test_when_not_closed_now_and_later() -> None:
    log: list[str] = []
    m = new_mach(log)
    assert m.when_not(["A", "B"]).done()
    m.add(["A", "B"])
    w = m.when_not(["A", "B"])
    w1 = m.when_not1("A")
    m.remove1("A")
    assert w1.done() and not w.done()
    m.remove1("B")
    assert w.done()
    assert "[w1] [whenNot:new] A B" in log and "[w1] [whenNot:match] A B" in log


# -- when_err ---------------------------------------------------------------------------------


def test_when_err() -> None:
    m = new_mach()
    w = m.when_err()
    m.add_err(ValueError("bad"))
    assert w.done() and m.is_err()
    assert m.when_err().done()


# -- when_time / when_time1 / when_ticks / when_next_active -----------------------------------


def test_when_time_all_clocks_reach_their_times() -> None:
    log: list[str] = []
    m = new_mach(log)
    w = m.when_time(["A", "B"], [3, 1])
    m.add1("B")  # B:1
    m.add1("A")  # A:1
    assert not w.done()
    m.remove1("A")  # A:2
    m.add1("A")  # A:3
    assert w.done()
    assert m.when_time(["A", "B"], [3, 1]).done()  # already true
    assert "[w1] [whenTime:new] A,B 3 1" in log
    assert "[w1] [whenTime:match] A B [3 1]" in log


def test_when_time_length_mismatch_adds_error() -> None:
    m = new_mach()
    w = m.when_time(["A", "B"], [1])
    assert w.done()
    assert m.is_err()
    assert str(m.err()) == "whenTime: states and times must have the same length (A B) > 0"


def test_when_time1_and_ticks() -> None:
    m = new_mach()
    w = m.when_time1("A", 2)
    w2 = m.when_ticks("A", 3)
    m.add1("A")
    assert not w.done()
    m.remove1("A")
    assert w.done() and not w2.done()
    m.add1("A")
    assert w2.done()


def test_when_next_active_for_active_and_inactive_state() -> None:
    m = new_mach()
    w_inactive = m.when_next_active("B")
    m.add1("A")
    w_active = m.when_next_active("A")  # must deactivate and activate again
    m.add1("B")
    assert w_inactive.done()
    m.remove1("A")
    assert not w_active.done()
    m.add1("A")
    assert w_active.done()


def test_when_next_active_multi_reactivation() -> None:
    m = new_mach()
    m.add1("M")
    w = m.when_next_active("M")
    m.add1("M")  # multi re-activation: +2 ticks
    assert w.done()


# -- when_args ----------------------------------------------------------------------------------


def test_when_args_matches_subset_of_mutation_args() -> None:
    log: list[str] = []
    m = new_mach(log)
    w = m.when_args("M", {"id": 2})
    assert not w.done()  # never closed at creation
    m.add1("M", {"id": 1})
    assert not w.done()
    m.add1("M", {"id": 2, "extra": "x"})
    assert w.done()
    assert "[w1] [whenArgs:new] M (id)" in log and "[w1] [whenArgs:match] M (id)" in log


def test_when_args_only_on_activation() -> None:
    m = new_mach()
    m.add1("A", {"k": 1})
    w = m.when_args("A", {"k": 1})
    m.add1("A", {"k": 1})  # already active, not multi: no AState event
    assert not w.done()
    m.remove1("A")
    m.add1("A", {"k": 1})
    assert w.done()


def test_when_args_with_bound_handlers_runs_after_the_handler() -> None:
    m = new_mach()
    seen: list[bool] = []
    w = m.when_args("B", {"x": 1})

    class H:
        def BState(self, e: Event) -> None:
            seen.append(w.done())

    m.handlers_bind(H())
    m.add1("B", {"x": 1})
    assert seen == [False] and w.done()


# -- when_query ---------------------------------------------------------------------------------


def test_when_query_evaluated_after_accepted_transitions_only() -> None:
    m = new_mach()
    m.add1("A")
    calls: list[dict[str, int]] = []

    def q(clock: dict[str, int]) -> bool:
        calls.append(clock)
        return clock["B"] >= 1

    w = m.when_query(q)
    assert not w.done() and not calls  # not checked at creation
    m.add1("C")  # accepted (A active), B still 0
    assert not w.done() and len(calls) == 1
    m.add1("B")
    assert w.done()


# -- when_queue / when_queue_ends -------------------------------------------------------------


def test_when_queue_closed_now_for_past_ticks() -> None:
    m = new_mach()
    m.add1("A")
    assert m.queue_tick() == 2
    assert m.when_queue(2).done()


def test_when_queue_for_a_mutation_queued_in_a_handler() -> None:
    m = new_mach()
    got: dict[str, Any] = {}

    class H:
        def AState(self, e: Event) -> None:
            res = m.add1("B")
            assert Result.is_queued(res)
            got["w"] = m.when_queue(int(res))
            got["done_in_handler"] = got["w"].done()
            got["ends"] = m.when_queue_ends()
            got["ends_in_handler"] = got["ends"].done()

    m.handlers_bind(H())
    m.add1("A")
    assert got["done_in_handler"] is False and got["w"].done()
    assert got["ends_in_handler"] is False and got["ends"].done()
    assert m.is1("B")
    assert m.when_queue_ends().done()  # idle queue


# -- when_disposed ------------------------------------------------------------------------------


def test_when_disposed_closes_after_dispose_callbacks() -> None:
    m = new_mach()
    w = m.when_disposed()
    order: list[str] = []
    m.on_dispose(lambda _id, _ctx: order.append(f"cb:{w.done()}"))
    assert not w.done()
    m.dispose()
    assert w.done() and order == ["cb:False"]


# -- context expiry (lazy) ----------------------------------------------------------------------


def test_done_ctx_returns_closed_waiter() -> None:
    m = new_mach()
    ctx = Ctx()
    ctx.cancel()
    assert m.when1("A", ctx).done()
    assert m.when_time1("A", 5, ctx).done()
    assert m.when_args("A", {"a": 1}, ctx).done()


def test_ctx_expiry_closes_waiter_lazily_at_next_accepted_tx() -> None:
    m = new_mach()
    m.add1("B")
    ctx = Ctx()
    ws = [
        m.when1("A", ctx),
        m.when_not1("B", ctx),
        m.when_time1("A", 9, ctx),
        m.when_args("A", {"z": 1}, ctx),
        m.when_query(lambda _c: False, ctx),
    ]
    ctx.cancel()
    assert not any(w.done() for w in ws)
    m.add1("C")  # canceled (C requires A): processes nothing, not even ctx GC
    assert not any(w.done() for w in ws)
    m.add1("B")  # accepted no-op
    assert all(w.done() for w in ws)
    assert not m.is1("A")


def test_state_ctx_bound_waiter_expires_with_the_state() -> None:
    m = new_mach()
    m.add1("B")
    ctx = m.new_state_ctx("B")
    w = m.when1("A", ctx)
    m.remove1("B")  # cancels ctx; the same tx collects the waiter
    assert ctx.done() and w.done() and not m.is1("A")


# -- reuse ------------------------------------------------------------------------------------------


def test_reuse_of_the_same_waiter() -> None:
    m = new_mach()
    ctx = Ctx()
    assert m.when(["A", "B"]) is m.when(["B", "A"])
    assert m.when(["A", "B"], ctx) is m.when(["A", "B"], ctx)
    assert m.when(["A", "B"], ctx) is not m.when(["A", "B"])
    assert m.when_not1("Ready") is not m.when1("Ready")
    m.add1("Ready")
    assert m.when_not1("Ready") is m.when_not1("Ready")
    assert m.when_time(["A"], [3]) is m.when_time(["A"], [3])
    assert m.when_time(["A"], [3]) is not m.when_time(["A"], [5])
    assert m.when_args("A", {"x": 1}) is m.when_args("A", {"x": 1}, ctx)  # ctx ignored
    assert m.when_args("A", {"x": 1}) is not m.when_args("A", {"x": 2})
    # a resolved waiter is not reused
    w = m.when1("A")
    m.add1("A")
    m.remove1("A")
    assert m.when1("A") is not w


# -- canceled transitions ---------------------------------------------------------------------------


def test_canceled_transition_processes_nothing() -> None:
    m = new_mach()

    class H:
        def BEnter(self, e: Event) -> bool:
            return False

    m.handlers_bind(H())
    q_calls: list[int] = []

    def query(_clock: dict[str, int]) -> bool:
        q_calls.append(1)
        return True

    wq = m.when_query(query)
    wt = m.when_time1("B", 0)  # already true
    assert wt.done()
    assert m.add1("B") == Result.CANCELED
    assert not wq.done() and not q_calls
    m.add1("A")
    assert wq.done() and q_calls == [1]


# -- disposal -------------------------------------------------------------------------------------


def test_dispose_closes_every_pending_waiter_and_ctx() -> None:
    m = new_mach()
    m.add1("B")
    sctx = m.new_state_ctx("B")
    ws = [
        m.when1("A"),
        m.when_not1("B"),
        m.when_time1("A", 7),
        m.when_args("A", {"q": 1}),
        m.when_query(lambda _c: False),
        m.when_queue(99),
    ]
    m.dispose()
    assert all(w.done() for w in ws)
    assert sctx.done()
    assert m.when1("A").done() and m.when_not1("A").done() and m.when_queue(1000).done()
    assert m.when_disposed().done()
    assert m.new_state_ctx("A").done()


# -- threads and asyncio ------------------------------------------------------------------------


def test_cross_thread_resolution() -> None:
    m = new_mach()
    w = m.when(["A", "B"])
    results: list[bool] = []
    waiter_thread = threading.Thread(target=lambda: results.append(w.wait(5)))
    waiter_thread.start()
    t1 = threading.Thread(target=m.add1, args=("A",))
    t1.start()
    t1.join()
    threading.Thread(target=m.add1, args=("B",)).start()
    waiter_thread.join(5)
    assert results == [True]


async def test_await_several_waiters_with_a_timeout() -> None:
    m1, m2 = new_mach(), new_mach()
    w1, w2, w3 = m1.when1("A"), m2.when1("Ready"), m1.when_ticks("M", 2)
    loop = asyncio.get_running_loop()

    def work() -> None:
        time.sleep(0.01)
        m1.add1("A")
        m2.add1("Ready")
        m1.add1("M")
        m1.add1("M")

    fut = loop.run_in_executor(None, work)
    await asyncio.wait_for(asyncio.gather(w1, w2, w3), timeout=5)
    await fut
    assert m1.tick("M") == 3
    # and a timeout when one never resolves
    never = m2.when1("B")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.gather(m1.when1("A"), never), timeout=0.05)
    assert not never.done()


async def test_awaited_waiter_resolved_by_a_mutation_from_another_thread() -> None:
    m = new_mach()
    w = m.when_not1("A")
    m.add1("A")
    w = m.when_not1("A")
    threading.Timer(0.01, m.remove1, args=("A",)).start()
    await asyncio.wait_for(w, 5)
    assert not m.is1("A")


def test_broken_query_closes_its_waiter_and_reports_the_error() -> None:
    m = new_mach()

    def q(_clock: dict[str, int]) -> bool:
        raise KeyError("nope")

    w = m.when_query(q)
    m.add1("A")
    assert w.done() and m.is_err() and isinstance(m.err(), KeyError)
