"""``async def`` final handlers run as tasks; async negotiation handlers are refused (docs/api.md)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from am_core import (
    ARG_EXCEPTION,
    AException,
    AsyncHandlerError,
    Event,
    LastTxTracer,
    LogLevel,
    Machine,
    NoLoopError,
    Result,
    State,
)

WAIT = 20.0


def schema() -> dict[str, State]:
    return {"Foo": State(), "Bar": State(), "Multi": State(multi=True)}


async def test_async_foo_state_runs_under_the_state_context() -> None:
    m = Machine(schema(), id="as1")
    seen: list[tuple[str, bool, bool]] = []
    done = asyncio.Event()

    class H:
        async def FooState(self, e: Event) -> None:
            await asyncio.sleep(0)  # really suspended, then resumed by the loop
            assert e.ctx is not None
            seen.append((e.name, e.ctx.done(), m.is1("Foo")))
            m.add1("Bar")
            done.set()

    m.handlers_bind(H())
    assert m.add1("Foo") == Result.EXECUTED
    assert not seen  # the transition does not wait for the task
    await asyncio.wait_for(done.wait(), WAIT)
    assert seen == [("FooState", False, True)]
    assert m.is_(["Foo", "Bar"])


async def test_async_foo_state_is_cancelled_when_foo_is_removed() -> None:
    m = Machine(schema(), id="as2", log_level=LogLevel.OPS)
    lines: list[str] = []
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    started = asyncio.Event()
    outcome: list[str] = []

    class H:
        async def FooState(self, e: Event) -> None:
            started.set()
            try:
                await asyncio.Event().wait()  # never set: only cancellation ends it
                outcome.append("finished")
            except asyncio.CancelledError:
                outcome.append("cancelled")
                raise

    m.handlers_bind(H())
    m.add1("Foo")
    await asyncio.wait_for(started.wait(), WAIT)
    m.remove1("Foo")
    for _ in range(1000):
        if outcome:
            break
        await asyncio.sleep(0.01)
    assert outcome == ["cancelled"]
    assert not m.is_err()  # a cancelled handler is no error
    for _ in range(100):  # the log line is written when the task unwinds
        if any("[handler:async:canceled] FooState" in x for x in lines):
            break
        await asyncio.sleep(0.01)
    assert any(x.endswith("[handler:async] FooState from " + m.handlers()[0]) for x in lines)
    assert any("[handler:async:canceled] FooState" in x for x in lines)


async def test_async_multi_state_reactivation_cancels_the_previous_task() -> None:
    m = Machine(schema(), id="as3")
    runs: list[int] = []
    cancelled: list[int] = []
    started = asyncio.Event()

    class H:
        async def MultiState(self, e: Event) -> None:
            n = e.args["n"]
            runs.append(n)
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append(n)
                raise

    m.handlers_bind(H())
    m.add1("Multi", {"n": 1})
    await asyncio.wait_for(started.wait(), WAIT)
    m.add1("Multi", {"n": 2})  # a new instance: the first task's context ends
    for _ in range(1000):
        if cancelled and len(runs) == 2:
            break
        await asyncio.sleep(0.01)
    assert runs == [1, 2] and cancelled == [1]
    m.dispose()  # disposal cancels the rest
    for _ in range(1000):
        if len(cancelled) == 2:
            break
        await asyncio.sleep(0.01)
    assert cancelled == [1, 2]


async def test_async_handler_exception_lands_in_exception() -> None:
    m = Machine(schema(), id="as4", log_level=LogLevel.OPS)
    lines: list[str] = []
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))

    class H:
        async def FooState(self, e: Event) -> None:
            await asyncio.sleep(0)
            raise ValueError("boom in FooState")

    m.handlers_bind(H())
    assert m.add1("Foo") == Result.EXECUTED
    await asyncio.wait_for(m.when_err(), WAIT)
    err = m.err()
    assert isinstance(err, ValueError) and str(err) == "boom in FooState"
    assert m.is_(["Foo", "Exception"])  # the state stays: its handler already ran
    tx = m.transition()
    assert tx is None  # idle again
    assert any(
        "[handler:async:error] FooState from" in x and "boom in FooState" in x for x in lines
    )


async def test_async_handler_exception_args_name_the_handler_and_trace() -> None:
    m = Machine(schema(), id="as5")
    got: list[AException] = []

    class H:
        async def BarEnd(self, e: Event) -> None:
            raise RuntimeError("end failed")

        def ExceptionState(self, e: Event) -> None:
            got.append(e.args[ARG_EXCEPTION])

    m.handlers_bind(H())
    m.add1("Bar")
    m.remove1("Bar")
    await asyncio.wait_for(m.when_err(), WAIT)
    (a,) = got
    assert isinstance(a.err, RuntimeError)
    assert a.panic is not None and a.panic.handler == "BarEnd"
    assert a.panic.called_states == ["Bar"] and a.panic.states_before == ["Bar"]
    assert "RuntimeError: end failed" in a.err_trace and "BarEnd" in a.err_trace


async def test_async_any_state_runs_per_transition() -> None:
    m = Machine(schema(), id="as6")
    names: list[list[str]] = []

    class H:
        async def AnyState(self, e: Event) -> None:
            tx = e.transition()
            assert tx is not None
            names.append(tx.called_states())

    m.handlers_bind(H())
    m.add1("Foo")
    m.add1("Bar")
    for _ in range(1000):
        if len(names) == 2:
            break
        await asyncio.sleep(0.01)
    assert names == [["Foo"], ["Bar"]]


async def test_async_handler_from_another_thread_runs_on_the_machine_loop() -> None:
    loop = asyncio.get_running_loop()
    m = Machine(schema(), id="as7", loop=loop)
    where: list[bool] = []
    done = asyncio.Event()

    class H:
        async def FooState(self, e: Event) -> None:
            where.append(asyncio.get_running_loop() is loop)
            done.set()

    m.handlers_bind(H())
    t = threading.Thread(target=m.add1, args=("Foo",))
    t.start()
    await asyncio.wait_for(done.wait(), WAIT)
    t.join(WAIT)
    assert where == [True]


@pytest.mark.parametrize("name", ["FooEnter", "FooExit", "FooBar", "FooFoo", "AnyEnter"])
def test_async_negotiation_handler_is_refused_at_bind(name: str) -> None:
    m = Machine(schema(), id="as8")

    async def negotiate(e: Event) -> bool:
        return True

    with pytest.raises(AsyncHandlerError) as got:
        m.handlers_bind_maps({name: negotiate}, id="neg")
    msg = str(got.value)
    assert name in msg and "neg" in msg and "must return a bool synchronously" in msg
    assert m.handlers() == []  # nothing was bound
    assert m.add1("Foo") == Result.EXECUTED


def test_async_foo_enter_on_an_object_is_refused_at_bind() -> None:
    m = Machine(schema(), id="as9")

    class H:
        def FooState(self, e: Event) -> None:
            pass

        async def FooEnter(self, e: Event) -> bool:
            return True

    with pytest.raises(AsyncHandlerError, match="FooEnter"):
        m.handlers_bind(H(), id="obj")
    assert m.handlers() == []


def test_async_final_handler_without_a_loop_is_a_clear_error() -> None:
    m = Machine(schema(), id="as10")

    class H:
        async def FooState(self, e: Event) -> None:
            pass

    with pytest.raises(NoLoopError) as got:
        m.handlers_bind(H(), id="noloop")
    msg = str(got.value)
    assert "FooState" in msg and "no asyncio loop" in msg and "loop=" in msg
    assert m.handlers() == []


def test_async_final_handler_with_a_loop_given_binds_outside_it() -> None:
    loop = asyncio.new_event_loop()
    ran = threading.Event()
    try:
        m = Machine(schema(), id="as11", loop=loop)

        class H:
            async def FooState(self, e: Event) -> None:
                ran.set()

        m.handlers_bind(H())  # no running loop here, but the machine has one
        m.add1("Foo")
        loop.run_until_complete(asyncio.wait_for(asyncio.to_thread(ran.wait, WAIT), WAIT))
        assert ran.is_set()
    finally:
        loop.close()


def test_a_sync_handler_returning_a_coroutine_is_an_error() -> None:
    m = Machine(schema(), id="as12")

    async def later() -> None:
        pass

    m.handlers_bind_maps(finals={"FooState": lambda e: later()})
    m.add1("Foo")
    err = m.err()
    assert err is not None and "returned a coroutine" in str(err) and m.is_err()


async def test_async_handler_exception_names_its_source_transition() -> None:
    m = Machine(schema(), id="as13")
    m.add1("Bar")  # time 1 before the Foo tx
    tr = LastTxTracer()
    m.tracer_bind(tr)
    started: list[str] = []

    class H:
        async def FooState(self, e: Event) -> None:
            started.append(e.transition_id)
            raise ValueError("x")

    m.handlers_bind(H())
    m.add1("Foo")
    await asyncio.wait_for(m.when_err(), WAIT)
    tx = tr.last
    assert tx is not None and tx.mutation.called == ["Exception"]
    src = tx.mutation.source
    assert src is not None and (src.mach_id, src.tx_id, src.mach_time) == ("as13", started[0], 1)
