"""Transition and steps timelines (docs/architecture.md): a progress bar with counters in the title;
click jumps proportionally, the wheel moves ±5 transitions (±1 step)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from am_dbg.ui.theme import Palette

__all__ = ["Timeline"]


class Timeline(Widget, can_focus=True):
    """A bordered one-line progress bar; `value` out of `maximum`."""

    DEFAULT_CSS = "Timeline { height: 3; border: round $panel-lighten-2; }"

    class Seek(Message):
        """Click (absolute `value`) or wheel (relative `delta`)."""

        def __init__(self, timeline: Timeline, value: int | None, delta: int = 0) -> None:
            super().__init__()
            self.timeline = timeline
            self.value = value
            self.delta = delta

        @property
        def control(self) -> Timeline:
            return self.timeline

    def __init__(self, pal: Palette, *, wheel_step: int = 5, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.wheel_step = wheel_step
        self.value = 0
        self.maximum = 0
        self.color = pal.active
        self._sig: tuple[object, ...] = ()

    def set(self, value: int, maximum: int, title: Text | str, color: str | None = None) -> None:
        sig = (value, maximum, str(title), color)
        if sig == self._sig:
            return
        self._sig = sig
        self.value, self.maximum = value, maximum
        self.border_title = title if isinstance(title, str) else title.markup
        self.color = color or self.pal.active
        self.refresh()

    def render(self) -> RenderableType:
        w = max(1, self.content_size.width)
        filled = 0 if self.maximum <= 0 else round(w * min(self.value, self.maximum) / self.maximum)
        t = Text()
        t.append("━" * filled, Style(color=self.color))
        t.append("─" * (w - filled), Style(color=self.pal.dark_grey))
        return t

    def on_click(self, event: events.Click) -> None:
        w = max(1, self.content_size.width)
        offset = event.get_content_offset(self)
        if offset is None or self.maximum <= 0 or not 0 <= offset.x < w:
            return
        x = offset.x
        self.post_message(self.Seek(self, round((x + 1) * self.maximum / w)))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.post_message(self.Seek(self, None, self.wheel_step))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.post_message(self.Seek(self, None, -self.wheel_step))
