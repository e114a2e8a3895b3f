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
from textual.strip import Strip
from textual.widget import Widget

from am_dbg.model.diagram import Diagram, machine_diagram
from am_dbg.model.history import MachineHistory
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette
from am_dbg.vis.term import TermLayout

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
        self._layouts: dict[tuple[object, ...], TermLayout] = {}
        self.layout_: TermLayout | None = None
        self.diagram: Diagram | None = None
        self.state = ""  # the selected state ("" none)
        self._target = ""  # the state the view keeps in sight (until the user scrolls)
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

    def update_view(self, hist: MachineHistory | None, i: int | None, state: str = "") -> None:
        """Show `hist` after its transition `i` (0-based, None: the schema), `state` selected."""
        sig = (id(hist), len(hist) if hist is not None else 0, i, id(hist.schema) if hist else 0)
        if sig == self._sig and state == self.state:
            return
        moved, picked = sig != self._sig, state != self.state
        self._sig, self.state = sig, state
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
        if picked and state in lay.boxes:
            self._target = state
        elif moved and ov is not None:
            focus = sorted(ov.called) or sorted(ov.touched)
            self._target = focus[0] if focus else ""
        if self._target in lay.boxes:
            self._keep_in_sight(lay.boxes[self._target])
        self._clamp()
        set_border_title(self, title)
        self.refresh()

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
        self.border_subtitle = " ".join(parts)

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

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        lay = self.layout_
        row = y + self.vscroll
        if lay is None or row >= len(lay.lines):
            return Strip.blank(width, base)
        line = lay.lines[row].ljust(lay.width)
        marks: list[tuple[int, int, Style]] = []
        box = lay.boxes.get(self.state) if self.state else None
        if box is not None and row == box[0] + 1:
            marks.append((box[1] + 1, box[1] + 1 + len(self.state), SELECTED))
        segs = row_segments(line, self._rows.get(row, ()), marks)
        strip = Strip(segs, len(line))
        return strip.apply_style(base).crop_extend(self.hscroll, self.hscroll + width, base)


def row_segments(
    line: str,
    runs: Iterable[tuple[int, int, Style]],
    marks: Iterable[tuple[int, int, Style]] = (),
) -> list[Segment]:
    """One row as segments: later runs win, `marks` are added on top, equal neighbours merged."""
    cells: list[Style | None] = [None] * len(line)
    for x0, x1, st in runs:
        for x in range(x0, min(x1, len(line))):
            cells[x] = st
    for x0, x1, st in marks:
        for x in range(x0, min(x1, len(line))):
            cur = cells[x]
            cells[x] = st if cur is None else cur + st
    segs: list[Segment] = []
    start = 0
    for x in range(1, len(line) + 1):
        if x == len(line) or (cells[x] is not cells[start] and cells[x] != cells[start]):
            segs.append(Segment(line[start:x], cells[start]))
            start = x
    return segs
