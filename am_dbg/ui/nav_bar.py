"""The address bar with its buttons (docs/architecture.md), and the "go to address" prompt.

Extends part 1's `AddressBar` (which draws the address) with the cells `◀ mach` `◀` `▶` ` mach▶`
on the left and ` copy` ` paste` on the right. Unavailable buttons are grey and do nothing; a pressed
one flashes underlined for 200 ms. Focused, ←/→ move between buttons and Enter presses one; a
terminal paste (bracketed paste) into the focused bar navigates to the pasted address.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static

from am_dbg.model.urls import MachUrl, UrlError
from am_dbg.ui.address_bar import AddressBar
from am_dbg.ui.early_keys import EarlyKeys
from am_dbg.ui.theme import Palette

__all__ = ["BUTTONS", "AddressPrompt", "NavAddressBar"]

# (id, label) left of the address, then right of it
LEFT = (("back_mach", "◀ mach"), ("back", "◀"), ("fwd", "▶"), ("fwd_mach", " mach▶"))
RIGHT = (("copy", " copy"), ("paste", " paste"))
BUTTONS = tuple(b for b, _ in LEFT + RIGHT)
_FLASH_S = 0.2


class NavAddressBar(AddressBar, can_focus=True):
    """`enabled` (button id -> bool) is set by the app on every redraw."""

    BINDINGS = [
        Binding("enter", "press", show=False),
    ]

    class Pressed(Message):
        def __init__(self, button: str) -> None:
            super().__init__()
            self.button = button

    class Pasted(Message):
        """Text pasted into the focused bar (a terminal paste)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(pal, id=id)
        self.enabled: dict[str, bool] = dict.fromkeys(BUTTONS, False)
        self.enabled["copy"] = self.enabled["paste"] = True
        self.selected = 4  # index into BUTTONS when focused (copy)
        self.flash = ""
        self._spans: list[tuple[int, int, str]] = []  # x ranges of buttons, for clicks

    def set_enabled(self, enabled: dict[str, bool]) -> None:
        if enabled != self.enabled:
            self.enabled = enabled
            self.refresh()

    def _chip(self, t: Text, bid: str, label: str) -> None:
        pal = self.pal
        on_ = self.enabled.get(bid, False)
        st = Style(color="#000000", bgcolor="#C0C0C0") if on_ else Style(color=pal.dark_grey)
        if self.has_focus and BUTTONS[self.selected] == bid:
            st += Style(bgcolor="#FFFFFF", bold=True)
        if self.flash == bid:
            st += Style(underline=True)
        start = t.cell_len
        t.append(label, st)
        self._spans.append((start, t.cell_len, bid))
        t.append(" ")

    def render(self) -> RenderableType:
        width = max(1, self.size.width)
        self._spans = []
        left = Text(no_wrap=True)
        for bid, label in LEFT:
            self._chip(left, bid, label)
        right = Text(no_wrap=True)
        for bid, label in RIGHT:
            self._chip(right, bid, label)
        addr = self._text.copy()
        addr.justify = None
        room = width - left.cell_len - right.cell_len
        if addr.cell_len > room:
            addr.truncate(max(0, room - 1), overflow="ellipsis")
        pad = max(0, room - addr.cell_len)
        out = left.copy()
        out.append(" " * (pad // 2))
        out.append_text(addr)
        out.append(" " * (pad - pad // 2))
        shift = out.cell_len
        out.append_text(right)
        self._spans = [(a, b, bid) for a, b, bid in self._spans if bid in dict(LEFT)] + [
            (a + shift, b + shift, bid) for a, b, bid in self._spans if bid in dict(RIGHT)
        ]
        return out

    def _press(self, bid: str) -> None:
        if not self.enabled.get(bid, False):
            return
        self.flash = bid
        self.refresh()
        self.set_timer(_FLASH_S, self._unflash)
        self.post_message(self.Pressed(bid))

    def _unflash(self) -> None:
        self.flash = ""
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        for a, b, bid in self._spans:
            if a <= event.x < b:
                self.selected = BUTTONS.index(bid)
                self._press(bid)
                return

    def move(self, delta: int) -> None:
        self.selected = (self.selected + delta) % len(BUTTONS)
        self.refresh()

    def action_press(self) -> None:
        self._press(BUTTONS[self.selected])

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.post_message(self.Pasted(event.text))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class AddressPrompt(EarlyKeys[MachUrl | None]):
    """Type or paste a `mach://` address; Enter goes there, Esc cancels. Errors stay in the box."""

    DEFAULT_CSS = """
    AddressPrompt { align: center top; }
    #addr-box { width: 90%; height: auto; border: double $panel-lighten-2; padding: 0 1;
        margin-top: 1; background: $surface; }
    #addr-error { height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", show=False)]

    def __init__(self, pal: Palette, initial: str, *, blink: bool = True) -> None:
        super().__init__()
        self.blink = blink  # off in test mode (deterministic snapshots)
        self.pal = pal
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(id="addr-box"):
            yield Label(Text("Go to address (mach://id/tx/step?t=&q=&ht=&group=&state=)"))
            yield Input(value=self.initial, id="addr-input")
            yield Static("", id="addr-error")

    def on_mount(self) -> None:
        inp = self.query_one("#addr-input", Input)
        inp.cursor_blink = self.blink
        inp.focus()

    @on(Input.Submitted, "#addr-input")
    def _go(self, event: Input.Submitted) -> None:
        try:
            url = MachUrl.parse(event.value)
        except UrlError as err:
            self.query_one("#addr-error", Static).update(Text(str(err), Style(color=self.pal.err)))
            return
        self.dismiss(url)

    def action_cancel(self) -> None:
        self.dismiss(None)
