"""Address history keeps every visit, as a browser does (spec/debugger.md §5.11): a machine picked
in the list while browsed back drops the forward entries and is recorded."""

from __future__ import annotations

from ui.helpers import make_app
from ui.recorded import fixture_session
from ui.screen_check import settle

from am_dbg.ui.app import DbgApp

from .data import GO_MACHS, PS2_TX, PS2_URL


async def _click_machine(app: DbgApp, pilot: object, mach_id: str) -> None:
    lst = app.client_list
    row = [m for m, _ in lst.order].index(mach_id)
    lst.scroll_to_region_row(row)
    await settle(app, pilot)  # type: ignore[arg-type]
    y = row - int(lst.scroll_offset.y) + 1  # + the top border
    assert await pilot.click("#clients", offset=(3, y))  # type: ignore[attr-defined]
    await settle(app, pilot)  # type: ignore[arg-type]


async def test_a_visit_while_browsed_back_is_recorded_and_forward_history_dropped() -> None:
    app = make_app(fixture_session((*GO_MACHS, "ps-4")), PS2_URL)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        assert app.viewer.url().tx_id == PS2_TX
        await _click_machine(app, pilot, "ps-3")
        assert app.viewer.selected == "ps-3"
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert app.viewer.selected == "ps-2" and app.viewer.url().tx_id == PS2_TX
        await _click_machine(app, pilot, "ps-4")
        assert app.viewer.selected == "ps-4"
        h = app.viewer.addresses
        assert h.pos == 0 and h.entries[0].mach_id == "ps-4"
        assert "ps-3" not in [u.mach_id for u in h.entries]  # the forward entry is gone
        await pilot.press("ctrl+o")  # back: where ps-4 was picked from
        await settle(app, pilot)
        assert app.viewer.selected == "ps-2" and app.viewer.url().tx_id == PS2_TX
        await pilot.press("ctrl+n")  # forward: the ps-4 visit is still there
        await settle(app, pilot)
        assert app.viewer.selected == "ps-4"
