"""TUI part 2 wired into the app: views (tree-log, tree-matrix, tree+rain, matrix, matrix+rain), the
log reader, addresses (copy / paste / go to, back / forward), export, theme and the files in `--dir`,
and streaming the debugger's own machine to another am-dbg (`--dbg-am-dbg-addr`).

`Part2` owns the widgets and state of these features; the app calls `widgets()` from `compose`,
`apply_layout()` from its layout pass and `redraw()` from its redraw pass. `Part2Handlers` is a second
handler binding on the debugger's machine (the part 1 handlers stay in `handlers.py`): view, reader,
export and theme changes are mutations of `DbgStates` like every other input (spec §7).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from textual.widget import Widget

from am_core import Event
from am_dbg.model.addr_history import full_url, group_named, resolve
from am_dbg.model.reader import Reader
from am_dbg.model.urls import MachUrl, UrlError
from am_dbg.outputs import DIAGRAM_EVERY, Outputs, clients_text, diagram_texts, log_text, tx_text
from am_dbg.states import DbgStates as S
from am_dbg.ui.diagram_view import DiagramView
from am_dbg.ui.export_dialog import ExportDialog, export_path
from am_dbg.ui.group_bar import GroupBar
from am_dbg.ui.matrix import MatrixView
from am_dbg.ui.nav_bar import AddressPrompt, NavAddressBar
from am_dbg.ui.rain import RainView
from am_dbg.ui.reader import ReaderView
from am_dbg.ui.theme import palette
from am_dbg.ui.trace_overlay import TraceOverlay

if TYPE_CHECKING:
    from am_dbg.ui.app import DbgApp

__all__ = ["VIEWS", "Part2", "Part2Handlers", "initial_view"]

VIEWS = ("tree-log", "tree-matrix", "tree-rain", "matrix", "matrix-rain")
_VIEW_STATES = {
    "tree-log": (S.TreeLogView,),
    "tree-matrix": (S.TreeMatrixView,),
    "tree-rain": (S.TreeMatrixView, S.MatrixRain),
    "matrix": (S.MatrixView,),
    "matrix-rain": (S.MatrixView, S.MatrixRain),
}
_RPC_TAGS = ("rpc-client", "rpc-server", "rpc-mux", "relay")


def initial_view(view: str, rain: bool) -> str:
    """`--view` and `--view-rain` (tree-log with rain becomes tree-matrix + rain, spec §6.2)."""
    if not rain:
        return view if view in VIEWS else "tree-log"
    return "matrix-rain" if view == "matrix" else "tree-rain"


class Part2:
    """Widgets and state of part 2; everything here runs on the app's event loop."""

    def __init__(self, app: DbgApp) -> None:
        self.app = app
        cfg = app.cfg
        p = app.pal
        self.view = initial_view(cfg.view, cfg.view_rain)
        app.mach.set_groups(*S.groups())  # the schema's groups, for whoever debugs this debugger
        self.rain = RainView(p, test_mode=cfg.test_mode, id="rain")
        self.matrix = MatrixView(p, id="matrix")
        self.diagram = DiagramView(p, id="diagram")
        self.diagram_on = False  # the diagram pane replaces the log / matrix / rain panes
        self.reader_view = ReaderView(p, expand_links=cfg.view_expand_links, id="reader")
        self.group_bar = GroupBar(p, id="groups")
        self.reader = Reader(app.session)
        self.outputs = Outputs(cfg)
        self.tracer: Any = None
        self.last_export = ""  # the result line of the last export (tests, the status notify)
        self.output_error = ""
        self._diagrams_at = 0.0
        self._diagrams_timer: Any = None

    # composition and layout -------------------------------------------------------------------------

    def widgets(self) -> Iterator[Widget]:
        yield self.matrix
        yield self.diagram
        yield self.rain
        yield self.reader_view

    @property
    def reader_shown(self) -> bool:
        return self.view == "tree-log" and self.app.mach.is1(S.LogReaderEnabled)

    def apply_layout(self) -> None:
        """Content panel widths of spec §4.1 for the current view."""
        app = self.app
        cols = app.query("#tree-col")
        if not cols:  # not composed yet
            return
        tree_col = cols.first()
        v = self.view
        tree_shown = v.startswith("tree")
        level = app.viewer.filters.log_level
        stepping = app.viewer.cursor.step > 0
        log_shown = v == "tree-log" and level > 0
        reader = self.reader_shown
        # each display is set once: a True then False flip re-lays the whole screen out
        diag = self.diagram_on  # the diagram pane replaces the log / reader / matrix / rain
        tree_col.display = tree_shown
        app.log_view.display = log_shown and not diag
        self.reader_view.display = reader and not diag
        self.matrix.display = v in ("tree-matrix", "matrix") and not diag
        self.rain.display = v in ("tree-rain", "matrix-rain") and not diag
        tree_w, log_w, reader_w, other_w = 2, 4, 0, 4
        if v == "tree-log":
            if reader and log_shown:
                tree_w, log_w, reader_w = (3, 2, 1) if stepping else (2, 2, 2)
            elif reader:
                tree_w, reader_w = 3, 3
            elif not log_shown:
                tree_w = 6
        elif v == "tree-matrix" and stepping:
            tree_w, other_w = 3, 3
        tree_col.styles.width = f"{tree_w}fr"
        app.states_tree.styles.width = "1fr"
        app.log_view.styles.width = f"{log_w}fr"
        self.reader_view.styles.width = f"{max(reader_w, 1)}fr"
        self.matrix.styles.width = self.rain.styles.width = f"{other_w}fr"
        self.diagram.display = diag
        if diag:
            self.diagram.styles.width = "4fr"

    # redraw -----------------------------------------------------------------------------------------

    def redraw(self) -> None:
        app = self.app
        v = app.viewer
        hist, view, cur = v.history, v.current, v.cursor
        self._address()
        self.group_bar.show(hist.schema if hist is not None else None, view.group if view else "")
        i = cur.tx - 1 if hist is not None and cur.tx > 0 else None
        group = v.group_states(hist, view.group) if hist is not None and view is not None else None
        grp = tuple(group) if group else None
        if self.rain.display:
            tail = app.mach.is1(S.TailMode)
            self.rain.update_view(hist, view.visible if view else None, i, v.state_name, grp, tail)
        if self.matrix.display:
            nxt = v.next_index()
            if hist is not None and cur.step > 0 and nxt is not None:
                steps = hist.tx(nxt).steps[: cur.step]
                self.matrix.update_view(hist, nxt, v.state_name, grp, steps)
            else:
                self.matrix.update_view(hist, i, v.state_name, grp)
        if self.diagram.display:
            self.diagram.update_view(hist, i, v.state_name)
        if self.reader_view.display:
            secs = self.reader.sections(hist.id, i) if hist is not None and i is not None else []
            self.reader_view.update_view(secs, v.state_name)
        if self.outputs.any:
            self._write_outputs()

    def _address(self) -> None:
        app = self.app
        bar = app.address
        if not isinstance(bar, NavAddressBar):
            return
        h = app.viewer.addresses
        cur = h.current
        older = h.entries[h.pos + 1 :]
        newer = h.entries[: h.pos]
        bar.set_enabled(
            {
                "back": bool(older),
                "fwd": bool(newer),
                "back_mach": cur is not None and any(u.mach_id != cur.mach_id for u in older),
                "fwd_mach": cur is not None and any(u.mach_id != cur.mach_id for u in newer),
                # `--enable-clipboard=false` greys copy / paste out (spec §4.2)
                "copy": app.viewer.history is not None and app.cfg.enable_clipboard,
                "paste": app.cfg.enable_clipboard,
            }
        )

    def _write_outputs(self) -> None:
        app = self.app
        v = app.viewer
        hist, view, cur = v.history, v.current, v.cursor
        o = self.outputs
        errors = []
        if o.tx and hist is not None and 0 < cur.tx <= len(hist):
            errors.append(o.write("tx.md", tx_text(hist, cur.tx - 1)))
        if o.log and hist is not None and view is not None:
            errors.append(
                o.write("log.md", log_text(hist, view.visible, cur.tx, v.filters.log_level))
            )
        if o.clients:
            cl = app.client_list
            rows = [
                (mid, depth, cl.rows[k].plain)
                for k, (mid, depth) in enumerate(cl.order)
                if k < len(cl.rows)
            ]
            tags = {mid: h.tags for mid, h in app.session.machines.items()}
            errors.append(o.write("clients.txt", clients_text(rows, tags)))
        if o.diagrams:
            errors.append(self._write_diagrams())
        err = next((e for e in errors if e), "")
        if err and err != self.output_error:
            app.notify(err, severity="error")
        self.output_error = err

    def _write_diagrams(self) -> str | None:
        """Throttled: at most every DIAGRAM_EVERY s; a timer writes the moment the cursor stops on."""
        now = time.monotonic()
        wait = self._diagrams_at + DIAGRAM_EVERY - now
        if wait > 0:
            if self._diagrams_timer is None:
                self._diagrams_timer = self.app.set_timer(wait, self._diagrams_due)
            return None
        self._diagrams_at = now
        v = self.app.viewer
        hist, cur = v.history, v.cursor
        if hist is None:
            return None
        i = cur.tx - 1 if 0 < cur.tx <= len(hist) else None
        errors = [self.outputs.write(k, t) for k, t in diagram_texts(hist, i, v.state_name).items()]
        return next((e for e in errors if e), None)

    def _diagrams_due(self) -> None:
        self._diagrams_timer = None
        err = self._write_diagrams()
        if err and err != self.output_error:
            self.app.notify(err, severity="error")
            self.output_error = err

    # views ------------------------------------------------------------------------------------------

    def set_view(self, name: str) -> None:
        """Switch the content panel (a mutation of the view states, then a layout pass)."""
        mach = self.app.mach
        states = _VIEW_STATES[name]
        self.view = name
        if S.MatrixRain not in states:
            mach.remove1(S.MatrixRain)
        mach.add(list(states))
        self.app.apply_layout()
        self.app.redraw(full=True)

    def cycle_view(self) -> None:
        self.set_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def toggle_rain(self) -> None:
        self.set_view("tree-log" if self.view.endswith("rain") else "tree-rain")

    def toggle_reader(self) -> None:
        mach = self.app.mach
        if mach.is1(S.LogReaderEnabled):
            mach.remove1(S.LogReaderEnabled)
        else:
            mach.add1(S.LogReaderEnabled)
            if self.view != "tree-log":
                self.set_view("tree-log")
        self.app.apply_layout()
        self.app.redraw(full=True)

    def toggle_diagram(self) -> None:
        """Show / hide the relation diagram of the selected machine (docs/diagrams.md)."""
        self.diagram_on = not self.diagram_on
        self.apply_layout()
        self.redraw()

    def toggle_matrix(self) -> None:
        self.set_view("tree-log" if "matrix" in self.view else "tree-matrix")

    def toggle_timestamps(self) -> None:
        """Per-second time lines in the log (`LogTimestamps` active = hidden, like Go)."""
        mach = self.app.mach
        log = self.app.log_view
        # decided before mutating: from a toolbar handler the mutation is queued, not done yet
        log.timestamps = not log.timestamps
        if log.timestamps:
            mach.remove1(S.LogTimestamps)
        else:
            mach.add1(S.LogTimestamps)
        log.forget(None)
        log.release_scroll()
        log._sig = ()
        self.app.redraw(full=True)

    def tool_value(self, tool: str) -> str:
        """Checkbox values of the part-2 toolbar buttons."""
        on = {
            "toggle_reader": self.app.mach.is1(S.LogReaderEnabled),
            "toggle_rain": self.view.endswith("rain"),
            "toggle_matrix": self.view in ("tree-matrix", "matrix"),
            "toggle_timestamps": self.app.log_view.timestamps,
        }.get(tool, False)
        return "X" if on else " "

    # addresses --------------------------------------------------------------------------------------

    def copy_url(self) -> str:
        """Put the full address of the viewed moment in the clipboard; returns it."""
        text = str(full_url(self.app.viewer))
        if self.app.cfg.enable_clipboard:
            self.app.copy_to_clipboard(text)
        return text

    def paste_url(self) -> None:
        """Go to the address in the clipboard; with none there, ask for one."""
        text = self.app.clipboard.strip() if self.app.cfg.enable_clipboard else ""
        try:
            url = MachUrl.parse(text)
        except UrlError:
            self.prompt_url(text)
            return
        self.go_to_url(url)

    def prompt_url(self, initial: str | None = None) -> None:
        text = initial if initial is not None else str(full_url(self.app.viewer))
        blink = not self.app.cfg.test_mode
        self.app.push_screen(AddressPrompt(self.app.pal, text, blink=blink), self._prompted)

    def _prompted(self, url: MachUrl | None) -> None:
        if url is not None:
            self.go_to_url(url)

    def go_to_url(self, url: MachUrl, *, trim: bool = True, history: bool = False) -> bool:
        """Resolve an address (spec §5.11): select the machine, then the tx / t / ht / q moment,
        then state and group. False (and a notification) when it names nothing known."""
        app = self.app
        v = app.viewer
        hist = app.session.machines.get(url.mach_id)
        if hist is None:
            app.notify(f"unknown machine {url.mach_id!r} in {url}", severity="error")
            return False
        try:
            i = resolve(hist, url)
        except UrlError as err:
            app.notify(str(err), severity="error")
            return False
        if i is None:
            app.notify(f"transition not found: {url}", severity="error")
            return False
        mach = app.mach
        mach.remove([S.Playing, S.TailMode])
        if v.selected != url.mach_id:
            mach.add1(S.SelectingClient, {"id": url.mach_id})
            if v.selected != url.mach_id:
                return False
        group = group_named(hist, url.group) if url.group else ""
        view = v.current
        if view is not None and view.group != group:
            mach.add1(S.SetGroup, {"group": group})
        if url.tx_id or url.t is not None or url.ht or url.q is not None:
            args: dict[str, Any] = {"cursor": i + 1, "step": url.step}
            if trim and not history:
                args["trim"] = True
            mach.add1(S.ScrollToTx, args)
        # a bare `mach://id` names no moment: selecting it travelled to the viewed moment
        if url.state and url.state in hist.state_names:
            mach.add1(S.StateNameSelected, {"state": url.state})
        app.redraw(clients=True, full=True)
        return True

    def history_go(self, button: str) -> None:
        """◀ ▶ and the per-machine variants: move in the address history without recording."""
        v = self.app.viewer
        h = v.addresses
        move = {
            "back": h.back,
            "fwd": h.forward,
            "back_mach": h.back_mach,
            "fwd_mach": h.forward_mach,
        }[button]
        url = move()
        # a bare `mach://id` of the machine already shown (pushed when it was selected) would
        # change nothing: one key press should always go somewhere
        while url is not None and button in ("back", "fwd") and url == MachUrl(mach_id=v.selected):
            nxt = move()
            if nxt is None:  # nothing further that way
                break
            url = nxt
        # Switching machine records `mach://id` and then the moment it landed on; forward, the
        # user was on that moment, not on the machine at the moment they came from.
        while (
            button == "fwd"
            and url is not None
            and url == MachUrl(mach_id=url.mach_id)
            and h.pos > 0
            and h.entries[h.pos - 1].mach_id == url.mach_id
        ):
            url = move()
        if url is not None:
            self.go_to_url(url, history=True)

    def show_trace(self) -> None:
        """The stack trace the viewed queued mutation was sent with (reader *Source*)."""
        v = self.app.viewer
        hist, cur = v.history, v.cursor
        if hist is None or not 0 < cur.tx <= len(hist):
            return
        msg = hist.tx(cur.tx - 1)
        if msg.stack_trace:
            title = f"stack trace of mach://{hist.id}/{msg.id}"
            self.app.push_screen(TraceOverlay(self.app.pal, title, msg.stack_trace))

    # export -----------------------------------------------------------------------------------------

    def export_machines(self) -> list[str]:
        """Machines the export writes: the disconn / rpc filters apply (spec §6.1)."""
        f = self.app.viewer.filters
        out = []
        for mid, h in self.app.session.machines.items():
            if f.disconn and not h.connected:
                continue
            if f.rpc and any(t in _RPC_TAGS for t in h.tags):
                continue
            out.append(mid)
        return out

    def save_export(self, name: str, single: bool) -> str:
        """Write `<dir>/<name>.amdbg` (the export dialog's Save); returns the result line."""
        from am_dbg.recordings import export

        path = export_path(self.app.cfg.dir, name)
        moment = self.app.viewer.moment_ns() if single else None
        if single and moment is None:
            raise ValueError("single frame: no moment viewed yet (move to a transition first)")
        ids = self.export_machines()
        n = export(self.app.session, path, moment_ns=moment, machine_ids=ids)
        what = "a single moment of" if single else "everything from"
        self.last_export = f"exported {what} {len(ids)} machines ({n} transitions) to {path}"
        return self.last_export

    def open_export(self) -> None:
        dialog = ExportDialog(
            self.app.pal, self.save_export, self.app.cfg.dir, blink=not self.app.cfg.test_mode
        )
        self.app.push_screen(dialog, self._export_closed)

    def _export_closed(self, result: str | None) -> None:
        if result:
            self.app.notify(result)
        self.app.mach.remove1(S.ExportDialog)

    # theme ------------------------------------------------------------------------------------------

    def apply_theme(self, name: str) -> None:
        """Dark / light: the palette of every widget, Textual's base theme, and a full rebuild."""
        app = self.app
        pal = palette(name)
        app.pal = pal
        app.theme = "textual-light" if name == "light" else "textual-dark"
        for w in app.query("*"):
            if hasattr(w, "pal"):
                w.pal = pal
                for attr in ("_sig",):
                    if hasattr(w, attr):
                        setattr(w, attr, ())
                for attr in ("_cache", "_strips", "_rows"):
                    c: Any = getattr(w, attr, None)
                    if c is not None and hasattr(c, "clear"):
                        c.clear()
        app.refresh(layout=True)
        app.redraw(clients=True, full=True)

    def toggle_theme(self) -> None:
        self.apply_theme("dark" if self.app.pal == palette("light") else "light")

    # lifecycle and self-debugging -------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.app.cfg.view_theme == "light":
            self.app.theme = "textual-light"
        mach = self.app.mach
        mach.add1(S.LogTimestamps)  # hidden by default (spec §5.7 *times*)
        if self.view != "tree-log":
            mach.add1(_VIEW_STATES[self.view][0])
        self.start_self_debug()

    def start_self_debug(self) -> None:
        """`--dbg-am-dbg-addr`: stream this debugger's own machine to another am-dbg."""
        addr = self.app.cfg.dbg_am_dbg_addr
        if not addr or self.tracer is not None:
            return
        from am_rpc.dbg import connect

        try:
            self.tracer = connect(self.app.mach, addr)
        except ValueError as err:
            self.app.notify(f"--dbg-am-dbg-addr: {err}", severity="error")

    async def stop_self_debug(self) -> None:
        if self.tracer is not None:
            await self.tracer.aclose(2.0)
            self.tracer = None


class Part2Handlers:
    """Second handler binding on the debugger's machine (part 1's is `DbgHandlers`)."""

    def __init__(self, part2: Part2) -> None:
        self.p2 = part2
        self.mach = part2.app.mach

    def ClientSelectedState(self, e: Event) -> None:
        # MatrixRain requires ClientSelected: selecting another machine drops it, restore it
        if self.p2.view.endswith("rain"):
            self.mach.add1(S.MatrixRain)

    def ExportDialogState(self, e: Event) -> None:
        self.p2.open_export()

    def LogReaderEnabledState(self, e: Event) -> None:
        self.p2.app.redraw(full=True)
