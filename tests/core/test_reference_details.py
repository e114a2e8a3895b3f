"""Details the debugger draws, as the reference has them: steps, log lines, Transition accessors."""

from __future__ import annotations

from am_core import Event, LastTxTracer, LogLevel, Machine, Relation, State, Step, StepType


def logged(m: Machine) -> list[str]:
    lines: list[str] = []
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    return lines


def test_any_handler_steps_go_from_any_to_any() -> None:
    m = Machine({"A": State()}, id="anys", dont_log_id=True)
    m.semlogger().enable_steps(True)
    tr = LastTxTracer()
    m.tracer_bind(tr)

    class H:
        def AnyEnter(self, e: Event) -> None:
            pass

        def AnyState(self, e: Event) -> None:
            pass

    m.handlers_bind(H())
    m.add1("A")
    tx = tr.last
    assert tx is not None
    handlers = [s for s in tx.steps if s.type == StepType.HANDLER]
    assert handlers == [
        Step(StepType.HANDLER, "Any", "Any", is_enter=True),
        Step(StepType.HANDLER, "Any", "Any", is_final=True, is_enter=True),
    ]


def test_zero_step_type_is_an_empty_string() -> None:
    assert str(StepType(0)) == ""
    assert str(StepType.RELATION) == "rel"


def test_time_index_called_and_diff() -> None:
    m = Machine({"A": State(), "B": State(multi=True), "C": State()}, id="ti")
    tr = LastTxTracer()
    m.tracer_bind(tr)
    m.add(["B", "C"])
    m.set(["A", "B"])  # +A, B re-ticked, -C
    tx = tr.last
    assert tx is not None
    called = tx.time_index_called()
    assert called.active_states() == ["A", "B"] and list(called.time) == [1, 1, 0, 0]
    added, removed = tx.time_index_diff()
    assert added.active_states() == ["A", "B"]
    assert removed.active_states() == ["C"]


def test_an_auto_mutation_is_prepended_and_postponed_in_the_log() -> None:
    m = Machine({"A": State(), "B": State(auto=True, require=["A"])}, id="auto", dont_log_id=True)
    m.set_log_level(LogLevel.DECISIONS)
    lines = logged(m)
    m.add1("A")
    i = lines.index("[auto] B")
    assert lines[i : i + 4] == [
        "[auto] B",
        "[prepend:add] B",
        "[postpone] queue running (1 item)",
        "[add:auto] B",
    ]


def test_a_handler_exception_is_prepended_and_postponed_in_the_log() -> None:
    m = Machine({"A": State()}, id="exc", dont_log_id=True, log_level=LogLevel.OPS)
    lines = logged(m)

    class H:
        def AEnter(self, e: Event) -> None:
            raise ValueError("no")

    m.handlers_bind(H())
    m.add1("A")
    i = lines.index("[cancel] (A) by recover")
    assert lines[i + 1 : i + 3] == ["[prepend:add] Exception", "[postpone] queue running (1 item)"]


def test_implied_lists_every_state_not_in_states_to_set() -> None:
    # set(A) with A add B, B active: B is implied again (not in the set's states_to_set)
    m = Machine({"A": State(add=["B"]), "B": State()}, id="impl", dont_log_id=True)
    m.add1("B")
    m.set_log_level(LogLevel.OPS)
    lines = logged(m)
    m.set("A")
    assert "[implied] B" in lines
    assert m.is_(["A", "B"])


def test_require_steps_put_deactivate_passive_after_each_missing_requirement() -> None:
    m = Machine({"A": State(require=["B", "C"]), "B": State(), "C": State()}, id="rna")
    m.semlogger().enable_steps(True)
    tr = LastTxTracer()
    m.tracer_bind(tr)
    m.add1("A")
    tx = tr.last
    assert tx is not None
    rel = Relation.REQUIRE
    assert list(tx.steps) == [
        Step(StepType.REQUESTED, "", "A"),
        Step(StepType.SET, "", "A"),
        Step(StepType.RELATION, "A", "B", rel),
        Step(StepType.REMOVE_NOT_ACTIVE, "A", ""),
        Step(StepType.CANCEL, "", "B"),
        Step(StepType.RELATION, "A", "C", rel),
        Step(StepType.REMOVE_NOT_ACTIVE, "A", ""),
        Step(StepType.CANCEL, "", "C"),
        Step(StepType.CANCEL, "", "A"),  # setup_accepted: A not accepted
    ]


def test_every_blocking_relation_is_a_step_even_from_a_blocked_state() -> None:
    # add(C, B) with A active: s = [C, B, A], judged from the end: A is blocked by C and B; then
    # B's blocker A is itself blocked, so B stays. Go still records that A→B relation step.
    schema = {"A": State(remove=["B"]), "B": State(remove=["A"]), "C": State(remove=["A"])}
    m = Machine(schema, id="blk")
    m.add(["A"])
    m.semlogger().enable_steps(True)
    tr = LastTxTracer()
    m.tracer_bind(tr)
    m.add(["C", "B"])
    tx = tr.last
    assert tx is not None
    rm = [(s.from_state, s.to_state) for s in tx.steps if s.rel_type == Relation.REMOVE]
    assert rm == [("C", "A"), ("B", "A"), ("A", "B")]
    assert m.active_states() == ["C", "B"]


def test_multi_state_reactivated_shows_as_added_and_unchanged_at_everything() -> None:
    m = Machine({"A": State(), "M": State(multi=True)}, id="mul", dont_log_id=True)
    m.add1("M")
    m.set_log_level(LogLevel.EVERYTHING)
    lines = logged(m)
    m.add(["A", "M"])
    assert "[state] +A +M M" in lines
    m.set_log_level(LogLevel.CHANGES)
    lines.clear()
    m.add1("M")
    assert lines == ["[state] +M"]
