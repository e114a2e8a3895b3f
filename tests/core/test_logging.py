"""Spec §11: log levels, line formats, log entries and pre-log entries."""

from __future__ import annotations

from am_core import (
    Event,
    LogEntry,
    LogLevel,
    Machine,
    State,
    Tracer,
    Transition,
    new_log_args_mapper,
)


def M(level: int, **kw: object) -> tuple[Machine, list[str]]:
    lines: list[str] = []
    m = Machine(
        {"A": State(), "B": State(), "C": State(remove=["A"]), "M": State(multi=True)},
        id="logger-machine",
        log_level=level,
        **kw,  # type: ignore[arg-type]
    )
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    return m, lines


def test_level_strings() -> None:
    assert [str(lv) for lv in LogLevel] == [
        "nothing",
        "external",
        "changes",
        "ops",
        "decisions",
        "everything",
    ]


def test_nothing_logs_nothing() -> None:
    m, lines = M(0)
    m.log("hi")
    m.add1("A")
    assert lines == []


def test_external_line() -> None:
    m, lines = M(1)
    m.log("hello\nworld %d", 5)
    m.add1("A")
    assert lines == ["[logge] [exter] hello world 5"]


def test_changes_lines() -> None:
    m, lines = M(2)
    m.add(["A", "B"])
    m.add1("C")
    assert lines == ["[logge] [state] +A +B", "[logge] [state] +C -A"]


def test_ops_lines_for_a_mutation() -> None:
    m, lines = M(3)

    class H:
        def AState(self, e: Event) -> None:
            pass

    m.handlers_bind(H(), id="h!1")
    m.add1("A")
    assert lines == [
        "[logge] [handlers] bind 0:h1",
        "[logge] [queue:add] A",
        "[logge] [add] A",
        "[logge] [state] +A",
        "[logge] [handler:0] AState",
    ]


def test_cancel_lines() -> None:
    m, lines = M(3)
    m.add1("B")

    class H:
        def AEnter(self, e: Event) -> bool:
            return False

        def BB(self, e: Event) -> bool:
            return False

    m.handlers_bind(H())
    m.add1("A")
    assert "[logge] [cancel] (A B) by AEnter" in lines
    m.add1("B")
    assert "[logge] [cancel:self] (B) by BB" in lines


def test_queue_postpone_and_duplicate_lines() -> None:
    m, lines = M(3)

    class H:
        def AState(self, e: Event) -> None:
            m.add1("B")
            m.add1("B")

    m.handlers_bind(H())
    m.add1("A")
    assert "[logge] [postpone] queue running (1 item)" in lines
    assert "[logge] [queue:skipped] Duplicate detected for [add] B" in lines


def test_everything_lists_unchanged_states_and_handler_lookups() -> None:
    m, lines = M(5)
    m.handlers_bind(object(), id="empty")
    m.add1("A")
    m.add_err(ValueError("x"))
    assert "[logge] [handle:empty] AEnter" in lines
    assert "[logge] [state] +Exception A" in lines


def test_dont_log_id_and_args_mapper() -> None:
    mapper = new_log_args_mapper(5, ["arg", "arg2"])
    m, lines = M(3, dont_log_id=True, log_args=mapper)
    m.add1("A", {"arg": "foofoofoo", "arg2": 2, "other": 1})
    assert "[queue:add] A (arg=fo... arg2=2)" in lines
    assert "[add] A (arg=fo... arg2=2)" in lines


def test_args_mapper_truncation() -> None:
    assert new_log_args_mapper(4, ["a"])({"a": "abcdef"}) == {"a": "abcd"}
    assert new_log_args_mapper(20)({"id": 1, "zz": 2}) == {"id": "1"}
    assert new_log_args_mapper(20)({"zz": 2}) is None


def test_log_entries_and_pre_log_entries() -> None:
    txs: list[Transition] = []

    class T(Tracer):
        def transition_end(self, tx: Transition) -> None:
            txs.append(tx)

    m, _ = M(3, tracers=[T()])
    m.log("before")
    m.log("before")  # consecutive duplicate dropped
    m.add1("A")
    tx = txs[-1]
    assert tx.pre_log_entries == [
        LogEntry(1, "[exter] before"),
        LogEntry(3, "[queue:add] A"),
    ]
    assert [e.text for e in tx.log_entries] == ["[add] A", "[state] +A"]
    assert tx.log_entries[1].level == LogLevel.CHANGES


def test_set_empty_keeps_entries_without_printing(capsys: object) -> None:
    txs: list[Transition] = []

    class T(Tracer):
        def transition_end(self, tx: Transition) -> None:
            txs.append(tx)

    m = Machine({"A": State()}, id="quiet", tracers=[T()])
    m.semlogger().set_empty(LogLevel.OPS)
    m.add1("A")
    assert [e.text for e in txs[-1].log_entries] == ["[add] A", "[state] +A"]
    assert capsys.readouterr().out == ""  # type: ignore[attr-defined]
