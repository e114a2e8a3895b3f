"""The help dialog (docs/architecture.md): legends on the left, every key binding on the right,
generated from `bindings.BINDINGS` (the same table that feeds the footer)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from am_dbg.ui.bindings import BINDINGS, key_label
from am_dbg.ui.legends2 import part2_legends
from am_dbg.ui.theme import Palette

__all__ = ["HelpScreen", "keys_table", "legend"]

_GROUPS = (
    ("time", "Moving through time"),
    ("panes", "Machines and panes"),
    ("filters", "Filters"),
    ("app", "App"),
)


_PANE_KEYS = (
    ("↑ ↓ pgup pgdn", "move in lists, tree, log, reader"),
    ("enter", "select machine, expand node, follow ↗"),
    ("a-z - _", "search by name (machines, schema)"),
    ("[ ] (state selected)", "prev / next tx touching the state"),
)


def keys_table(pal: Palette) -> RenderableType:
    parts: list[RenderableType] = []
    for group, title in _GROUPS:
        parts.append(Text(title, Style(color=pal.active, bold=True)))
        t = Table.grid(padding=(0, 2))
        t.add_column(style=Style(color=pal.white, bold=True), no_wrap=True)
        t.add_column(style=Style(color=pal.grey))
        for spec in BINDINGS:
            if spec.group == group:
                keys = " ".join(key_label(k) for k in spec.keys.split(","))
                t.add_row(Text(keys), Text(spec.description))
        parts.append(t)
        parts.append(Text(""))
    # keys of the focused pane (spec §5.2), not app bindings: the footer and README leave them out
    parts.append(Text("In the focused pane", Style(color=pal.active, bold=True)))
    t = Table.grid(padding=(0, 2))
    t.add_column(style=Style(color=pal.white, bold=True), no_wrap=True)
    t.add_column(style=Style(color=pal.grey))
    for keys, what in _PANE_KEYS:
        t.add_row(Text(keys), Text(what))
    parts += [t, Text("")]
    parts.append(Text("Mouse", Style(color=pal.active, bold=True)))
    parts.append(
        Text(
            "click: select (lists, tree, log block), jump (timelines), press (toolbar)\n"
            "wheel: scroll lists and log, ±5 tx / ±1 step on the timelines",
            Style(color=pal.grey),
        )
    )
    # the remote front ends (am_dbg/remote, docs/remote.md): command-line modes, not keys
    parts += [Text(""), Text("Remote", Style(color=pal.active, bold=True))]
    parts.append(
        Text(
            "am-dbg --ui-mcp [ADDR|stdio]: an MCP server for AI agents\n"
            "am-dbg --ui-ssh [ADDR]: a viewer of this session per SSH login\n"
            "am-dbg --ui-repl [ADDR]: this debugger's machine, for am-repl\n"
            "am-repl HOST:PORT: a prompt on a machine served over aRPC",
            Style(color=pal.grey),
        )
    )
    return Group(*parts)


def legend(pal: Palette) -> RenderableType:
    def row(t: Table, key: Text | str, what: str) -> None:
        # plain Text, not markup: "[queue]" must not be read as a style tag
        t.add_row(Text(key) if isinstance(key, str) else key, Text(what, Style(color=pal.grey)))

    parts: list[RenderableType] = [Text("Schema", Style(color=pal.active, bold=True))]
    t = Table.grid(padding=(0, 2))
    row(t, Text("State", Style(color=pal.active)), "active state")
    row(t, Text("State", Style(color=pal.active2)), "active multi state")
    row(t, Text("State", Style(color=pal.inactive)), "inactive state")
    row(t, Text("Exception", Style(color=pal.err)), "active error state")
    row(t, "M|5", "multi state, tick 5 (odd tick = active)")
    row(t, "+  -", "activated / deactivated in this step")
    row(t, "*  !", "handler ran / canceled (red: last step of a canceled tx)")
    row(t, Text("bold", Style(bold=True)), "touched by the steps shown")
    row(t, Text("underline", Style(underline=True)), "called by the mutation")
    parts += [t, Text(""), Text("Log", Style(color=pal.active, bold=True))]
    t = Table.grid(padding=(0, 2))
    row(t, Text("▌", Style(color=pal.yellow)), "queued mutation")
    row(t, Text("▌", Style(color=pal.err)), "canceled transition")
    row(t, Text("▌", Style(color=pal.grey)), "empty transition (nothing changed)")
    row(t, Text("▌", Style(color=pal.green)), "executed transition")
    row(t, "[queue] [aqueu]", "queued (auto) mutation")
    row(t, "[cance] [empty]", "canceled / empty transition")
    row(t, "[state] [auto_]", "states changed (by an auto transition)")
    parts += [t, Text(""), Text("Machines", Style(color=pal.active, bold=True))]
    t = Table.grid(padding=(0, 2))
    row(t, "R S E", "Ready / Start / Exception active at the viewed moment")
    row(t, "|12+", "12 transitions till that moment, more after it")
    row(t, Text("name", Style(color=pal.err)), "error now")
    row(t, Text("name", Style(color=pal.err_recent)), "error in the last 100 transitions")
    row(t, Text("name", Style(color=pal.grey)), "disconnected")
    parts += [t, Text(""), Text("Toolbar", Style(color=pal.active, bold=True))]
    t = Table.grid(padding=(0, 2))
    row(t, "[X] / [ ]", "filter: shown / hidden (group: filtering on / off)")
    row(t, "[*]auto", "auto: hide canceled auto txs ([X] show all, [ ] hide all)")
    row(t, "[2]log", "log level 0-5 (0 hides the log)")
    parts.append(t)
    parts += part2_legends(pal)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Horizontal {
        width: 90%; height: 90%; border: round $panel-lighten-2; background: $surface;
    }
    HelpScreen VerticalScroll { width: 1fr; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,question_mark,f1", "close", "close", show=False),
        Binding("ctrl+q", "app.quit", "quit", show=False),
    ]

    def __init__(self, pal: Palette, about: str) -> None:
        super().__init__()
        self.pal = pal
        self.about = about

    def compose(self) -> ComposeResult:
        with Horizontal() as h:
            h.border_title = "Help"
            with VerticalScroll(id="legend"):
                yield Static(legend(self.pal))
            with VerticalScroll(id="keys"):
                yield Static(keys_table(self.pal))
                yield Static(
                    Text("\nAbout\n", Style(color=self.pal.active, bold=True)).append(
                        self.about, Style(color=self.pal.grey)
                    )
                )

    def action_close(self) -> None:
        self.dismiss(None)

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:  # the margin around the dialog
            self.dismiss(None)
