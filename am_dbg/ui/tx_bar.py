"""Current and next transition bars (docs/architecture.md): mode, index, time diff, type and called
states on the left; flags, counts and the receive time on the right."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.widget import Widget

from am_dbg.model.history import MachineHistory
from am_dbg.ui.format import TYPE_NAMES, clock_time
from am_dbg.ui.theme import Palette

__all__ = ["TxBar"]


class TxBar(Widget):
    """Two lines describing one transition (or why there is none)."""

    DEFAULT_CSS = "TxBar { height: auto; max-height: 2; padding: 0 1; }"

    class Clicked(Message):
        """A click on a bar focuses its timeline."""

        def __init__(self, bar: TxBar) -> None:
            super().__init__()
            self.bar = bar

    def __init__(self, pal: Palette, *, next_bar: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.next_bar = next_bar
        self._left = Text("")
        self._right = Text("")
        self._sig: tuple[object, ...] = ()

    def show_message(self, msg: str) -> None:
        if self._sig == (msg,):
            return
        self._sig = (msg,)
        self._left, self._right = Text(msg, Style(color=self.pal.grey)), Text("")
        self.refresh()

    def show_tx(self, hist: MachineHistory, i: int, mode: str) -> None:
        """Describe history index `i`; `mode` is Paused / Playing / Tail (or "Next")."""
        sig = (id(hist), i, mode)
        if sig == self._sig:
            return
        self._sig = sig
        pal = self.pal
        info = hist.info(i)
        names = hist.state_names
        left = Text()
        left.append(mode, Style(underline=True, bold=self.next_bar or None))
        left.append(f" | tx: {i} | ", Style(color=pal.grey))
        diff = info.time_diff
        left.append("Time: ", Style(color=pal.grey))
        left.append(f"+{diff}" if diff else " 0", Style(color=pal.white if diff else pal.grey))
        left.append(" | ", Style(color=pal.grey))
        kind = ("q" if info.is_queued else "") + TYPE_NAMES.get(info.type, str(info.type))
        called = [names[k] for k in info.called if k < len(names)]
        sd = hist.schema.states.get(called[0]) if len(called) == 1 else None
        if sd is not None and sd.multi:
            kind += " multi"
        dim = not info.accepted
        left.append(f"{kind}: ", Style(color=pal.grey if dim else pal.white))
        left.append(" ".join(called), Style(bold=True, color=pal.grey if dim else pal.active))
        right = Text(justify="right")
        flags = [
            f
            for f, on in (
                ("auto", info.is_auto),
                ("check", info.is_check),
                ("canceled", not info.accepted),
                ("queued", info.is_queued),
            )
            if on
        ]
        for f in flags:
            right.append(f, Style(color=pal.err if f == "canceled" else pal.white))
            right.append(" | ", Style(color=pal.grey))
        right.append(
            f"add: {len(info.added)} | rm: {len(info.removed)} | touch: {len(info.touched)} | ",
            Style(color=pal.grey),
        )
        right.append(clock_time(info.time_ns), Style(color=pal.grey))
        self._left, self._right = left, right
        self.refresh()

    def render(self) -> RenderableType:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=3, no_wrap=False, overflow="ellipsis")
        grid.add_column(ratio=2, justify="right", overflow="ellipsis")
        grid.add_row(self._left, self._right)
        return grid

    def on_click(self) -> None:
        self.post_message(self.Clicked(self))
