"""Address and tags bars (docs/architecture.md). Part 1 shows the address of the viewed moment and the
tags of the machine and its ancestors; history buttons and copy/paste belong to part 2."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from am_dbg.model.urls import MachUrl
from am_dbg.ui.theme import Palette

__all__ = ["AddressBar", "TagsBar"]


class AddressBar(Widget):
    DEFAULT_CSS = "AddressBar { height: 1; }"

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._text = Text("mach://", Style(color=pal.grey), justify="center")
        self._sig: tuple[object, ...] = ()

    def show(self, url: MachUrl | None, connected: bool) -> None:
        if (url, connected) == self._sig:
            return
        self._sig = (url, connected)
        pal = self.pal
        t = Text(justify="center")
        t.append("mach://", Style(color=pal.active if connected else pal.grey))
        if url is not None:
            t.append(url.mach_id, Style(underline=True, color=pal.white))
            rest = url.base[len("mach://") + len(url.mach_id) :]
            t.append(rest, Style(color=pal.grey))
        self._text = t
        self.refresh()

    def render(self) -> RenderableType:
        return self._text


class TagsBar(Widget):
    DEFAULT_CSS = "TagsBar { height: 1; }"

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self._text = Text()
        self._sig: tuple[object, ...] = ()

    def show(self, own: tuple[str, ...], ancestors: tuple[str, ...]) -> None:
        if (own, ancestors) == self._sig:
            return
        self._sig = (own, ancestors)
        t = Text(" ".join("#" + x for x in own), Style(color=self.pal.grey), justify="center")
        if ancestors:
            t.append(
                " ... " + " ".join("#" + x for x in ancestors), Style(color=self.pal.dark_grey)
            )
        self._text = t
        self.refresh()

    def render(self) -> RenderableType:
        return self._text
