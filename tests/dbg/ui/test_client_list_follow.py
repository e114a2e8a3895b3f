"""The client list (spec/debugger.md §4.3, §5.6, §5.10): it follows the selected machine, keeps the
status and count columns when narrow, and its search takes names with digits and wraps around."""

from __future__ import annotations

import re

from am_dbg.ui.app import DbgApp

from .helpers import make_app
from .recorded import fixture_session
from .screen_check import screen_lines, settle

START = "mach://sim/ad498c64abf3e98f25f529b9257d6617"


def _list_text(app: DbgApp) -> list[str]:
    r = app.client_list.scrollable_content_region  # without the scrollbar
    return [line[r.x : r.right] for line in screen_lines(app)[r.y : r.bottom]]


def _selected_on_screen(app: DbgApp) -> bool:
    lst = app.client_list
    row = [m for m, _ in lst.order].index(app.viewer.selected)
    top = int(lst.scroll_offset.y)
    name = app.viewer.selected[:8]
    shown = _list_text(app)
    return lst.cursor_row == row and top <= row < top + len(shown) and name in shown[row - top]


async def test_the_list_follows_the_selected_machine() -> None:
    app = make_app(fixture_session(), "mach://ps-0")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        assert int(app.client_list.scroll_offset.y) == 0
        await pilot.press("ctrl+g", *"mach://sim-t-casablanca", "enter")
        await settle(app, pilot)
        assert app.viewer.selected == "sim-t-casablanca"
        assert _selected_on_screen(app)  # the row is far below the first screen of the list
        for key in ("ctrl+up", "ctrl+down", "ctrl+down"):
            await pilot.press(key)
            await settle(app, pilot)
            assert _selected_on_screen(app), key
        await pilot.press("ctrl+o")  # history: back to the first machine, at the top
        await settle(app, pilot)
        assert _selected_on_screen(app)


async def test_the_list_opens_scrolled_to_the_start_machine() -> None:
    app = make_app(fixture_session(), "mach://sim-t-casablanca")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        assert _selected_on_screen(app)


async def test_at_120_columns_every_row_keeps_status_and_count() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        rows = [t for t in _list_text(app) if t.strip()]
        assert len(rows) > 20
        label = re.compile(r"^(- )*\S+ +(E?[RS]?) ?\|\d+\+?\s*$")
        assert all(label.match(t) for t in rows), [t for t in rows if not label.match(t)]
        assert any(re.search(r" S\|\d+\+", t) for t in rows)  # a status letter is shown
        every = [t.plain for t in app.client_list.rows]  # the rows off screen too
        assert all(label.match(t) for t in every)
        assert "sim-t-casabla.. " in [t[:16] for t in every]  # long names give way, with ".."
        assert all(
            len(t.rstrip()) <= app.client_list.scrollable_content_region.width for t in every
        )
        await pilot.resize_terminal(160, 50)  # wider again: the names get their room back
        await settle(app, pilot)
        assert not any(".." in t for t in _list_text(app) if t.startswith("ps-"))


async def test_search_takes_digits_of_a_name_and_leaves_the_log_level() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        lst = app.client_list
        lst.focus()
        level = app.viewer.filters.log_level
        await pilot.press(*"sim-p1")
        assert lst.hovered() == "sim-p1"
        assert app.viewer.filters.log_level == level
        await pilot.press(*"1")  # still typing the name: sim-p11
        assert lst.hovered() == "sim-p11"
        assert app.viewer.filters.log_level == level


async def test_search_starts_after_the_cursor_and_wraps_around() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        lst = app.client_list
        lst.focus()
        lst.move_to(len(lst.rows) - 1)  # the last row: nothing below it
        await pilot.press("p")
        assert lst.hovered() == "ps-0"
