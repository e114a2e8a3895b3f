"""Property: a waiter is closed exactly when its condition first held (checked against a model)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from am_core import Machine, State, Waiter

NAMES = ["A", "B", "C", "D", "M"]

subsets = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)
ops = st.one_of(
    st.tuples(st.just("add"), subsets),
    st.tuples(st.just("remove"), subsets),
    st.tuples(st.just("set"), subsets),
    st.tuples(st.just("when"), subsets),
    st.tuples(st.just("when_not"), subsets),
    st.tuples(st.just("when_time"), subsets, st.lists(st.integers(0, 6), min_size=3, max_size=3)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, min_size=1, max_size=40))
def test_waiters_close_exactly_when_their_condition_first_holds(program: list[tuple]) -> None:
    m = Machine({n: State(multi=(n == "M")) for n in NAMES}, id="prop")
    subs: list[tuple[Waiter, str, list[str], list[int]]] = []
    ever: list[bool] = []

    def holds(kind: str, states: list[str], times: list[int]) -> bool:
        if kind == "when":
            return m.is_(states)
        if kind == "when_not":
            return m.not_(states)
        return all(m.tick(s) >= t for s, t in zip(states, times, strict=False))

    for op in program:
        kind, states = op[0], op[1]
        if kind in ("add", "remove", "set"):
            getattr(m, kind)(states)
        else:
            times = list(op[2][: len(states)]) if kind == "when_time" else []
            if kind == "when":
                w = m.when(states)
            elif kind == "when_not":
                w = m.when_not(states)
            else:
                w = m.when_time(states, times)
            subs.append((w, kind, states, times))
            ever.append(False)
        for i, (_w, k, s, t) in enumerate(subs):
            ever[i] = ever[i] or holds(k, s, t)
        for i, (w, k, s, _t) in enumerate(subs):
            assert w.done() == ever[i], (k, s, m.string_all())
