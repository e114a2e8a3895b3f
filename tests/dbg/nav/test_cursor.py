"""Cursor moves of spec/debugger.md §5.1 and §5.5 over real histories."""

from __future__ import annotations

from am_dbg.model import cursor as nav
from am_dbg.model.cursor import Cursor, Visible
from am_dbg.model.filters import AutoFilter, Filters

from .helpers import HistoryBuilder

ALL = Filters(auto=AutoFilter.SHOW_ALL, health=False, checks=False)


def _mixed() -> HistoryBuilder:
    """tx1 A+, tx2 canceled, tx3 A-, tx4 canceled, tx5 A+ (steps 3), tx6 B+ (steps 2)."""
    b = HistoryBuilder()
    b.tx("A", add=("A",), steps=1)
    b.tx("B", accepted=False, steps=2)
    b.tx("A", remove=("A",), type=1)
    b.tx("C", accepted=False)
    b.tx("A", add=("A",), steps=3)
    b.tx("B", add=("B",), steps=2)
    return b


def test_no_filter_stores_nothing_and_sees_everything() -> None:
    b = _mixed()
    vis = Visible(b.hist, ALL)
    assert not vis.filtering and len(vis) == 6 and vis[-1] == 5
    assert vis.next_index(-1) == 0 and vis.prev_index(0) is None


def test_next_and_prev_skip_filtered_transitions() -> None:
    vis = Visible(_mixed().hist, ALL.toggle("canceled"))
    assert [vis[k] for k in range(len(vis))] == [0, 2, 4, 5]
    c = Cursor(1)
    c = nav.next_tx(vis, c)
    assert c == Cursor(3)
    assert nav.next_tx(vis, Cursor(3)) == Cursor(5)
    assert nav.prev_tx(vis, Cursor(5)) == Cursor(3)
    assert nav.prev_tx(vis, Cursor(1)) == Cursor(0)  # the bare schema is always reachable
    assert nav.prev_tx(vis, Cursor(0)) is None
    assert nav.next_tx(vis, Cursor(6)) is None  # past the end: refused


def test_snap_goes_in_the_direction_of_travel() -> None:
    vis = Visible(_mixed().hist, ALL.toggle("canceled"))
    assert nav.snap(vis, 2, forward=True) == 3
    assert nav.snap(vis, 2, forward=False) == 1
    assert nav.snap(vis, 4, forward=True) == 5
    assert nav.snap(vis, 0, forward=True) == 0


def test_snap_forward_with_nothing_ahead_stays() -> None:
    b = _mixed()
    b.tx("C", accepted=False)
    vis = Visible(b.hist, ALL.toggle("canceled"))
    assert nav.snap(vis, 7, forward=True) is None
    assert nav.snap(vis, 7, forward=False) == 6


def test_fast_jump_moves_50_visible_and_clamps() -> None:
    b = HistoryBuilder()
    b.toggles(120)
    b.tx("B", accepted=False)
    b.toggles(10)
    vis = Visible(b.hist, ALL.toggle("canceled"))
    assert nav.jump(vis, Cursor(0), 50) == Cursor(50)
    assert nav.jump(vis, Cursor(100), 50) == Cursor(len(b.hist))  # 130 visible, clamped to the last
    assert nav.jump(vis, Cursor(110), 50) == Cursor(len(b.hist))
    assert nav.jump(vis, Cursor(len(b.hist)), 50) is None
    assert nav.jump(vis, Cursor(30), -50) == Cursor(0)
    # the canceled tx (121) is not counted: 20 visible back from 131 is 110
    assert nav.jump(vis, Cursor(131), -20) == Cursor(110)


def test_state_jump_finds_touching_transitions_and_respects_filters() -> None:
    b = HistoryBuilder()
    b.tx("A", add=("A",))  # 1
    b.tx("B", add=("B",))  # 2
    b.tx("C", add=("C",))  # 3
    b.tx("B", accepted=False)  # 4 called B, canceled
    b.tx("C", remove=("C",), type=1)  # 5
    b.tx("B", remove=("B",), type=1)  # 6
    vis = Visible(b.hist, ALL)
    B = b.idx("B")
    assert nav.state_jump(vis, Cursor(0), B, True) == Cursor(2)
    assert nav.state_jump(vis, Cursor(2), B, True) == Cursor(4)
    assert nav.state_jump(vis, Cursor(6), B, False) == Cursor(4)
    hidden = Visible(b.hist, ALL.toggle("canceled"))
    assert nav.state_jump(hidden, Cursor(2), B, True) == Cursor(6)
    assert nav.state_jump(vis, Cursor(6), B, True) is None


def test_state_jump_resets_the_step() -> None:
    b = _mixed()
    vis = Visible(b.hist, ALL)
    assert nav.state_jump(vis, Cursor(0, 1), b.idx("A"), True) == Cursor(1, 0)


def test_stepping_forward_wraps_into_the_next_transition() -> None:
    vis = Visible(_mixed().hist, ALL.toggle("canceled"))
    c = Cursor(3)  # next visible is tx 5 with 3 steps
    seen = []
    for _ in range(4):
        c = nav.step_fwd(vis, c)
        seen.append(c)
    assert seen == [Cursor(3, 1), Cursor(3, 2), Cursor(3, 3), Cursor(5, 0)]
    assert nav.step_fwd(vis, Cursor(6)) is None


def test_stepping_back_from_step_0_lands_on_the_previous_tx_with_all_steps_shown() -> None:
    vis = Visible(_mixed().hist, ALL.toggle("canceled"))
    assert nav.step_back(vis, Cursor(5, 0)) == Cursor(3, 3)  # tx 5 has 3 steps, now "next"
    assert nav.step_back(vis, Cursor(3, 3)) == Cursor(3, 2)
    assert nav.step_back(vis, Cursor(1, 0)) == Cursor(0, 1)
    assert nav.step_back(vis, Cursor(0, 0)) is None


def test_extend_indexes_new_transitions_incrementally() -> None:
    b = _mixed()
    vis = Visible(b.hist, ALL.toggle("canceled"))
    assert len(vis) == 4
    b.tx("C", add=("C",))
    b.tx("A", accepted=False)
    assert vis.extend() == 1
    assert len(vis) == 5 and nav.last(vis) == Cursor(7)


def test_drop_front_shifts_positions() -> None:
    b = _mixed()
    vis = Visible(b.hist, ALL.toggle("canceled"))
    vis.drop_front(3)
    assert [vis[k] for k in range(len(vis))] == [1, 2]


def test_hide_canceled_auto_hides_queued_auto_messages_whose_execution_was_canceled() -> None:
    b = HistoryBuilder()
    b.tx("A", add=("A",), queue_tick=1)
    q_bad = b.tx("C", queued=True, auto=True, queue_tick=1, mut_queue_tick=2)
    ex_bad = b.tx("C", accepted=False, auto=True, queue_tick=2)
    q_ok = b.tx("B", queued=True, auto=True, queue_tick=2, mut_queue_tick=3)
    ex_ok = b.tx("B", add=("B",), auto=True, queue_tick=3)
    assert b.hist.executed_by(q_bad) == ex_bad and b.hist.executed_by(q_ok) == ex_ok
    vis = Visible(b.hist, Filters(health=False, checks=False))
    assert [vis[k] for k in range(len(vis))] == [0, q_ok, ex_ok]
    vis = Visible(b.hist, Filters(health=False, checks=False, auto=AutoFilter.SHOW_ALL))
    assert len(vis) == 5
