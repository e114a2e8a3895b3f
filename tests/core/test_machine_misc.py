"""Spec §2 clocks/time helpers, §14 identity and disposal, §15 strings, export/import, breakpoints."""

from __future__ import annotations

import threading

import pytest

import am_core
from am_core import (
    Ctx,
    Event,
    ImportMismatchError,
    Machine,
    Mutation,
    NotBoundError,
    Result,
    SchemaError,
    State,
    Time,
    is_active_tick,
    new_common,
    next_active,
    next_inactive,
)


def _m(**kw: object) -> Machine:
    return Machine(
        {"A": State(), "B": State(), "C": State(auto=True, add=["D"]), "D": State()},
        id="misc",
        **kw,  # type: ignore[arg-type]
    )


def test_public_api_names() -> None:
    for name in [
        "Machine",
        "State",
        "Schema",
        "S",
        "Result",
        "LogLevel",
        "Event",
        "Transition",
        "StatesBase",
        "MutationType",
        "StepType",
        "Relation",
        "Position",
        "Step",
        "Mutation",
        "Time",
        "Clock",
        "is_active_tick",
        "Tracer",
        "ExceptionHandler",
        "Ctx",
        "new_common",
        "new_log_args_mapper",
        "AmError",
        "StateMissingError",
        "SchemaError",
    ]:
        assert name in am_core.__all__, name
        assert hasattr(am_core, name)
    assert str(am_core.MutationType.ADD) == "add" and str(am_core.StepType.RELATION) == "rel"
    assert str(am_core.Relation.REQUIRE) == "require"


def test_clock_helpers() -> None:
    assert is_active_tick(3) and not is_active_tick(2)
    assert next_active(1) == 3 and next_active(2) == 3
    assert next_inactive(2) == 4 and next_inactive(1) == 2
    t = Time([1, 2, 3, 0])
    assert t.is1(0) and not t.is1(1) and not t.is1(-1) and not t.is1(9)
    assert t.is_([0, 2]) and not t.is_([]) and not t.is_([0, -1])
    assert t.not_([1, 3, -1]) and t.not_([]) and not t.not1(-1)
    assert t.any([1], [0, 2]) and t.any1(1, 2)
    assert t.add([1, 1, 1, 1]) == [2, 3, 4, 1] and t.add([1]) is t
    assert t.diff_since([0, 0, 1, 0]) == [1, 2, 2, 0] and t.diff_since([1]) == [0, 0, 0, 0]
    assert t.non_zero_states() == [0, 1, 2] and t.active_states() == [0, 2]
    assert t.sum() == 6 and t.sum([0, 1]) == 3 and t.filter([2, 0]) == [3, 1]
    assert t.after(False, [0, 1, 2]) and not t.after(False, [1, 1]) and t.after(True, [1, 1])
    assert t.before(True, [1, 2, 3, 0]) and t.equal(False, [1, 2]) and not t.equal(True, [1, 2])


def test_machine_time_and_clock() -> None:
    m = _m()
    m.add(["A", "B"])
    m.remove1("B")
    assert m.time() == [1, 2, 1, 1, 0]
    assert m.time(["B", "Nope"]) == [2, 0]
    assert m.clock(["A", "B"]) == {"A": 1, "B": 2}
    assert m.is_time([1, 2], ["A", "B"]) and m.was_time([0, 1], ["A", "B"])
    assert m.is_clock({"A": 1}) and m.was_clock({"B": 1}) and not m.was_clock({"B": 3})
    assert m.any(["A", "B"], ["C"]) and m.any1("B", "A") and m.not1("B")
    assert m.switch(["B"], ["D", "A"]) == "D"
    assert m.active_states(["A", "D", "B"]) == ["A", "D"]
    assert m.parse_states(["A", "Nope", "A"]) == ["A"]
    assert m.has(["A", "B"]) and not m.has1("Nope")


