"""The cost of a frame follows what changed on screen: panes whose inputs did not change are not
repainted, and a changed title repaints the border row, not the pane. Observed by counting the
content lines Textual asks each pane to render (the real app, real sockets, real compositor)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget

from am_core import LogLevel, Machine
from am_dbg.config import parse_args
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_dbg.ui.line_list import LineList
from am_rpc.dbg import connect
from tests.waiting import pause_until

from .helpers import cursor, make_app, settle
from .recorded import SCHEMA, fixture_session


def count_lines(*widgets: Widget) -> Counter[str]:
    """Count `render_line` calls per widget id from now on (Textual calls it per repainted line)."""
    painted: Counter[str] = Counter()
    for w in widgets:
        orig = w.render_line  # type: ignore[attr-defined]

        def hooked(y: int, orig: Callable[[int], object] = orig, wid: str = w.id or "") -> object:
            painted[wid] += 1
            return orig(y)

        w.render_line = hooked  # type: ignore[attr-defined,method-assign]
    return painted


async def test_moving_one_tx_repaints_changed_rows_not_whole_panes() -> None:
    app = make_app(fixture_session(("sim-p1",)), "mach://sim-p1")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.mach.add1(S.ScrollToTx, {"cursor": 10})
        await settle(pilot, app)
        painted = count_lines(app.states_tree, app.log_view, app.client_list)
        tree_h = app.states_tree.size.height
        await pilot.press("right")
        await settle(pilot, app)
        assert cursor(app) == (11, 0)
        # a tx changes a few ticks and moves the log highlight: rows, not panes
        assert 0 < painted["tree"] < tree_h // 2
        assert painted["log"] < app.log_view.size.height // 2
        assert painted["clients"] <= 1  # one machine listed: at most its label


async def test_batches_repaint_the_viewed_panes_only_when_the_viewed_machine_changed() -> None:
    cfg, _ = parse_args(["--test-mode", "-l", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:

        async def until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
            await pause_until(pilot, pred, timeout)

        await until(lambda: app.server is not None)
        addr = f"127.0.0.1:{app.server.addr[1]}"
        viewed = Machine(dict(SCHEMA), id="a-viewed", log_level=LogLevel.CHANGES)
        other = Machine(dict(SCHEMA), id="b-other", log_level=LogLevel.CHANGES)
        tracers = []
        for m in (viewed, other):  # the first machine to connect is selected, in tail mode
            m.verify_states(list(SCHEMA))
            tracers.append(connect(m, addr, queued=False))
            m.add1("Start")
            m.add1("Ready")
            await until(lambda m=m: m.id in app.session.machines)  # type: ignore[misc]
        await until(lambda: app.viewer.selected == "a-viewed" and app.mach.is1(S.TailMode))
        a, b = app.session.machines["a-viewed"], app.session.machines["b-other"]
        await until(lambda: len(a) == 2 and len(b) == 2 and cursor(app) == (2, 0))
        await settle(pilot, app)

        painted = count_lines(app.states_tree, app.log_view, app.client_list)
        frames = app.frames
        for _ in range(3):
            other.add1("Working")
        await until(lambda: len(b) == 5 and app.frames > frames)
        await settle(pilot, app)
        assert cursor(app) == (2, 0)
        assert painted["tree"] == 0 and painted["log"] == 0  # nothing of a-viewed changed
        assert painted["clients"] <= 1  # b-other's label at most, not the whole list

        painted.clear()
        viewed.add1("Working")
        await until(lambda: len(a) == 3 and cursor(app) == (3, 0))  # tail mode follows
        await settle(pilot, app)
        assert painted["tree"] > 0  # Working's tick
        assert painted["log"] > 0  # the new block, highlighted
        assert app.log_view.border_title is not None and "Log:" in app.log_view.border_title
        for t in tracers:
            await asyncio.to_thread(t.close, 2.0)


class _ListApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.lst = LineList(id="lst")

    def compose(self) -> ComposeResult:
        yield self.lst


async def test_row_counts_that_fit_keep_the_layout_and_a_smaller_view_scrolls_again() -> None:
    app = _ListApp()
    async with app.run_test(size=(30, 12)) as pilot:
        lst = app.lst
        lst.set_rows([Text(f"row {k}") for k in range(5)])
        await pilot.pause()
        assert lst.virtual_size.height == 5
        painted = count_lines(lst)
        lst.set_rows([Text(f"row {k}") for k in range(8)])  # still fits: no new virtual size
        await pilot.pause()
        assert lst.virtual_size.height == 5
        assert painted["lst"] == 3  # only the new rows
        lines = [s.text.rstrip() for s in app.screen._compositor.render_strips()]
        assert lines[7] == "row 7"
        await pilot.resize_terminal(30, 6)  # 8 rows in 6 lines: scrollable again
        await pilot.pause()
        assert lst.virtual_size.height == 8 and lst.max_scroll_y > 0
        lst.set_rows([Text(f"row {k}") for k in range(20)])  # more than fit: as before
        await pilot.pause()
        assert lst.virtual_size.height == 20


def _pane_text(app: DbgApp, pane: Widget) -> list[str]:
    """What the screen shows inside `pane` (its content region), line by line."""
    lines = [s.text for s in app.screen._compositor.render_strips()]
    r = pane.content_region
    return [line[r.x : r.right] for line in lines[r.y : r.bottom]]


async def test_a_filter_that_hides_most_transitions_keeps_the_log_on_the_cursor() -> None:
    """The log's anchor is a position in the filtered list: a new filter must re-place it (hiding
    canceled txs at the end of `sim` left it past the shorter list, and the log went blank)."""
    app = make_app(fixture_session(("sim",)), "mach://sim")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        log = app.log_view
        shown = len(app.viewer.current.visible)  # type: ignore[union-attr]
        assert any(t.strip() for t in _pane_text(app, log))
        app.mach.add1(S.ToggleTool, {"tool": "canceled"})  # hide canceled: 171 -> 104 visible
        await pilot.pause()
        assert len(app.viewer.current.visible) < shown * 2 // 3  # type: ignore[union-attr]
        assert log.highlight is not None and log.highlight in {i for i, _ in log._frame}
        assert sum(bool(t.strip()) for t in _pane_text(app, log)) >= log.size.height // 2
        app.mach.add1(S.ToggleTool, {"tool": "canceled"})  # and back: all of them again
        await pilot.pause()
        assert log.highlight in {i for i, _ in log._frame}
        assert sum(bool(t.strip()) for t in _pane_text(app, log)) >= log.size.height // 2
