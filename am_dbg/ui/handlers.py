"""What each state of the debugger's machine does (docs/architecture.md): the one place to read
"what happens when a transition arrives / a key is pressed".

Handlers change the navigation model (`Viewer`) and then ask the app to redraw; widgets only render.
Actions remove themselves first thing (the removal is queued and runs right after the transition).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from am_core import Event
from am_dbg.model import cursor as nav
from am_dbg.model.cursor import Cursor
from am_dbg.states import DbgStates as S

if TYPE_CHECKING:
    from am_dbg.ui.app import DbgApp

__all__ = ["DbgHandlers"]

_FILTER_STATES = {
    "canceled": S.FilterCanceledTx,
    "queued": S.FilterQueuedTx,
    "empty": S.FilterEmptyTx,
    "health": S.FilterHealth,
    "checks": S.FilterChecks,
    "group": S.FilterOutGroup,
    "disconn": S.FilterDisconn,
    "rpc": S.FilterRpcMachs,
}


class DbgHandlers:
    """Handlers bound to the debugger's machine; `app` owns the widgets and the viewer."""

    def __init__(self, app: DbgApp) -> None:
        self.app = app
        self.viewer = app.viewer
        self.mach = app.mach
        self._resume_play = False  # the machine being selected continues playing (§5.10)

    def _done(self, e: Event) -> None:
        state = e.name.removesuffix("State")
        self.mach.remove1(state)

    # lifecycle --------------------------------------------------------------------------------------

    def StartState(self, e: Event) -> None:
        self.sync_filter_states()
        if not self.app.cfg.view_narrow:
            self.mach.add1(S.ClientListVisible)
        if self.app.cfg.view_reader:
            self.mach.add1(S.LogReaderEnabled)

    def ReadyState(self, e: Event) -> None:
        self.app.on_ready()

    def HeartbeatState(self, e: Event) -> None:
        """Every minute (spec §6.4): over the memory budget, drop old transitions, never the one
        viewed; cursors and filtered indexes shift with the history."""
        self._done(e)
        session = self.viewer.session
        if not session.over_budget:
            return
        keep = {v.mach_id: v.cursor.tx - 1 for v in self.viewer.views.values()}
        dropped = session.gc(keep)
        if not dropped:
            return
        self.viewer.on_dropped(dropped)
        self.app.log_view.forget(None)
        if self.viewer.selected and self.viewer.selected not in session.machines:
            self.viewer.selected = ""
            self.mach.remove1(S.ClientSelected)
        self.app.redraw(clients=True, full=True)

    # network ----------------------------------------------------------------------------------------

    def ConnectEventState(self, e: Event) -> None:
        """Schemas arrived (new machines, reconnects, replaced runs).

        Like Go (docs/architecture.md, "Decisions"): the first machine is selected in tail mode, and so is
        a new run of the viewed program (clean-on-connect or a replaced run), even when tail
        was off; of a program's machines the parent goes first, whatever order they connect in.
        """
        outcomes = e.args.get("outcomes", ())
        session = self.viewer.session
        viewed = self.viewer.selected
        rerun = False
        for out in outcomes:
            for gone in out.removed:
                self.viewer.remove(gone)
                rerun = rerun or gone == viewed
            if out.kind == "replaced":
                self.app.log_view.forget(None)
                if out.mach_id == viewed:
                    self.viewer.remove(out.mach_id)  # a new history: a fresh view of it
                    rerun = True
        if self.viewer.selected and self.viewer.selected not in session.machines:
            self.viewer.selected = ""
        first = not self.viewer.selected
        connected = [h.id for h in session.machines.values() if h.connected]
        fresh = [o.mach_id for o in outcomes if o.mach_id in session.machines]
        target = ""
        if first and fresh:
            target = min(fresh, key=self._tree_rank)  # the program's root first
        for mid in fresh:
            if len(session.machines) == 1 or (self.app.cfg.select_connected and connected == [mid]):
                target = mid
        auto = self.app.auto_selected
        if not target and auto and auto == self.viewer.selected and self.mach.is1(S.TailMode):
            # the first machine was picked for the user, who did not move since: its parent
            # connecting a moment later takes over
            parents = [mid for mid in fresh if self._is_ancestor(mid, auto)]
            if parents:
                target = min(parents, key=self._tree_rank)
        if target:
            cfg = self.app.cfg
            only = len(session.machines) == 1
            if rerun or (first and (cfg.view_tail or only) and not cfg.start_url):
                self.app.want_tail = True
            self.mach.add1(S.SelectingClient, {"id": target, "auto": True})
        self.app.redraw(clients=True)

    def _tree_rank(self, mach_id: str) -> tuple[int, int]:
        """Depth in the machine tree, then arrival order: roots before their children."""
        machines = self.viewer.session.machines
        depth, seen, cur = 0, set(), machines[mach_id].parent_id
        while cur and cur in machines and cur not in seen:
            seen.add(cur)
            depth += 1
            cur = machines[cur].parent_id
        return depth, list(machines).index(mach_id)

    def _is_ancestor(self, anc: str, mach_id: str) -> bool:
        machines = self.viewer.session.machines
        seen: set[str] = set()
        cur = machines[mach_id].parent_id if mach_id in machines else ""
        while cur and cur not in seen:
            if cur == anc:
                return True
            seen.add(cur)
            cur = machines[cur].parent_id if cur in machines else ""
        return False

    def ClientMsgState(self, e: Event) -> None:
        """A batch of transitions was appended to the session: index it, follow it in tail mode."""
        added: dict[str, int] = e.args.get("added", {})
        mine = self.viewer.on_added(added)
        if mine and self.mach.is1(S.TailMode):
            self.viewer.tail()
        self.app.redraw_hot()

    def DisconnectEventState(self, e: Event) -> None:
        self.app.redraw(clients=True)

    # selection --------------------------------------------------------------------------------------

    def SelectingClientEnter(self, e: Event) -> bool:
        return e.args.get("id", "") in self.viewer.session.machines

    def SelectingClientState(self, e: Event) -> None:
        mach_id = e.args["id"]
        self.app.auto_selected = mach_id if e.args.get("auto") else ""
        # Tail and play require ClientSelected, which this transition just removed: the mode the
        # user was in comes back on the new machine (§5.10).
        tx = e.transition()
        before = tx.states_before() if tx is not None else []
        if S.TailMode in before:
            self.app.want_tail = True
        self._resume_play = S.Playing in before
        if self.app.selecting_big(mach_id):  # slow: let the screen show the spinner first
            self.app.status.after_paint(partial(self._select, mach_id))
        else:
            self._select(mach_id)

    def _select(self, mach_id: str) -> None:
        if not self.mach.is1(S.SelectingClient) or mach_id not in self.viewer.session.machines:
            self.app.redraw()  # gone meanwhile: the redraw ends the spinner
            return
        tail = self.mach.is1(S.TailMode) or self.app.want_tail
        self.viewer.select(mach_id, tail=tail)
        self.mach.add1(S.ClientSelected, {"id": mach_id})

    def ClientSelectedState(self, e: Event) -> None:
        if self.app.want_tail:
            self.app.want_tail = False
            self.mach.add1(S.TailMode)
        elif self._resume_play:
            self.mach.add1(S.Playing)
        self._resume_play = False
        hist = self.viewer.history
        if hist is not None and self.viewer.state_name not in hist.state_names:
            self.viewer.state_name = ""
        self.app.redraw(clients=True, full=True)

    def ClientSelectedEnd(self, e: Event) -> None:
        self.app.redraw(clients=True, full=True)

    def StateNameSelectedState(self, e: Event) -> None:
        self.viewer.state_name = e.args.get("state", "")
        self.app.redraw()

    def StateNameSelectedEnd(self, e: Event) -> None:
        self.viewer.state_name = ""
        self.app.redraw()

    def RemoveClientState(self, e: Event) -> None:
        self._done(e)
        mach_id = e.args.get("id", "")
        if mach_id not in self.viewer.session.machines:
            return
        was = self.viewer.selected == mach_id
        order = [m for m, _ in self.app.client_list.order]
        self.viewer.session.remove(mach_id)
        self.viewer.remove(mach_id)
        if was:
            rest = [m for m in order if m != mach_id and m in self.viewer.session.machines]
            if rest:
                k = min(order.index(mach_id), len(rest) - 1)
                self.mach.add1(S.SelectingClient, {"id": rest[k]})
            else:
                self.mach.remove1(S.ClientSelected)
        self.app.redraw(clients=True, full=True)

    # moving through time ----------------------------------------------------------------------------

    def _vis(self) -> nav.Visible | None:
        v = self.viewer.current
        return v.visible if v is not None else None

    def _move(self, e: Event, fn: Any) -> bool:
        """Negotiate a move: accept only when it goes somewhere (stash the result for the final)."""
        vis = self._vis()
        if vis is None:
            return False
        new = fn(vis, self.viewer.cursor)
        if new is None or new == self.viewer.cursor:
            return False
        e.args["_to"] = new
        return True

    def _apply(self, e: Event, forward: bool) -> None:
        self._done(e)
        new: Cursor = e.args["_to"]
        self.viewer.set_cursor(new, forward=forward)
        self.app.redraw()

    def FwdEnter(self, e: Event) -> bool:
        amount = int(e.args.get("amount", 1))
        if amount == 1:
            return self._move(e, nav.next_tx)
        return self._move(e, lambda v, c: nav.jump(v, c, amount))

    def FwdState(self, e: Event) -> None:
        self._apply(e, True)

    def BackEnter(self, e: Event) -> bool:
        amount = int(e.args.get("amount", 1))
        if amount == 1:
            return self._move(e, nav.prev_tx)
        return self._move(e, lambda v, c: nav.jump(v, c, -amount))

    def BackState(self, e: Event) -> None:
        self._apply(e, False)

    def FwdStepEnter(self, e: Event) -> bool:
        return self._move(e, nav.step_fwd)

    def FwdStepState(self, e: Event) -> None:
        self._apply(e, True)

    def BackStepEnter(self, e: Event) -> bool:
        return self._move(e, nav.step_back)

    def BackStepState(self, e: Event) -> None:
        self._apply(e, False)

    def UserFwdState(self, e: Event) -> None:
        self._done(e)

    def UserBackState(self, e: Event) -> None:
        self._done(e)

    def UserFwdStepState(self, e: Event) -> None:
        self._done(e)

    def UserBackStepState(self, e: Event) -> None:
        self._done(e)

    def ScrollToTxEnter(self, e: Event) -> bool:
        return self.viewer.current is not None and "cursor" in e.args

    def ScrollToTxState(self, e: Event) -> None:
        """Go to a 1-based cursor (timeline click, first/last, log click); stops play and tail."""
        self._done(e)
        self.mach.remove([S.Playing, S.TailMode, S.LogUserScrolled])
        cur = self.viewer.cursor
        target = int(e.args["cursor"])
        step = int(e.args.get("step", 0))
        if e.args.get("trim"):
            self.viewer.addresses.trim()
        self.viewer.set_cursor(Cursor(target, step), forward=target >= cur.tx)
        self.app.redraw()

    def ScrollToStepEnter(self, e: Event) -> bool:
        nxt = self.viewer.next_index()
        return nxt is not None and "step" in e.args

    def ScrollToStepState(self, e: Event) -> None:
        self._done(e)
        self.mach.remove([S.Playing, S.TailMode])
        nxt = self.viewer.next_index()
        hist = self.viewer.history
        if nxt is None or hist is None:
            return
        step = max(0, min(int(e.args["step"]), hist.info(nxt).n_steps))
        self.viewer.set_cursor(Cursor(self.viewer.cursor.tx, step), forward=True)
        self.app.redraw()

    def ScrollToMutTxEnter(self, e: Event) -> bool:
        """State jump: the previous/next visible tx that added, removed or called the state."""
        hist = self.viewer.history
        name = e.args.get("state", "")
        if hist is None or name not in hist.state_names:
            return False
        idx = hist.state_names.index(name)
        fwd = bool(e.args.get("fwd", True))
        return self._move(e, lambda v, c: nav.state_jump(v, c, idx, fwd))

    def ScrollToMutTxState(self, e: Event) -> None:
        self._done(e)
        self.mach.remove([S.Playing, S.TailMode])
        new: Cursor = e.args["_to"]
        self.viewer.set_cursor(Cursor(new.tx, 0), forward=bool(e.args.get("fwd", True)))
        self.app.redraw()

    # playback ---------------------------------------------------------------------------------------

    def PlayingState(self, e: Event) -> None:
        self.app.start_play_timer()
        self.app.redraw()

    def PlayingEnd(self, e: Event) -> None:
        self.app.stop_play_timer()
        self.app.redraw()

    def TailModeState(self, e: Event) -> None:
        self.viewer.tail()
        self.app.redraw()

    def TailModeEnd(self, e: Event) -> None:
        self.app.redraw()

    def LogUserScrolledState(self, e: Event) -> None:
        self.app.redraw()

    # filters and tools ------------------------------------------------------------------------------

    def sync_filter_states(self) -> None:
        f = self.viewer.filters
        add = [st for name, st in _FILTER_STATES.items() if getattr(f, name)]
        rem = [st for name, st in _FILTER_STATES.items() if not getattr(f, name)]
        auto = int(f.auto)
        if auto == 0:
            add.append(S.FilterAutoCanceledTx)
            rem.append(S.FilterAutoTx)
        elif auto == 2:
            add.append(S.FilterAutoTx)
            rem.append(S.FilterAutoCanceledTx)
        else:
            rem += [S.FilterAutoTx, S.FilterAutoCanceledTx]
        self.mach.remove(rem)
        self.mach.add(add)

    def ToggleToolState(self, e: Event) -> None:
        self._done(e)
        tool = e.args.get("tool", "")
        app = self.app
        f = self.viewer.filters
        if tool in _FILTER_STATES or tool == "auto":
            tail = self.mach.is1(S.TailMode)
            self.viewer.set_filters(f.toggle(tool))
            self.sync_filter_states()
            if tail:
                self.viewer.tail()
            app.client_list.hide_disconn = self.viewer.filters.disconn
            app.client_list.hide_rpc = self.viewer.filters.rpc
            self.mach.add1(S.ToolToggled, {"tool": tool})
        elif tool == "log":
            self.mach.add1(S.SetLogLevel, {"level": (f.log_level + 1) % 6})
        elif tool == "timelines":
            app.timelines = (app.timelines + 1) % 3
            self.mach.add1(S.ToolToggled, {"tool": tool})
        elif tool == "narrow":
            if self.mach.is1(S.UserNarrowLayout):
                self.mach.remove([S.UserNarrowLayout, S.NarrowLayout])
                app.check_narrow()
            else:
                self.mach.add1(S.UserNarrowLayout)
        elif tool == "expand":
            app.states_tree.expand_all()
        else:
            app.run_tool_action(tool)

    def ToolToggledState(self, e: Event) -> None:
        self._done(e)
        self.app.redraw(clients=True, full=True)

    def SetLogLevelState(self, e: Event) -> None:
        self._done(e)
        level = int(e.args.get("level", 2))
        # the level only changes which log lines show, not which transitions are visible
        self.viewer.filters = self.viewer.filters.with_log_level(level)
        self.app.redraw(full=True)

    def SetGroupState(self, e: Event) -> None:
        self._done(e)
        self.viewer.set_group(e.args.get("group", ""))
        self.app.redraw(full=True)

    # layout -----------------------------------------------------------------------------------------

    def NarrowLayoutState(self, e: Event) -> None:
        self.app.apply_layout()

    def NarrowLayoutEnd(self, e: Event) -> None:
        self.mach.add1(S.ClientListVisible)
        self.app.apply_layout()

    def HelpDialogState(self, e: Event) -> None:
        self.app.show_help()

    def HelpDialogEnd(self, e: Event) -> None:
        self.app.hide_help()
