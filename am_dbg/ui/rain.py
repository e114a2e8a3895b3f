"""The rain view (docs/architecture.md): one row per visible transition, one character per state.

Virtualised like the log: the widget keeps a *top* position in the filtered index and renders only
the rows on screen (each row built once and cached per transition), so its cost follows the screen,
not the history. The cursor row is kept in view half a screen ahead of the bottom; in tail mode it
sits on the last line. Clicking a cell selects that state and moves to that transition.

Characters: `1` active, `2` active and touched, `|` deactivated in this tx, `c` called but canceled,
`*` touched (not active), `.` nothing. The tail cell is `<tx number> | HH:MM:SS.nnnnnnnnn` with the
first digit that changed since the previous row in white.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from am_dbg.model.cursor import Visible
from am_dbg.model.history import MachineHistory
from am_dbg.ui.format import clock_time
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette

__all__ = ["RainView", "rain_chars"]

_CACHE = 2000


def _is_err(name: str) -> bool:
    return name == "Exception" or name.startswith("Err")


def rain_chars(hist: MachineHistory, i: int, cols: Sequence[int]) -> str:
    """The characters of transition `i` for the state indexes `cols` (the §4.8 legend)."""
    info = hist.info(i)
    clocks = hist.clocks(i)
    touched = set(info.touched) | set(info.added)
    removed = set(info.removed)
    called = set(info.called)
    out = []
    for k in cols:
        active = k < len(clocks) and clocks[k] % 2 == 1
        if active and info.accepted:
            out.append("2" if k in touched else "1")
        elif k in removed and info.accepted:
            out.append("|")
        elif k in called and not info.accepted:
            out.append("c")
        elif active:
            out.append("1")
        elif k in touched:
            out.append("*")
        else:
            out.append(".")
    return "".join(out)


class RainView(Widget, can_focus=True):
    """Rows of the selected machine's visible transitions; `update_view` feeds it."""

    DEFAULT_CSS = """
    RainView {
        border: round $panel-lighten-2; border-title-color: $text-muted;
        scrollbar-size-vertical: 1;
    }
    RainView:focus { border: double #32CD32; }
    """

    BINDINGS = [
        Binding("up", "scroll_rows(-1)", show=False),
        Binding("down", "scroll_rows(1)", show=False),
        Binding("pageup,alt+p", "page(-1)", show=False),
        Binding("pagedown,alt+n", "page(1)", show=False),
    ]

    class Clicked(Message):
        """A cell was clicked: go to transition `tx` (0-based) and select `state` ("" = tail)."""

        def __init__(self, tx: int, state: str) -> None:
            super().__init__()
            self.tx = tx
            self.state = state

    def __init__(self, pal: Palette, *, test_mode: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.test_mode = test_mode
        self.hist: MachineHistory | None = None
        self.vis: Visible | None = None
        self.cols: tuple[int, ...] = ()
        self.cursor_i: int | None = None  # 0-based history index of the current tx
        self.state_col = -1  # the selected state's index
        self.tail = False
        self.top = 0  # position in `vis` of the first row on screen
        self.user_scrolled = False
        self._rows: OrderedDict[int, Text] = OrderedDict()
        self._key: tuple[object, ...] = ()
        self._sig: tuple[object, ...] = ()
        self._follow_h = -1  # the height the window was last placed for
        self.border_title = "Rain"

    # model ------------------------------------------------------------------------------------------

    def update_view(
        self,
        hist: MachineHistory | None,
        vis: Visible | None,
        cursor_i: int | None,
        state: str,
        group: Sequence[int] | None,
        tail: bool,
    ) -> None:
        names = hist.state_names if hist is not None else ()
        cols = tuple(group) if group else tuple(range(len(names)))
        state_col = names.index(state) if state in names else -1
        n = len(vis) if vis is not None else 0
        sig = (id(hist), id(vis), n, cursor_i, state_col, cols, tail, self.size)
        if sig == self._sig:
            return
        self._sig = sig
        key = (id(hist), id(vis), cols)
        key_changed = key != self._key
        if key_changed:
            self._rows.clear()
            self._key = key
            self.user_scrolled = False
        moved = cursor_i != self.cursor_i
        self.hist, self.vis, self.cols, self.cursor_i = hist, vis, cols, cursor_i
        self.state_col, self.tail = state_col, tail
        if moved or tail:
            self.user_scrolled = False
        if not self.user_scrolled:
            self._follow(recentre=key_changed)
        self._title()
        self.refresh()

    def _title(self) -> None:
        hist, i = self.hist, self.cursor_i
        if hist is None or i is None or i < 0:
            set_border_title(self, "Rain")
            return
        info = hist.info(i)
        prev = hist.clocks(i - 1) if i > 0 else ()
        now = hist.clocks(i)
        delta = sum(c - (prev[k] if k < len(prev) else 0) for k, c in enumerate(now))
        set_border_title(self, f"Rain:{delta} Time:t{info.time_sum}")

    def _follow(self, recentre: bool = False) -> None:
        """Keep the cursor row on screen: half a screen ahead, or on the last line in tail mode."""
        vis = self.vis
        h = max(1, self.size.height)
        self._follow_h = self.size.height
        if vis is None or not len(vis):
            self.top = 0
            return
        n = len(vis)
        if self.cursor_i is None or self.cursor_i < 0:
            pos = 0
        else:
            pos = max(0, vis.count_upto(self.cursor_i) - 1)
        if self.tail:
            top = pos - h + 1
        elif not recentre and self.top <= pos < self.top + h:
            top = self.top  # on screen: do not jump while stepping nearby
        else:
            top = pos - h // 2  # half a screen ahead
        self.top = max(0, min(top, n - h))

    # rows -------------------------------------------------------------------------------------------

    def _row(self, pos: int) -> Text:
        vis, hist = self.vis, self.hist
        assert vis is not None and hist is not None
        i = vis[pos]
        got = self._rows.get(i)
        if got is not None:
            self._rows.move_to_end(i)
            return got
        pal = self.pal
        info = hist.info(i)
        chars = rain_chars(hist, i, self.cols)
        names = hist.state_names
        called = set(info.called)
        clocks = hist.clocks(i)
        t = Text(no_wrap=True)
        dim = Style(color=pal.highlight)
        for k, ch in zip(self.cols, chars, strict=True):
            name = names[k] if k < len(names) else ""
            st = Style(color=pal.white)
            if not info.accepted or ch in ".|c*":
                st = dim
            elif ch == "2":
                st = Style(color=pal.active, bold=True)
            elif ch == "1":
                st = Style(color=pal.active)
            if k in called:
                st += Style(underline=True)
            active = k < len(clocks) and clocks[k] % 2 == 1
            if active and info.accepted and _is_err(name):
                st += Style(bgcolor=pal.err_bg, color=pal.white)
            t.append(ch, st)
        # tail cell: `<tx number> | HH:MM:SS.nnnnnnnnn`, first changed digit white
        stamp = clock_time(info.time_ns, self.test_mode)
        prev_pos = pos - 1
        prev = clock_time(hist.info(vis[prev_pos]).time_ns) if prev_pos >= 0 else ""
        diff = next(
            (k for k, (a, b) in enumerate(zip(stamp, prev, strict=False)) if a != b),
            0 if not prev else len(stamp),
        )
        grey = Style(color=pal.grey)
        t.append(f" {i + 1} | ", grey)
        t.append(stamp[:diff], grey)
        if diff < len(stamp):
            t.append(stamp[diff], Style(color=pal.white))
            t.append(stamp[diff + 1 :], grey)
        self._rows[i] = t
        if len(self._rows) > _CACHE:
            self._rows.popitem(last=False)
        return t

    def row_at(self, y: int) -> int | None:
        """History index of the transition on screen row `y`."""
        vis = self.vis
        if vis is None:
            return None
        pos = self.top + y
        return vis[pos] if 0 <= pos < len(vis) else None

    def render_line(self, y: int) -> Strip:
        if y == 0 and self._follow_h != self.size.height and not self.user_scrolled:
            self._follow(recentre=True)  # first frame at the real height (shown after a switch)
        width = self.size.width
        base = self.rich_style
        vis = self.vis
        pos = self.top + y
        if vis is None or self.hist is None or not 0 <= pos < len(vis):
            return Strip.blank(width, base)
        text = self._row(pos).copy()
        hl = Style(bgcolor=self.pal.highlight3)
        if vis[pos] == self.cursor_i:
            text.pad_right(max(0, width - text.cell_len))
            text.stylize(hl)
        elif self.state_col in self.cols:
            c = self.cols.index(self.state_col)
            text.stylize(hl, c, c + 1)
        strip = Strip(list(text.render(self.app.console, end="")), text.cell_len)
        return strip.apply_style(base).crop_extend(0, width, base)  # see theme.py

    # input ------------------------------------------------------------------------------------------

    def scroll_rows(self, delta: int) -> None:
        vis = self.vis
        if vis is None or not len(vis):
            return
        h = max(1, self.size.height)
        self.top = max(0, min(self.top + delta, max(0, len(vis) - h)))
        self.user_scrolled = True
        self.refresh()

    def action_scroll_rows(self, delta: int) -> None:
        self.scroll_rows(delta)

    def action_page(self, delta: int) -> None:
        self.scroll_rows(delta * max(1, self.size.height - 1))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_rows(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_rows(-3)

    def on_click(self, event: events.Click) -> None:
        off = event.get_content_offset(self)  # inside the border
        if off is None:
            return
        i = self.row_at(off.y)
        if i is None or self.hist is None:
            return
        x = off.x
        state = ""
        if 0 <= x < len(self.cols):
            k = self.cols[x]
            names = self.hist.state_names
            state = names[k] if k < len(names) else ""
        self.post_message(self.Clicked(i, state))

    def on_resize(self) -> None:
        self._sig = ()
        if not self.user_scrolled:
            self._follow(recentre=True)
        self.refresh()  # the screen may already show rows placed for the old size
