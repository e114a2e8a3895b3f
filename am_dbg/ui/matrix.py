"""The matrix view (docs/architecture.md): the relation structure of one transition at a glance.

Columns are the states (of the selected group). Row `called` marks the called states (1/0), row
`ticks` the tick delta of every state against the previous transition, then an NxN grid whose cell
(row = target, column = source) is the sum of the step-type bits of the steps from source to target
(steps without a target count on the diagonal). Zeros are grey; non-zero cells are bold, underlined
when their row or column is a called state. The selected state's row and column get a darker
background. Rows are labelled with the state's index and name, a header gives each column's index.

`matrix_cells` is the plain computation (tested without a terminal); the widget only renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from am_dbg.model.history import MachineHistory
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette
from am_rpc.dbg.protocol import Step

__all__ = ["MatrixCells", "MatrixView", "matrix_cells"]

_MIN_LABEL = 4  # "NN " and a letter of the name: the columns come first


@dataclass(frozen=True, slots=True)
class MatrixCells:
    cols: tuple[int, ...]  # state indexes, in column order
    called: tuple[int, ...]  # 1/0 per column
    ticks: tuple[int, ...]  # tick delta per column
    grid: tuple[tuple[int, ...], ...]  # grid[target col][source col]

    @property
    def total(self) -> int:
        return sum(self.ticks)


def matrix_cells(
    hist: MachineHistory, i: int, cols: Sequence[int], steps: Sequence[Step] | None = None
) -> MatrixCells:
    """Cells for transition `i` (0-based); `steps` overrides its steps (the stepping cursor)."""
    info = hist.info(i)
    now = hist.clocks(i)
    prev = hist.clocks(i - 1) if i > 0 else (0,) * len(now)
    pos = {k: c for c, k in enumerate(cols)}
    called = tuple(1 if k in info.called else 0 for k in cols)
    ticks = tuple((now[k] if k < len(now) else 0) - (prev[k] if k < len(prev) else 0) for k in cols)
    n = len(cols)
    grid = [[0] * n for _ in range(n)]
    for st in hist.tx(i).steps if steps is None else steps:
        src = st.from_idx
        dst = st.to_idx if st.to_idx >= 0 else st.from_idx
        if src < 0:
            src = dst
        if src in pos and dst in pos:
            grid[pos[dst]][pos[src]] += st.type
    return MatrixCells(tuple(cols), called, ticks, tuple(tuple(r) for r in grid))


class MatrixView(Widget, can_focus=True):
    """Renders `MatrixCells`; the lines are rebuilt only when the inputs change."""

    DEFAULT_CSS = """
    MatrixView {
        border: round $panel-lighten-2; border-title-color: $text-muted;
        scrollbar-size-vertical: 1;
    }
    MatrixView:focus { border: double #32CD32; }
    """

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._lines: list[Text] = []
        self._sig: tuple[object, ...] = ()
        self.hscroll = 0
        self._args: tuple[Any, ...] | None = None  # the last update_view inputs (for a resize)
        self._title = "Matrix"
        self._label_w = self._cell = self._ncols = 0
        self.border_title = "Matrix"

    def update_view(
        self,
        hist: MachineHistory | None,
        i: int | None,
        state: str,
        group: Sequence[int] | None,
        steps: Sequence[Step] | None = None,
    ) -> None:
        self._args = (hist, i, state, group, steps)
        sig: tuple[object, ...] = (
            self.size.width,  # labels give way to columns in a narrow pane
            id(hist),
            len(hist) if hist is not None else 0,
            i,
            state,
            tuple(group or ()),
            tuple(steps) if steps is not None else None,
        )
        if sig == self._sig:
            return
        self._sig = sig
        if hist is None or i is None or i < 0 or i >= len(hist):
            self._lines = []
            set_border_title(self, "Matrix")
            self.refresh()
            return
        names = hist.state_names
        cols = tuple(group) if group else tuple(range(len(names)))
        cells = matrix_cells(hist, i, cols, steps)
        self._title = f"Matrix:{cells.total} Time:t{hist.info(i).time_sum}"
        self._lines = self._build(cells, names, names.index(state) if state in names else -1)
        widest = max((t.cell_len for t in self._lines), default=0)
        self.hscroll = min(self.hscroll, max(0, widest - self.size.width))
        self._show_title()
        self.refresh()

    def _show_title(self) -> None:
        """The title says which columns show when not all of them fit (← → scroll)."""
        title = self._title
        widest = max((t.cell_len for t in self._lines), default=0)
        width = self.size.width
        if width and widest > width and self._cell:
            first = max(0, self.hscroll - self._label_w + self._cell - 1) // self._cell
            last = min(self._ncols, (self.hscroll + width - self._label_w + 1) // self._cell) - 1
            title += f" cols {first}-{last} of {self._ncols} (focus, ← →)"
        set_border_title(self, title)

    def _build(self, m: MatrixCells, names: Sequence[str], sel: int) -> list[Text]:
        pal = self.pal
        label_w = max((len(names[k]) for k in m.cols if k < len(names)), default=0) + 4
        label_w = max(label_w, len("called") + 1)
        # columns as narrow as the values allow (2 digits + a space unless a cell needs 3)
        big = max((abs(v) for r in (*m.grid, m.ticks) for v in r), default=0)
        cell = max(2, len(str(big)), len(str(max(m.cols, default=0)))) + 1
        # every column on screen when it can be: the row labels (state names) are cut first
        width = self.size.width
        if width and label_w + cell * len(m.cols) > width:
            label_w = max(_MIN_LABEL, width - cell * len(m.cols))
        self._label_w, self._cell, self._ncols = label_w, cell, len(m.cols)
        grey = Style(color=pal.grey)
        dark = Style(bgcolor=pal.highlight3)
        called = {k for k, c in zip(m.cols, m.called, strict=True) if c}
        sel_col = m.cols.index(sel) if sel in m.cols else -1

        def row(label: str, values: Sequence[int] | None, row_state: int = -1) -> Text:
            t = Text(no_wrap=True)
            lst = Style(color=pal.white, bold=row_state in called or None)
            t.append(label[: label_w - 1].ljust(label_w), lst if row_state >= 0 else grey)
            if values is None:
                return t
            for c, v in enumerate(values):
                txt = f"{v:>{cell - 1}} "
                if v == 0:
                    st = grey
                else:
                    hot = row_state in called or m.cols[c] in called
                    st = Style(color=pal.white, bold=True, underline=hot or None)
                if c == sel_col or (row_state >= 0 and row_state == sel):
                    st = st + dark
                t.append(txt, st)
            return t

        header = Text(" " * label_w, no_wrap=True)
        for c, k in enumerate(m.cols):
            st = Style(color=pal.active if k in called else pal.grey)
            if c == sel_col:
                st += dark
            header.append(f"{k:>{cell - 1}} ", st)
        lines = [header, row("called", m.called), Text(), row("ticks", m.ticks), Text()]
        for r, k in enumerate(m.cols):
            name = names[k] if k < len(names) else f"#{k}"
            lines.append(row(f"{k:>2} {name}", m.grid[r], k))
        return lines

    def on_resize(self) -> None:
        if self._args is not None:
            self.update_view(*self._args)

    def scroll_cols(self, delta: int) -> None:
        """Horizontal scroll (← / → while focused), by 4 characters."""
        widest = max((t.cell_len for t in self._lines), default=0)
        self.hscroll = max(0, min(self.hscroll + 4 * delta, max(0, widest - self.size.width)))
        self._show_title()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y >= len(self._lines):
            return Strip.blank(width, base)
        text = self._lines[y]
        strip = Strip(list(text.render(self.app.console, end="")), text.cell_len)
        return strip.apply_style(base).crop_extend(self.hscroll, self.hscroll + width, base)
