"""Spec §12 (tracer hooks in the verified order) and §13 (transition steps)."""

from __future__ import annotations

from typing import Any

from am_core import (
    Event,
    LastTxTracer,
    Machine,
    Mutation,
    Relation,
    State,
    Step,
    StepType,
    Tracer,
    Transition,
)


class Rec(Tracer):
    def __init__(self) -> None:
        self.ev: list[str] = []

    def mutation_queued(self, machine: Machine, mutation: Mutation) -> None:
        auto = ", auto" if mutation.is_auto else ""
        check = ", check" if mutation.is_check else ""
        self.ev.append(
            f"MutationQueued({mutation.string()}, qt={mutation.queue_tick}{auto}{check})"
        )

    def transition_init(self, tx: Transition) -> None:
        self.ev.append(f"TransitionInit(acc={tx.is_accepted})")

    def transition_start(self, tx: Transition) -> None:
        self.ev.append("TransitionStart")

    def handler_start(self, tx: Transition, binding_id: str, handler: str) -> None:
        self.ev.append(f"HandlerStart({handler})")

    def handler_end(self, tx: Transition, binding_id: str, handler: str) -> None:
        self.ev.append(f"HandlerEnd({handler})")

    def transition_finals(self, tx: Transition) -> None:
        self.ev.append("TransitionFinals")

    def transition_end(self, tx: Transition) -> None:
        self.ev.append("TransitionEnd")

    def queue_end(self, machine: Machine) -> None:
        self.ev.append("QueueEnd")


def test_verified_order_with_auto_and_handler() -> None:
    t = Rec()
    m = Machine({"A": State(), "B": State(auto=True, require=["A"])}, id="tr", tracers=[t])

    class H:
        def AState(self, e: Event) -> None:
            pass

    m.handlers_bind(H())
    m.add1("A")
    assert t.ev == [
        "MutationQueued([add] A, qt=2)",
        "TransitionInit(acc=True)",
        "TransitionStart",
        "TransitionFinals",
        "HandlerStart(AState)",
        "HandlerEnd(AState)",
        "MutationQueued([add] B, qt=0, auto)",
        "TransitionEnd",
        "TransitionInit(acc=True)",
        "TransitionStart",
        "TransitionFinals",
        "TransitionEnd",
        "QueueEnd",
    ]


def test_canceled_and_check_orders() -> None:
    t = Rec()
    m = Machine({"A": State(require=["C"]), "C": State()}, id="tr", tracers=[t])
    m.add1("A")
    assert t.ev == [
        "MutationQueued([add] A, qt=2)",
        "TransitionInit(acc=False)",
        "TransitionStart",
        "TransitionEnd",
        "QueueEnd",
    ]
    t.ev.clear()
    m.can_add1("C")
    assert t.ev == [
        "MutationQueued([add] C, qt=0, check)",
        "TransitionInit(acc=True)",
        "TransitionStart",
        "TransitionEnd",
        "QueueEnd",
    ]


def test_other_hooks_and_detach() -> None:
    seen: list[Any] = []

    class T:  # not a Tracer subclass: missing hooks are skipped
        def tracer_id(self) -> str:
            return "plain"

        def machine_init(self, machine: Machine) -> None:
            seen.append(("init", machine.id))

        def new_submachine(self, parent: Machine, machine: Machine) -> None:
            seen.append(("sub", parent.id, machine.id))

        def machine_dispose(self, machine_id: str) -> None:
            seen.append(("dispose", machine_id))

    t = T()
    parent = Machine({"A": State()}, id="p", tracers=[t])
    child = Machine({"A": State()}, id="c", parent=parent)
    assert child.parent_id == "p"
    child.dispose()
    parent.dispose()
    assert seen == [("init", "p"), ("sub", "p", "c"), ("dispose", "p")]

    m = Machine({"A": State()}, id="x")
    last = LastTxTracer()
    assert m.tracer_bind(last) == "LastTxTracer"
    m.add1("A")
    assert last.last is not None and last.last.mutation.called == ["A"]
    m.tracer_detach(last)
    m.remove1("A")
    assert last.last.mutation.called == ["A"] and last.last.mutation.type == 0


def test_transition_fields_for_telemetry() -> None:
    last = LastTxTracer()
    m = Machine({"A": State(), "B": State()}, id="tele", tracers=[last])
    m.verify_states(["B", "A", "Exception"])
    m.add1("B")
    m.add1("A", {"k": 1})
    tx = last.last
    assert tx is not None
    assert len(tx.id) == 16 and int(tx.id, 16) >= 0
    assert tx.time_before == [1, 0, 0] and tx.time_after == [1, 1, 0]
    assert tx.called_indexes() == [1] and tx.called_states() == ["A"]
    assert tx.queue_tick == 3 and tx.mutation.queue_tick == 3
    assert tx.is_accepted and tx.is_completed and not tx.is_auto() and not tx.is_check
    assert tx.args() == {"k": 1} and tx.queue_len == 0
    assert tx.clock_after() == {"B": 1, "A": 1, "Exception": 0}
    assert tx.diff() == (["A"], [])


def test_steps_of_a_set_tx_inside_enter_handler() -> None:
    """TestHandlerStateInfo: the tx string as seen inside DEnter."""
    m = Machine({"A": State(), "D": State()}, id="st")
    m.semlogger().enable_steps(True)
    m.add1("A")
    seen: list[str] = []

    class H:
        def AExit(self, e: Event) -> None:
            pass

        def DEnter(self, e: Event) -> None:
            tx = e.transition()
            assert tx is not None
            seen.append(tx.str())

    m.handlers_bind(H())
    m.set("D")
    tx_id = seen[0].split("\n")[0]
    assert seen[0] == (
        f"{tx_id}\n[set] D\n- called **D**\n- activate **D**\n- deactivate **A**\n"
        "- handler **A**Exit"
    )


def test_relation_steps() -> None:
    last = LastTxTracer()
    m = Machine(
        {
            "A": State(add=["B"], require=["C"]),
            "B": State(),
            "C": State(),
            "X": State(remove=["B"]),
        },
        id="st",
        tracers=[last],
    )
    m.semlogger().enable_steps(True)
    m.add(["A", "C"])
    tx = last.last
    assert tx is not None
    assert Step(StepType.RELATION, "A", "B", Relation.ADD) in tx.steps
    assert Step(StepType.RELATION, "A", "C", Relation.REQUIRE) in tx.steps
    texts = [s.string_from_index(m.state_names()) for s in tx.steps]
    assert "**A** add **B**" in texts and "called **A**" in texts
    m.add1("X")
    tx = last.last
    assert tx is not None
    assert Step(StepType.RELATION, "X", "B", Relation.REMOVE) in tx.steps
    assert Step(StepType.REMOVE, "", "B") in tx.steps
    assert set(tx.touched()) >= {"X", "B"}


def test_steps_are_off_by_default() -> None:
    last = LastTxTracer()
    m = Machine({"A": State(add=["B"]), "B": State()}, id="st", tracers=[last])
    m.add1("A")
    assert last.last is not None and last.last.steps == []
