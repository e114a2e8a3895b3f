"""The stack-trace overlay (docs/architecture.md): the trace a queued mutation was sent with, shown
read-only over the reader; Esc, a click or any tx move closes it."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from am_dbg.ui.theme import Palette

__all__ = ["TraceOverlay", "highlight_trace"]


def highlight_trace(trace: str, pal: Palette) -> Text:
    """`File "x.py", line 3, in fn` lines: file and function white, the rest grey."""
    out = Text()
    for line in trace.splitlines():
        s = line.strip()
        if s.startswith('File "') and ", in " in s:
            head, fn = s.rsplit(", in ", 1)
            out.append("  File ", Style(color=pal.grey))
            out.append(head[len("File ") :], Style(color=pal.white))
            out.append(", in ", Style(color=pal.grey))
            out.append(fn + "\n", Style(color=pal.white, bold=True))
        else:
            out.append(line + "\n", Style(color=pal.grey))
    return out


class TraceOverlay(ModalScreen[None]):
    DEFAULT_CSS = """
    TraceOverlay { align: right middle; background: transparent; }
    #trace-box { width: 70%; height: 80%; border: double $panel-lighten-2; background: $surface;
        padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "close", show=False),
        Binding("left,right", "close", show=False),
    ]

    def __init__(self, pal: Palette, title: str, trace: str) -> None:
        super().__init__()
        self.pal = pal
        self.title_text = title
        self.trace = trace

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="trace-box") as box:
            box.border_title = self.title_text
            yield Static(highlight_trace(self.trace, self.pal))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_click(self, event: events.Click) -> None:
        self.dismiss(None)
