"""Spec §4: relation resolution, each listed consequence as a test."""

from __future__ import annotations

from collections.abc import Callable

from am_core import Machine, Result, State
from am_core.testing import assert_clock, assert_is, assert_not

# a few tests below use the pytest plugin (am_core.testing.plugin): its ``am_machine`` fixture
# records transitions, and a failing assert_* shows them


def M(schema: dict[str, State], **kw: object) -> Machine:
    return Machine(schema, id="rel", **kw)  # type: ignore[arg-type]


def test_add_is_followed_two_levels_deep() -> None:
    lines: list[str] = []
    m = M(
        {"A": State(add=["B"]), "B": State(add=["C"]), "C": State(add=["D"]), "D": State()},
        log_level=3,
    )
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    assert m.add1("A") == Result.EXECUTED
    assert m.active_states() == ["C", "A", "B"]
    assert not m.is1("D")
    assert "[rel] [implied] C B" in lines
    assert "[rel] [state] +C +A +B" in lines


def test_add_of_active_non_multi_is_not_reapplied() -> None:
    m = M({"A": State(add=["B"]), "B": State()})
    m.add1("A")
    m.remove1("B")
    m.add1("A")
    assert not m.is1("B")


def test_active_multi_reapplies_add_on_every_tx(am_machine: Callable[..., Machine]) -> None:
    m = am_machine({"B": State(multi=True, add=["C"]), "C": State(), "X": State()}, id="rel")
    m.add1("B")
    m.remove1("C")
    assert_not(m, "C")
    m.add1("X")
    assert_is(m, "C")
    m.remove1("C")
    m.remove1("X")  # even a remove re-activates C
    assert_is(m, "C")


def test_implied_state_lacking_requirements_is_silently_dropped() -> None:
    m = M({"A": State(add=["B"]), "B": State(require=["Z"]), "Z": State()})
    assert m.add1("A") == Result.EXECUTED
    assert m.active_states() == ["A"]


def test_implied_state_can_satisfy_a_requirement(am_machine: Callable[..., Machine]) -> None:
    m = am_machine({"A": State(add=["B"], require=["B"]), "B": State()}, id="rel")
    assert m.add1("A") == Result.EXECUTED
    assert_is(m, ["A", "B"])


def test_called_state_removes_active_one() -> None:
    m = M({"C": State(remove=["D"]), "D": State()})
    m.add1("D")
    assert m.add1("C") == Result.EXECUTED
    assert m.active_states() == ["C"]


def test_active_state_blocks_called_one(am_machine: Callable[..., Machine]) -> None:
    m = am_machine({"C": State(remove=["D"]), "D": State()}, id="rel")
    m.add1("C")
    assert m.add1("D") == Result.CANCELED
    assert_is(m, "C")
    assert_not(m, "D")


def test_mutual_remove_called_state_wins_both_ways() -> None:
    m = M({"C": State(remove=["D"]), "D": State(remove=["C"])})
    m.add1("C")
    assert m.add1("D") == Result.EXECUTED and m.active_states() == ["D"]
    assert m.add1("C") == Result.EXECUTED and m.active_states() == ["C"]


def test_two_called_states_one_removing_the_other_cancels() -> None:
    m = M({"C": State(remove=["D"]), "D": State()})
    assert m.add(["C", "D"]) == Result.CANCELED
    assert m.active_states() == []


def test_implied_state_blocked_by_active_one_is_dropped() -> None:
    m = M({"A": State(remove=["D"]), "C": State(add=["D"]), "D": State()})
    m.add1("A")
    assert m.add1("C") == Result.EXECUTED
    assert sorted(m.active_states()) == ["A", "C"]


def test_implied_state_removes_active_one() -> None:
    m = M({"A": State(), "C": State(add=["D"]), "D": State(remove=["A"])})
    m.add1("A")
    assert m.add1("C") == Result.EXECUTED
    assert sorted(m.active_states()) == ["C", "D"]


def test_group_pattern_with_self_removal() -> None:
    group = ["X", "Y", "Z"]
    m = M({s: State(remove=group) for s in group})
    m.add1("X")
    assert m.add1("Y") == Result.EXECUTED
    assert m.active_states() == ["Y"]
    assert m.schema()["Y"].remove == ["X", "Z"]


def test_removing_required_state_deactivates_dependants(
    am_machine: Callable[..., Machine],
) -> None:
    m = am_machine({"C": State(require=["D"]), "D": State()}, id="rel")
    m.add(["C", "D"])
    assert m.remove1("D") == Result.EXECUTED
    assert_not(m, ["C", "D"])
    assert_clock(m, {"C": 2, "D": 2})


def test_set_drops_dependant_and_cancels_when_called() -> None:
    m = M({"C": State(require=["D"]), "D": State(), "E": State()})
    m.add(["C", "D"])
    assert m.set("E") == Result.EXECUTED and m.active_states() == ["E"]
    assert m.set("C") == Result.CANCELED and m.active_states() == ["E"]


def test_missing_requirement_cancels_and_logs_reject() -> None:
    lines: list[str] = []
    m = M({"C": State(require=["D"]), "D": State()}, log_level=3)
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    assert m.add1("C") == Result.CANCELED
    assert "[rel] [reject] C(-D)" in lines
    assert "[rel] [cancel:reject] C" in lines


def test_remove_never_drops_add_to_called_states() -> None:
    m = M({"A": State(multi=True, add=["B"]), "B": State()})
    m.add(["A", "B"])
    assert m.remove1("B") == Result.EXECUTED
    assert not m.is1("B")  # A is multi and active, but B is called for removal


def test_sort_by_require_topology_then_after() -> None:
    m = M({"A": State(after=["B"]), "B": State(require=["A"])})
    m.add(["A", "B"])
    assert m.active_states() == ["B", "A"]


def test_unknown_relation_targets_are_ignored_except_require() -> None:
    m = M(
        {
            "A": State(add=["Nope"], remove=["Gone"], after=["Nope"]),
            "B": State(require=["Nope"]),
            "C": State(add=["Nope"], remove=["Nope"]),  # Add wins over Remove, even unknown
        }
    )
    sch = m.schema()
    assert sch["A"].add == [] and sch["A"].remove == [] and sch["A"].after == []
    assert sch["C"].add == ["Nope"] and sch["C"].remove == []
    assert m.add1("C") == Result.EXECUTED
    assert sch["B"].require == ["Nope"]
    assert m.add1("A") == Result.EXECUTED
    assert m.add1("B") == Result.CANCELED


def test_relations_of_and_between() -> None:
    m = M({"A": State(add=["B"], require=["C"], after=["B"]), "B": State(), "C": State()})
    assert [str(r) for r in m.relations_of("A")] == ["add", "require", "after"]
    assert [str(r) for r in m.relations_between("A", "B")] == ["add", "after"]
    assert m.relations_between("B", "A") == []


def test_after_chain_uses_go_insertion_sort_exactly() -> None:
    """The After comparator is not a strict order: Go's insertion sort stops early on chains."""
    m = M({"A": State(after=["B"]), "B": State(after=["C"]), "C": State()})
    m.add(["A", "B", "C"])
    assert m.active_states() == ["B", "A", "C"]
    m2 = M({"A": State(after=["B"]), "B": State(after=["A"])})
    m2.add(["A", "B"])  # each after the other: the original order is kept
    assert m2.active_states() == ["A", "B"]
