"""Mouse: clicks and the wheel on the client list, tree, timelines, log and toolbar (spec §5.3)."""

from __future__ import annotations

from textual import events
from textual.widget import Widget

from am_dbg.states import DbgStates as S
from am_dbg.ui.toolbar import TOOLS

from .helpers import cursor, make_app
from .recorded import fixture_session

MACHS = ("ps-2", "ps-3", "sim")


def _wheel(widget: Widget, down: bool) -> None:
    cls = events.MouseScrollDown if down else events.MouseScrollUp
    widget.post_message(cls(widget, 1, 1, 0, 1 if down else -1, 0, False, False, False))


async def test_clicks_and_wheel() -> None:
    app = make_app(fixture_session(MACHS), "mach://ps-2")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        # client list: a click selects the machine on that row
        await pilot.click("#clients", offset=(3, 3))  # border + row 2 (0-based) = sim
        await pilot.pause()
        assert app.viewer.selected == "sim"
        total = len(app.session.machines["sim"])
        # transition timeline: a click jumps proportionally
        tl = app.tl_tx
        width = tl.content_size.width
        await pilot.click("#tl-tx", offset=(1 + width // 2 - 1, 1))
        await pilot.pause()
        assert abs(cursor(app)[0] - total // 2) <= total // width + 2
        assert app.focused is tl
        # the wheel on the timeline moves ±5 (visible) transitions
        vis = app.viewer.current.visible  # type: ignore[union-attr]
        before = vis.count_upto(cursor(app)[0] - 1)
        _wheel(tl, down=True)
        await pilot.pause()
        assert vis.count_upto(cursor(app)[0] - 1) == before + 5
        _wheel(tl, down=False)
        await pilot.pause()
        assert vis.count_upto(cursor(app)[0] - 1) == before
        # tree: a click moves the cursor and selects that state
        await pilot.click("#tree", offset=(4, 2))  # second state row
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None and app.viewer.state_name == hist.state_names[1]
        assert app.mach.is1(S.StateNameSelected)
        # a second click toggles its expansion
        n = len(app.states_tree.rows)
        await pilot.click("#tree", offset=(4, 2))
        await pilot.pause()
        assert len(app.states_tree.rows) > n


async def test_log_click_goes_to_that_transition_and_wheel_scrolls() -> None:
    app = make_app(fixture_session(MACHS), "mach://ps-2/a59d994dd6efb726a1cd3ef1b7f384fd")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        log = app.log_view
        frame = log._frame
        assert frame
        y = next(k for k, (i, _) in enumerate(frame) if i != app.viewer.cursor.tx - 1)
        target = frame[y][0]
        await pilot.click("#log", offset=(5, 1 + y))
        await pilot.pause()
        assert cursor(app) == (target + 1, 0)
        top = log._frame[0][0]
        _wheel(log, down=True)
        await pilot.pause()
        assert app.mach.is1(S.LogUserScrolled) and log._frame[0][0] >= top
        assert log._frame[0] != frame[0] or log._top_line > 0
        await pilot.press("full_stop")  # moving through time follows the cursor again (→ in
        # the focused log scrolls it sideways, spec §5.2)
        assert not app.mach.is1(S.LogUserScrolled)


async def test_toolbar_click_toggles_a_filter() -> None:
    app = make_app(fixture_session(MACHS), "mach://sim")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        bar = app.toolbar
        k = next(k for k, b in enumerate(TOOLS) if b.id == "canceled")
        line, x0 = next((y, s[0]) for y, spans in enumerate(bar._lines) for s in spans if s[2] == k)
        await pilot.click("#toolbar", offset=(1 + x0 + 1, line))
        await pilot.pause()
        assert app.viewer.filters.canceled and app.mach.is1(S.FilterCanceledTx)
