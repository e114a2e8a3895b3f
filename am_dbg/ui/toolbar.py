"""The toolbar (docs/architecture.md): buttons `[X]label` (checked), `[ ]label`, `[N]label` (value)
and plain action buttons. Click or Enter/Space activates; ←/→ move (wrapping), ↑/↓ change rows.
Filter checkboxes mean "included" (checked = shown), except *group* (checked = filtering)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

from am_dbg.ui.theme import Palette

__all__ = ["TOOLS", "ToolButton", "Toolbar"]


@dataclass(frozen=True, slots=True)
class ToolButton:
    id: str  # the tool id the app acts on
    label: str
    row: int
    action: bool = False  # a plain action (no [box])


TOOLS: tuple[ToolButton, ...] = (
    ToolButton("prev_machine", "▲", 0, True),
    ToolButton("next_machine", "▼", 0, True),
    ToolButton("jump_back", "◀ jump", 0, True),
    ToolButton("back_step", "< step", 0, True),
    ToolButton("tx_back", "◁ tx", 0, True),
    ToolButton("tx_fwd", "▷ tx", 0, True),
    ToolButton("fwd_step", "> step", 0, True),
    ToolButton("jump_fwd", "▶ jump", 0, True),
    ToolButton("first", "first", 0, True),
    ToolButton("last", "last", 0, True),
    ToolButton("play", "play", 0),
    ToolButton("tail", "tail", 0),
    ToolButton("help", "help", 0, True),
    ToolButton("log", "log", 1),
    ToolButton("canceled", "canceled", 1),
    ToolButton("queued", "queued", 1),
    ToolButton("auto", "auto", 1),
    ToolButton("empty", "empty", 1),
    ToolButton("health", "health", 1),
    ToolButton("checks", "checks", 1),
    ToolButton("group", "group", 1),
    ToolButton("disconn", "disconn", 1),
    ToolButton("rpc", "rpc", 1),
    ToolButton("timelines", "timelines", 1),
    ToolButton("narrow", "narrow", 1),
    ToolButton("expand", "expand", 1),
    # part 2: views, reader, export, display toggles
    ToolButton("export", "export", 2, True),
    ToolButton("toggle_reader", "reader", 2),
    ToolButton("toggle_rain", "rain", 2),
    ToolButton("toggle_matrix", "matrix", 2),
    ToolButton("toggle_timestamps", "times", 2),
    ToolButton("toggle_theme", "theme", 2),
)


class Toolbar(Widget, can_focus=True):
    """Buttons flow into as many lines as the width needs (each group starts a new line)."""

    DEFAULT_CSS = "Toolbar { height: auto; padding: 0 1; }"

    class Pressed(Message):
        def __init__(self, tool: str) -> None:
            super().__init__()
            self.tool = tool

    def __init__(self, pal: Palette, value: Callable[[str], str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.value = value  # tool id -> box content ("X", " ", "*", "2"), ignored for actions
        self.selected = 0
        self._lines: list[list[tuple[int, int, int]]] = []  # per line: (x0, x1, tool index)

    def _button(self, k: int) -> Text:
        pal = self.pal
        b = TOOLS[k]
        sel = self.has_focus and k == self.selected
        base = Style(color=pal.white if sel else pal.grey, bgcolor=pal.highlight if sel else None)
        if b.action:
            return Text(b.label, base)
        v = self.value(b.id)
        on = v not in (" ", "")
        t = Text(f"[{v}]", base + Style(bold=on or None, color=pal.active if on else None))
        t.append(b.label, base + Style(bold=on or None))
        return t

    def _layout(self, width: int) -> list[list[tuple[int, int, int]]]:
        lines: list[list[tuple[int, int, int]]] = []
        group = None
        x = 0
        for k, b in enumerate(TOOLS):
            w = self._button(k).cell_len
            if group != b.row or (lines[-1] and x + 1 + w > width):
                lines.append([])
                x = 0
                group = b.row
            x0 = x + 1 if lines[-1] else 0
            lines[-1].append((x0, x0 + w, k))
            x = x0 + w
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._layout(max(10, width)))

    def render(self) -> RenderableType:
        self._lines = self._layout(max(10, self.content_size.width))
        out = []
        for line in self._lines:
            t = Text(no_wrap=True, overflow="crop")
            for x0, _, k in line:
                t.append(" " * (x0 - t.cell_len))
                t.append_text(self._button(k))
            out.append(t)
        return Text("\n").join(out)

    def press(self, k: int) -> None:
        self.selected = k
        self.refresh()
        self.post_message(self.Pressed(TOOLS[k].id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        x, y = offset.x, offset.y
        if 0 <= y < len(self._lines):
            for x0, x1, k in self._lines[y]:
                if x0 <= x < x1:
                    self.press(k)
                    return

    def _where(self) -> tuple[int, int]:
        lines = self._lines or self._layout(max(10, self.content_size.width))
        for y, line in enumerate(lines):
            for col, (_, _, k) in enumerate(line):
                if k == self.selected:
                    return y, col
        return 0, 0

    def move(self, dx: int, dy: int = 0) -> None:
        """Left/Right wrap within the line, Up/Down change lines keeping the column."""
        lines = self._lines or self._layout(max(10, self.content_size.width))
        y, col = self._where()
        if dy:
            y = (y + dy) % len(lines)
            col = min(col, len(lines[y]) - 1)
        else:
            col = (col + dx) % len(lines[y])
        self.selected = lines[y][col][2]
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        if event.key in ("up", "down"):
            event.stop()
            self.move(0, -1 if event.key == "up" else 1)
        elif event.key == "enter":
            event.stop()
            self.press(self.selected)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
