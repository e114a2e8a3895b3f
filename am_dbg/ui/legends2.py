"""Help-screen legends of the part-2 panes: rain, matrix, reader and the address bar (spec §4.12)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from am_dbg.ui.theme import Palette

__all__ = ["part2_legends"]


def part2_legends(pal: Palette) -> list[RenderableType]:
    def table(rows: list[tuple[Text | str, str]]) -> Table:
        t = Table.grid(padding=(0, 2))
        for key, what in rows:
            t.add_row(key, Text(what, Style(color=pal.grey)))
        return t

    def title(text: str) -> Text:
        return Text(text, Style(color=pal.active, bold=True))

    dim = Style(color=pal.highlight)
    return [
        Text(""),
        title("Rain (one row per transition)"),
        table(
            [
                (Text("1", Style(color=pal.active)), "active"),
                (Text("2", Style(color=pal.active, bold=True)), "active and touched"),
                (Text("|", dim), "deactivated in this transition"),
                (Text("c", dim), "called, but the transition was canceled"),
                (Text("*", dim), "touched, not active"),
                (Text(".", dim), "nothing"),
                (Text("1", Style(bgcolor=pal.err_bg)), "error state active"),
                (Text("_", Style(underline=True)), "called state"),
                ("12 | 10:00:01.5", "transition number | receive time (first change white)"),
            ]
        ),
        Text(""),
        title("Matrix"),
        table(
            [
                ("called", "1 = called by the mutation"),
                ("ticks", "tick change of every state"),
                ("row, col", "target, source: sum of step types (1 rel, 2 handler, 4 activate,"),
                ("", "8 deactivate, 16 passive, 32 called, 64 cancel)"),
            ]
        ),
        Text(""),
        title("Reader and address bar"),
        table(
            [
                ("↗", "Enter goes to that address (other machines too)"),
                ("◀ ▶", "address history back / forward (ctrl+o / ctrl+n)"),
                ("◀ mach  mach▶", "history: previous / next other machine"),
                ("copy paste", "the full address of this moment (alt+c / ctrl+v, ctrl+g)"),
            ]
        ),
    ]
