"""SVG snapshots of the diagram pane (f7) at 160x50 and 90x30: ps-2 of the Go fixture at the Go
integration tests' start address, then one transition on (the overlay moves with the cursor); a
100-state graph larger than the pane, focused and scrolled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from am_dbg.model.session import Session
from am_dbg.states import DbgStates as S
from tests.waiting import pause_until

from .big_schema import big_session
from .helpers import make_app, settle
from .recorded import fixture_session

SIZES = [pytest.param((160, 50), id="160x50"), pytest.param((90, 30), id="90x30")]
PS2_URL = "mach://ps-2/a59d994dd6efb726a1cd3ef1b7f384fd"
Snap = Callable[..., bool]


@pytest.mark.parametrize("size", SIZES)
def test_diagram_view(snap_compare: Snap, size: tuple[int, int]) -> None:
    app = make_app(fixture_session(("ps-2", "sim")), PS2_URL)
    assert snap_compare(app, press=["f7"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_diagram_view_next_tx(snap_compare: Snap, size: tuple[int, int]) -> None:
    app = make_app(fixture_session(("ps-2", "sim")), PS2_URL)
    assert snap_compare(app, press=["f7", "right"], terminal_size=size)


@pytest.fixture(scope="module")
def big() -> Session:
    return big_session()


@pytest.mark.parametrize("size", SIZES)
def test_diagram_view_big_focused_scrolled(
    snap_compare: Snap, big: Session, size: tuple[int, int]
) -> None:
    """The 100-state graph, focused (double border), one page down and 8 columns right, S47
    selected (underlined); the subtitle says which rows and columns show."""

    async def before(pilot: Any) -> None:
        app = pilot.app
        await settle(pilot, app)
        await pilot.press("f7")
        await pilot.click("#diagram")
        app.mach.add1(S.StateNameSelected, {"state": "S47"})
        await pause_until(pilot, lambda: app.part2.diagram.state == "S47", what="S47 selected")
        await pilot.press("pagedown", "shift+right")
        await settle(pilot, app)

    app = make_app(big, "mach://big-100")
    assert snap_compare(app, run_before=before, terminal_size=size)
