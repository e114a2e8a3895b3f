"""Spec §5.5 (exceptions in handlers), §10 (errors), handler timeout (design.md §2)."""

from __future__ import annotations

import asyncio
import time

import pytest

from am_core import (
    ARG_EXCEPTION,
    AException,
    Event,
    ExceptionHandler,
    HandlerTimeoutError,
    Machine,
    Result,
    State,
)


def M(schema: dict[str, State], **kw: object) -> tuple[Machine, list[str]]:
    lines: list[str] = []
    m = Machine(schema, id="exc", **kw)  # type: ignore[arg-type]
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    return m, lines


def test_negotiation_exception_cancels_and_activates_exception() -> None:
    m, lines = M({"A": State(), "B": State()}, log_level=3)
    m.add1("A")

    class H:
        def BEnter(self, e: Event) -> None:
            raise RuntimeError("boom")

    m.handlers_bind(H())
    assert m.add1("B") == Result.CANCELED
    assert m.active_states() == ["Exception", "A"]
    assert not m.is1("B")
    assert "[exc] [cancel] (B A) by recover" in lines
    assert isinstance(m.err(), RuntimeError) and str(m.err()) == "boom"


def test_final_handler_exception_rolls_back_later_states() -> None:
    """add(A B C) with BState raising -> Canceled, (A Exception), ticks A1 B2 C2 Exception1."""
    m, _ = M({"A": State(), "B": State(), "C": State()})

    class H:
        def BState(self, e: Event) -> None:
            raise RuntimeError("final")

    m.handlers_bind(H())
    assert m.add(["A", "B", "C"]) == Result.CANCELED
    assert sorted(m.active_states()) == ["A", "Exception"]
    assert m.clock() == {"A": 1, "B": 2, "C": 2, "Exception": 1}


def test_exception_args_carry_the_error_and_panic_details() -> None:
    m, _ = M({"A": State()})
    got: list[AException] = []

    class H:
        def AEnter(self, e: Event) -> None:
            raise KeyError("k")

        def ExceptionState(self, e: Event) -> None:
            got.append(e.args[ARG_EXCEPTION])

    m.handlers_bind(H())
    m.add1("A")
    assert len(got) == 1
    exc = got[0]
    assert isinstance(exc.err, KeyError)
    assert exc.panic is not None and exc.panic.called_states == ["A"]
    assert "KeyError" in exc.err_trace


def test_exception_in_exception_state_is_not_rehandled() -> None:
    m, _ = M({"A": State()})

    class H:
        def ExceptionState(self, e: Event) -> None:
            raise RuntimeError("again")

    m.handlers_bind(H())
    assert m.add_err(ValueError("first")) == Result.CANCELED
    assert not m.is1("Exception")
    assert m.tick("Exception") == 2  # activated, rolled back


def test_dont_panic_to_exception_propagates() -> None:
    m, _ = M({"A": State()}, dont_panic_to_exception=True)

    class H:
        def AState(self, e: Event) -> None:
            raise RuntimeError("raw")

    m.handlers_bind(H())
    with pytest.raises(RuntimeError, match="raw"):
        m.add1("A")
    # the machine is usable afterwards
    assert m.transition() is None
    assert m.remove1("A") in (Result.EXECUTED, Result.CANCELED)


def test_exception_handler_logs_error_line() -> None:
    m, lines = M({"A": State()}, log_level=2, dont_log_stack_trace=True)

    class H(ExceptionHandler):
        def AEnter(self, e: Event) -> None:
            raise ValueError("bad input")

    m.handlers_bind(H())
    m.add1("A")
    assert "[exc] [error:add] A (bad input)" in lines
    m.add_err(OSError("disk"))
    assert "[exc] [error] disk" in lines


def test_add_err_state_activates_both_and_stores_error() -> None:
    m, _ = M({"ErrNet": State(require=["Exception"]), "A": State()})
    err = ConnectionError("down")
    assert m.add1("ErrNet") == Result.CANCELED
    assert m.add_err_state("ErrNet", err) == Result.EXECUTED
    assert m.is_(["ErrNet", "Exception"]) and m.err() is err and m.is_err()
    m.remove1("Exception")
    assert m.active_states() == []
    assert m.err() is err  # kept after Exception is removed


def test_add_err_with_none_or_cancelled_is_canceled() -> None:
    m, _ = M({"A": State()})
    assert m.add_err(None) == Result.CANCELED
    assert m.add_err(asyncio.CancelledError()) == Result.CANCELED
    assert not m.is_err()


def test_panic_to_err_in_except_block() -> None:
    m, _ = M({"A": State()})
    try:
        raise LookupError("thread failure")
    except LookupError:
        assert m.panic_to_err() == Result.EXECUTED
    assert m.is_err() and str(m.err()) == "thread failure"


def test_on_error_and_on_change_callbacks() -> None:
    m, _ = M({"A": State()})
    errs: list[BaseException] = []
    changes: list[tuple[list[int], list[int]]] = []
    m.on_error(lambda mach, err: errs.append(err))
    m.on_change(lambda mach, before, after: changes.append((list(before), list(after))))
    m.add1("A")
    m.add_err(ValueError("e"))
    assert [str(e) for e in errs] == ["e"]
    assert changes == [([0, 0], [1, 0]), ([1, 0], [1, 1])]


def test_first_binding_re_adds_stored_error() -> None:
    m, _ = M({"A": State()})
    m.add_err(ValueError("early"))
    seen: list[str] = []

    class H:
        def ExceptionState(self, e: Event) -> None:
            seen.append(str(e.args[ARG_EXCEPTION].err))

    m.handlers_bind(H())
    assert seen == ["early"]
    assert m.tick("Exception") == 3


def test_handler_timeout_cancels_without_exception() -> None:
    m, lines = M({"A": State()}, log_level=3, handler_timeout=0.01)

    class H:
        def AEnter(self, e: Event) -> None:
            time.sleep(0.03)

    m.handlers_bind(H())
    assert m.add1("A") == Result.CANCELED
    assert not m.is1("A") and not m.is_err()
    assert "[exc] [cancel] (A) by timeout" in lines
    errs = m.err_internal()
    assert len(errs) == 1 and isinstance(errs[0], HandlerTimeoutError)
    assert str(errs[0]).startswith("handler timeout: AEnter from anon-")


def test_schema_conflict_starts_in_exception() -> None:
    m, _ = M({"A": State(require=["B"], remove=["B"]), "B": State()})
    assert m.is1("Exception") and m.tick("Exception") == 1
    assert str(m.err()) == "schema error: require-remove conflict for A to B"


def test_exception_in_end_handler_keeps_target_applied() -> None:
    """[quirk] a failing End handler does not roll back: the walker only matches State handlers."""
    m, _ = M({"A": State(), "B": State()})
    m.add1("A")

    class H:
        def AEnd(self, e: Event) -> None:
            raise RuntimeError("end")

    m.handlers_bind(H())
    assert m.set("B") == Result.CANCELED
    assert sorted(m.active_states()) == ["B", "Exception"]
    assert m.clock() == {"A": 2, "B": 1, "Exception": 1}


def test_exception_in_exception_called_tx_does_not_nest() -> None:
    m, _ = M({"A": State()})
    calls: list[str] = []

    class H:
        def ExceptionEnter(self, e: Event) -> None:
            calls.append("enter")
            raise RuntimeError("nested")

    m.handlers_bind(H())
    assert m.add_err(ValueError("orig")) == Result.CANCELED
    assert calls == ["enter"] and not m.is_err()
    assert str(m.err()) == "orig"  # the handler's exception is not stored: no nesting
