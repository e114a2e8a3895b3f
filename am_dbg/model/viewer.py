"""What the user is looking at, over a `Session`: the selected machine, per-machine cursors and filtered
indexes, filters, the selected state (docs/architecture.md, the model).

Plain Python (no Textual): the UI's state-machine handlers call these methods, widgets read the
result. Every cursor change goes through `set_cursor`, the one "set cursor" routine of §7.2 (filter
snap, step reset unless given, history push).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from am_dbg.model.cursor import Cursor, Visible, snap
from am_dbg.model.filters import Filters
from am_dbg.model.history import MachineHistory
from am_dbg.model.session import Session
from am_dbg.model.urls import AddressHistory, MachUrl

__all__ = ["ClientView", "Viewer"]


@dataclass(slots=True)
class ClientView:
    """Per-machine navigation state; kept while the machine exists, so switching back restores it."""

    mach_id: str
    visible: Visible
    cursor: Cursor = field(default_factory=Cursor)
    group: str = ""  # "" = all states


class Viewer:
    """Navigation state of the whole debugger."""

    def __init__(self, session: Session, filters: Filters) -> None:
        self.session = session
        self.filters = filters
        self.selected: str = ""
        self.state_name: str = ""  # the selected state (survives machine switches)
        self.views: dict[str, ClientView] = {}
        self.addresses = AddressHistory()

    # machines ---------------------------------------------------------------------------------------

    @property
    def history(self) -> MachineHistory | None:
        return self.session.machines.get(self.selected) if self.selected else None

    @property
    def current(self) -> ClientView | None:
        return self.view(self.selected) if self.selected else None

    def view(self, mach_id: str) -> ClientView | None:
        hist = self.session.machines.get(mach_id)
        if hist is None:
            self.views.pop(mach_id, None)
            return None
        v = self.views.get(mach_id)
        if v is None or v.visible.history is not hist:  # new or replaced run: fresh state
            v = ClientView(mach_id, Visible(hist, self.filters, None))
            self.views[mach_id] = v
        return v

    def group_states(self, hist: MachineHistory, group: str) -> Collection[int] | None:
        if not group:
            return None
        return hist.schema.groups.get(group)

    def select(self, mach_id: str, tail: bool) -> bool:
        """Select a machine (§5.10): unless tailing, land on the transition at the same human moment
        as the one viewed before (snapped back to a visible one); tailing lands on the newest."""
        new = self.view(mach_id)
        if new is None:
            return False
        moment = self.moment_ns()
        self.selected = mach_id
        new.visible.extend()
        newest = new.visible[-1] + 1 if len(new.visible) else 0
        if tail:
            cur = newest
        elif moment is None:  # nothing to travel from: where this machine was, else its newest
            cur = new.cursor.tx or newest
        else:
            i = new.visible.history.tx_at_human_time(moment)  # type: ignore[attr-defined]
            cur = snap(new.visible, i + 1, forward=False) or 0
        new.cursor = Cursor(cur)
        self.addresses.push(MachUrl(mach_id=mach_id))
        return True

    def remove(self, mach_id: str) -> None:
        self.views.pop(mach_id, None)
        self.addresses.remove_machine(mach_id)
        if self.selected == mach_id:
            self.selected = ""

    # cursor -----------------------------------------------------------------------------------------

    @property
    def cursor(self) -> Cursor:
        v = self.current
        return v.cursor if v is not None else Cursor()

    def set_cursor(self, c: Cursor, *, forward: bool = True, push: bool = True) -> bool:
        """Move the selected machine's cursor, snapping to a visible transition. False = refused."""
        v = self.current
        if v is None:
            return False
        tx = snap(v.visible, c.tx, forward)
        if tx is None:
            return False
        v.cursor = Cursor(tx, c.step if tx == c.tx else 0)
        if push:
            self.addresses.push(self.url())
        return True

    def moment_ns(self) -> int | None:
        """Human time of the viewed transition (None: nothing selected or the bare schema)."""
        v, h = self.current, self.history
        if v is None or h is None or v.cursor.tx <= 0 or v.cursor.tx > len(h):
            return None
        return h.info(v.cursor.tx - 1).time_ns

    def tx_at_moment(self, hist: MachineHistory) -> int:
        """0-based index of `hist`'s transition at the viewed moment (time travel, §4.3); -1 = none.
        With nothing viewed, the machine's newest transition."""
        ns = self.moment_ns()
        if ns is None:
            return len(hist) - 1 if self.current is None or self.cursor.tx > 0 else -1
        if hist.id == self.selected:
            return self.cursor.tx - 1
        return hist.tx_at_human_time(ns)

    def url(self) -> MachUrl:
        v, h = self.current, self.history
        if v is None or h is None:
            return MachUrl(mach_id=self.selected or "?")
        c = v.cursor
        if c.tx <= 0 or c.tx > len(h):
            return MachUrl(mach_id=h.id)
        return MachUrl(mach_id=h.id, tx_id=h.info(c.tx - 1).id, step=c.step)

    def next_index(self) -> int | None:
        """0-based index of the next visible transition (the one being stepped through)."""
        v = self.current
        return None if v is None else v.visible.next_index(v.cursor.tx - 1)

    # filters and groups -----------------------------------------------------------------------------

    def set_filters(self, filters: Filters) -> None:
        """Re-filter every known view; cursors re-snap backwards (§5.7)."""
        self.filters = filters
        for mach_id, v in list(self.views.items()):
            hist = self.session.machines.get(mach_id)
            if hist is None:
                del self.views[mach_id]
                continue
            v.visible = Visible(hist, filters, self.group_states(hist, v.group))
            tx = snap(v.visible, v.cursor.tx, forward=False) or 0
            v.cursor = Cursor(tx, v.cursor.step if tx == v.cursor.tx else 0)

    def set_group(self, group: str) -> None:
        v, h = self.current, self.history
        if v is None or h is None:
            return
        v.group = group if group in h.schema.groups else ""
        v.visible = Visible(h, self.filters, self.group_states(h, v.group))
        tx = snap(v.visible, v.cursor.tx, forward=False) or 0
        v.cursor = Cursor(tx)

    # ingest -----------------------------------------------------------------------------------------

    def on_added(self, added: dict[str, int]) -> bool:
        """New transitions were appended; index them. True when the selected machine got some."""
        for mach_id in added:
            v = self.views.get(mach_id)
            if v is not None and v.visible.history is self.session.machines.get(mach_id):
                v.visible.extend()
        return self.selected in added

    def on_dropped(self, dropped: dict[str, int]) -> None:
        """Memory GC dropped transitions from the front of these machines: shift cursors."""
        for mach_id, n in dropped.items():
            v = self.views.get(mach_id)
            if v is None:
                continue
            v.visible.drop_front(n)
            v.cursor = Cursor(max(0, v.cursor.tx - n), v.cursor.step if v.cursor.tx > n else 0)

    def tail(self) -> bool:
        """Move to the newest visible transition (tail mode). True when the cursor moved."""
        v = self.current
        if v is None or not len(v.visible):
            return False
        new = v.visible[-1] + 1
        if new == v.cursor.tx and v.cursor.step == 0:
            return False
        v.cursor = Cursor(new)
        return True
