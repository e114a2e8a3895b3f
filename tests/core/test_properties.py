"""Property tests (hypothesis) for relation-resolution invariants on random schemas."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_core import LastTxTracer, Machine, Result, State, Transition

NAMES = ["A", "B", "C", "D", "E", "F"]
OPS = ["add", "remove", "set", "toggle", "can_add", "can_remove"]

rel = st.lists(st.sampled_from(NAMES), max_size=3, unique=True)


@st.composite
def schemas(draw: Any, with_add: bool = True) -> dict[str, State]:
    out: dict[str, State] = {}
    for n in NAMES:
        require = draw(rel)
        remove = [r for r in draw(rel) if r not in require]
        out[n] = State(
            auto=draw(st.integers(0, 3)) == 0,
            multi=draw(st.integers(0, 3)) == 0,
            require=require,
            add=draw(rel) if with_add else [],
            remove=remove,
            after=draw(rel),
        )
    return out


mutations = st.lists(
    st.tuples(st.sampled_from(OPS), st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)),
    min_size=1,
    max_size=12,
)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _apply(m: Machine, op: str, states: list[str]) -> Result:
    fn = getattr(m, op)
    return fn(states)


def _check_invariants(m: Machine, schema: dict[str, State]) -> None:
    active = set(m.active_states())
    for i, name in enumerate(m.state_names()):
        # odd <=> active
        assert (m.time()[i] % 2 == 1) == (name in active), (name, m.string_all())
    for name in active:
        st_ = m.schema()[name]
        for r in st_.require:
            assert r in active, f"{name} active without its requirement {r}: {m.string_all()}"


class _Txs(LastTxTracer):
    def __init__(self) -> None:
        super().__init__()
        self.all: list[Transition] = []

    def transition_end(self, tx: Transition) -> None:
        self.all.append(tx)


@SETTINGS
@given(schemas(), mutations)
def test_clocks_grow_odd_means_active_and_requirements_hold(
    schema: dict[str, State], muts: list[tuple[str, list[str]]]
) -> None:
    m = Machine(schema, id="prop")
    txs = _Txs()
    m.tracer_bind(txs)
    prev = list(m.time())
    for op, states in muts:
        n = len(txs.all)
        res = _apply(m, op, states)
        now = list(m.time())
        assert all(a >= b for a, b in zip(now, prev, strict=True)), "clock went back"
        _check_invariants(m, schema)
        # the result describes the mutation's own tx (auto txs may follow it)
        own = txs.all[n]
        idx = [m.index1(s) for s in states]
        if op in ("add", "set") and res == Result.EXECUTED:
            assert all(own.time_after[i] % 2 == 1 for i in idx)
        if op == "remove" and res == Result.EXECUTED:
            assert all(own.time_after[i] % 2 == 0 for i in idx)
        for tx in txs.all[n:]:
            assert all(a >= b for a, b in zip(tx.time_after, tx.time_before, strict=True))
        prev = now


@SETTINGS
@given(schemas(with_add=False), mutations)
def test_no_active_state_is_removed_by_another_active_state(
    schema: dict[str, State], muts: list[tuple[str, list[str]]]
) -> None:
    m = Machine(schema, id="prop")
    parsed = m.schema()
    for op, states in muts:
        _apply(m, op, states)
        active = m.active_states()
        for a in active:
            for b in active:
                assert b not in parsed[a].remove, f"{a} removes {b} yet both active"


@SETTINGS
@given(schemas(), mutations)
def test_memoised_resolution_equals_full_resolution(
    schema: dict[str, State], muts: list[tuple[str, list[str]]]
) -> None:
    """The memoised hot path and the full path (steps + logging on) agree on every result."""
    fast = Machine(schema, id="fast")
    slow = Machine(schema, id="slow", log_level=5)
    slow.semlogger().set_empty(5)
    slow.semlogger().enable_steps(True)
    slow._memo = False  # the reference: full resolution every time
    for _ in range(2):  # the second round hits the memo
        for op, states in muts:
            r1 = _apply(fast, op, states)
            r2 = _apply(slow, op, states)
            assert r1 == r2
            assert fast.active_states() == slow.active_states()
            assert fast.time() == slow.time()


@SETTINGS
@given(schemas(), mutations)
def test_canceled_mutation_changes_nothing(
    schema: dict[str, State], muts: list[tuple[str, list[str]]]
) -> None:
    m = Machine(schema, id="prop")
    for op, states in muts:
        before = (list(m.time()), m.active_states())
        res = _apply(m, op, states)
        if (res == Result.CANCELED and op != "toggle") or op.startswith("can_"):
            assert (list(m.time()), m.active_states()) == before


handler_names = st.lists(
    st.one_of(
        st.builds(
            lambda s, suf: s + suf, st.sampled_from(NAMES), st.sampled_from(["Enter", "Exit"])
        ),
        st.builds(lambda a, b: a + b, st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.just("AnyEnter"),
    ),
    max_size=4,
    unique=True,
)


def _rejecting(names: list[str], log: list[str]) -> object:
    """A handler object whose listed negotiation handlers reject; every call is logged."""

    def make(name: str) -> Any:
        def fn(self: object, e: object) -> bool:
            log.append(name)
            return False

        return fn

    attrs: dict[str, Any] = {n: make(n) for n in names}
    for s in NAMES:
        attrs.setdefault(s + "State", lambda self, e, s=s: log.append(s + "State"))
    return type("Rejecting", (), attrs)()


@SETTINGS
@given(schemas(), mutations, handler_names)
def test_memoised_path_equals_full_path_with_rejecting_handlers(
    schema: dict[str, State], muts: list[tuple[str, list[str]]], rejecting: list[str]
) -> None:
    """Handler order, partial auto acceptance and results agree between both paths."""
    log_fast: list[str] = []
    log_slow: list[str] = []
    fast = Machine(schema, id="fast")
    slow = Machine(schema, id="slow", log_level=5)
    slow.semlogger().set_empty(5)
    slow.semlogger().enable_steps(True)
    slow._memo = False
    fast.handlers_bind(_rejecting(rejecting, log_fast))
    slow.handlers_bind(_rejecting(rejecting, log_slow))
    for _ in range(2):
        for op, states in muts:
            assert _apply(fast, op, states) == _apply(slow, op, states)
            assert fast.time() == slow.time()
            assert fast.active_states() == slow.active_states()
    assert log_fast == log_slow


class _Record(LastTxTracer):
    """Every finished tx as comparable data: steps, log lines, pre-log lines, clocks."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[Any, ...]] = []

    def transition_end(self, tx: Transition) -> None:
        self.rows.append(
            (
                tuple(tx.steps),
                tuple(e.text for e in tx.log_entries),
                tuple(e.text for e in tx.pre_log_entries),
                tuple(tx.time_after),
                tx.is_accepted,
            )
        )


@SETTINGS
@given(schemas(), mutations, handler_names, st.sampled_from([3, 4, 5]))
def test_memoised_steps_and_logs_equal_full_resolution(
    schema: dict[str, State],
    muts: list[tuple[str, list[str]]],
    rejecting: list[str],
    level: int,
) -> None:
    """With steps and logging on, replayed (memoised) steps and log lines equal the full ones."""
    recs: list[_Record] = []
    for memo in (True, False):
        rec = _Record()
        m = Machine(schema, id="same", log_level=level, tracers=[rec])
        m.semlogger().set_empty(level)
        m.semlogger().enable_steps(True)
        m._memo = memo
        m.handlers_bind(_rejecting(rejecting, []), id="rej")
        for _ in range(2):
            for op, states in muts:
                _apply(m, op, states)
        recs.append(rec)
    assert recs[0].rows == recs[1].rows
