"""The log view (docs/architecture.md), virtualised: its cost follows the screen, not the history.

Nothing is built for transitions that are not on screen. The view keeps a *top anchor* (a position in
the filtered index plus a line offset inside that transition's block) and, per frame, formats only the
blocks needed to fill its height (cached per transition). Following the cursor moves the anchor so
the highlighted block sits a third of the way down; scrolling by hand moves the anchor line by line
across blocks, however long the history.

Long lines (spec §4.5): cut at the pane's edge and scrolled sideways (→ / ← while the log is
focused), or wrapped (`--view-log-wrap`, F6 / Alt+W); a wrapped block is cached for one width.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from am_dbg.model.cursor import Visible
from am_dbg.model.history import MachineHistory
from am_dbg.ui.format import clock_time
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette

__all__ = ["LEVEL_NAMES", "LogView"]

LEVEL_NAMES = ("nothing", "external", "changes", "ops", "decisions", "everything")
_PREFIX = re.compile(r"^\[[^\]]*\]")
_WORD = re.compile(r"([+-]?)([A-Za-z_][A-Za-z0-9_]*)")
_SEARCH_BACK = 2000  # transitions scanned for the nearest earlier block with lines
_CACHE = 4000  # formatted transition blocks kept
HSCROLL_STEP = 8  # columns per → / ←


class LogView(Widget, can_focus=True):
    """The selected machine's log; the current transition's block highlighted."""

    BINDINGS = [
        Binding("up", "scroll_lines(-1)", show=False),
        Binding("down", "scroll_lines(1)", show=False),
        Binding("pageup,alt+p", "scroll_page(-1)", show=False),
        Binding("pagedown,alt+n", "scroll_page(1)", show=False),
    ]

    class UserScrolled(Message):
        """The user moved the log by hand (tail and play stop, §5.4)."""

    class Clicked(Message):
        """A transition's block was clicked: go there, select the state of its `[state]` line."""

        def __init__(self, tx: int, state: str) -> None:
            super().__init__()
            self.tx = tx
            self.state = state

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.hist: MachineHistory | None = None
        self.vis: Visible | None = None
        self.level = 2
        self.show_gutter = False
        self.highlight: int | None = None  # history index of the highlighted block
        self.user_scrolled = False
        self.timestamps = False  # per-second time separator lines (toolbar *times*, part 2)
        self._top_pos = 0  # position in `visible` of the first block on screen
        self._top_line = 0  # line inside that block
        self._frame: list[tuple[int, Text]] = []
        self._cache: OrderedDict[int, list[Text]] = OrderedDict()  # tx index -> lines
        self._cache_key: tuple[int, int, bool] = (0, -1, False)
        self._sig: tuple[object, ...] = ()
        self._strips: dict[tuple[int, bool], Strip] = {}  # (frame row, highlighted) -> strip
        self._base_style: Style | None = None
        self._frame_h = 0  # the height the frame was composed for
        self._repaint_all = False  # the frame was discarded: rows below it still show old lines
        self.wrap = False  # long lines wrapped, else cut and scrolled sideways
        self.hscroll = 0  # columns scrolled to the right (not wrapping)
        self._wrap_w = 0  # the width the cached blocks were wrapped for
        self.border_title = "Log"

    # model ------------------------------------------------------------------------------------------

    def update_view(
        self,
        hist: MachineHistory | None,
        visible: Visible | None,
        highlight: int | None,
        level: int,
        gutter: bool,
        mach_time: int,
    ) -> None:
        sig = (id(hist), id(visible), len(visible) if visible else 0, highlight, level, gutter)
        if sig == self._sig and not self.user_scrolled:
            return
        self._sig = sig
        key = (id(hist), level, gutter)
        if key != self._cache_key or hist is not self.hist:
            self._cache.clear()
            self._cache_key = key
        if visible is not self.vis:
            self._rebase(visible)
        self.hist, self.vis, self.level, self.show_gutter = hist, visible, level, gutter
        set_border_title(self, f"Log:{LEVEL_NAMES[level]} (t{mach_time})")
        hl = self._nearest_with_lines(highlight)
        old_hl = self.highlight
        self.highlight = hl
        if not self.user_scrolled:
            self._follow(hl)
        rows = set(self._compose_frame())
        if self._repaint_all:  # another list (machine, filter, run): every row, not the diff
            self._repaint_all = False
            self.refresh()
            return
        if old_hl != hl:  # the highlight moved: its old and new lines
            rows.update(y for y, (i, _) in enumerate(self._frame) if i in (old_hl, hl))
        if len(rows) * 2 > max(1, self.size.height):  # scrolled: most lines are new
            self.refresh()
            return
        for y in sorted(rows):  # new transitions at the bottom, a moved highlight
            self.refresh(Region(0, y, self.size.width, 1))

    def _rebase(self, new: Visible | None) -> None:
        """A new filtered list (a filter or group changed, another machine): the anchor is a
        position in the old one, and the frame holds its rows. Keep the block that was on top where
        the new list still shows it (else the next shown one), and let `_follow` place the cursor."""
        old = self.vis
        # The old frame's rows are another list's (indices may coincide): forget them, and
        # repaint every row, else rows below a shorter new frame keep showing the old lines.
        self._frame = []
        self._strips.clear()
        self._repaint_all = True
        if (
            old is None
            or new is None
            or not len(old)
            or not len(new)
            or old.history is not new.history
        ):
            self._top_pos, self._top_line = 0, 0
            return
        top = old[min(self._top_pos, len(old) - 1)]
        pos = min(new.count_upto(top - 1), len(new) - 1)  # the first shown block from `top` on
        if new[pos] != top:
            self._top_line = 0
        self._top_pos = pos

    def release_scroll(self) -> None:
        """Follow the cursor again (the user's manual scroll is over)."""
        if self.user_scrolled:
            self.user_scrolled = False
            self._sig = ()

    def forget(self, hist: MachineHistory | None) -> None:
        """Transitions were dropped or a machine replaced (None: any): drop cached blocks."""
        if hist is None or hist is self.hist:
            self._cache.clear()

    def _lines_of(self, i: int) -> list[Text]:
        got = self._cache.get(i)
        if got is not None:
            self._cache.move_to_end(i)
            return got
        lines = self._format(i)
        width = self.size.width
        if self.wrap and width > 0:
            self._wrap_w = width
            lines = [row for t in lines for row in (t.wrap(self.app.console, width) or [t])]
        self._cache[i] = lines
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
        return lines

    def _nearest_with_lines(self, i: int | None) -> int | None:
        vis = self.vis
        if i is None or vis is None or self.hist is None:
            return None
        if not vis.is_visible(i):
            j = vis.prev_index(i)
            if j is None:
                return None
            i = j
        for _ in range(_SEARCH_BACK):
            if self._lines_of(i):
                return i
            j = vis.prev_index(i)
            if j is None:
                return None
            i = j
        return None

    def _follow(self, hl: int | None) -> None:
        """Place the anchor so the highlighted block is on screen (a third of the way down)."""
        vis = self.vis
        if vis is None or hl is None:
            self._top_pos, self._top_line = 0, 0
            return
        h = max(1, self.size.height)
        # already fully on screen: keep the view still (no jumping while stepping nearby)
        on_screen = [i for i, _ in self._frame]
        if hl in on_screen:
            first = on_screen.index(hl)
            n = len(self._lines_of(hl))
            if first + n <= h and (first > 0 or self._top_line == 0):
                return
        pos = vis.count_upto(hl) - 1
        above = h // 3
        line = 0
        while pos > 0 and above > 0:
            prev = self._lines_of(vis[pos - 1])
            if len(prev) >= above:
                line = len(prev) - above
                pos -= 1
                above = 0
                break
            above -= len(prev)
            pos -= 1
        self._top_pos, self._top_line = pos, line
        # near the end of the history: fill the screen from the bottom instead of leaving it empty
        below = 0
        k, skip = pos, line
        while below < h and k < len(vis):
            below += len(self._lines_of(vis[k])) - skip
            skip = 0
            k += 1
        if below < h:
            self._move_anchor(below - h)

    def _move_anchor(self, delta: int) -> None:
        vis = self.vis
        if vis is None or not len(vis):
            return
        pos, line = self._top_pos, self._top_line + delta
        while line < 0 and pos > 0:
            pos -= 1
            line += len(self._lines_of(vis[pos]))
        if line < 0:
            line = 0
        while pos < len(vis) - 1 and line >= len(self._lines_of(vis[pos])):
            line -= len(self._lines_of(vis[pos]))
            pos += 1
        self._top_pos, self._top_line = pos, max(0, line)

    def _compose_frame(self) -> list[int]:
        """Lay out the lines on screen from the anchor; returns the rows that changed (their
        cached strips are dropped, the others stay valid)."""
        vis = self.vis
        self._frame_h = self.size.height
        frame: list[tuple[int, Text]] = []
        if vis is not None and len(vis):
            h = max(1, self.size.height)
            pos, skip = self._top_pos, self._top_line
            while len(frame) < h and pos < len(vis):
                i = vis[pos]
                frame.extend((i, t) for t in self._lines_of(i)[skip:])
                skip = 0
                pos += 1
        old = self._frame
        changed = [
            y
            for y in range(max(len(old), len(frame)))
            if y >= len(old)
            or y >= len(frame)
            or old[y][0] != frame[y][0]
            or old[y][1] is not frame[y][1]
        ]
        for y in changed:
            self._strips.pop((y, False), None)
            self._strips.pop((y, True), None)
        self._frame = frame
        return changed

    # scrolling --------------------------------------------------------------------------------------

    def scroll_lines(self, delta: int) -> None:
        vis = self.vis
        if vis is None or not len(vis):
            return
        self._move_anchor(delta)
        self.user_scrolled = True
        self._compose_frame()
        self.refresh()
        self.post_message(self.UserScrolled())

    def scroll_cols(self, delta: int) -> bool:
        """→ / ← while focused: scroll sideways by HSCROLL_STEP columns (marks *user scrolled*,
        spec §5.2). False when wrapping: nothing to scroll, the key moves the cursor instead."""
        if self.wrap:
            return False
        widest = max((t.cell_len for _, t in self._frame), default=0)
        x = max(0, min(self.hscroll + delta * HSCROLL_STEP, widest - self.size.width))
        if x != self.hscroll:
            self.hscroll = x
            self._strips.clear()
            self.refresh()
        self.user_scrolled = True
        self.post_message(self.UserScrolled())
        return True

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines, or cut them (scrolled back to the left edge)."""
        if wrap == self.wrap:
            return
        self.wrap = wrap
        self.hscroll = 0
        self._cache.clear()
        self._strips.clear()
        self._frame = []  # blocks change height: lay the screen out from the cursor again
        self._repaint_all = True
        self._sig = ()
        self.user_scrolled = False

    def action_scroll_lines(self, delta: int) -> None:
        self.scroll_lines(delta)

    def action_scroll_page(self, delta: int) -> None:
        self.scroll_lines(delta * max(1, self.size.height - 1))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_lines(3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_lines(-3)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= offset.y < len(self._frame):
            i, _ = self._frame[offset.y]
            self.post_message(self.Clicked(i, self._state_of(i)))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strips.clear()

    def on_resize(self) -> None:
        self._strips.clear()
        if self.wrap and self._wrap_w != self.size.width:
            self._cache.clear()  # wrapped for another width
        if not self.user_scrolled:
            self._frame = []
            self._follow(self.highlight)
        self._compose_frame()
        self.refresh()  # the screen may already show lines of the frame for the old size

    def _state_of(self, i: int) -> str:
        """The first state named in the block's `[state]` line, else ""."""
        if self.hist is None:
            return ""
        names = set(self.hist.state_names)
        for e in self.hist.log_entries(i):
            if e.text.startswith("[state"):
                for _, word in _WORD.findall(e.text.split("]", 1)[-1]):
                    if word in names:
                        return word
        return ""

    # rendering --------------------------------------------------------------------------------------

    def _format(self, i: int) -> list[Text]:
        hist = self.hist
        if hist is None:
            return []
        pal = self.pal
        entries = [e for e in hist.log_entries(i) if 0 < e.level <= self.level]
        if not entries:
            return []
        info = hist.info(i)
        names = set(hist.state_names)
        called = {hist.state_names[k] for k in info.called if k < len(hist.state_names)}
        gutter: Text | None = None
        if self.show_gutter:
            if info.is_queued:
                color = pal.yellow
            elif not info.accepted:
                color = pal.err
            elif info.is_empty:
                color = pal.grey
            else:
                color = pal.green
            gutter = Text("▌", Style(color=color))
        out: list[Text] = self._time_sep(i) if self.timestamps else []
        for e in entries:
            for k, raw in enumerate(e.text.split("\n")):
                t = Text()
                if gutter is not None:
                    t.append_text(gutter)
                if k > 0:  # continuation of a multi-line entry (stack traces)
                    t.append(raw, Style(color=pal.grey))
                    out.append(t)
                    continue
                t.append_text(self._format_line(raw, e.level, names, called))
                out.append(t)
        return out

    def _time_sep(self, i: int) -> list[Text]:
        """`HH:MM:SS.nnnnnnnnn t<mtime>` before a block whose second differs from the previous
        visible transition's (spec §4.5 timestamps)."""
        hist, vis = self.hist, self.vis
        if hist is None:
            return []
        info = hist.info(i)
        j = vis.prev_index(i) if vis is not None else None
        if j is not None and hist.info(j).time_ns // 10**9 == info.time_ns // 10**9:
            return []
        return [Text(f"{clock_time(info.time_ns)} t{info.time_sum}", Style(color=self.pal.grey))]

    def _format_line(self, raw: str, level: int, names: set[str], called: set[str]) -> Text:
        pal = self.pal
        t = Text()
        m = _PREFIX.match(raw)
        body = raw
        if m is not None:
            prefix = m.group(0)
            body = raw[m.end() :]
            if prefix == "[extern]":
                if self.level > 1:
                    t.append(prefix, Style(color=pal.yellow))
                t.append(body, Style(color=pal.dark_grey))
                return t
            t.append(prefix, Style(color=pal.yellow))
        # args `(k=v ...)` at the end: key grey, value in the inactive colour
        args = ""
        if body.endswith(")") and "(" in body:
            cut = body.rfind("(")
            body, args = body[:cut], body[cut:]
        last = 0
        white = Style(color=pal.white)
        for wm in _WORD.finditer(body):
            sign, word = wm.group(1), wm.group(2)
            if word not in names:
                continue
            t.append(body[last : wm.start()], white)
            if sign == "-":
                t.append(sign + word, Style(color=pal.dark_grey))
            else:
                t.append(sign, white)
                t.append(word, Style(color=pal.white, bold=True, underline=word in called or None))
            last = wm.end()
        t.append(body[last:], white)
        if args:
            for part in re.split(r"(\w+=)", args):
                if part.endswith("="):
                    t.append(part, Style(color=pal.grey))
                else:
                    t.append(part, Style(color=pal.inactive))
        return t

    def render_line(self, y: int) -> Strip:
        if y == 0 and self._frame_h != self.size.height:  # composed before the final layout
            if not self.user_scrolled:
                self._frame = []
                self._follow(self.highlight)
            self._compose_frame()
            self._strips.clear()
            self.refresh()  # lines not repainted in this pass still show the old frame
        width = self.size.width
        if self._base_style is None:  # `rich_style` walks the DOM: once per style change
            self._base_style = self.rich_style
        base = self._base_style
        if y >= len(self._frame):
            return Strip.blank(width, base)
        i, text = self._frame[y]
        hl = i == self.highlight
        strip = self._strips.get((y, hl))
        if strip is None:
            x = self.hscroll
            if hl:
                text = text.copy()
                text.stylize(Style(bgcolor=self.pal.highlight2, color=self.pal.white))
                text.pad_right(max(0, x + width - text.cell_len))
                text.stylize(Style(bgcolor=self.pal.highlight2))
            strip = Strip(list(text.render(self.app.console, end="")), text.cell_len)
            strip = strip.apply_style(base).crop_extend(x, x + width, base)  # see theme.py
            self._strips[(y, hl)] = strip
        return strip
