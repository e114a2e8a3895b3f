"""SVG snapshots of the diagram pane (f7) at 160x50 and 90x30: ps-2 of the Go fixture at the Go
integration tests' start address, then one transition on (the overlay moves with the cursor)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .helpers import make_app
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
