"""am-dbg's Textual app: the layout mapped in docs/architecture.md, driven by the debugger's own machine.

Input (keys, clicks, network batches, timers) becomes mutations of `DbgStates`; the handlers in
`handlers.py` update the `Viewer` and call `redraw()`, which coalesces every request of one event-loop
turn into a single pass over the widgets (and throttles the client list while streams are hot).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer

from am_core import Machine, Result
from am_dbg import __version__
from am_dbg.config import Config
from am_dbg.model.filters import AutoFilter, Filters
from am_dbg.model.session import Session
from am_dbg.model.viewer import Viewer
from am_dbg.states import DbgStates as S
from am_dbg.ui.address_bar import TagsBar
from am_dbg.ui.bindings import app_bindings
from am_dbg.ui.client_list import ClientList
from am_dbg.ui.format import step_text
from am_dbg.ui.group_bar import GroupBar
from am_dbg.ui.handlers import DbgHandlers
from am_dbg.ui.help_screen import HelpScreen
from am_dbg.ui.line_list import LineList
from am_dbg.ui.log_view import LogView
from am_dbg.ui.nav_bar import NavAddressBar
from am_dbg.ui.part2 import Part2, Part2Handlers
from am_dbg.ui.rain import RainView
from am_dbg.ui.reader import ReaderView
from am_dbg.ui.states_tree import StatesTree
from am_dbg.ui.status_bar import SPINNER, StatusBar
from am_dbg.ui.theme import css_variables, palette
from am_dbg.ui.timeline import Timeline
from am_dbg.ui.toolbar import TOOLS, Toolbar
from am_dbg.ui.trace_overlay import TraceOverlay
from am_dbg.ui.tx_bar import TxBar

__all__ = ["NARROW_BELOW", "DbgApp", "run_ui"]

NARROW_BELOW = 100  # columns
PLAY_INTERVAL = 0.5
CLIENTS_THROTTLE = 1.0  # client list rebuilds at most this often while streams are hot (Go: 1 s)
RESIZE_DEBOUNCE = 0.3
HOT_REDRAW = 0.25  # redraws caused by incoming batches, at most this often
HEARTBEAT = 60.0  # memory GC check (spec §6.4)
FAST_JUMP = 50
SPIN_INTERVAL = 0.1
BUSY_TXS = 20_000  # selecting a machine this long shows the spinner (its first frame is slow)
_DIALOG_ACTIONS = frozenset({"quit", "focus_next_pane", "focus_prev_pane"})
_FOCUS_STATES = {
    "clients": S.ClientListFocused,
    "tree": S.TreeFocused,
    "log": S.LogFocused,
    "tl-tx": S.TimelineTxsFocused,
    "tl-steps": S.TimelineStepsFocused,
    "toolbar": S.ToolbarFocused,
    "address": S.AddressFocused,
    "groups": S.TreeGroupsFocused,
    "matrix": S.MatrixFocused,
    "rain": S.MatrixFocused,
    "reader": S.LogReaderFocused,
}


class DbgApp(App[int]):
    """The debugger UI. `session` may be given pre-filled (tests, benchmarks)."""

    TITLE = "am-dbg"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = app_bindings()  # type: ignore[assignment]
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    #clients { width: 2fr; }
    #content { width: 7fr; }
    #tree { width: 2fr; }
    #log { width: 4fr; }
    #clients, #tree, #log {
        border: round $panel-lighten-2; border-title-color: $text-muted;
        scrollbar-size-vertical: 1;
    }
    #clients:focus, #tree:focus, #log:focus, Timeline:focus { border: double #32CD32; }
    Timeline { border-title-color: $text-muted; }
    Toolbar:focus { background: #003300; }
    """

    def __init__(
        self,
        cfg: Config,
        session: Session | None = None,
        *,
        load_warnings: list[str] | None = None,
    ) -> None:
        """`load_warnings` given: `-i` was already loaded into `session` (by `run_ui`)."""
        super().__init__()
        self.cfg = cfg
        self.pal = palette(cfg.view_theme)
        self.session = session if session is not None else Session.from_config(cfg)
        self.viewer = Viewer(self.session, Filters.from_config(cfg))
        self.mach = Machine(S.schema(), id=f"d-{cfg.dbg_id}")
        self.mach.verify_states(S.names())
        self.timelines = cfg.view_timelines
        self.want_tail = False
        self.auto_selected = ""  # the machine a connect selected for the user (handlers.py)
        self.listen_text = cfg.listen_addr or "(not listening)"
        self.server: Any = None
        self.demo: Any = None  # am_dbg.demo.Demo with --demo, started once the server listens
        self.preloaded = load_warnings is not None
        self.load_warnings: list[str] = list(load_warnings or ())
        self._redraw_pending = False
        self._clients_dirty = False
        self._clients_at = 0.0
        self._clients_timer: Timer | None = None
        self._clients_moment: tuple[str, int | None] = ("", None)  # moment the list was built at
        # test mode relabels at once: snapshots must not depend on when the throttle fires
        self.clients_throttle = 0.0 if cfg.test_mode else CLIENTS_THROTTLE
        self.hot_redraw = 0.0 if cfg.test_mode else HOT_REDRAW
        self._hot_at = 0.0
        self._hot_timer: Timer | None = None
        self._play_timer: Timer | None = None
        self.frames = 0  # completed redraw passes (benchmarks wait on it)
        self._tools_sig: tuple[str, ...] = ()
        self._redraw_at = 0.0  # perf_counter() at the end of the last redraw pass
        self._layout_sig: tuple[bool, ...] = ()
        # the narrow-layout debounce; not `_resize_timer`, Textual's App has its own by that name
        self._narrow_timer: Timer | None = None
        # spinner in the status bar while busy (never in test mode: snapshots stay fixed)
        self.busy = 0
        self.busy_txs = BUSY_TXS
        self._busy_select = False  # spinning until the next frame is drawn
        self._busy_shown = False  # ...which waited once for the screen to show the spinner
        self._spin = 0
        self._spin_timer: Timer | None = None
        self.handlers = DbgHandlers(self)
        p = self.pal
        self.address = NavAddressBar(p, id="address")  # part 2: history buttons, copy/paste
        self.tags = TagsBar(p, id="tags")
        self.client_list = ClientList(self.viewer, p, id="clients")
        self.client_list.hide_disconn = self.viewer.filters.disconn
        self.client_list.hide_rpc = self.viewer.filters.rpc
        self.states_tree = StatesTree(p, id="tree")
        self.log_view = LogView(p, id="log")
        self.log_view.wrap = cfg.view_log_wrap
        self.tx_bar = TxBar(p, id="tx-bar")
        self.tl_tx = Timeline(p, id="tl-tx")
        self.next_bar = TxBar(p, next_bar=True, id="next-bar")
        self.tl_steps = Timeline(p, wheel_step=1, id="tl-steps")
        self.toolbar = Toolbar(p, self.tool_value, id="toolbar")
        self.status = StatusBar(p, id="status")
        self.part2 = Part2(self)  # views, reader, addresses, export, theme, self-debugging

    # layout -----------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.address
        yield self.tags
        with Horizontal(id="main"):
            yield self.client_list
            with Horizontal(id="content"):
                with Vertical(id="tree-col"):  # the group dropdown above the tree (part 2)
                    yield self.part2.group_bar
                    yield self.states_tree
                yield self.log_view
                yield from self.part2.widgets()
        yield self.tx_bar
        yield self.tl_tx
        yield self.next_bar
        yield self.tl_steps
        yield self.toolbar
        yield self.status
        yield Footer()

    def get_css_variables(self) -> dict[str, str]:
        return css_variables(super().get_css_variables(), self.current_theme.dark)

    def on_mount(self) -> None:
        self.mach.handlers_bind(self.handlers, id="ui")
        self.mach.handlers_bind(Part2Handlers(self.part2), id="ui2")
        self.part2.on_mount()
        self.mach.add1(S.Start)
        if not self.preloaded:
            self.load_import()
        self.show_load_warnings()
        if any(len(h) >= self.busy_txs for h in self.session.machines.values()):
            self._busy_select = self.busy_start()  # a long import: its first frame is slow
        # The loaded history is long-lived: move it out of the cyclic GC's reach, or every full
        # collection walks millions of objects and stalls a key press for seconds.
        gc.freeze()
        self.mach.add1(S.Ready)
        if self.cfg.exit_after:
            self.set_timer(self.cfg.exit_after, self.exit)
        self.set_interval(HEARTBEAT, lambda: self.mach.add1(S.Heartbeat))

    def load_import(self) -> None:
        path = self.cfg.import_data
        if not path:
            return
        from am_dbg import recordings

        loader = getattr(recordings, "load", None)
        if loader is not None:
            res = loader(path)
            self.load_warnings = list(res.warnings)
            machines = res.machines
        else:  # before the recordings front door landed: Go dumps only
            from am_dbg.recordings.gob_import import read_gob_dump

            machines = read_gob_dump(path, self.load_warnings)
        self.session.load(machines)

    def show_load_warnings(self) -> None:
        """Say what a damaged `-i` file lost: a toast now, a marker in the status bar for good."""
        if not self.load_warnings:
            return
        n = len(self.load_warnings)
        head = f"Import incomplete ({n} warning{'s' if n > 1 else ''})"
        body = "\n".join(self.load_warnings[:5]) + ("\n..." if n > 5 else "")
        self.notify(body, title=head, severity="warning", timeout=30, markup=False)

    def load_marker(self) -> str:
        """The status bar's persistent note about a damaged import ("" when it loaded whole);
        the warnings themselves are in the toast, on stderr and in the help screen."""
        n = len(self.load_warnings)
        if not n:
            return ""
        return f"⚠ import incomplete: {n} warning{'s' if n > 1 else ''} (? for details)"

    def on_ready(self) -> None:
        """Ready: layout options, the start address, the first machine, the server."""
        self.check_narrow()
        (self.client_list if self.client_list.display else self.tl_tx).focus()
        if self.cfg.listening and self.server is None:
            self.run_worker(self.start_server(), exclusive=True, group="server")
        else:
            self.start_demo()
        if self.session.machines:
            target = next(iter(self.client_list_order()), "")
            url = self.cfg.start_url
            if url:
                from am_dbg.model.urls import MachUrl

                try:
                    parsed = MachUrl.parse(url)
                except ValueError:
                    parsed = None
                if parsed is not None and parsed.mach_id in self.session.machines:
                    self.mach.add1(S.SelectingClient, {"id": parsed.mach_id})
                    self.part2.go_to_url(parsed, trim=False)
                    return
                self.notify_bad_start(url, parsed, target)
            if self.cfg.view_tail:
                self.want_tail = True
            self.mach.add1(S.SelectingClient, {"id": target})
        self.redraw(clients=True, full=True)

    def notify_bad_start(self, url: str, parsed: Any, shown: str) -> None:
        """The start address names no known machine: say so, and what is shown instead."""
        what = f"no machine {parsed.mach_id!r}" if parsed is not None else "not a mach:// address"
        self.notify(
            f"{url}: {what}; showing {shown}" if shown else f"{url}: {what}",
            title="Start address not found",
            severity="error",
            timeout=30,
            markup=False,
        )

    def client_list_order(self) -> list[str]:
        from am_dbg.model.client_order import client_tree

        return [
            m for m, _ in client_tree({k: h.parent_id for k, h in self.session.machines.items()})
        ]

    def go_to(self, url: Any) -> None:
        """Resolve a URL's moment on the selected machine (tx id, else t, ht, q) and its state."""
        hist = self.viewer.history
        if hist is None:
            return
        i: int | None = None
        if url.tx_id:
            i = hist.index_of(url.tx_id)
        elif url.t is not None:
            i = hist.tx_at_mach_time(url.t)
        elif url.q is not None:
            i = hist.tx_at_queue_tick(url.q)
        if i is not None and i >= 0:
            self.mach.add1(S.ScrollToTx, {"cursor": i + 1, "step": url.step})
        if url.state and url.state in hist.state_names:
            self.mach.add1(S.StateNameSelected, {"state": url.state})

    def attach_server(self, srv: Any) -> None:
        """A listening server (bound by `run_ui` before the screen was taken): show its real
        address (port 0 -> the bound port) and start `--demo` once the app runs."""
        from am_rpc.dbg.addr import join_addr

        self.server = srv
        self.listen_text = getattr(srv, "url", "") or join_addr(*srv.addr)  # nats:// as given

    async def start_server(self) -> None:
        """Bind from inside the app (tests run the app without `run_ui`)."""
        from am_dbg.server import ListenError

        srv = ingest_server(self.cfg, self.session, self.on_batch)
        try:
            await srv.start()
        except ListenError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        self.attach_server(srv)
        self.start_demo()
        self.redraw()

    def start_demo(self) -> None:
        if not self.cfg.demo or self.demo is not None or self.server is None:
            return
        from am_dbg.demo import DemoError, start_demo

        try:
            self.demo = start_demo(self.listen_text)
        except DemoError as err:
            self.notify(str(err), severity="error", timeout=10)

    def on_batch(self, batch: Any) -> None:
        """The ingest server's callback (on this loop): turn a batch into mutations."""
        if batch.schemas:
            self.mach.add1(S.ConnectEvent, {"outcomes": list(batch.schemas)})
        added: dict[str, int] = {}
        for out in batch.txs:
            for k, n in out.added.items():
                added[k] = added.get(k, 0) + n
        if added:
            self.mach.add1(S.ClientMsg, {"added": added})
        if batch.disconnected:
            self.mach.add1(S.DisconnectEvent, {"ids": list(batch.disconnected)})

    async def on_unmount(self) -> None:
        await self.part2.stop_self_debug()
        if self.demo is not None:
            await self.demo.stop_async()
        if self.server is not None:
            await self.server.close()

    def check_narrow(self) -> None:
        narrow = self.cfg.view_narrow or self.size.width < NARROW_BELOW
        if narrow and not self.mach.is1(S.NarrowLayout):
            self.mach.add1(S.NarrowLayout)
        elif not narrow and self.mach.is1(S.NarrowLayout) and not self.mach.is1(S.UserNarrowLayout):
            self.mach.remove1(S.NarrowLayout)
        self.apply_layout()

    def on_resize(self, event: events.Resize) -> None:
        """Re-evaluate the narrow layout 300 ms after the last resize (spec §4.1)."""
        if self._narrow_timer is not None:
            self._narrow_timer.stop()
        self._narrow_timer = self.set_timer(RESIZE_DEBOUNCE, self._resized)

    def _resized(self) -> None:
        self._narrow_timer = None
        if self.mach.is1(S.Ready):
            self.mach.add1(S.Resized)
            self.check_narrow()
            self.redraw()  # the toolbar's *narrow* box, and panes laid out anew

    def apply_layout(self) -> None:
        """Show / hide panes for the layout states; only touches what changed (a display or
        width change re-lays the whole screen out)."""
        level = self.viewer.filters.log_level
        stepping = self.viewer.cursor.step > 0
        want = (
            not self.mach.is1(S.NarrowLayout),
            level > 0,
            self.timelines >= 1,
            self.timelines >= 2 or stepping,
        )
        if want == self._layout_sig:
            self.part2.apply_layout()
            return
        self._layout_sig = want
        clients, log, tl1, tl2 = want
        self.client_list.display = clients
        self.log_view.display = log
        self.tx_bar.display = self.tl_tx.display = tl1
        self.next_bar.display = self.tl_steps.display = tl2
        self.states_tree.styles.width = "2fr" if log else "1fr"
        self.part2.apply_layout()

    # rendering --------------------------------------------------------------------------------------

    def redraw(self, *, clients: bool = False, full: bool = False, throttle: bool = False) -> None:
        """Ask for one pass over the widgets at the end of this event-loop turn."""
        if clients:
            if throttle and time.monotonic() - self._clients_at < self.clients_throttle:
                if self._clients_timer is None:
                    self._clients_timer = self.set_timer(self.clients_throttle, self._clients_due)
            else:
                self._clients_dirty = True
        if not self._redraw_pending:
            self._redraw_pending = True
            self.call_later(self._do_redraw)

    # spinner ----------------------------------------------------------------------------------------

    def selecting_big(self, mach_id: str) -> bool:
        """A machine with a long history is being selected: spin until its first frame is drawn.
        True: the spinner is on, the caller should select once the bar was painted."""
        hist = self.session.machines.get(mach_id)
        if hist is None or len(hist) < self.busy_txs:
            return False
        if not self._busy_select:  # else already spinning (a long import's first frame)
            self._busy_select = self.busy_start()
        return self._busy_select

    def busy_start(self) -> bool:
        """Show the spinner (False in test mode, where it never shows)."""
        if self.cfg.test_mode:
            return False
        self.busy += 1
        self.status.set_spinner(self.spinner_text())
        if self._spin_timer is None:
            self._spin_timer = self.set_interval(SPIN_INTERVAL, self._spin_tick)
        return True

    def busy_end(self) -> None:
        self.busy = max(0, self.busy - 1)
        if self.busy:
            return
        if self._spin_timer is not None:
            self._spin_timer.stop()
            self._spin_timer = None
        self.status.set_spinner("")

    def spinner_text(self) -> str:
        return f"{SPINNER[self._spin % len(SPINNER)]} " if self.busy else ""

    def _spin_tick(self) -> None:
        self._spin += 1
        self.status.set_spinner(self.spinner_text())

    def _clients_due(self) -> None:
        self._clients_timer = None
        self.redraw(clients=True)

    def redraw_hot(self) -> None:
        """Redraw for new transitions: at most every HOT_REDRAW while streams are hot, so frames
        for key presses are not queued behind frames for batches (docs/architecture.md: 100-250 ms)."""
        wait = self._hot_at + self.hot_redraw - time.monotonic()
        if wait <= 0:
            self._hot_at = time.monotonic()
            self.redraw(clients=True, throttle=True)
        elif self._hot_timer is None:
            self._hot_timer = self.set_timer(wait, self._hot_due)

    def _hot_due(self) -> None:
        self._hot_timer = None
        self._hot_at = time.monotonic()
        self.redraw(clients=True, throttle=True)

    def _mode(self) -> str:
        if self.mach.is1(S.Playing):
            return "Playing"
        if self.mach.is1(S.TailMode):
            return "Tail"
        return "Paused"

    def _do_redraw(self) -> None:
        if self._busy_select and not self._busy_shown:  # a slow frame: show the spinner first
            self._busy_shown = True
            self.status.after_paint(self._do_redraw)
            return
        self._redraw_pending = False
        v = self.viewer
        hist = v.history
        cur = v.cursor
        view = v.current
        pal = self.pal
        self.apply_layout()
        # the client list shows every machine at the viewed moment: a new moment relabels it
        # (throttled: holding → must not rebuild the list on every frame)
        moment = (v.selected, v.moment_ns())
        if moment != self._clients_moment and not self._clients_dirty:
            if time.monotonic() - self._clients_at >= self.clients_throttle:
                self._clients_dirty = True
            elif self._clients_timer is None:
                self._clients_timer = self.set_timer(self.clients_throttle, self._clients_due)
        if self._clients_dirty:
            self._clients_dirty = False
            self._clients_at = time.monotonic()
            self._clients_moment = moment
            self.client_list.rebuild()
        # address and tags
        self.address.show(v.url() if hist else None, bool(hist and hist.connected))
        if hist is not None:
            anc: list[str] = []
            seen = {hist.id}
            p = self.session.machines.get(hist.parent_id)
            while p is not None and p.id not in seen:
                seen.add(p.id)
                anc.extend(p.tags)
                p = self.session.machines.get(p.parent_id)
            self.tags.show(hist.tags, tuple(anc))
        else:
            self.tags.show((), ())
        nxt = v.next_index()
        # tree
        if hist is not None and view is not None:
            clocks = hist.clocks(cur.tx - 1) if cur.tx > 0 else (0,) * len(hist.state_names)
            steps: tuple[Any, ...] = ()
            accepted = True
            if cur.step > 0 and nxt is not None:
                steps = hist.tx(nxt).steps[: cur.step]
                accepted = hist.info(nxt).accepted
            grp = v.group_states(hist, view.group)
            self.states_tree.update_view(
                hist, clocks, v.state_name, steps, accepted, tuple(grp) if grp else None
            )
            hl = nxt if cur.step > 0 else (cur.tx - 1 if cur.tx > 0 else None)
            if not self.mach.is1(S.LogUserScrolled):
                self.log_view.release_scroll()
            self.log_view.update_view(
                hist,
                view.visible,
                hl,
                v.filters.log_level,
                v.filters.shows_gutter(),
                hist.info(cur.tx - 1).time_sum if cur.tx > 0 else 0,
            )
        else:
            self.states_tree.update_view(None, (), "")
            self.log_view.update_view(None, None, None, v.filters.log_level, False, 0)
        # bars and timelines
        if hist is None or view is None:
            self.tx_bar.show_message(f"Listening for connections on {self.listen_text}")
            self.next_bar.show_message("")
            self.tl_tx.set(0, 0, "Transition 0 / 0")
            self.tl_steps.set(0, 0, "Next mutation step 0 / 0")
        else:
            if cur.tx == 0:
                msg = "No transitions yet..." if len(hist) == 0 else "Initial machine schema"
                self.tx_bar.show_message(msg)
            else:
                self.tx_bar.show_tx(hist, cur.tx - 1, self._mode())
            if nxt is not None:
                self.next_bar.show_tx(hist, nxt, "Next")
            else:
                self.next_bar.show_message("Next: none")
            vis = view.visible
            total = len(hist)
            if vis.filtering and len(vis) != total:
                pos = vis.count_upto(cur.tx - 1) if cur.tx > 0 else 0
                title = f"Transition {pos} / {len(vis)} [dim]{cur.tx} / {total}[/dim]"
            else:
                title = f"Transition {cur.tx} / {total}"
            self.tl_tx.set(cur.tx, total, title)
            n_steps = hist.info(nxt).n_steps if nxt is not None else 0
            color = pal.active
            if nxt is not None and not hist.info(nxt).accepted:
                color = pal.grey
            if n_steps and cur.step >= n_steps:
                color = pal.err
            self.tl_steps.set(
                cur.step, n_steps, f"Next mutation step {cur.step} / {n_steps}", color
            )
        # status bar
        state = v.state_name
        idx = tick = 0
        step_txt = ""
        if hist is not None and state in hist.state_names:
            idx = hist.state_names.index(state)
            if cur.tx > 0:
                c = hist.clocks(cur.tx - 1)
                tick = c[idx] if idx < len(c) else 0
        if hist is not None and cur.step > 0 and nxt is not None:
            st = hist.tx(nxt).steps
            if 0 < cur.step <= len(st):
                step_txt = step_text(st[cur.step - 1], hist.state_names)
        self.status.update_status(
            self.spinner_text(),
            self.client_list.graph_t,
            state if hist else "",
            idx,
            tick,
            step_txt,
            self.load_marker(),
        )
        tools = tuple(self.tool_value(b.id) for b in TOOLS)
        if tools != self._tools_sig:
            self._tools_sig = tools
            self.toolbar.refresh()
        self.part2.redraw()
        if self._busy_select:  # the selected machine's first frame is done
            self._busy_select = self._busy_shown = False
            self.busy_end()
        self.frames += 1
        self._redraw_at = time.perf_counter()

    def tool_value(self, tool: str) -> str:
        f = self.viewer.filters
        if tool == "log":
            return str(f.log_level)
        if tool == "auto":
            return {AutoFilter.HIDE_CANCELED: "*", AutoFilter.SHOW_ALL: "X"}.get(f.auto, " ")
        if tool == "group":
            return "X" if f.group else " "
        if tool in ("canceled", "queued", "empty", "health", "checks", "disconn", "rpc"):
            return " " if getattr(f, tool) else "X"
        if tool == "timelines":
            return str(self.timelines)
        if tool == "play":
            return "X" if self.mach.is1(S.Playing) else " "
        if tool == "tail":
            return "X" if self.mach.is1(S.TailMode) else " "
        if tool == "narrow":
            return "X" if self.mach.is1(S.NarrowLayout) else " "
        if tool == "expand":
            return "X" if self.states_tree.expanded else " "
        if tool in ("toggle_reader", "toggle_rain", "toggle_matrix", "toggle_timestamps"):
            return self.part2.tool_value(tool)
        if tool == "toggle_theme":
            return "L" if self.pal == palette("light") else "D"
        return ""

    # help -------------------------------------------------------------------------------------------

    def show_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        mem = "128 MB" if self.cfg.test_mode else _rss_mb()
        listen = self.listen_text  # the configured address in test mode (no random port)
        about = (
            f"am-dbg {__version__}\n"
            f"listening on {listen}\n"
            f"machines: {len(self.session.machines)}\nmemory: {mem}"
        )
        if self.load_warnings:
            about += "\n\nimport incomplete:\n" + "\n".join(self.load_warnings)
        self.push_screen(HelpScreen(self.pal, about), self._help_closed)

    def _help_closed(self, _: None) -> None:
        self.mach.remove1(S.HelpDialog)

    def hide_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)

    # playback ---------------------------------------------------------------------------------------

    def start_play_timer(self) -> None:
        self.stop_play_timer()
        self._play_tick()
        self._play_timer = self.set_interval(PLAY_INTERVAL, self._play_tick)

    def stop_play_timer(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def _play_tick(self) -> None:
        if not self.mach.is1(S.Playing):
            self.stop_play_timer()
            return
        step = self.mach.is1(S.TimelineStepsFocused)
        res = self.mach.add1(S.FwdStep if step else S.Fwd)
        if res == Result.CANCELED:
            self.mach.remove1(S.Playing)

    # focus ------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a dialog is open, the app's keys (→, Home, End, `.` ... are checked before the
        focused widget) must not move the cursor behind it: they go to the dialog instead. The
        stack-trace overlay is closed by moving the cursor (spec §4.12), so it lets them through."""
        screen = self.screen
        if isinstance(screen, ModalScreen) and not isinstance(screen, TraceOverlay):
            return action in _DIALOG_ACTIONS
        return True

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        state = _FOCUS_STATES.get(event.widget.id or "")
        if state is not None and not self.mach.is1(state):
            self.mach.add1(state)
            self.redraw()

    def _focused_id(self) -> str:
        w = self.focused
        return w.id or "" if w is not None else ""

    # actions (keys) ---------------------------------------------------------------------------------

    def action_tx_fwd(self) -> None:
        fid = self._focused_id()
        if fid == "toolbar":
            self.toolbar.move(1)
        elif fid == "address":
            self.address.move(1)
        elif fid == "matrix":
            self.part2.matrix.scroll_cols(1)
        elif fid == "log" and self.log_view.scroll_cols(1):
            pass  # long lines scroll sideways (spec §5.2)
        elif fid == "tl-steps":
            self.mach.add1(S.UserFwdStep)
        else:
            self.mach.add1(S.UserFwd)

    def action_tx_back(self) -> None:
        fid = self._focused_id()
        if fid == "toolbar":
            self.toolbar.move(-1)
        elif fid == "address":
            self.address.move(-1)
        elif fid == "matrix":
            self.part2.matrix.scroll_cols(-1)
        elif fid == "log" and self.log_view.scroll_cols(-1):
            pass
        elif fid == "tl-steps":
            self.mach.add1(S.UserBackStep)
        else:
            self.mach.add1(S.UserBack)

    def action_fwd_step(self) -> None:
        self.mach.add1(S.UserFwdStep)

    def action_back_step(self) -> None:
        self.mach.add1(S.UserBackStep)

    def _jump(self, fwd: bool) -> None:
        state = self.viewer.state_name
        if state:
            self.mach.add1(S.ScrollToMutTx, {"state": state, "fwd": fwd})
        else:
            self.mach.add1(S.UserFwd if fwd else S.UserBack, {"amount": FAST_JUMP})

    def action_jump_fwd(self) -> None:
        self._jump(True)

    def action_jump_back(self) -> None:
        self._jump(False)

    def action_first(self) -> None:
        self.mach.add1(S.ScrollToTx, {"cursor": 0, "trim": True})

    def action_last(self) -> None:
        view = self.viewer.current
        if view is not None:
            vis = view.visible
            last = vis[-1] + 1 if len(vis) else 0
            self.mach.add1(S.ScrollToTx, {"cursor": last, "trim": True})

    def action_play(self) -> None:
        if self.mach.is1(S.Playing):
            self.mach.remove1(S.Playing)
        else:
            self.mach.add1(S.Playing)

    def action_tail(self) -> None:
        if self.mach.is1(S.TailMode):
            self.mach.remove1(S.TailMode)
        else:
            self.mach.add1(S.TailMode)

    def action_help(self) -> None:
        if self.mach.is1(S.HelpDialog):
            self.mach.remove1(S.HelpDialog)
        else:
            self.mach.add1(S.HelpDialog)

    def action_escape(self) -> None:
        if self.mach.is1(S.HelpDialog):
            self.mach.remove1(S.HelpDialog)
            return
        target: Widget = self.client_list if self.client_list.display else self.tl_tx
        target.focus()

    def action_focus_next_pane(self) -> None:
        self.screen.focus_next()

    def action_focus_prev_pane(self) -> None:
        self.screen.focus_previous()

    def _machine_step(self, delta: int) -> None:
        order = [m for m, _ in self.client_list.order] or self.client_list_order()
        if not order:
            return
        cur = self.viewer.selected
        k = order.index(cur) + delta if cur in order else 0
        if 0 <= k < len(order):
            self.mach.add1(S.SelectingClient, {"id": order[k]})

    def action_prev_machine(self) -> None:
        self._machine_step(-1)

    def action_next_machine(self) -> None:
        self._machine_step(1)

    def action_remove_machine(self) -> None:
        if self._focused_id() == "clients":
            mach_id = self.client_list.hovered()
            if mach_id:
                self.mach.add1(S.RemoveClient, {"id": mach_id})

    def action_expand_all(self) -> None:
        if self._focused_id() == "reader":  # Alt+E in the reader: its sections (part 2)
            self.part2.reader_view.toggle_all()
            return
        self.states_tree.expand_all()
        self.redraw()

    def action_focus_toolbar(self) -> None:
        if self._focused_id() == "toolbar":
            self.action_escape()
        else:
            self.toolbar.focus()

    def action_log_level(self, level: int) -> None:
        self.mach.add1(S.SetLogLevel, {"level": level})

    def action_cycle_log_level(self) -> None:
        self.mach.add1(S.ToggleTool, {"tool": "log"})

    # part 2 actions (am_dbg/ui/part2.py) ------------------------------------------------------------

    def action_cycle_view(self) -> None:
        self.part2.cycle_view()

    def action_toggle_rain(self) -> None:
        self.part2.toggle_rain()

    def action_toggle_reader(self) -> None:
        self.part2.toggle_reader()

    def action_export(self) -> None:
        if not self.mach.is1(S.ExportDialog):
            self.mach.add1(S.ExportDialog)

    def action_copy_url(self) -> None:
        url = self.part2.copy_url()
        self.notify(f"copied {url}" if self.cfg.enable_clipboard else url, timeout=3)

    def action_paste_url(self) -> None:
        self.part2.paste_url()

    def action_goto_url(self) -> None:
        self.part2.prompt_url()

    def action_history_back(self) -> None:
        self.part2.history_go("back")

    def action_history_fwd(self) -> None:
        self.part2.history_go("fwd")

    def action_toggle_theme(self) -> None:
        self.part2.toggle_theme()

    def action_toggle_diagram(self) -> None:
        self.part2.toggle_diagram()

    def action_toggle_matrix(self) -> None:
        self.part2.toggle_matrix()

    def action_toggle_wrap(self) -> None:
        """Wrap long log lines, or cut them at the edge (→ / ← scroll them)."""
        self.log_view.set_wrap(not self.log_view.wrap)
        self.redraw(full=True)

    def action_toggle_timestamps(self) -> None:
        self.part2.toggle_timestamps()

    def run_tool_action(self, tool: str) -> None:
        """Toolbar buttons that are plain actions."""
        fn = getattr(self, f"action_{tool}", None)
        if fn is not None:
            fn()

    # widget messages --------------------------------------------------------------------------------

    @on(LineList.Activated, "#clients")
    def _client_activated(self, msg: LineList.Activated) -> None:
        mach_id = self.client_list.machine_at(msg.row)
        if mach_id and mach_id != self.viewer.selected:
            self.mach.add1(S.SelectingClient, {"id": mach_id})

    @on(LineList.Moved, "#tree")
    def _tree_moved(self, msg: LineList.Moved) -> None:
        name = self.states_tree.state_at(msg.row)
        if name:
            self.mach.add1(S.StateNameSelected, {"state": name})
        elif self.mach.is1(S.StateNameSelected):
            self.mach.remove1(S.StateNameSelected)

    @on(LineList.Activated, "#tree")
    def _tree_activated(self, msg: LineList.Activated) -> None:
        row = self.states_tree.row_meta[msg.row]
        if row.kind == "ref":
            self.states_tree.jump_to_state(row.state)
        else:
            self.states_tree.toggle(msg.row)

    @on(LogView.UserScrolled)
    def _log_scrolled(self) -> None:
        if not self.mach.is1(S.LogUserScrolled):
            self.mach.add1(S.LogUserScrolled)

    @on(LogView.Clicked)
    def _log_clicked(self, msg: LogView.Clicked) -> None:
        self.mach.remove1(S.LogUserScrolled)
        self.mach.add1(S.ScrollToTx, {"cursor": msg.tx + 1, "trim": True})
        if msg.state:
            self.mach.add1(S.StateNameSelected, {"state": msg.state})

    @on(Timeline.Seek, "#tl-tx")
    def _tx_seek(self, msg: Timeline.Seek) -> None:
        if msg.value is not None:
            self.mach.add1(S.ScrollToTx, {"cursor": msg.value, "trim": True})
        elif msg.delta > 0:
            self.mach.add1(S.UserFwd, {"amount": msg.delta})
        else:
            self.mach.add1(S.UserBack, {"amount": -msg.delta})

    @on(Timeline.Seek, "#tl-steps")
    def _step_seek(self, msg: Timeline.Seek) -> None:
        if msg.value is not None:
            self.mach.add1(S.ScrollToStep, {"step": msg.value})
        elif msg.delta > 0:
            self.mach.add1(S.UserFwdStep)
        else:
            self.mach.add1(S.UserBackStep)

    @on(TxBar.Clicked)
    def _bar_clicked(self, msg: TxBar.Clicked) -> None:
        (self.tl_steps if msg.bar is self.next_bar else self.tl_tx).focus()

    @on(Toolbar.Pressed)
    def _tool_pressed(self, msg: Toolbar.Pressed) -> None:
        self.mach.add1(S.ToggleTool, {"tool": msg.tool})

    @on(NavAddressBar.Pressed)
    def _address_pressed(self, msg: NavAddressBar.Pressed) -> None:
        if msg.button == "copy":
            self.action_copy_url()
        elif msg.button == "paste":
            self.part2.paste_url()
        else:
            self.part2.history_go(msg.button)

    @on(NavAddressBar.Pasted)
    def _address_pasted(self, msg: NavAddressBar.Pasted) -> None:
        self.part2.prompt_url(msg.text.strip())

    @on(RainView.Clicked)
    def _rain_clicked(self, msg: RainView.Clicked) -> None:
        self.mach.add1(S.ScrollToTx, {"cursor": msg.tx + 1, "trim": True})
        if msg.state:
            self.mach.add1(S.StateNameSelected, {"state": msg.state})

    @on(GroupBar.Selected)
    def _group_selected(self, msg: GroupBar.Selected) -> None:
        if self.viewer.history is not None:
            self.mach.add1(S.SetGroup, {"group": msg.group})

    @on(ReaderView.Navigate)
    def _reader_navigate(self, msg: ReaderView.Navigate) -> None:
        self.part2.go_to_url(msg.url)

    @on(ReaderView.TraceRequested)
    def _reader_trace(self) -> None:
        self.part2.show_trace()

    @on(ReaderView.StateSelected)
    def _reader_state(self, msg: ReaderView.StateSelected) -> None:
        hist = self.viewer.history
        if hist is not None and msg.state in hist.state_names:
            self.mach.add1(S.StateNameSelected, {"state": msg.state})


def _rss_mb() -> str:
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return f"{kb // 1024} MB"
    except Exception:
        return "?"


def ingest_server(cfg: Config, session: Session, on_batch: Any = None, forward: Any = None) -> Any:
    """The ingest server for `--listen-addr` (not started yet)."""
    from am_dbg.server import IngestServer
    from am_rpc.dbg.addr import split_addr

    if cfg.listen_addr.startswith("nats://"):  # the [nats] extra
        from am_dbg.server.nats_ingest import NatsIngestServer

        return NatsIngestServer(
            session,
            cfg.listen_addr,
            max_clients=cfg.max_clients,
            on_batch=on_batch,
            forward=forward,
            tick_slice=64,
            tick_time=0.01,
        )
    host, port = split_addr(cfg.listen_addr)
    return IngestServer(
        session,
        host=host,
        port=port,
        max_clients=cfg.max_clients,
        on_batch=on_batch,
        forward=forward,
        tick_slice=64,  # short model-update slices keep key presses responsive while hot
        tick_time=0.01,
        token=cfg.token,
        insecure=cfg.insecure,
    )


def run_ui(cfg: Config) -> int:
    """Run the TUI until the user quits; returns the exit code (see `am_dbg.ui.runner`)."""
    from am_dbg.ui.runner import run_ui as run

    return run(cfg)
