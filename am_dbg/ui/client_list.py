"""The client list ("Machines", docs/architecture.md): machines nested by parent, human-sorted, each
labelled with its state at the viewed moment (time travel) and coloured by its error status."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from am_dbg.model.client_order import client_tree
from am_dbg.model.history import MachineHistory
from am_dbg.model.viewer import Viewer
from am_dbg.ui.line_list import LineList
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette

__all__ = ["ClientList", "client_label"]

_RPC_TAGS = ("rpc-client", "rpc-server", "rpc-mux", "relay")


def _status(hist: MachineHistory, i: int) -> str:
    """`R` (Ready) / `S` (Start) / blank, prefixed by `E` when Exception is active, after tx `i`."""
    if i < 0:
        return ""
    names = hist.state_names
    clocks = hist.clocks(i)

    def active(name: str) -> bool:
        try:
            k = names.index(name)
        except ValueError:
            return False
        return k < len(clocks) and clocks[k] % 2 == 1

    out = "R" if active("Ready") else "S" if active("Start") else ""
    return ("E" if active("Exception") else "") + out


def client_label(
    hist: MachineHistory, i: int, depth: int, name_w: int, pal: Palette, selected: bool
) -> Text:
    """`<- ><name padded> <status>|<n>[+]`, coloured by status (error now / recent / disconnected)."""
    name = hist.id
    room = max(3, name_w - 2 * depth)
    if len(name) > room:
        name = name[: room - 2] + ".."
    n = i + 1
    more = "+" if n < len(hist) else ""
    status = _status(hist, i)
    text = Text("- " * depth + name.ljust(room) + f" {status:>2}|{n}{more}")
    if not hist.connected:  # grey even after an error: red / pink mean "connected" (§4.3)
        color = pal.grey
    elif i >= 0 and hist.info(i).is_err:
        color = pal.err
    elif i >= 0 and hist.had_err_since(i):
        color = pal.err_recent
    else:
        color = pal.active
    text.stylize(Style(color=color))
    if selected:
        start = 2 * depth
        text.stylize(Style(bold=True, underline=True), start, start + len(name))
    return text


class ClientList(LineList):
    """Machines; Enter or a click selects one (the app turns that into a state-machine mutation)."""

    def __init__(self, viewer: Viewer, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.viewer = viewer
        self.pal = pal
        self.order: list[tuple[str, int]] = []
        self.hide_disconn = False
        self.hide_rpc = False
        self.graph_t = 0  # machine time of every listed machine at the viewed moment (Graph:t)
        self._order_of: dict[str, str] = {}
        self._labels: dict[str, tuple[tuple[object, ...], Text]] = {}
        self._followed = ""  # the selected machine the cursor last followed
        self._name_w = 0
        self.border_title = "Machines"

    def machine_at(self, row: int) -> str | None:
        return self.order[row][0] if 0 <= row < len(self.order) else None

    def hovered(self) -> str | None:
        return self.machine_at(self.cursor_row)

    def _shown(self, hist: MachineHistory) -> bool:
        if self.hide_disconn and not hist.connected:
            return False
        return not (self.hide_rpc and any(t in _RPC_TAGS for t in hist.tags))

    def rebuild(self) -> None:
        """Recompute order and labels (cheap: one clock vector per machine)."""
        machines = self.viewer.session.machines
        shown = {mid: h.parent_id for mid, h in machines.items() if self._shown(h)}
        keep = self.hovered()
        if shown != self._order_of:  # human sort + nesting only when the machine set changed
            self._order_of = shown
            self.order = client_tree(shown)
            self._labels = {k: v for k, v in self._labels.items() if k in shown}
        name_w = min(24, max((len(m) + 2 * d for m, d in self.order), default=4))
        # the status and count columns always show (spec §4.3): names give way in a narrow list
        count_w = len(str(max((len(machines[m]) for m, _ in self.order), default=0)))
        room = self.scrollable_content_region.width
        if room > 0:
            name_w = max(4, min(name_w, room - len(" ER|+") - count_w))
        self._name_w = name_w
        rows = []
        total_t = 0
        for mid, depth in self.order:
            hist = machines[mid]
            i = self.viewer.tx_at_moment(hist)
            total_t += hist.info(i).time_sum if i >= 0 else 0
            sel = mid == self.viewer.selected
            key = (id(hist), i, i + 1 < len(hist), hist.connected, sel, depth, name_w, self.pal)
            label = self._labels.get(mid)
            if label is None or label[0] != key:  # decoding a clock vector is the costly part
                label = (key, client_label(hist, i, depth, name_w, self.pal, sel))
                self._labels[mid] = label
            rows.append(label[1])
        cursor = None
        selected = self.viewer.selected
        # a newly selected machine (ctrl+g, ctrl+↑/↓, history, a link) takes the cursor and is
        # scrolled into view (spec §5.10); otherwise the hovered row keeps it
        follow = selected != self._followed
        self._followed = selected
        target = selected if follow or keep not in shown else keep
        for row, (mid, _) in enumerate(self.order):
            if mid == target:
                cursor = row
        self.graph_t = total_t
        newest_t = sum(h.newest_time_sum for h in machines.values())
        set_border_title(self, f"Machines:{len(self.order)} T:{newest_t}")
        self.set_rows(rows, cursor)
        if follow and cursor is not None:
            self.scroll_to_region_row(cursor)
            # laid out only later (the first build, a new virtual size): scroll again then
            self.call_after_refresh(self._show_cursor_row)

    def _show_cursor_row(self) -> None:
        if self.rows:
            self.scroll_to_region_row(self.cursor_row)

    def on_resize(self) -> None:  # LineList's handler runs too (Textual calls each class's)
        if self.order and self.scrollable_content_region.width > 0:
            self.rebuild()  # names get or give back room for the status and count columns

    def on_row_clicked(self, row: int) -> None:
        self.post_message(self.Activated(self, row))
