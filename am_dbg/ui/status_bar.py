"""Status bar (spec/debugger.md §4.11): Graph:t, the selected state with its index and tick, and
while stepping the text of the current step."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from am_dbg.ui.format import markup_bold
from am_dbg.ui.theme import Palette

__all__ = ["SPINNER", "StatusBar"]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; padding: 0 1; }"

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._left = Text()
        self._right = Text()
        self._sig: tuple[object, ...] = ()

    def update_status(
        self,
        spinner: str,
        graph_t: int,
        state: str,
        idx: int,
        tick: int,
        step: str,
        extra: str = "",
    ) -> None:
        sig = (spinner, graph_t, state, idx, tick, step, extra)
        if sig == self._sig:
            return
        self._sig = sig
        grey = Style(color=self.pal.grey)
        left = Text(spinner)
        left.append(f"Graph:t{graph_t}", grey)
        if state:
            left.append(" | ", grey)
            left.append(state, Style(bold=True, color=self.pal.white))
            left.append(f" | idx: {idx} | tick: {tick}", grey)
        if extra:
            left.append(" | ", grey)
            left.append(extra, Style(color=self.pal.err))
        self._left = left
        self._right = markup_bold(step, grey) if step else Text()
        self.refresh()

    def render(self) -> RenderableType:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=2, no_wrap=True, overflow="ellipsis")
        grid.add_column(ratio=1, justify="right", no_wrap=True, overflow="ellipsis")
        grid.add_row(self._left, self._right)
        return grid
