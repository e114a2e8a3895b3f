"""Pipes between two machines: add/remove, bind_*, sync, logger registration and GC."""

from __future__ import annotations

from typing import Any

import pytest

from am_core import StateMissingError, pipes
from am_core.machine import Machine
from am_core.states import BasicStates, ConnectedStates
from am_core.types import LogLevel, State
from tests.waiting import wait_until


def pair(log_src: list[str], log_dst: list[str]) -> tuple[Machine, Machine]:
    src = Machine(
        {**BasicStates.schema(), **ConnectedStates.schema(), "Foo": State()},
        id="src1",
        log_level=LogLevel.OPS,
    )
    dst = Machine(
        {
            **BasicStates.schema(),
            "Bar": State(),
            "Foo": State(),
            "SrcReady": State(),
            "SrcConn": State(),
            "SrcDisc": State(),
            "ErrSrc": State(require=["Exception"]),
        },
        id="dst1",
        log_level=LogLevel.OPS,
    )
    src.semlogger().set_logger(lambda _l, m: log_src.append(m))
    dst.semlogger().set_logger(lambda _l, m: log_dst.append(m))
    return src, dst


def settle(*ws: Any) -> None:
    for w in ws:
        assert w.wait(5)


def test_bind_pipes_add_and_remove_and_registers_in_both_loggers() -> None:
    ls: list[str] = []
    ld: list[str] = []
    src, dst = pair(ls, ld)
    pipes.bind(src, dst, "Foo", "Bar")
    assert "[src1] [pipe-out:add] Foo to dst1" in ls
    assert "[src1] [pipe-out:remove] Foo to dst1" in ls
    assert "[dst1] [pipe-in:add] Bar from src1" in ld
    assert "[dst1] [pipe-in:remove] Bar from src1" in ld
    assert [e.text for e in src.semlogger().pipes()] == [
        "[pipe-out:add] Foo to dst1",
        "[pipe-out:remove] Foo to dst1",
    ]
    assert [e.text for e in dst.semlogger().pipes()] == [
        "[pipe-in:add] Bar from src1",
        "[pipe-in:remove] Bar from src1",
    ]
    w = dst.when1("Bar")
    src.add1("Foo", {"id": 7})
    settle(w)
    tx = dst.transition()
    assert tx is None  # the queue is idle again
    w = dst.when_not1("Bar")
    src.remove1("Foo")
    settle(w)


def test_pipe_add_is_traced_and_carries_args() -> None:
    src, dst = pair([], [])
    handler = pipes.add(src, dst, "Foo", "Bar")
    src.handlers_bind_maps(finals={"FooState": handler})
    seen: list[Any] = []

    class H:
        def BarState(self, e: Any) -> None:
            seen.append((dict(e.args), e.mutation().source))

    dst.handlers_bind(H())
    w = dst.when1("Bar")
    src.add1("Foo", {"id": 3})
    settle(w)
    args, source = seen[0]
    assert args == {"id": 3}
    assert source is not None and source.mach_id == "src1"


def test_fast_toggles_arrive_in_order() -> None:
    src, dst = pair([], [])
    pipes.bind(src, dst, "Foo", "Bar")
    for _ in range(50):
        src.add1("Foo")
        src.remove1("Foo")
    src.add1("Foo")
    settle(dst.when1("Bar"))
    # every add/remove was delivered, in order: Bar ticked once per source change
    wait_until(lambda: dst.tick("Bar") >= 101, what="Bar's 101st tick")
    assert dst.tick("Bar") == 101 and dst.is1("Bar")


def test_flat_pipes_are_synchronous_and_skip_noops() -> None:
    src, dst = pair([], [])
    src.handlers_bind_maps(
        finals={
            "FooState": pipes.add_flat(src, dst, "Foo", "Bar"),
            "FooEnd": pipes.remove_flat(src, dst, "Foo", "Bar"),
        }
    )
    dst.add1("Bar")
    t = dst.tick("Bar")
    src.add1("Foo")
    assert dst.tick("Bar") == t  # already active: skipped
    src.remove1("Foo")
    assert not dst.is1("Bar")  # synchronous


def test_bind_err_adds_exception_with_err_state() -> None:
    src, dst = pair([], [])
    pipes.bind_err(src, dst, "ErrSrc")
    w = dst.when1("ErrSrc")
    src.add_err(RuntimeError("x"))
    settle(w)
    assert dst.is_(["Exception", "ErrSrc"])


def test_bind_ready_and_connected() -> None:
    src, dst = pair([], [])
    pipes.bind_ready(src, dst, "SrcReady")
    pipes.bind_connected(src, dst, disconnected="SrcDisc", connected="SrcConn")
    w = dst.when(["SrcReady", "SrcConn"])
    src.add(["Start", "Ready"])
    src.add1("Connected")
    settle(w)
    w = dst.when(["SrcDisc"])
    src.remove1("Connected")  # Disconnected is auto: comes back by itself
    settle(w)
    assert src.is1("Disconnected")
    assert not dst.is1("SrcConn") or dst.when_not1("SrcConn").wait(5)


def test_bind_any_mirrors_states() -> None:
    src, dst = pair([], [])
    pipes.bind_any(src, dst, ["Start", "Foo"])
    src.add1("Start")
    settle(dst.when1("Start"))
    src.set(["Foo"])
    settle(dst.when(["Foo"]), dst.when_not1("Start"))


def test_sync_is_one_off() -> None:
    src, dst = pair([], [])
    src.add1("Foo")
    dst.add1("Start")
    pipes.sync(src, dst, ["Foo", "Start"])
    assert dst.is1("Foo") and not dst.is1("Start")


def test_dispose_drops_the_pipe_from_the_other_logger() -> None:
    ls: list[str] = []
    ld: list[str] = []
    src, dst = pair(ls, ld)
    pipes.bind(src, dst, "Foo", "Bar")
    src.dispose()
    assert dst.semlogger().pipes() == []
    assert "[dst1] [pipe:gc] src1" in ld


def test_unknown_source_or_target_state_raises_before_anything_is_bound() -> None:
    src, dst = pair([], [])
    with pytest.raises(StateMissingError, match="Nope not defined in schema for src1"):
        pipes.add(src, dst, "Nope")
    with pytest.raises(StateMissingError, match="Nope not defined in schema for dst1"):
        pipes.bind(src, dst, "Foo", "Nope")
    assert src.semlogger().pipes() == [] and dst.semlogger().pipes() == []
