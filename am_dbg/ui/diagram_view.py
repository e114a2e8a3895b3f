"""The diagram pane: the selected machine's relation graph, the current transition's steps lit.

The layout (`am_dbg.vis.term.TermLayout`) is built once per schema and kept; a cursor move only
recomputes the colour runs of that moment and repaints (docs/diagrams.md "Terminal"). The view
scrolls itself so the first called state of the transition is in sight.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from am_dbg.model.diagram import Diagram, machine_diagram
from am_dbg.model.history import MachineHistory
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette
from am_dbg.vis.term import TermLayout

__all__ = ["DiagramView", "row_segments"]

_LAYOUTS_KEPT = 32


class DiagramView(Widget):
    """Renders a `TermLayout` with the styles of one moment, only the visible rows."""

    DEFAULT_CSS = """
    DiagramView {
        border: round $panel-lighten-2; border-title-color: $text-muted;
    }
    """

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._layouts: dict[tuple[object, ...], TermLayout] = {}
        self.layout_: TermLayout | None = None
        self.diagram: Diagram | None = None
        self._rows: dict[int, list[tuple[int, int, Style]]] = {}
        self._sig: tuple[object, ...] = ()
        self.vscroll = 0
        self.hscroll = 0
        self.border_title = "Diagram"

    def layout_for(self, hist: MachineHistory, d: Diagram) -> TermLayout:
        """The cached layout of this schema (by identity of the schema object and its states)."""
        key = (hist.id, id(hist.schema), d.edges, tuple(n.name for n in d.nodes))
        got = self._layouts.get(key)
        if got is None:
            got = TermLayout.of(d)
            if len(self._layouts) >= _LAYOUTS_KEPT:
                self._layouts.pop(next(iter(self._layouts)))
            self._layouts[key] = got
        return got

    def update_view(self, hist: MachineHistory | None, i: int | None) -> None:
        sig = (id(hist), len(hist) if hist is not None else 0, i, id(hist.schema) if hist else 0)
        if sig == self._sig:
            return
        self._sig = sig
        if hist is None:
            self.layout_ = self.diagram = None
            self._rows = {}
            set_border_title(self, "Diagram")
            self.refresh()
            return
        d = machine_diagram(hist, i if i is not None and 0 <= i < len(hist) else None)
        lay = self.layout_for(hist, d)
        self.layout_, self.diagram = lay, d
        rows: dict[int, list[tuple[int, int, Style]]] = {}
        parse = Style.parse
        styles: dict[str, Style] = {}
        for run in lay.styles(d):
            st = styles.get(run.style)
            if st is None:
                st = styles[run.style] = parse(run.style)
            rows.setdefault(run.row, []).append((run.x0, run.x1, st))
        self._rows = rows
        ov = d.overlay
        title = f"Diagram {hist.id}"
        if ov is not None:
            title += f" t{ov.tx_index + 1}"
            focus = sorted(ov.called) or sorted(ov.touched)
            if focus and focus[0] in lay.boxes:
                self._keep_in_sight(lay.boxes[focus[0]])
        set_border_title(self, title)
        self.refresh()

    def _keep_in_sight(self, box: tuple[int, int, int]) -> None:
        top, left, w = box
        h, width = self.size.height, self.size.width
        if h and not (self.vscroll <= top and top + 3 <= self.vscroll + h):
            self.vscroll = max(0, top - h // 3)
        if width and not (self.hscroll <= left and left + w <= self.hscroll + width):
            self.hscroll = max(0, left - width // 4)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        lay = self.layout_
        row = y + self.vscroll
        if lay is None or row >= len(lay.lines):
            return Strip.blank(width, base)
        line = lay.lines[row].ljust(lay.width)
        segs = row_segments(line, self._rows.get(row, ()))
        strip = Strip(segs, len(line))
        return strip.apply_style(base).crop_extend(self.hscroll, self.hscroll + width, base)


def row_segments(line: str, runs: Iterable[tuple[int, int, Style]]) -> list[Segment]:
    """One row as segments: later runs win, equal neighbours merged."""
    cells: list[Style | None] = [None] * len(line)
    for x0, x1, st in runs:
        for x in range(x0, min(x1, len(line))):
            cells[x] = st
    segs: list[Segment] = []
    start = 0
    for x in range(1, len(line) + 1):
        if x == len(line) or cells[x] is not cells[start]:
            segs.append(Segment(line[start:x], cells[start]))
            start = x
    return segs
