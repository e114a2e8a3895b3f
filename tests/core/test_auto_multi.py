"""Spec §6 (auto states) and §7 (multi states)."""

from __future__ import annotations

from typing import Any

from am_core import Event, Machine, Result, State, Tracer, Transition

from .helpers import recorder, seq


class TxLog(Tracer):
    def __init__(self) -> None:
        self.txs: list[Transition] = []

    def transition_end(self, tx: Transition) -> None:
        self.txs.append(tx)


def M(schema: dict[str, State], **kw: Any) -> tuple[Machine, list[str], TxLog]:
    lines: list[str] = []
    t = TxLog()
    m = Machine(schema, id="auto", tracers=[t], **kw)
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    return m, lines, t


def test_auto_state_activates_after_a_changing_tx() -> None:
    m, lines, t = M({"A": State(auto=True), "S": State()}, log_level=4)
    assert m.add1("S") == Result.EXECUTED
    assert m.is_(["S", "A"])
    assert [tx.is_auto() for tx in t.txs] == [False, True]
    assert "[auto] [auto] A" in lines
    assert "[auto] [add:auto] A" in lines
    assert "[auto] [auto_] +A" in lines
    # the auto tx is prepended: queue tick unchanged by it
    assert m.queue_tick() == 2


def test_no_auto_after_noop_canceled_or_health_tx() -> None:
    m, _, t = M(
        {
            "A": State(auto=True, require=["R"]),
            "R": State(),
            "S": State(),
            "Healthcheck": State(multi=True),
            "X": State(require=["Nope"]),
        }
    )
    m.add1("S")
    n = len(t.txs)
    m.add1("S")  # no-op: no clock change
    m.add1("X")  # canceled
    assert len(t.txs) == n + 2
    m.add1("Healthcheck")  # health tx: no auto attempt
    assert len(t.txs) == n + 3


def test_partial_acceptance_by_relations() -> None:
    m, lines, t = M(
        {"A": State(auto=True), "B": State(auto=True, require=["C"]), "C": State(), "S": State()},
        log_level=4,
    )
    m.add1("S")
    assert m.is_(["S", "A"]) and not m.is1("B")
    assert "[auto] [reject:auto] B(-C)" in lines
    assert t.txs[-1].is_accepted


def test_auto_tx_with_all_states_rejected_is_canceled() -> None:
    m, lines, t = M(
        {
            "B": State(auto=True, require=["C"]),
            "D": State(auto=True, require=["C"]),
            "C": State(),
            "S": State(),
        },
        log_level=4,
    )
    m.add1("S")
    assert t.txs[-1].is_auto() and not t.txs[-1].is_accepted
    assert "[auto] [reject:auto] B(-C) D(-C)" in lines
    assert "[auto] [cancel:reject] B D" in lines


def test_blocked_auto_state_is_not_attempted() -> None:
    m, lines, t = M({"A": State(auto=True), "S": State(remove=["A"])}, log_level=5)
    m.add1("S")
    assert len(t.txs) == 1
    assert "[auto] [auto:rel:remove] A by S" in lines


def test_handler_rejection_drops_only_that_auto_state_and_its_adds() -> None:
    m, _, _ = M(
        {"A": State(auto=True), "B": State(auto=True, add=["D"]), "D": State(), "S": State()}
    )

    class H:
        def BEnter(self, e: Event) -> bool:
            return False

    m.handlers_bind(H())
    m.add1("S")
    assert m.is_(["S", "A"]) and not m.is1("B") and not m.is1("D")


def test_rejection_by_non_auto_handler_cancels_whole_auto_tx() -> None:
    m, _, t = M({"A": State(auto=True, remove=["X"]), "X": State(), "S": State()})

    class H:
        def XExit(self, e: Event) -> bool:
            return False

    m.handlers_bind(H())
    m.add1("X")  # the auto tx for A would deactivate X: XExit rejects -> whole tx canceled
    assert t.txs[-1].is_auto() and not t.txs[-1].is_accepted
    assert m.active_states() == ["X"]


