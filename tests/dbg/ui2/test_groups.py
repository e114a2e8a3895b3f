"""The group dropdown (spec/debugger.md §4.4, §5.8) on a real machine with schema groups: the
debugger's own schema, streamed over a real socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ui.helpers import cursor, make_app
from ui.recorded import record_live

from am_core import Machine
from am_dbg.model.session import Session
from am_dbg.states import DbgStates as S
from am_dbg.ui.group_bar import group_options
from am_rpc.dbg import connect

from .data import wait_for


def _dbg_machine(addr: str) -> tuple[list[Machine], list[Any]]:
    m = Machine(S.schema(), id="d-dbg")
    m.verify_states(S.names())
    m.set_groups(*S.groups())
    tracers = [connect(m, addr)]
    m.add1(S.Start)
    m.add1(S.Ready)
    for _ in range(3):
        m.add1(S.Healthcheck)
        m.add1(S.TreeMatrixView)
        m.add1(S.TreeLogView)
    return [m], tracers


@pytest.fixture(scope="module")
def dbg_session() -> Session:
    return asyncio.run(record_live(_dbg_machine, disconnect=()))


def test_group_options_follow_the_display_rules(dbg_session: Session) -> None:
    schema = dbg_session.machines["d-dbg"].schema
    opts = group_options(schema)
    assert [label for label, _ in opts] == [
        "all",
        f"- self:{len(schema.groups['self'])}",
        f"- BasicStates:{len(schema.groups['BasicStates'])}",
    ]


async def test_picking_a_group_limits_tree_and_rain_and_filters_txs(dbg_session: Session) -> None:
    app = make_app(dbg_session, "mach://d-dbg", "--view-rain")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        before = len(app.viewer.current.visible)  # type: ignore[union-attr]
        app.part2.group_bar.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # all, - self, - BasicStates
        assert await wait_for(pilot, lambda: app.viewer.current.group == "BasicStates")  # type: ignore[union-attr]
        hist = app.viewer.history
        assert hist is not None
        basic = set(hist.schema.groups["BasicStates"])
        assert set(app.part2.rain.cols) == basic
        tree_states = {r.state for r in app.states_tree.row_meta if r.kind == "state"}
        assert tree_states == {hist.state_names[k] for k in basic}
        vis = app.viewer.current.visible  # type: ignore[union-attr]
        assert 0 < len(vis) < before  # the group filter hides txs calling no state of the group
        for p in range(len(vis)):
            assert set(hist.info(vis[p]).called) & basic
        assert "group=BasicStates" in app.part2.copy_url()
        assert "BasicStates" in str(app.part2.group_bar.render())
        tx = cursor(app)[0]
    # the group survives the address round trip
    again = make_app(dbg_session, app.clipboard)
    async with again.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert again.viewer.current.group == "BasicStates"  # type: ignore[union-attr]
        assert cursor(again)[0] == tx


def test_reader_pending_queue_forgets_unlinkable_queued_msgs(dbg_session: Session) -> None:
    """Auto mutations are queued without a tick or token: pending only until the next
    executed transition (the debugger's own machine queues many, spec §4.6 Queue)."""
    from am_dbg.model.reader import Reader

    r = Reader(dbg_session)
    hist = dbg_session.machines["d-dbg"]
    for i in range(len(hist)):
        last_exec = max((j for j in range(i + 1) if not hist.info(j).is_queued), default=-1)
        for j in r._pending(hist, i):
            q = hist.info(j)
            if not q.mut_queue_tick and not q.mut_queue_token:
                assert j > last_exec
    assert any(hist.info(j).is_queued and not hist.info(j).mut_queue_tick for j in range(len(hist)))