def test_str_string_all_inspect() -> None:
    m = Machine({"A": State(), "B": State(multi=True, add=["A"], require=["A"])}, id="s")
    m.add(["A", "B"])
    m.add1("B")
    assert m.str() == "(A:1 B:3)"
    assert m.string_all() == "(A:1 B:3) [Exception:0]"
    assert m.inspect(["B"]) == (
        "1 B\n    |Tick     3\n    |Multi    true\n    |Add      A\n    |Require  A\n"
    )
    assert Machine({"X": State()}, id="e").string_all() == "() [Exception:0 X:0]"


def test_identity_and_tags() -> None:
    m = Machine({"A": State()}, id="ident", tags=["a", "b:1", "a"], parent_id="pp")
    assert m.id == "ident" and m.parent_id == "pp" and m.tags == ["a", "b:1"]
    m.set_tags(["x"])
    assert m.tags == ["x"]
    anon = Machine({"A": State()})
    assert len(anon.id) == 16 and anon.parent_id == ""


def test_export_import_roundtrip() -> None:
    m = Machine({"A": State(), "B": State(), "MachineRestored": State()}, id="exp", log_level=2)
    lines: list[str] = []
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    with pytest.raises(SchemaError):
        m.export()
    m.verify_states(["B", "A", "MachineRestored", "Exception"])
    m.add(["A", "B"])
    m.remove1("B")
    data, schema = m.export()
    assert data.time == [2, 1, 0, 0] and data.queue_tick == 3 and data.machine_tick == 0
    assert set(schema) == {"A", "B", "MachineRestored", "Exception"}

    m2 = Machine({"A": State(), "B": State(), "MachineRestored": State()}, id="exp", log_level=2)
    m2.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    m2.import_(data)
    assert m2.state_names() == ["B", "A", "MachineRestored", "Exception"]
    assert m2.is1("A") and not m2.is1("B") and m2.machine_tick() == 1
    assert m2.is1("MachineRestored") and m2.states_verified
    assert "[exp] [import] imported 1 times, now at 3 ticks" in lines
    with pytest.raises(ImportMismatchError, match="import ID mismatch"):
        Machine({"A": State()}, id="other").import_(data)


def test_breakpoint_logs_and_calls_hook() -> None:
    hits: list[Mutation] = []

    class BP(Machine):
        def breakpoint(self, mut: Mutation) -> None:
            hits.append(mut)

    m = BP({"A": State(), "B": State()}, id="bp", log_level=2)
    lines: list[str] = []
    m.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    m.add_breakpoint(["A"], [])
    m.add_breakpoint1("", "B")
    m.add1("B")
    m.add(["A", "B"])  # not exactly [A]
    m.add1("A")
    m.remove1("B")
    assert [h.string() for h in hits] == ["[add] A", "[remove] B"]
    assert lines.count("[bp] [breakpoint] Machine.breakpoint") == 2


def test_dispose() -> None:
    m = Machine({"A": State(), "Start": State()}, id="d")
    calls: list[str] = []
    m.on_dispose(lambda mid, ctx: calls.append(mid))
    m.add(["A", "Start"])
    ends: list[int] = []
    m.on_change(lambda mach, before, after: ends.append(after[mach.index1("Start")]))
    m.dispose()
    assert m.is_disposed() and calls == ["d"] and m.context().done()
    assert ends == [2]  # Start was removed first
    # disposed: the clock, queue and active states read empty (Go's getters)
    assert m.tick("Start") == 0 and m.time() == [] and m.clock() == {}
    assert m.queue() == [] and m.queue_len() == 0 and m.str() == ""
    assert m.add1("A") == Result.CANCELED and m.remove1("A") == Result.CANCELED
    assert m.set("A") == Result.CANCELED and m.can_add1("A") == Result.CANCELED
    assert not m.is1("A") and m.active_states() == [] and m.index1("A") == -1
    m.dispose()  # idempotent
    assert calls == ["d"]


def test_dispose_from_handler_finishes_after_queue() -> None:
    m = Machine({"A": State(), "B": State()}, id="d")

    class H:
        def AState(self, e: Event) -> None:
            m.dispose()
            assert not m.is_disposed()

    m.handlers_bind(H())
    m.add1("A")
    assert m.is_disposed()


