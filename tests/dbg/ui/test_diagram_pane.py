"""The diagram pane and `--output-diagrams` in the real app (docs/diagrams.md)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from am_dbg.model.diagram import machine_diagram
from am_dbg.vis.text import to_mermaid

from .helpers import cursor, make_app
from .recorded import fixture_session

PS2_URL = "mach://ps-2/a59d994dd6efb726a1cd3ef1b7f384fd"
SIZE = (160, 50)


async def _until(pilot: object, cond: Callable[[], bool], timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


async def test_pane_follows_cursor_and_keeps_the_layout() -> None:
    app = make_app(fixture_session(("ps-2", "sim")), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.part2.diagram
        assert not view.display
        await pilot.press("f7")
        await pilot.pause()
        assert view.display and not app.log_view.display
        d0, lay0 = view.diagram, view.layout_
        assert d0 is not None and d0.overlay is not None and lay0 is not None
        assert d0.overlay.tx_index == cursor(app)[0] - 1
        await pilot.press("right")
        await pilot.pause()
        d1 = view.diagram
        assert d1 is not None and d1.overlay is not None
        assert d1.overlay.tx_index == cursor(app)[0] - 1 != d0.overlay.tx_index
        assert view.layout_ is lay0  # same schema: the layout is reused, only styles change
        await pilot.press("f7")
        await pilot.pause()
        assert not view.display and app.log_view.display


async def test_output_diagrams(tmp_path: Path) -> None:
    app = make_app(
        fixture_session(("ps-2", "sim")), PS2_URL, "-d", str(tmp_path), "--output-diagrams"
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(3):
            await pilot.press("right")
        hist = app.viewer.history
        assert hist is not None
        i = cursor(app)[0] - 1
        want = to_mermaid(machine_diagram(hist, i))
        f = tmp_path / "diagram-machine.mmd"
        # throttled: the trailing write lands the moment the cursor stopped on
        assert await _until(pilot, lambda: f.exists() and f.read_text() == want)
        tx = (tmp_path / "diagram-tx.mmd").read_text()
        assert tx == to_mermaid(machine_diagram(hist, i, touched_only=True))


async def test_output_diagrams_follow_the_selected_state(tmp_path: Path) -> None:
    """Selecting a state writes diagram-state.mmd: that state and its neighbours at the cursor."""
    from am_dbg.states import DbgStates as S

    app = make_app(
        fixture_session(("sim",)), "mach://sim", "-d", str(tmp_path), "--output-diagrams"
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        f = tmp_path / "diagram-state.mmd"
        assert not f.exists()  # no state selected yet
        hist = app.viewer.history
        assert hist is not None
        state = next(e.src for e in machine_diagram(hist).edges)  # a state with a relation
        app.mach.add1(S.StateNameSelected, {"state": state})
        i = cursor(app)[0] - 1
        want = to_mermaid(machine_diagram(hist, i, state=state, distance=1))
        assert await _until(pilot, lambda: f.exists() and f.read_text() == want)
        assert f'["{state}"]' in want
