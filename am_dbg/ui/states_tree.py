"""The states tree ("Schema", docs/architecture.md): ticks after the current tx, activity colours,
relations and tags as children, the selected state highlighted everywhere it appears, and the steps
overlay (`+ - * !` markers, touched states first) while stepping through the next transition."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from am_dbg.model.history import MachineHistory
from am_dbg.ui.format import (
    STEP_ACTIVATE,
    STEP_CALLED,
    STEP_CANCEL,
    STEP_DEACTIVATE,
    STEP_HANDLER,
    STEP_PASSIVE,
    STEP_REL,
    step_state,
)
from am_dbg.ui.line_list import LineList
from am_dbg.ui.repaint import set_border_title
from am_dbg.ui.theme import Palette
from am_rpc.dbg.protocol import Step

__all__ = ["StatesTree", "TreeRow"]

_MAX_LINES = 8  # relation columns drawn at most (wide trees stay readable)
_RELS = (
    ("Add", "add", 1),
    ("Require", "require", 2),
    ("Remove", "remove", 3),
    ("After", "after", 0),
)


@dataclass(frozen=True, slots=True)
class TreeRow:
    kind: str  # state | prop | rel | ref | tags | tag
    depth: int
    label: str
    state: str = ""  # the state this row refers to (state / ref rows), else ""
    owner: str = ""  # the top-level state this row belongs to
    rel: int = -1  # relation type of rel / ref rows


@dataclass(slots=True)
class _Overlay:
    """Decorations of the steps shown so far."""

    markers: dict[str, str]
    bold: set[str]
    called: set[str]
    rel_bold: set[tuple[str, int]]  # (source state, relation type)
    ref_bold: set[tuple[str, int, str]]  # (source, relation, target)
    red_last: str  # the state whose marker is red (last step of a canceled tx), or ""
    rels: list[tuple[str, int, str]]  # relation steps shown, in step order (for relation lines)


class StatesTree(LineList):
    """Rows are recomputed on every cursor move (a schema has tens of states, not millions)."""

    def __init__(self, pal: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pal = pal
        self.hist: MachineHistory | None = None
        self.clocks: tuple[int, ...] = ()
        self.expanded: set[str] = set()
        self.selected_state = ""
        self.row_meta: list[TreeRow] = []
        self.group_states: tuple[int, ...] | None = None
        self._overlay: _Overlay | None = None
        self._sig: tuple[object, ...] = ()  # inputs of the last rebuild (skip when unchanged)
        self.border_title = "Schema"

    # model ------------------------------------------------------------------------------------------

    def update_view(
        self,
        hist: MachineHistory | None,
        clocks: tuple[int, ...],
        selected_state: str,
        steps: tuple[Step, ...] = (),
        next_accepted: bool = True,
        group_states: tuple[int, ...] | None = None,
    ) -> None:
        sig = (id(hist), clocks, selected_state, steps, next_accepted, group_states)
        if sig == self._sig:
            return
        self._sig = sig
        if hist is not self.hist:
            self.expanded = set()
        self.hist = hist
        self.clocks = clocks
        self.selected_state = selected_state
        self.group_states = group_states
        self._overlay = self._build_overlay(steps, next_accepted) if steps else None
        self._rebuild()

    def _build_overlay(self, steps: tuple[Step, ...], accepted: bool) -> _Overlay:
        names = self.hist.state_names if self.hist else ()

        def nm(i: int) -> str:
            return names[i] if 0 <= i < len(names) else ""

        ov = _Overlay({}, set(), set(), set(), set(), "", [])
        for k, st in enumerate(steps):
            last = k == len(steps) - 1
            if st.type & STEP_REL:
                src, dst = nm(st.from_idx), nm(st.to_idx)
                ov.bold.update(x for x in (src, dst) if x)
                ov.rel_bold.add((src, st.rel_type))
                ov.ref_bold.add((src, st.rel_type, dst))
                if src and dst and (src, st.rel_type, dst) not in ov.rels:
                    ov.rels.append((src, st.rel_type, dst))
                continue
            s = nm(step_state(st))
            if not s:
                continue
            ov.bold.add(s)
            if st.type & STEP_CALLED:
                ov.called.add(s)
            mark = ""
            if st.type & STEP_ACTIVATE:
                mark = "+"
            elif st.type & STEP_DEACTIVATE:
                mark = "-"
            elif st.type & STEP_HANDLER:
                mark = "*"
            elif st.type & STEP_CANCEL:
                mark = "!"
            elif st.type & STEP_PASSIVE:
                mark = ""
            if mark:
                ov.markers[s] = ov.markers.get(s, "").replace(mark, "") + mark
                if last and not accepted and mark in "*!":
                    ov.red_last = s
        return ov

    def _states(self) -> list[str]:
        if self.hist is None:
            return []
        names = list(self.hist.state_names)
        if self.group_states is not None:
            names = [names[i] for i in self.group_states if 0 <= i < len(names)]
        ov = self._overlay
        if ov is not None:  # touched states first (stable), the rest in schema order
            touched = [n for n in names if n in ov.bold]
            names = touched + [n for n in names if n not in ov.bold]
        return names

    def _is_expanded(self, name: str) -> bool:
        if self._overlay is not None:
            return name in self._overlay.bold
        return name in self.expanded

    def _rebuild(self) -> None:
        keep = self.row_meta[self.cursor_row] if self.row_meta else None
        meta: list[TreeRow] = []
        hist = self.hist
        if hist is not None:
            defs = hist.schema.states
            for name in self._states():
                meta.append(TreeRow("state", 0, name, name, name))
                if not self._is_expanded(name):
                    continue
                sd = defs.get(name)
                if sd is None:
                    continue
                props = " ".join(p for p, on in (("auto", sd.auto), ("multi", sd.multi)) if on)
                if props:
                    meta.append(TreeRow("prop", 1, props, "", name))
                for label, attr, rel in _RELS:
                    targets = getattr(sd, attr)
                    if targets:
                        meta.append(TreeRow("rel", 1, label, "", name, rel))
                        meta.extend(TreeRow("ref", 2, t, t, name, rel) for t in targets)
                if sd.tags:
                    meta.append(TreeRow("tags", 1, "Tags", "", name))
                    meta.extend(TreeRow("tag", 2, "#" + t, "", name) for t in sd.tags)
        self.row_meta = meta
        cursor = None
        if keep is not None:
            for k, row in enumerate(meta):
                if row == keep:
                    cursor = k
                    break
            else:
                for k, row in enumerate(meta):
                    if row.kind == "state" and row.state == keep.owner:
                        cursor = k
                        break
        n = len(self.hist.state_names) if self.hist else 0
        set_border_title(self, f"Schema:{n}")
        self.set_rows(self._render_rows(meta), cursor)

    # rendering --------------------------------------------------------------------------------------

    def _tick(self, name: str) -> int:
        if self.hist is None:
            return 0
        try:
            k = self.hist.state_names.index(name)
        except ValueError:
            return 0
        return self.clocks[k] if k < len(self.clocks) else 0

    def _state_style(self, name: str) -> Style:
        pal = self.pal
        tick = self._tick(name)
        sd = self.hist.schema.states.get(name) if self.hist else None
        if tick % 2 == 0:
            return Style(color=pal.inactive)
        if name == "Exception" or name.startswith("Err"):
            return Style(color=pal.err)
        if sd is not None and sd.multi:
            return Style(color=pal.active2)
        return Style(color=pal.active)

    def _render_rows(self, meta: list[TreeRow]) -> list[Text]:
        if not meta:
            return []
        pal = self.pal
        ov = self._overlay
        name_w = max(len(r.label) for r in meta if r.kind == "state")
        defs = self.hist.schema.states if self.hist else {}
        sel = self.selected_state
        sel_bg = Style(bgcolor=pal.highlight)
        rows: list[Text] = []
        for r in meta:
            t = Text()
            if r.kind == "state":
                arrow = "▾ " if self._is_expanded(r.state) else "▸ "
                t.append(arrow, Style(color=pal.grey))
                style = self._state_style(r.state)
                if ov is not None and r.state in ov.bold:
                    style += Style(bold=True)
                if ov is not None and r.state in ov.called:
                    style += Style(bold=True, underline=True)
                t.append(r.label, style)
                t.append(" " * (name_w - len(r.label)))
                sd = defs.get(r.state)
                multi = "M" if sd is not None and sd.multi else " "
                t.append(f" {multi}|{self._tick(r.state)}", Style(color=pal.grey))
            else:
                t.append("  " * r.depth + "  ")
                if r.kind == "prop":
                    t.append(r.label, Style(color=pal.grey))
                elif r.kind == "rel":
                    bold = ov is not None and (r.owner, r.rel) in ov.rel_bold
                    t.append(r.label, Style(color=pal.white, bold=bold or None))
                elif r.kind == "ref":
                    bold = ov is not None and (r.owner, r.rel, r.state) in ov.ref_bold
                    t.append(r.label, self._state_style(r.state) + Style(bold=bold or None))
                else:
                    t.append(r.label, Style(color=pal.grey))
            if sel and (r.state == sel or (r.owner == sel and r.kind != "ref")):
                t.stylize(sel_bg)
            rows.append(t)
        if ov is not None and ov.markers:
            width = max(x.cell_len for x in rows) + 1
            for r, t in zip(meta, rows, strict=True):
                mark = ov.markers.get(r.state, "") if r.kind == "state" else ""
                if mark:
                    red = r.state == ov.red_last
                    t.append(" " * (width - t.cell_len))
                    t.append(mark, Style(bold=True, color=pal.err if red else pal.white))
        if ov is not None and ov.rels:
            self._relation_lines(meta, rows, ov)
        return rows

    def _relation_lines(self, meta: list[TreeRow], rows: list[Text], ov: _Overlay) -> None:
        """Columns to the right of the tree, one per relation step shown: from the reference node
        under the source state (green `|`) to the target's top-level row (red `|`), grey between;
        the rows where a line starts or ends get a dotted leader (spec §4.4)."""
        pal = self.pal
        lines: list[tuple[int, int]] = []  # (start row, end row)
        for src, rel, dst in ov.rels[:_MAX_LINES]:
            start = next(
                (k for k, r in enumerate(meta) if r.kind == "ref" and r.owner == src
                 and r.rel == rel and r.state == dst),
                None,
            )  # fmt: skip
            end = next(
                (k for k, r in enumerate(meta) if r.kind == "state" and r.state == dst), None
            )
            if start is not None and end is not None and start != end:
                lines.append((start, end))
        if not lines:
            return
        x0 = max(t.cell_len for t in rows) + 1
        grey, green, red = (Style(color=c) for c in (pal.dark_grey, pal.green, pal.err))
        for y, t in enumerate(rows):
            ends = any(y in (a, b) for a, b in lines)
            t.append(("." if ends else " ") * (x0 - t.cell_len), grey)
            for a, b in lines:
                lo, hi = min(a, b), max(a, b)
                if y == a:
                    t.append("|", green)
                elif y == b:
                    t.append("|", red)
                elif lo < y < hi:
                    t.append("|", grey)
                else:
                    t.append(" ")
                t.append(" ")

    # interaction ------------------------------------------------------------------------------------

    def state_at(self, row: int) -> str:
        return self.row_meta[row].state if 0 <= row < len(self.row_meta) else ""

    def searchable(self, row: int) -> bool:
        return self.row_meta[row].kind in ("state", "ref")

    def search_text(self, row: int) -> str:
        return self.row_meta[row].label.lower()

    def toggle(self, row: int) -> None:
        r = self.row_meta[row]
        name = r.owner
        if name in self.expanded:
            self.expanded.discard(name)
        else:
            self.expanded.add(name)
        if r.kind != "state":  # collapsing from a child: land on the parent
            for k, m in enumerate(self.row_meta):
                if m.kind == "state" and m.state == name:
                    self.cursor_row = k
        self._rebuild()

    def expand_all(self) -> None:
        names = self._states()
        if names and all(n in self.expanded for n in names):
            self.expanded.clear()
        else:
            self.expanded.update(names)
        self._rebuild()

    def jump_to_state(self, name: str) -> bool:
        for k, m in enumerate(self.row_meta):
            if m.kind == "state" and m.state == name:
                self.move_to(k)
                return True
        return False
