"""`executed_by` through the index answers what the forward scan answers, in any history."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from am_dbg.model.history import MachineHistory
from am_rpc.dbg.protocol import SchemaMsg, StateDef

_SCHEMA = SchemaMsg(id="m", states_index=("A", "B"), states={"A": StateDef(), "B": StateDef()})


def _history(msgs: list[dict[str, Any]]) -> MachineHistory:
    h = MachineHistory(_SCHEMA, "c")
    for i, m in enumerate(msgs):
        h.append(msgpack.packb({"m": "m", "id": f"x{i}", "c": [i, 0], **m}), time_ns=1)
    return h


def _scan(h: MachineHistory, q: int) -> int | None:
    """The definition: the first later transition with the message's queue tick or token;
    with a tick alone, none once a later transition is past that tick."""
    info = h.info(q)
    if not info.is_queued:
        return None
    tick, token = info.mut_queue_tick, info.mut_queue_token
    for j in range(q + 1, len(h)):
        t = h.info(j)
        if t.is_queued:
            continue
        if (tick and t.queue_tick == tick) or (token and t.mut_queue_token == token):
            return j
        if not token and tick and t.queue_tick > tick:
            return None
    return None


@st.composite
def _msgs(draw: Any, monotonic: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    tick = 0
    for _ in range(draw(st.integers(1, 60))):
        token = draw(st.sampled_from([0, 0, 1, 2, 3]))
        if draw(st.booleans()):  # a queued mutation, for this tick or a later one
            ahead = draw(st.integers(0, 3))
            out.append({"qd": True, "mqt": tick + ahead if ahead < 3 else 0, "mqk": token})
        else:
            tick += draw(st.integers(0, 2)) if monotonic else draw(st.integers(-2, 2))
            out.append({"qt": max(tick, 0), "mqk": token})
    return out


@settings(max_examples=150, deadline=None)
@given(st.booleans().flatmap(_msgs))
def test_the_index_answers_as_the_scan(msgs: list[dict[str, Any]]) -> None:
    h = _history(msgs)
    assert [h.executed_by(i) for i in range(len(h))] == [_scan(h, i) for i in range(len(h))]


def test_the_index_follows_new_transitions_and_a_dropped_front() -> None:
    msgs = [{"qd": True, "mqt": 5}, {"qt": 3}, {"qd": True, "mqk": 9}]
    h = _history(msgs)
    assert h.executed_by(0) is None and h.executed_by(2) is None
    for i, m in enumerate([{"qt": 5}, {"qt": 6, "mqk": 9}], start=len(h)):
        h.append(msgpack.packb({"m": "m", "id": f"y{i}", "c": [i, 0], **m}), time_ns=1)
    assert h.executed_by(0) == 3 and h.executed_by(2) == 4
    h.drop_front(1)
    assert h.executed_by(1) == 3 and h.executed_by(-3) == 3 and h.executed_by(0) is None