def test_auto_tx_does_not_trigger_another_auto_tx() -> None:
    m, _, t = M(
        {
            "A": State(auto=True, remove=["Blk"]),
            "B": State(auto=True),
            "Blk": State(remove=["B"]),
            "S": State(),
        }
    )
    m.add1("Blk")  # B is blocked by Blk; the auto tx activates A, which removes Blk
    assert m.active_states() == ["A"]
    assert [tx.is_auto() for tx in t.txs] == [False, True]
    m.add1("S")  # the next changing tx attempts B again
    assert m.is_(["A", "B", "S"])


def test_auto_tx_runs_before_mutations_queued_by_handlers() -> None:
    m, _, _ = M({"A": State(auto=True), "S": State(), "Q": State()})
    order: list[str] = []

    class H:
        def SState(self, e: Event) -> None:
            m.add1("Q")

        def AState(self, e: Event) -> None:
            order.append("A")

        def QState(self, e: Event) -> None:
            order.append("Q")

    m.handlers_bind(H())
    m.add1("S")
    assert order == ["A", "Q"]


def test_multi_state_reactivation() -> None:
    m, lines, _ = M({"A": State(), "B": State(multi=True)}, log_level=2)
    log: list[str] = []
    m.handlers_bind(recorder(m, log))
    m.add1("B")
    assert m.tick("B") == 1
    log.clear()
    assert m.add1("B") == Result.EXECUTED
    assert m.tick("B") == 3
    assert log == seq("BEnter BB AnyEnter BState AnyState")
    assert lines[-1] == "[auto] [state] +B"


def test_multi_state_not_reentered_when_implied() -> None:
    m, _, _ = M({"A": State(add=["B"]), "B": State(multi=True), "C": State()})
    m.add1("B")
    m.add1("A")
    assert m.tick("B") == 1
    m.add1("C")
    assert m.tick("B") == 1


def test_multi_state_reentry_can_be_rejected() -> None:
    m, _, _ = M({"B": State(multi=True)})
    m.add1("B")

    class H:
        def BEnter(self, e: Event) -> bool:
            return False

    m.handlers_bind(H())
    assert m.add1("B") == Result.CANCELED
    assert m.tick("B") == 1


def test_exception_is_multi() -> None:
    m, _, _ = M({"A": State()})
    m.add_err(ValueError("one"))
    assert m.tick("Exception") == 1
    m.add_err(ValueError("two"))
    assert m.tick("Exception") == 3
    assert str(m.err()) == "two"


def test_require_order_auto_chain_in_one_tx() -> None:
    m, _, t = M(
        {
            "A": State(auto=True, require=["B", "C"]),
            "B": State(auto=True, require=["D"]),
            "C": State(auto=True),
            "D": State(auto=True),
            "Start": State(),
        }
    )
    m.add1("Start")
    assert [tx.is_auto() for tx in t.txs] == [False, True]
    assert m.active_states() == ["Start", "D", "B", "C", "A"]


def test_self_handler_quirk_last_rejection_cancels_auto_tx() -> None:
    """[quirk] the self phase returns the last self handler's result: AA rejecting cancels all."""
    m, _, t = M({"A": State(auto=True), "B": State(auto=True, require=["S"]), "S": State()})
    m.add1("S")  # one auto tx activates A and B
    assert m.is_(["A", "B", "S"])

    class H:
        def AA(self, e: Event) -> bool:
            tx = e.transition()
            return not (tx is not None and tx.is_auto())

    m.handlers_bind(H())
    m.remove1("B")  # no self handlers in a remove; the auto tx re-adding B runs AA -> rejects
    last = t.txs[-1]
    assert last.is_auto() and not last.is_accepted
    assert not m.is1("B") and m.is_(["A", "S"])
