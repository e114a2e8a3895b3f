"""The log reader pane (docs/architecture.md): the sections of `am_dbg.model.reader` as a tree.

Section headers are yellow with their ` (N)` counts and remember being collapsed by name; nodes
with an address navigate on Enter / a second click (`Navigate`), nodes naming states select the
first one when the cursor lands on them (`StateSelected`); entries mentioning the selected state are
highlighted. After every rebuild the cursor goes back to the same text at the same depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.message import Message

from am_dbg.model.reader import ReaderNode, ReaderSection
from am_dbg.model.urls import MachUrl
from am_dbg.ui.line_list import LineList
from am_dbg.ui.theme import Palette

__all__ = ["ReaderRow", "ReaderView"]


@dataclass(frozen=True, slots=True)
class ReaderRow:
    depth: int
    text: str
    section: str
    link: MachUrl | None = None
    states: tuple[str, ...] = ()
    header: bool = False


class ReaderView(LineList):
    """The current transition's reader sections; rebuilt only when they change."""

    DEFAULT_CSS = """
    ReaderView {
        border: round $panel-lighten-2; border-title-color: $text-muted;
        scrollbar-size-vertical: 1;
    }
    ReaderView:focus { border: double #32CD32; }
    """

    class Navigate(Message):
        """Go to this address (a reader link: source, forks, queue entries, pipes)."""

        def __init__(self, url: MachUrl) -> None:
            super().__init__()
            self.url = url

    class TraceRequested(Message):
        """The `stack trace` node was activated: show the queued mutation's trace."""

    class StateSelected(Message):
        def __init__(self, state: str) -> None:
            super().__init__()
            self.state = state

    def __init__(self, pal: Palette, *, expand_links: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.expand_links = expand_links
        self.collapsed: set[str] = set()
        self.sections: list[ReaderSection] = []
        self.row_meta: list[ReaderRow] = []
        self.selected_state = ""
        self._sig: tuple[object, ...] = ()
        self.border_title = "Reader"

    def update_view(self, sections: list[ReaderSection], state: str) -> None:
        sig = (tuple(sections), state, frozenset(self.collapsed), self.expand_links)
        if sig == self._sig:
            return
        self._sig = sig
        self.sections = sections
        self.selected_state = state
        self._rebuild()

    def _rebuild(self) -> None:
        old = self.row_meta[self.cursor_row] if self.row_meta else None
        meta: list[ReaderRow] = []
        for sec in self.sections:
            meta.append(ReaderRow(0, sec.title, sec.name, header=True))
            if sec.name in self.collapsed:
                continue
            for node in sec.nodes:
                self._add(meta, node, 1, sec.name)
        rows = [self._text(r) for r in meta]
        self.row_meta = meta
        cursor = None
        if old is not None:
            for k, r in enumerate(meta):
                if r.text == old.text and r.depth == old.depth and r.section == old.section:
                    cursor = k
                    break
        self.set_rows(rows, cursor)

    def _add(self, meta: list[ReaderRow], node: ReaderNode, depth: int, section: str) -> None:
        meta.append(ReaderRow(depth, node.text, section, node.link, node.states))
        for child in node.children:
            if child.link is not None and not self.expand_links:
                continue
            self._add(meta, child, depth + 1, section)

    def _text(self, r: ReaderRow) -> Text:
        pal = self.pal
        if r.header:
            mark = "▸ " if r.section in self.collapsed else "▾ "
            return Text(mark + r.text, Style(color=pal.active, bold=True))
        t = Text("  " * r.depth)
        hot = bool(self.selected_state) and self.selected_state in r.states
        if r.link is not None and r.text.startswith("mach://"):
            t.append(r.text, Style(color=pal.grey))
        else:
            t.append(r.text, Style(color=pal.white, bold=hot or None))
        if r.link is not None and not r.text.startswith("mach://"):
            t.append(" ↗", Style(color=pal.grey))
        if hot:
            t.stylize(Style(bgcolor=pal.highlight))
        return t

    # input ------------------------------------------------------------------------------------------

    def toggle_all(self) -> None:
        """Alt+E in the reader: collapse every section, or expand all when all are collapsed."""
        names = {s.name for s in self.sections}
        self.collapsed = set() if names <= self.collapsed else set(names)
        self._sig = ()
        self._rebuild()

    def on_line_list_moved(self, msg: LineList.Moved) -> None:
        if msg.list is not self or not 0 <= msg.row < len(self.row_meta):
            return
        r = self.row_meta[msg.row]
        if r.states:
            self.post_message(self.StateSelected(r.states[0]))

    def on_line_list_activated(self, msg: LineList.Activated) -> None:
        if msg.list is not self or not 0 <= msg.row < len(self.row_meta):
            return
        msg.stop()
        r = self.row_meta[msg.row]
        if r.header:
            self.collapsed ^= {r.section}
            self._sig = ()
            self._rebuild()
        elif r.link is not None:
            self.post_message(self.Navigate(r.link))
        elif r.section == "Source" and r.text == "stack trace":
            self.post_message(self.TraceRequested())