def test_parent_ctx_cancel_disposes_or_adds_disposing() -> None:
    ctx = Ctx()
    m = Machine({"A": State()}, id="pc", ctx=ctx)
    ctx.cancel()
    assert m.is_disposed()
    ctx2 = Ctx()
    m2 = Machine({"A": State(), "Disposing": State()}, id="pc2", ctx=ctx2)
    ctx2.cancel()
    assert m2.is1("Disposing") and not m2.is_disposed()


def test_handlers_detach_prefix_and_maps() -> None:
    m = Machine({"A": State(), "FooA": State()}, id="h")
    log: list[str] = []

    class Prefixed:
        def AState(self, e: Event) -> None:
            log.append(f"prefixed {e.name}")

    bid = m.handlers_bind(Prefixed(), id="pre", state_prefix="Foo")
    m.handlers_bind_maps({"AEnter": lambda e: log.append("map AEnter")}, {}, id="maps")
    assert m.handlers() == ["pre", "maps"]
    m.add1("A")
    m.add1("FooA")
    assert log == ["map AEnter", "prefixed FooAState"]
    m.handlers_detach(bid)
    with pytest.raises(NotBoundError, match="handlers not bound"):
        m.handlers_detach(bid)
    with pytest.raises(NotBoundError, match="tracer not bound"):
        m.tracer_detach(object())


def test_event_validity_and_clone() -> None:
    m = Machine({"A": State()}, id="ev")
    kept: list[Event] = []

    class H:
        def AState(self, e: Event) -> None:
            assert e.is_valid() and e.machine() is m and e.machine_id == "ev"
            assert e.mutation() is not None and e.name == "AState"
            kept.append(e)

    m.handlers_bind(H())
    m.add1("A", {"x": 1})
    e = kept[0]
    assert not e.is_valid()
    assert e.clone().args == {"x": 1} and e.swap_args({"y": 2}).args == {"y": 2}
    assert e.export()["name"] == "AState"


def test_ev_add_records_source() -> None:
    src = Machine({"A": State(), "C": State()}, id="src")
    dst = Machine({"B": State()}, id="dst", log_level=3)
    lines: list[str] = []
    dst.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    txs: list[str] = []

    class H:
        def AState(self, e: Event) -> None:
            txs.append(e.transition_id)
            dst.ev_add1(e, "B")

    src.handlers_bind(H())
    src.add1("C")  # src time 1
    src.add1("A")  # the source tx: time 1 before it, 2 after
    assert dst.is1("B")
    # the source machine's time at the moment of the call (A already active: 2), not dst's
    assert f"[dst] [source] src/{txs[0]}/2" in lines


def test_new_common_binds_and_verifies() -> None:
    class H:
        def AState(self, e: Event) -> None:
            pass

    m = new_common({"A": State()}, ["A", "Exception"], H(), id="worker")
    assert m.states_verified and m.handlers() == ["comm-Worker"]
    assert m.semlogger().args_mapper() is not None


def test_concurrent_mutations_from_threads() -> None:
    m = Machine({"A": State(), "B": State(), "C": State(multi=True)}, id="thr")
    n_threads, per = 4, 300

    def work() -> None:
        for _ in range(per):
            m.add1("C")

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert m.queue_len() == 0
    # every add of a multi state re-activates it: 1 + 2 * (n - 1)
    assert m.tick("C") == 1 + 2 * (n_threads * per - 1)


def test_event_in_context() -> None:
    m = Machine({"A": State()}, id="evctx")
    got: list[object] = []

    class H:
        def AState(self, e: Event) -> None:
            ctx = am_core.ev_to_ctx(Ctx(), e)
            child = Ctx(ctx)
            got.append(am_core.ctx_to_ev(child) is e)
            got.append(am_core.ctx_to_ev(Ctx()))

    m.handlers_bind(H())
    m.add1("A")
    assert got == [True, None]
