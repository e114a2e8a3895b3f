"""Status bar (docs/architecture.md): Graph:t, the selected state with its index and tick, and
while stepping the text of the current step."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from am_dbg.ui.format import markup_bold
from am_dbg.ui.theme import Palette

__all__ = ["BUSY_PAINT", "SPINNER", "StatusBar"]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
BUSY_PAINT = 0.05  # slow work waits this long after the spinner is on, so the screen shows it


class StatusBar(Widget):
    DEFAULT_CSS = "StatusBar { height: 1; padding: 0 1; }"

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._left = Text()
        self._right = Text()
        self._sig: tuple[object, ...] = ()
        self._after_paint: list[Callable[[], object]] = []

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

    def set_spinner(self, spinner: str) -> None:
        """Only the spinner changed (a busy tick): repaint with the last figures."""
        if self._sig:
            self.update_status(spinner, *self._sig[1:])  # type: ignore[arg-type]
        else:
            self.update_status(spinner, 0, "", 0, 0, "")

    def after_paint(self, callback: Callable[[], object]) -> None:
        """Run `callback` once this bar was rendered (plus `BUSY_PAINT` for the terminal write):
        slow work after the spinner is on must wait until the user can see it."""
        self._after_paint.append(callback)
        self.refresh()

    def render(self) -> RenderableType:
        if self._after_paint:
            for callback in self._after_paint:
                self.set_timer(BUSY_PAINT, callback)
            self._after_paint = []
        grid = Table.grid(expand=True)
        grid.add_column(ratio=2, no_wrap=True, overflow="ellipsis")
        grid.add_column(ratio=1, justify="right", no_wrap=True, overflow="ellipsis")
        grid.add_row(self._left, self._right)
        return grid
