"""The export dialog (docs/architecture.md): "Export to a file", a name, *Single Frame*, Save / Cancel.

Save writes `<--dir>/<name>.amdbg` through `am_dbg.recordings.export` (everything, or with *Single
Frame* every machine reduced to its transition at the viewed human moment) and closes with a message
saying what was written; an error (bad name, nothing to export, I/O) stays in the dialog, shown in red,
so nothing is lost and the user can fix the name. Esc or Cancel close without writing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from am_dbg.ui.theme import Palette

__all__ = ["DEFAULT_NAME", "EXT", "ExportDialog", "export_path"]

DEFAULT_NAME = "am-dbg-dump"
EXT = ".amdbg"

# (file name, single frame) -> a one-line result; raises ValueError / RecordingError on failure
SaveFn = Callable[[str, bool], str]


def export_path(directory: Path, name: str) -> Path:
    """`<dir>/<name>.amdbg`; the name must be a plain file name (no directories, not empty)."""
    name = name.strip()
    if name.endswith(EXT):
        name = name[: -len(EXT)]
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"not a file name: {name!r} (the file goes into --dir {str(directory)!r})")
    return directory / (name + EXT)


class ExportDialog(ModalScreen[str | None]):
    """Dismisses with the result line of a successful save, or None when cancelled."""

    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    #export-box {
        width: 60; height: auto; border: double $panel-lighten-2; padding: 1 2;
        background: $surface;
    }
    #export-box Label { margin-bottom: 1; }
    #export-buttons { height: auto; margin-top: 1; }
    #export-buttons Button { margin-right: 2; }
    #export-status { height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    def __init__(self, pal: Palette, save: SaveFn, directory: Path, *, blink: bool = True) -> None:
        super().__init__()
        self.blink = blink  # off in test mode: a blinking cursor makes snapshots flaky
        self.pal = pal
        self.save = save
        self.directory = directory

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label(Text("Export to a file", Style(color=self.pal.active, bold=True)))
            yield Static(Text(f"into {self.directory}/ as <name>{EXT}", Style(color="grey50")))
            yield Input(value=DEFAULT_NAME, placeholder="Filename", id="export-name")
            yield Checkbox("Single Frame (all machines now)", id="export-single")
            with Horizontal(id="export-buttons"):
                yield Button("Save", id="export-save", variant="primary")
                yield Button("Cancel", id="export-cancel")
            yield Static("", id="export-status")

    def on_mount(self) -> None:
        self.query_one("#export-box").border_title = "Export"
        name = self.query_one("#export-name", Input)
        name.cursor_blink = self.blink
        name.focus()

    @on(Button.Pressed, "#export-save")
    @on(Input.Submitted, "#export-name")
    def _save(self) -> None:
        status = self.query_one("#export-status", Static)
        name = self.query_one("#export-name", Input).value
        single = self.query_one("#export-single", Checkbox).value
        status.update(Text("Saving...", Style(color=self.pal.grey)))
        try:
            result = self.save(name, single)
        except Exception as err:  # shown, never raised: the dialog stays for another try
            status.update(Text(str(err), Style(color=self.pal.err)))
            return
        self.dismiss(result)

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
