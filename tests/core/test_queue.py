"""Spec §3: results, the queue, queue ticks, duplicates, limits, checks and eval."""

from __future__ import annotations

import pytest

from am_core import Ctx, Event, Machine, MutationType, Result, State, StateMissingError

from .helpers import queue_held


def _abc() -> Machine:
    return Machine({"A": State(), "B": State(), "C": State(), "D": State()}, id="q")


def test_result_values_and_strings() -> None:
    assert Result.EXECUTED == 0 and Result.CANCELED == 1 and Result.QUEUED == 2
    assert str(Result.EXECUTED) == "executed"
    assert str(Result.CANCELED) == "canceled"
    assert str(Result(7)) == "queued"
    assert Result.is_queued(Result(5)) and not Result.is_queued(Result.CANCELED)


def test_queue_tick_example_from_testqueue() -> None:
    """Spec §3.4: set([A]) -> queue tick 2; a nested add([C]) inside set([B]) (tick 3) returns 4."""
    m = _abc()
    assert m.queue_tick() == 1
    assert m.set("A") == Result.EXECUTED
    assert m.queue_tick() == 2
    seen: dict[str, int] = {}

    class H:
        def BEnter(self, e: Event) -> None:
            seen["during"] = m.queue_tick()
            seen["nested"] = m.add("C")

    m.handlers_bind(H())
    assert m.set("B") == Result.EXECUTED
    assert seen == {"during": 3, "nested": 4}
    assert m.queue_tick() == 4
    assert m.is_(["B", "C"])


def test_mutations_in_handlers_are_queued_fifo_after_the_tx() -> None:
    m = _abc()
    order: list[str] = []

    class H:
        def AState(self, e: Event) -> None:
            r1 = m.add("B")
            r2 = m.add("C")
            order.append(f"queued {int(r1)} {int(r2)}")
            assert not m.is1("B")

        def BState(self, e: Event) -> None:
            order.append("B")

        def CState(self, e: Event) -> None:
            order.append("C")

    m.handlers_bind(H())
    assert m.add("A") == Result.EXECUTED
    assert order == ["queued 3 4", "B", "C"]
    assert m.is_(["A", "B", "C"])


def test_duplicate_mutation_is_suppressed_and_returns_executed() -> None:
    m = _abc()
    res: list[Result] = []

    class H:
        def AState(self, e: Event) -> None:
            res.append(m.add("B"))
            res.append(m.add("B"))  # duplicate: no args, same type, same set
            res.append(m.add("B", {"x": 1}))  # args: never deduplicated
            res.append(m.queue_len())  # type: ignore[arg-type]

    m.handlers_bind(H())
    m.add("A")
    assert res == [Result(3), Result.EXECUTED, Result(4), 2]


def test_multi_states_are_never_deduplicated() -> None:
    m = Machine({"A": State(), "M": State(multi=True)}, id="q")

    class H:
        def AState(self, e: Event) -> None:
            m.add("M")
            m.add("M")

    m.handlers_bind(H())
    m.add("A")
    assert m.tick("M") == 3  # activated, then re-activated (+2)


def test_canceled_tx_keeps_mutations_queued_by_its_handlers() -> None:
    """Spec §5.4: BEnter queues add(C) and rejects; set([B]) is canceled, C still activates."""
    m = _abc()

    class H:
        def BEnter(self, e: Event) -> bool:
            m.add("C")
            return False

    m.handlers_bind(H())
    assert m.set("B") == Result.CANCELED
    assert m.active_states() == ["C"]


def test_remove_inactive_from_handler_returns_executed_without_queueing() -> None:
    m = _abc()
    got: list[Result] = []

    class H:
        def AState(self, e: Event) -> None:
            got.append(m.remove("D"))
            got.append(m.queue_len())  # type: ignore[arg-type]

    m.handlers_bind(H())
    m.add("A")
    assert got == [Result.EXECUTED, 0]


def test_remove_inactive_outside_handlers_runs_a_noop_tx() -> None:
    m = _abc()
    assert m.remove("D") == Result.EXECUTED
    assert m.queue_tick() == 2


def test_unknown_state_raises_naming_state_and_machine() -> None:
    m = _abc()
    with pytest.raises(StateMissingError) as exc:
        m.add("Nope")
    assert str(exc.value) == "missing states: Nope not defined in schema for q"
    with pytest.raises(StateMissingError):
        m.add1("Nope")
    with pytest.raises(StateMissingError):
        m.set(["A", "Nope"])
    assert m.queue_len() == 0 and m.queue_tick() == 1


def test_duplicates_in_called_states_are_dropped() -> None:
    m = _abc()
    seen: list[list[str]] = []

    class T:
        def transition_end(self, tx: object) -> None:
            seen.append(tx.mutation.called)  # type: ignore[attr-defined]

    m.tracer_bind(T())
    m.add(["A", "B", "A"])
    assert seen == [["A", "B"]]


