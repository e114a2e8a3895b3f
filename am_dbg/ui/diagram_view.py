"""The diagram pane: the selected machine's relation graph, the current transition's steps lit.

The layout (`am_dbg.vis.term.TermLayout`) is built once per schema and kept; a cursor move only
recomputes the colour runs of that moment and repaints the visible rows (docs/diagrams.md
"Terminal"). A graph larger than the pane scrolls: focused (tab), ↑ ↓ PgUp PgDn by rows,
shift+← shift+→ by columns, the mouse wheel (shift+wheel sideways); ← → stay time travel. The
view follows the selected state when it changes and otherwise the first called state of the
transition at the cursor, moving only when that box is out of sight.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from am_dbg.model.diagram import Diagram, machine_diagram
from am_dbg.model.history import MachineHistory
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette
from am_dbg.vis.term import Run, TermLayout

__all__ = ["SELECTED", "DiagramView", "row_segments"]

_LAYOUTS_KEPT = 32
_HSTEP = 8  # columns per shift+← / shift+→
SELECTED = Style(bold=True, underline=True)  # the selected state's name, on top of its fill


class DiagramView(Widget, can_focus=True):
    """Renders a `TermLayout` with the styles of one moment, only the visible rows."""

    DEFAULT_CSS = """
    DiagramView {
        border: round $panel-lighten-2; border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
    }
    DiagramView:focus { border: double #32CD32; }
    """

    BINDINGS = [
        Binding("up", "scroll(-1, 0)", "diagram up", show=False),
        Binding("down", "scroll(1, 0)", "diagram down", show=False),
        Binding("pageup,alt+p", "page(-1)", "diagram page up", show=False),
        Binding("pagedown,alt+n", "page(1)", "diagram page down", show=False),
        Binding("shift+left", f"scroll(0, -{_HSTEP})", "diagram left", show=False),
        Binding("shift+right", f"scroll(0, {_HSTEP})", "diagram right", show=False),
    ]

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._layouts: dict[tuple[str, int], tuple[object, TermLayout]] = {}
        self.layout_: TermLayout | None = None
        self.diagram: Diagram | None = None
        self.state = ""  # the selected state ("" none)
        self._target = ""  # the state the view keeps in sight (until the user scrolls)
        self._rows: dict[int, list[tuple[int, int, Style]]] = {}  # this moment's runs by row
        self._static: dict[int, list[tuple[int, int, Style]]] = {}  # the layout's relation lines
        self._styles: dict[str, Style] = {}
        self._based: dict[Style | None, Style] = {}  # run style on the pane's base style
        self._base: Style | None = None
        self._dirty: set[int] | None = None  # rows to repaint; None: all
        self._painted_view: tuple[object, ...] = ()
        self._sub = ""
        self._strips: dict[int, tuple[tuple[object, ...], Strip]] = {}  # row -> (key, strip)
        self._strips_of: TermLayout | None = None
        self._rich: Style | None = None
        self._sig: tuple[object, ...] = ()
        self.vscroll = 0
        self.hscroll = 0
        self.border_title = "Diagram"

    def layout_for(self, hist: MachineHistory, d: Diagram) -> TermLayout:
        """The cached layout of this machine's schema (the pane draws it unfiltered: the schema
        object decides nodes and edges; it is kept with the layout so its id stays its own)."""
        key = (hist.id, id(hist.schema))
        got = self._layouts.get(key)
        if got is None or got[0] is not hist.schema:
            got = (hist.schema, TermLayout.of(d))
            if len(self._layouts) >= _LAYOUTS_KEPT:
                self._layouts.pop(next(iter(self._layouts)))
            self._layouts[key] = got
        return got[1]

    def update_view(self, hist: MachineHistory | None, i: int | None, state: str = "") -> None:
        """Show `hist` after its transition `i` (0-based, None: the schema), `state` selected."""
        sig = (id(hist), len(hist) if hist is not None else 0, i, id(hist.schema) if hist else 0)
        if sig == self._sig and state == self.state:
            return
        moved, picked, was = sig != self._sig, state != self.state, self.state
        self._sig, self.state = sig, state
        if hist is None:
            self.layout_ = self.diagram = None
            self._rows, self._static, self._dirty = {}, {}, None
            set_border_title(self, "Diagram")
            self.refresh()
            return
        d = machine_diagram(hist, i if i is not None and 0 <= i < len(hist) else None)
        lay = self.layout_for(hist, d)
        relaid = lay is not self.layout_
        self.layout_, self.diagram = lay, d
        if relaid:
            self._static = self._parse(lay.edge_runs())
        rows = self._parse(lay.moment_runs(d))
        if relaid or self._dirty is None:
            self._dirty = None
        else:  # repaint only the rows whose colours changed, and the selection's label rows
            old = self._rows
            self._dirty |= {r for r in rows.keys() | old.keys() if rows.get(r) != old.get(r)}
            self._dirty |= {lay.boxes[n][0] + 1 for n in (was, state) if n in lay.boxes}
        self._rows = rows
        ov = d.overlay
        title = f"Diagram {hist.id}"
        if ov is not None:
            title += f" t{ov.tx_index + 1}"
        if picked and state in lay.boxes:
            self._target = state
        elif moved and ov is not None:
            focus = sorted(ov.called) or sorted(ov.touched)
            self._target = focus[0] if focus else ""
        if self._target in lay.boxes:
            self._keep_in_sight(lay.boxes[self._target])
        self._clamp()
        set_border_title(self, title)
        self._repaint()

    def _parse(self, runs: Iterable[Run]) -> dict[int, list[tuple[int, int, Style]]]:
        rows: dict[int, list[tuple[int, int, Style]]] = {}
        styles = self._styles
        for run in runs:
            st = styles.get(run.style)
            if st is None:
                st = styles[run.style] = Style.parse(run.style)
            rows.setdefault(run.row, []).append((run.x0, run.x1, st))
        return rows

    def _repaint(self) -> None:
        """Refresh the rows marked dirty (all of them after a scroll, a resize or a new layout)."""
        dirty, view = self._dirty, (self.vscroll, self.hscroll, self.size)
        if dirty is None or view != self._painted_view:
            self.refresh()
        else:
            w, top, h = self.size.width, self.vscroll, self.size.height
            for row in dirty:
                if top <= row < top + h:
                    self.refresh(Region(0, row - top, w, 1))
        self._dirty = set()
        self._painted_view = view

    # scrolling --------------------------------------------------------------------------------------

    def _keep_in_sight(self, box: tuple[int, int, int]) -> None:
        top, left, w = box
        h, width = self.size.height, self.size.width
        if h and not (self.vscroll <= top and top + 3 <= self.vscroll + h):
            self.vscroll = max(0, top - h // 3)
        if width and not (self.hscroll <= left and left + w <= self.hscroll + width):
            self.hscroll = max(0, left - width // 4)

    def _clamp(self) -> None:
        lay = self.layout_
        if lay is None:
            self.vscroll = self.hscroll = 0
        else:
            self.vscroll = max(0, min(self.vscroll, len(lay.lines) - self.size.height))
            self.hscroll = max(0, min(self.hscroll, lay.width - self.size.width))
        self._subtitle()

    def _subtitle(self) -> None:
        """Which rows / columns show, when the graph is larger than the pane."""
        lay = self.layout_
        h, w = self.size.height, self.size.width
        parts = []
        if lay is not None and h and len(lay.lines) > h:
            last = min(len(lay.lines), self.vscroll + h)
            parts.append(f"rows {self.vscroll + 1}-{last}/{len(lay.lines)}")
        if lay is not None and w and lay.width > w:
            last = min(lay.width, self.hscroll + w)
            parts.append(f"cols {self.hscroll + 1}-{last}/{lay.width}")
        sub = " ".join(parts)
        if sub != self._sub:  # the setter repaints the whole pane, even for the same text
            self._sub = self.border_subtitle = sub

    def scroll_by(self, rows: int, cols: int) -> None:
        self._target = ""
        self.vscroll += rows
        self.hscroll += cols
        self._clamp()
        self.refresh()

    def action_scroll(self, rows: int, cols: int) -> None:
        self.scroll_by(rows, cols)

    def action_page(self, delta: int) -> None:
        self.scroll_by(delta * max(1, self.size.height - 1), 0)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_by(0, _HSTEP) if event.shift else self.scroll_by(3, 0)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_by(0, -_HSTEP) if event.shift else self.scroll_by(-3, 0)

    def on_resize(self) -> None:
        lay = self.layout_
        if lay is not None and self._target in lay.boxes:  # the first show: now it has a size
            self._keep_in_sight(lay.boxes[self._target])
        self._clamp()

    # drawing ----------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._rich = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._rich
        if base is None:  # `rich_style` walks the ancestors: once per style change, not per row
            base = self._rich = self.rich_style
        lay = self.layout_
        row = y + self.vscroll
        if lay is None or row >= len(lay.lines):
            return Strip.blank(width, base)
        return self._strip_of(lay, row, base, self.hscroll, width)

    def _strip_of(self, lay: TermLayout, row: int, base: Style, x0: int, width: int) -> Strip:
        """The visible part of a row, styled; kept until its colours or the window change."""
        if base != self._base or lay is not self._strips_of:
            self._strips.clear()
            self._based.clear()
            self._base, self._strips_of = base, lay
        moment = self._rows.get(row, ())
        box = lay.boxes.get(self.state) if self.state else None
        mark = None
        if box is not None and row == box[0] + 1:
            mark = (box[1] + 1 - x0, box[1] + 1 + len(self.state) - x0, SELECTED)
        key = (x0, width, moment, mark)
        got = self._strips.get(row)
        if got is not None and got[0] == key:
            return got[1]
        x1 = x0 + width
        line = lay.lines[row][x0:x1].ljust(width)
        runs = [(a - x0, b - x0, st) for a, b, st in self._static.get(row, ()) if b > x0 and a < x1]
        runs += [(a - x0, b - x0, st) for a, b, st in moment if b > x0 and a < x1]
        based = self._based
        segs = []
        for seg in row_segments(line, runs, [mark] if mark else ()):
            st = seg.style
            b = based.get(st)
            if b is None:
                b = based[st] = base + st if st is not None else base
            segs.append(Segment(seg.text, b))
        strip = Strip(segs, width)
        self._strips[row] = (key, strip)
        return strip


def row_segments(
    line: str,
    runs: Iterable[tuple[int, int, Style]],
    marks: Iterable[tuple[int, int, Style]] = (),
) -> list[Segment]:
    """One row as segments: later runs win, `marks` are added on top, equal neighbours merged."""
    n = len(line)
    cells: list[Style | None] = [None] * n
    for x0, x1, st in runs:
        x0, x1 = max(x0, 0), min(x1, n)
        if x1 > x0:
            cells[x0:x1] = [st] * (x1 - x0)
    for x0, x1, st in marks:
        for x in range(max(x0, 0), min(x1, n)):
            cur = cells[x]
            cells[x] = st if cur is None else cur + st  # (rich caches the sum: one object)
    ids = list(map(id, cells))
    cuts = [x for x in range(1, n) if ids[x] != ids[x - 1]]
    segs: list[Segment] = []
    start = 0
    for x in (*cuts, n):
        if x > start:
            segs.append(Segment(line[start:x], cells[start]))
        start = x
    return segs
