"""Spec §1: schema parsing, Exception built in, index order, verify_states, set_schema, StatesBase."""

from __future__ import annotations

import pytest

from am_core import (
    Machine,
    Result,
    S,
    SchemaError,
    State,
    StateMissingError,
    StatesBase,
    Tracer,
    parse_schema,
    schema_merge,
    states_by_tag,
)


def test_exception_is_inserted_as_multi() -> None:
    m = Machine({"A": State()}, id="s")
    assert m.state_names() == ["A", "Exception"]
    assert m.schema()["Exception"].multi


def test_user_exception_definition_is_used_as_is() -> None:
    m = Machine({"A": State(), "Exception": State(add=["A"])}, id="s")
    st = m.schema()["Exception"]
    assert st.add == ["A"] and not st.multi


def test_parse_rules() -> None:
    parsed, err = parse_schema(
        {
            "A": State(remove=["A", "B"], add=["B", "C"], after=["A", "X"]),
            "B": State(),
            "C": State(),
            "D": State(add=["Exception"], require=["Exception"]),
        }
    )
    assert err is None
    a = parsed["A"]
    assert a.remove == [] and a.add == ["B", "C"] and a.after == []
    # Exception not user-defined: add is dropped like an unknown target, require kept
    assert parsed["D"].add == [] and parsed["D"].require == ["Exception"]


def test_require_remove_conflict_error_text() -> None:
    _, err = parse_schema({"A": State(require=["B"], remove=["B"]), "B": State()})
    assert err == "schema error: require-remove conflict for A to B"


def test_default_index_order_is_sorted() -> None:
    m = Machine({"b": State(), "B": State(), "a": State()}, id="s")
    assert m.state_names() == ["B", "Exception", "a", "b"]


def test_verify_states_sets_order_and_flag() -> None:
    calls: list[str] = []

    class T(Tracer):
        def verify_states(self, machine: Machine) -> None:
            calls.append(machine.id)

    m = Machine({"Foo": State(), "Bar": State()}, id="s", tracers=[T()])
    m.add1("Foo")
    assert not m.states_verified
    m.verify_states(["Foo", "Bar", "Foo", "Exception"])
    assert m.state_names() == ["Foo", "Bar", "Exception"]
    assert m.time() == [1, 0, 0] and m.states_verified
    assert calls == ["s"]


def test_verify_states_errors() -> None:
    m = Machine({"Foo": State(), "Bar": State()}, id="m1")
    with pytest.raises(SchemaError) as exc:
        m.verify_states(["Foo", "Baz", "Qux"])
    assert str(exc.value) == (
        "state Baz not defined in schema for m1\nstate Qux not defined in schema for m1"
    )
    with pytest.raises(SchemaError, match="trying to verify less states than registered"):
        m.verify_states(["Foo", "Exception"])
    assert m.state_names() == ["Bar", "Exception", "Foo"]


def test_set_schema_grows() -> None:
    changes: list[int] = []

    class T(Tracer):
        def schema_change(self, machine: Machine, old: dict[str, State]) -> None:
            changes.append(len(old))

    m = Machine({"A": State()}, id="s", tracers=[T()])
    m.add1("A")
    with pytest.raises(SchemaError, match="too short"):
        m.set_schema({"A": State()}, ["A"])
    m.set_schema(
        {"A": State(), "B": State(require=["A"]), "Exception": State(multi=True)},
        ["A", "B", "Exception"],
    )
    assert m.state_names() == ["A", "B", "Exception"]
    assert m.clock() == {"A": 1, "B": 0, "Exception": 0}
    assert m.add1("B") == Result.EXECUTED
    assert changes == [2]


def test_unknown_state_in_checks() -> None:
    m = Machine({"A": State()}, id="m1")
    assert not m.is_(["A", "Nope"]) and not m.is1("Nope")
    with pytest.raises(StateMissingError, match="Nope not defined in schema for m1"):
        m.not_(["Nope"])
    assert m.index(["A", "Nope"]) == [0, -1] and m.tick("Nope") == 0


class Basic(StatesBase):
    Start = State()
    Ready = State(require=["Start"])


class Worker(Basic):
    Working = State(require=[Basic.Ready])
    Idle = State(remove=["Working"])


def test_states_base_names_schema_and_inheritance() -> None:
    assert Worker.Ready == "Ready" and Worker.Working == "Working"
    assert isinstance(Basic.Start, str)
    assert Worker.names() == ["Start", "Ready", "Working", "Idle"]
    assert Basic.names() == ["Start", "Ready"]
    sch = Worker.schema()
    assert sch["Working"].require == ["Ready"]
    groups, order = Worker.groups()
    assert order == ["self", "Basic"]
    assert groups == {"self": ["Working", "Idle"], "Basic": ["Start", "Ready"]}
    m = Machine(Worker.schema(), id="w")
    m.verify_states([*Worker.names(), "Exception"])
    m.add([Worker.Start, Worker.Ready, Worker.Working])
    assert m.is_([Worker.Ready, Worker.Working])


def test_state_helpers() -> None:
    a = State(add=["X"], auto=False)
    b = State(add=["Y", "X"], multi=True, require=["Z"])
    ext = a.extend(b)
    assert ext.add == ["X", "Y"] and ext.multi and ext.require == ["Z"]
    st = b.set(True, False, {"add": ["Q"], "remove": None})
    assert st.auto and not st.multi and st.add == ["Q"] and st.require == ["Z"]
    merged = schema_merge({"A": a}, {"A": b, "B": State()})
    assert merged["A"] is b and set(merged) == {"A", "B"}
    assert S.add(["A", "B"], ["B", "C"]) == ["A", "B", "C"]
    assert S.delete(["A", "B", "C"], ["B"]) == ["A", "C"]
    assert S.shared(["A", "B"], ["B", "C"]) == ["B"]
    assert S.equal(["A", "B"], ["B", "A"]) and S.index(["A", "B"], "B") == 1


def test_states_by_tag() -> None:
    sch = {"A": State(tags=["io"]), "B": State(tags=["io:net"]), "C": State(tags=["iox"])}
    assert states_by_tag(sch, "io") == ["A", "B"]


def test_groups_metadata() -> None:
    m = Machine(Worker.schema(), id="w")
    m.verify_states([*Worker.names(), "Exception"])
    groups, order = Worker.groups()
    m.set_groups(groups, order)
    g, o = m.groups()
    assert o == ["self", "Basic"] and g["Basic"] == [0, 1] and g["self"] == [2, 3]


def test_set_schema_during_transition_and_relations_of_unknown() -> None:
    m = Machine({"A": State()}, id="s")
    errors: list[str] = []

    class H:
        def AState(self, e: object) -> None:
            try:
                m.set_schema({"A": State(), "B": State()}, ["A", "B"])
            except SchemaError as err:
                errors.append(str(err))

    m.handlers_bind(H())
    m.add1("A")
    assert errors == ["schema error: cannot set schema during a transition"]
    with pytest.raises(StateMissingError, match="Nope not defined in schema for s"):
        m.relations_of("Nope")