def test_queue_limit_cancels_but_lets_exception_in() -> None:
    m = _abc()
    m.queue_limit = 2
    got: list[Result] = []

    class H:
        def AState(self, e: Event) -> None:
            got.append(m.add("B"))
            got.append(m.add("C", {"a": 1}))
            got.append(m.add("D"))  # full
            got.append(m.set("D"))  # full
            got.append(m.add("Exception"))  # full, but Exception is let in
            got.append(m.add_err(ValueError("x")))  # add_err has no exemption

    m.handlers_bind(H())
    m.add("A")
    assert got[:4] == [Result(3), Result(4), Result.CANCELED, Result.CANCELED]
    assert Result.is_queued(got[4])
    assert got[5] == Result.CANCELED
    assert m.is_(["A", "B", "C", "Exception"]) and not m.is1("D")


def test_toggle() -> None:
    m = _abc()
    assert m.toggle1("A") == Result.EXECUTED and m.is1("A")
    assert m.toggle1("A") == Result.EXECUTED and not m.is1("A")
    m.add("A")
    m.toggle(["A", "B"])  # not all active -> add
    assert m.is_(["A", "B"])
    m.toggle(["A", "B"])  # all active -> remove
    assert m.active_states() == []


def test_can_add_runs_negotiation_without_applying() -> None:
    m = Machine({"A": State(require=["B"]), "B": State(), "C": State()}, id="q")
    log: list[str] = []

    class H:
        def CEnter(self, e: Event) -> bool:
            log.append("CEnter")
            return True

        def CState(self, e: Event) -> None:
            log.append("CState")

    m.handlers_bind(H())
    assert m.can_add1("A") == Result.CANCELED
    assert m.can_add(["A", "B"]) == Result.EXECUTED
    assert m.can_add1("C") == Result.EXECUTED
    assert log == ["CEnter"]
    assert m.active_states() == [] and m.time() == [0, 0, 0, 0]
    assert m.queue_tick() == 1  # checks are prepended: no tick
    m.add("C")
    assert m.can_remove1("C") == Result.EXECUTED and m.is1("C")


def test_can_add_with_multi_ignores_relation_rejection() -> None:
    m = Machine({"A": State(require=["B"], multi=True), "B": State()}, id="q")
    assert m.can_add1("A") == Result.EXECUTED  # [quirk] a called multi state: no relation cancel
    assert m.add1("A") == Result.CANCELED


def test_check_queues_mutations_of_its_negotiation_handlers() -> None:
    m = _abc()

    class H:
        def AEnter(self, e: Event) -> None:
            m.add("B")

    m.handlers_bind(H())
    assert m.can_add1("A") == Result.EXECUTED
    assert m.active_states() == ["B"]


def test_eval_runs_inside_the_queue() -> None:
    m = _abc()
    out: list[int] = []
    assert m.eval("read", lambda: out.append(m.queue_tick()))
    assert out == [1]
    with pytest.raises(Exception, match="source"):
        m.eval("", lambda: None)


def test_eval_nested_in_handler_with_detection_adds_exception() -> None:
    m = Machine({"A": State()}, id="q", detect_eval=True)
    got: list[bool] = []

    class H:
        def AState(self, e: Event) -> None:
            got.append(m.eval("nested", lambda: None))

    m.handlers_bind(H())
    m.add("A")
    assert got == [False]
    assert m.is1("Exception")
    assert "eval nested in handler or eval" in str(m.err())


def test_mutations_from_other_thread_while_draining_are_queued() -> None:
    m = _abc()
    res: list[Result] = []
    with queue_held(m, "A"):
        res.append(m.add("B"))  # another thread drains: queued, returns its queue tick
    assert res == [Result(3)]
    assert m.is_(["A", "B"])


def test_is_queued_and_will_be() -> None:
    m = _abc()
    found: list[object] = []

    class H:
        def AState(self, e: Event) -> None:
            m.add(["B", "C"])
            m.remove("A")
            found.append(m.is_queued(MutationType.ADD, ["B"]))
            found.append(m.is_queued(MutationType.ADD, ["B"], strict_equal=True))
            found.append(m.will_be(["C"]))
            found.append(m.will_be_removed1("A"))
            found.append(m.will_be1("D"))

    m.handlers_bind(H())
    m.add("A")
    assert found == [(True, 0, 3), (False, -1, 0), True, True, False]


def test_eval_times_out_while_another_thread_drains() -> None:
    m = _abc()
    m.eval_timeout = 0.05
    ran: list[str] = []
    with queue_held(m, "A"):
        assert m.eval("slow", lambda: ran.append("ran")) is False
    assert ran == []  # a timed-out eval is skipped when its turn comes
    errs = m.err_internal()
    assert len(errs) == 1 and str(errs[0]) == "eval timeout: slow"


def test_eval_skipped_when_its_ctx_is_done() -> None:
    m = _abc()
    ctx = Ctx()
    ctx.cancel()
    ran: list[int] = []
    assert m.eval("ctx", lambda: ran.append(1), ctx) is False
    assert ran == []
