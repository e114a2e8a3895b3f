"""Spec §5.3: the exact handler event order of transitions."""

from __future__ import annotations

from am_core import Machine, Result, State

from .helpers import recorder, seq


def _mach(schema: dict[str, State] | None = None) -> tuple[Machine, list[str]]:
    sch = schema or {"A": State(), "B": State(), "C": State(), "D": State()}
    m = Machine(sch, id="t")
    log: list[str] = []
    m.handlers_bind(recorder(m, log))
    return m, log


def test_order_set_c_from_a_b() -> None:
    m, log = _mach()
    m.add(["A", "B"])
    log.clear()
    assert m.set(["C"]) == Result.EXECUTED
    assert log == seq("AExit BExit CEnter AC BC AnyEnter AEnd BEnd CState AnyState")


def test_order_set_b_c_from_a() -> None:
    m, log = _mach()
    m.add("A")
    log.clear()
    m.set(["B", "C"])
    assert log == seq("AExit BEnter CEnter AB AC AnyEnter AEnd BState CState AnyState")


def test_order_add_b_from_a() -> None:
    m, log = _mach()
    m.add("A")
    log.clear()
    m.add("B")
    assert log == seq("BEnter AA AB AnyEnter BState AnyState")
    assert m.active_states() == ["B", "A"]


def test_order_add_active_a_with_active_order_b_a() -> None:
    m, log = _mach()
    m.add("A")
    m.add("B")
    assert m.active_states() == ["B", "A"]
    log.clear()
    m.add("A")
    assert log == seq("AA BB BA AB AnyEnter AnyState")


def test_order_remove_a_from_a_b() -> None:
    m, log = _mach()
    m.add(["A", "B"])
    log.clear()
    m.remove("A")
    assert log == seq("AExit AB AnyEnter AEnd AnyState")


def test_order_set_a_from_a_b() -> None:
    m, log = _mach()
    m.add(["A", "B"])
    log.clear()
    m.set("A")
    assert log == seq("BExit AA BA AnyEnter BEnd AnyState")


def test_order_exits_sorted_by_after() -> None:
    m, log = _mach({"A": State(after=["B"]), "B": State(), "C": State(after=["D"]), "D": State()})
    m.add(["B", "A"])
    assert m.active_states() == ["B", "A"]
    log.clear()
    m.set(["C", "D"])
    assert log == (
        seq("BExit AExit DEnter CEnter BD BC AD AC AnyEnter BEnd AEnd DState CState AnyState")
    )


def test_two_bindings_in_bind_order() -> None:
    m = Machine({"A": State()}, id="t")
    log: list[str] = []

    class H1:
        def AEnter(self, e: object) -> None:
            log.append("h1.AEnter")

        def AState(self, e: object) -> None:
            log.append("h1.AState")

    class H2:
        def AEnter(self, e: object) -> None:
            log.append("h2.AEnter")

        def AState(self, e: object) -> None:
            log.append("h2.AState")

    m.handlers_bind(H1())
    m.handlers_bind(H2())
    m.add("A")
    assert log == ["h1.AEnter", "h2.AEnter", "h1.AState", "h2.AState"]


def test_rejecting_binding_stops_later_bindings() -> None:
    m = Machine({"A": State()}, id="t")
    log: list[str] = []

    class H1:
        def AEnter(self, e: object) -> bool:
            log.append("h1.AEnter")
            return False

    class H2:
        def AEnter(self, e: object) -> None:
            log.append("h2.AEnter")

    m.handlers_bind(H1())
    m.handlers_bind(H2())
    assert m.add("A") == Result.CANCELED
    assert log == ["h1.AEnter"]
    assert not m.is1("A")


def test_require_order_auto_tx() -> None:
    """TestRequireOrder (spec §6.3): one auto tx activates D B C A in topology order."""
    m, log = _mach(
        {
            "A": State(auto=True, require=["B", "C"]),
            "B": State(auto=True, require=["D"]),
            "C": State(auto=True),
            "D": State(auto=True),
            "Start": State(),
        }
    )
    m.add("Start")
    expected_auto = seq(
        "DEnter BEnter CEnter AEnter StartStart StartD StartB StartC StartA AnyEnter "
        "DState BState CState AState AnyState"
    )
    assert log == ["StartEnter", "AnyEnter", "StartState", "AnyState", *expected_auto]
    assert m.active_states() == ["Start", "D", "B", "C", "A"]


def test_is_reflects_before_in_negotiation_and_target_in_finals() -> None:
    m = Machine({"A": State(), "B": State()}, id="t")
    m.add1("A")
    seen: dict[str, list[str]] = {}

    class H:
        def BEnter(self, e: object) -> None:
            seen["negotiation"] = m.active_states()

        def AExit(self, e: object) -> None:
            assert m.is1("A")

        def BState(self, e: object) -> None:
            seen["final"] = m.active_states()

    m.handlers_bind(H())
    m.set("B")
    assert seen == {"negotiation": ["A"], "final": ["B"]}
