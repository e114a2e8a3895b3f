"""The diagram pane on a graph larger than the pane: focus, keyboard / wheel scrolling, and the
view following the selected state and the transition at the cursor (docs/diagrams.md)."""

from __future__ import annotations

import pytest
from textual import events

from am_dbg.model.diagram import machine_diagram
from am_dbg.model.session import Session
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_dbg.ui.diagram_view import DiagramView
from tests.waiting import pause_until

from .big_schema import big_session
from .helpers import make_app, settle


@pytest.fixture(scope="module")
def big() -> Session:
    return big_session()


def _in_sight(view: DiagramView, state: str) -> bool:
    lay = view.layout_
    assert lay is not None
    top, left, w = lay.boxes[state]
    h, width = view.size.height, view.size.width
    rows = view.vscroll <= top and top + 3 <= view.vscroll + h
    return rows and view.hscroll <= left and left + w <= view.hscroll + width


def _wheel(view: DiagramView, *, down: bool, shift: bool = False) -> None:
    cls = events.MouseScrollDown if down else events.MouseScrollUp
    view.post_message(cls(view, 1, 1, 0, 1 if down else -1, 0, shift, False, False))


def _shown(view: DiagramView, y: int) -> str:
    return view.render_line(y).text


async def _open(app: DbgApp, pilot: object) -> DiagramView:
    await settle(pilot, app)
    await pilot.press("f7")  # type: ignore[attr-defined]
    view = app.part2.diagram
    await pause_until(pilot, lambda: view.layout_ is not None and view.size.height > 0)
    return view


@pytest.mark.parametrize("size", [(160, 50), (90, 30)])
async def test_keys_and_wheel_scroll_the_focused_pane(big: Session, size: tuple[int, int]) -> None:
    app = make_app(big, "mach://big-100")
    async with app.run_test(size=size) as pilot:
        view = await _open(app, pilot)
        lay = view.layout_
        assert lay is not None
        h, w = view.size.height, view.size.width
        assert len(lay.lines) > h and lay.width > w  # the graph does not fit: it must scroll
        await pilot.click("#diagram")
        assert app.focused is view
        view.scroll_by(-10_000, -10_000)
        await pilot.press("down", "down")
        assert view.vscroll == 2
        assert _shown(view, 0) == lay.lines[2].ljust(lay.width)[:w]
        await pilot.press("pagedown")
        assert view.vscroll == min(2 + h - 1, len(lay.lines) - h)
        for _ in range(len(lay.lines)):  # never past the last row
            await pilot.press("pagedown")
        assert view.vscroll == len(lay.lines) - h
        assert _shown(view, h - 1).rstrip() == lay.lines[-1][:w].rstrip()
        assert str(view.border_subtitle).startswith(
            f"rows {len(lay.lines) - h + 1}-{len(lay.lines)}/"
        )
        await pilot.press("pageup")
        assert view.vscroll == max(0, len(lay.lines) - h - (h - 1))
        await pilot.press("shift+right")
        assert view.hscroll == 8
        assert _shown(view, 0) == lay.lines[view.vscroll].ljust(lay.width)[8 : 8 + w]
        await pilot.press("shift+left", "shift+left")
        assert view.hscroll == 0
        # the wheel: rows, shift+wheel: columns
        view.scroll_by(-10_000, 0)
        _wheel(view, down=True)
        await pause_until(pilot, lambda: view.vscroll == 3, what="the wheel down")
        _wheel(view, down=False)
        await pause_until(pilot, lambda: view.vscroll == 0, what="the wheel up")
        _wheel(view, down=True, shift=True)
        await pause_until(pilot, lambda: view.hscroll == 8, what="shift+wheel down")
        # ← → stay time travel while the pane is focused
        tx = app.viewer.cursor.tx
        assert tx > 1
        await pilot.press("left")
        await pause_until(pilot, lambda: app.viewer.cursor.tx == tx - 1, what="the previous tx")
        assert app.focused is view


async def test_view_follows_the_selected_state_and_the_cursor(big: Session) -> None:
    app = make_app(big, "mach://big-100")
    async with app.run_test(size=(90, 30)) as pilot:
        view = await _open(app, pilot)
        lay = view.layout_
        assert lay is not None
        # the state furthest from the view's corner: out of sight until selected
        far = max(lay.boxes, key=lambda n: lay.boxes[n][0] + lay.boxes[n][1])
        assert not _in_sight(view, far)
        app.mach.add1(S.StateNameSelected, {"state": far})
        await pause_until(pilot, lambda: view.state == far, what="the selection to reach the pane")
        assert _in_sight(view, far)
        top, left, _w = lay.boxes[far]
        strip = view.render_line(top + 1 - view.vscroll).crop(
            left + 1 - view.hscroll, left + 1 - view.hscroll + len(far)
        )
        assert strip.text == far
        assert all(seg.style and seg.style.underline and seg.style.bold for seg in strip)
        # the user scrolls away; a transition brings its called state back into sight
        app.mach.remove1(S.StateNameSelected)
        await pause_until(pilot, lambda: view.state == "", what="the selection to clear")
        view.scroll_by(10_000, 10_000)
        hist = app.viewer.history
        assert hist is not None
        out = [
            (i, c)
            for i in range(len(hist))
            for c in machine_diagram(hist, i).overlay.called  # type: ignore[union-attr]
            if not _in_sight(view, c)
        ]
        assert out, "some transition's called state is out of sight"
        i, called = out[0]
        app.mach.add1(S.ScrollToTx, {"cursor": i + 1})
        await pause_until(
            pilot,
            lambda: (
                view.diagram is not None
                and view.diagram.overlay is not None
                and view.diagram.overlay.tx_index == i
            ),
            what=f"transition {i + 1}",
        )
        assert _in_sight(view, called)
