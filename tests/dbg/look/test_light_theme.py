"""The light theme paints its own background under every text cell (no terminal default, SGR 49,
which is dark on a dark terminal) and draws borders darker than the panels they frame."""

from __future__ import annotations

from textual.color import Color

from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from tests.dbg.ui.helpers import make_app
from tests.dbg.ui.recorded import fixture_session

MACHS = ("ps-2", "sim", "sim-p1")


def _unpainted(app: DbgApp, widget_id: str) -> list[str]:
    """Text of the cells of `widget_id` that leave the background to the terminal."""
    w = app.query_one(f"#{widget_id}")
    out = []
    for y in range(w.size.height):
        for seg in w.render_line(y):  # type: ignore[attr-defined]
            style = seg.style
            if seg.text and (style is None or style.bgcolor is None):
                out.append(seg.text)
    return out


async def test_light_theme_text_cells_have_the_theme_background() -> None:
    app = make_app(fixture_session(MACHS), "--view-theme", "light", "mach://sim")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.mach.add1(S.ScrollToTx, {"cursor": 20})
        await pilot.pause()
        for wid in ("clients", "tree", "log"):
            assert _unpainted(app, wid) == [], wid


async def test_light_theme_borders_are_darker_than_the_panels() -> None:
    app = make_app(fixture_session(MACHS), "--view-theme", "light", "mach://sim")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for wid in ("clients", "tree", "log"):
            w = app.query_one(f"#{wid}")
            if w.has_focus:
                continue
            border = w.styles.border_top[1]
            bg: Color = (
                w.styles.background if w.styles.background.a else app.screen.styles.background
            )
            assert border.brightness < bg.brightness - 0.2, (wid, border, bg)


async def test_toggling_to_light_at_runtime_paints_the_same() -> None:
    app = make_app(fixture_session(MACHS), "mach://sim")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.part2.toggle_theme()
        await pilot.pause()
        for wid in ("clients", "tree", "log"):
            assert _unpainted(app, wid) == [], wid
            w = app.query_one(f"#{wid}")
            if not w.has_focus:
                assert w.styles.border_top[1].brightness < 0.6, wid
