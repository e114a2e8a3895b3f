"""Ctx: a cancellation token with parent/child links, usable from threads and asyncio."""

from __future__ import annotations

import asyncio
import threading

from am_core.ctx import Ctx, CtxCanceledError, CtxDeadlineError


def test_cancel_sets_done_and_err() -> None:
    ctx = Ctx(value={"k": 1})
    assert not ctx.done() and ctx.err() is None
    ctx.cancel()
    assert ctx.done()
    err = ctx.err()
    assert isinstance(err, CtxCanceledError)
    assert str(err) == "context canceled"
    ctx.cancel()  # idempotent


def test_child_cancelled_with_parent_but_not_the_other_way() -> None:
    parent = Ctx()
    a, b = Ctx(parent), Ctx(parent)
    grandchild = Ctx(a)
    a.cancel()
    assert a.done() and grandchild.done() and not parent.done() and not b.done()
    parent.cancel()
    assert b.done()


def test_child_of_cancelled_parent_is_born_cancelled() -> None:
    parent = Ctx()
    parent.cancel()
    assert Ctx(parent).done()


def test_cancelled_children_are_forgotten_by_the_parent() -> None:
    parent = Ctx()
    for _ in range(1000):
        Ctx(parent).cancel()
    assert not parent._callbacks


def test_timeout_cancels_with_deadline_error() -> None:
    ctx = Ctx(timeout=0.02)
    child = Ctx(ctx)
    assert child.wait(20)
    assert isinstance(ctx.err(), CtxDeadlineError)
    assert isinstance(child.err(), CtxDeadlineError)
    assert str(ctx.err()) == "context deadline exceeded"


def test_on_done_runs_in_cancelling_thread() -> None:
    ctx = Ctx()
    where: list[int] = []
    ctx.on_done(lambda: where.append(threading.get_ident()))
    t = threading.Thread(target=ctx.cancel)
    t.start()
    t.join()
    assert where == [t.ident]


def test_wait_from_thread() -> None:
    ctx = Ctx()
    assert ctx.wait(0.01) is False
    threading.Timer(0.01, ctx.cancel).start()
    assert ctx.wait(20) is True  # woken by the cancel, not by the timeout
    assert isinstance(ctx.err(), CtxCanceledError)


async def test_await_cancelled_from_thread() -> None:
    ctx = Ctx()
    threading.Timer(0.01, ctx.cancel).start()
    await asyncio.wait_for(ctx, 20)
    assert ctx.done()
