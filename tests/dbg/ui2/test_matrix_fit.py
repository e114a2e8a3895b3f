"""The matrix in the tree-matrix view shows its last column: state names in the row labels give way
first; where even that is not enough (19 states at 90 columns) the title says which columns show
and ← → (the matrix focused) bring the rest in."""

from __future__ import annotations

import pytest
from ui.helpers import make_app
from ui.screen_check import screen_lines, settle

from am_dbg.ui.app import DbgApp

from .data import PS2_URL, go_session


def _matrix_text(app: DbgApp) -> list[str]:
    r = app.part2.matrix.content_region
    return [line[r.x : r.right] for line in screen_lines(app)[r.y : r.bottom]]


@pytest.mark.parametrize(
    ("url", "size"), [("mach://sim?t=17", (120, 40)), (PS2_URL, (160, 50))], ids=["sim", "ps-2"]
)
async def test_tree_matrix_shows_every_column(url: str, size: tuple[int, int]) -> None:
    app = make_app(go_session(), url, "--view", "tree-matrix")
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        hist = app.viewer.history
        assert hist is not None
        n = len(hist.state_names)
        shown = _matrix_text(app)
        assert shown[0].split() == [str(k) for k in range(n)]  # the header: every column
        assert len(shown[1].split()) == n + 1  # "called" and a value per column
        row = shown[5][: shown[0].index(" 0") + 1]
        assert row.startswith(" 0 ") and row.endswith(" ")  # a cut name keeps its gap
        assert "cols" not in str(app.part2.matrix.border_title)


async def test_a_matrix_too_wide_says_so_and_scrolls_to_its_last_column() -> None:
    app = make_app(go_session(), PS2_URL, "--view", "tree-matrix")
    async with app.run_test(size=(90, 30)) as pilot:
        await settle(app, pilot)
        m = app.part2.matrix
        hist = app.viewer.history
        assert hist is not None
        n = len(hist.state_names)
        header = _matrix_text(app)[0].split()
        last = int(header[-1])
        assert last < n - 1
        assert f"cols 0-{last} of {n}" in str(m.border_title)
        m.focus()
        for _ in range(10):
            await pilot.press("right")
        await settle(app, pilot)
        assert _matrix_text(app)[0].split()[-1] == str(n - 1)
        assert f"-{n - 1} of {n}" in str(m.border_title)
