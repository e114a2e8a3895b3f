"""A virtualised, keyboard- and mouse-driven list of Rich `Text` rows (Line API over `ScrollView`).

Base of the client list and the states tree: only the rows on screen are turned into strips, a
cursor row moves with ↑/↓/PgUp/PgDn (and j/k where letters are not searched), clicks move the cursor,
and search-as-you-type (docs/architecture.md) matches a prefix of the row's plain text: it starts
after the cursor row and wraps around, and digits extend a name being typed (`sim-p1`).
"""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["SEARCH_CHARS", "SEARCH_MORE", "LineList"]

SEARCH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz-_")
SEARCH_MORE = frozenset("0123456789")  # taken only while a search is being typed
SEARCH_RESET_S = 1.5


class LineList(ScrollView, can_focus=True):
    """Rows of Text with a cursor. Subclasses fill `self.rows` via `set_rows()`."""

    BINDINGS = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup,alt+p", "page(-1)", show=False),
        Binding("pagedown,alt+n", "page(1)", show=False),
        Binding("enter", "activate", show=False),
    ]

    class Activated(Message):
        """Enter or a second click on the cursor row."""

        def __init__(self, sender: LineList, row: int) -> None:
            super().__init__()
            self.list = sender
            self.row = row

        @property
        def control(self) -> LineList:
            return self.list

    class Moved(Message):
        """The cursor row changed (keys, click or search)."""

        def __init__(self, sender: LineList, row: int) -> None:
            super().__init__()
            self.list = sender
            self.row = row

        @property
        def control(self) -> LineList:
            return self.list

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Text] = []
        self.cursor_row = 0
        self._search = ""
        self._search_at = 0.0
        self.cursor_style = Style(bgcolor="#696969")
        self._strips: dict[tuple[int, bool], Strip] = {}  # (row, is cursor) -> rendered row
        self._strips_width = 0
        self._base_style: Style | None = None

    # content ----------------------------------------------------------------------------------------

    def set_rows(self, rows: list[Text], cursor: int | None = None) -> None:
        """Replace the rows; only rows that changed are repainted (moving through time changes a
        few ticks, not the whole tree)."""
        old, old_cursor = self.rows, self.cursor_row
        self.rows = rows
        if cursor is not None:
            self.cursor_row = cursor
        self.cursor_row = max(0, min(self.cursor_row, len(rows) - 1))
        # never narrower than the view: labels that grow a digit while they still fit must not
        # change the virtual size (that re-lays the whole screen out)
        region = self.scrollable_content_region
        width = max(max((r.cell_len for r in rows), default=0), region.width)
        # Row counts that fit the view (before and after) need no new virtual size: nothing
        # scrolls either way, and a new virtual size re-lays the whole screen out. The reader's
        # sections change length on every cursor move.
        h = region.height
        fits = len(rows) <= h and max(len(old), self.virtual_size.height) <= h
        if self.virtual_size.width != width or (len(old) != len(rows) and not fits):
            self._strips.clear()
            self.virtual_size = Size(width, len(rows))
            self.refresh()
            return
        moved = old_cursor != self.cursor_row
        for y in range(max(len(old), len(rows))):
            a = old[y] if y < len(old) else None
            b = rows[y] if y < len(rows) else None
            if a != b or (moved and y in (old_cursor, self.cursor_row)):
                self._strips.pop((y, False), None)
                self._strips.pop((y, True), None)
                self.refresh_line(y)

    def on_resize(self) -> None:
        """A new view height: the virtual size holds every row again (set_rows may have kept a
        shorter one while all rows fit)."""
        if self.virtual_size.height != len(self.rows):
            self.virtual_size = Size(self.virtual_size.width, len(self.rows))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.base_style
        if row >= len(self.rows):
            return Strip.blank(width, base)
        is_cursor = row == self.cursor_row and self.show_cursor()
        if self._strips_width != width + scroll_x:
            self._strips.clear()
            self._strips_width = width + scroll_x
        strip = self._strips.get((row, is_cursor))
        if strip is None:
            text = self.rows[row]
            if is_cursor:
                text = text.copy()
                text.stylize(self.cursor_style)
                text.pad_right(max(0, width + scroll_x - text.cell_len))
                text.stylize(self.cursor_style, len(text.plain.rstrip()), len(text))
            strip = Strip(list(text.render(self.app.console, end="")), text.cell_len)
            strip = strip.apply_style(base)  # the theme's background under the text (theme.py)
            self._strips[(row, is_cursor)] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base).apply_offsets(scroll_x, row)

    @property
    def base_style(self) -> Style:
        """`rich_style` computed once per style change, not once per line (it walks the DOM)."""
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        self._strips.clear()

    def show_cursor(self) -> bool:
        return self.has_focus

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # moving -----------------------------------------------------------------------------------------

    def move_to(self, row: int, *, notify: bool = True) -> None:
        if not self.rows:
            return
        row = max(0, min(row, len(self.rows) - 1))
        changed = row != self.cursor_row
        self.cursor_row = row
        self.scroll_to_region_row(row)
        self.refresh()
        if changed and notify:
            self.post_message(self.Moved(self, row))

    def scroll_to_region_row(self, row: int) -> None:
        top = int(self.scroll_offset.y)
        h = max(1, self.scrollable_content_region.height)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + h:
            self.scroll_to(y=row - h + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor_row + delta)

    def action_page(self, delta: int) -> None:
        self.move_to(self.cursor_row + delta * max(1, self.scrollable_content_region.height - 1))

    def action_activate(self) -> None:
        if self.rows:
            self.post_message(self.Activated(self, self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = int(self.scroll_offset.y) + offset.y
        if row >= len(self.rows):
            return
        if row == self.cursor_row and event.chain == 1 and self.has_focus:
            self.post_message(self.Activated(self, row))
        else:
            self.move_to(row)
            self.on_row_clicked(row)

    def on_row_clicked(self, row: int) -> None:
        """Hook: a click moved the cursor (the client list selects on a single click)."""

    # search-as-you-type ----------------------------------------------------------------------------

    def search_text(self, row: int) -> str:
        return self.rows[row].plain.strip().lstrip("- ").lower()

    def searchable(self, row: int) -> bool:
        return True

    def on_key(self, event: events.Key) -> None:
        # case-insensitive (§5.6): state names are CamelCase, typed with Shift
        ch = event.character.lower() if event.character else None
        if ch is None or event.key.startswith(("ctrl+", "alt+")):
            return
        now = time.monotonic()
        live = bool(self._search) and now - self._search_at <= SEARCH_RESET_S
        # digits go on a name being typed (`sim-p1`); alone they stay the log level keys
        if ch not in SEARCH_CHARS and not (live and ch in SEARCH_MORE):
            return
        if not live:
            self._search = ""
            self._search_at = now
        self._search += ch
        event.stop()
        event.prevent_default()
        # search after the current row, downward, wrapping around to the top; the current row
        # counts when the buffer grew (typing more letters of the same name keeps the match)
        n = len(self.rows)
        start = self.cursor_row if len(self._search) > 1 else self.cursor_row + 1
        for k in range(n):
            row = (start + k) % n
            if self.searchable(row) and self.search_text(row).startswith(self._search):
                self.move_to(row)
                return
