"""A viewer (a running `DbgApp`) driven from outside, the way a user drives it (docs/remote.md).

Every change is a mutation of the viewer's own machine (`am_dbg/states.py`): selecting a machine
adds ``SelectingClient``, a cursor move ``ScrollToTx`` / ``Fwd`` / ``Back`` / ``ScrollToMutTx``, a
filter toggle ``ToggleTool`` — exactly the states a key press adds, so the handlers, the address
history and the redraw are the ones a user gets. The mutation runs inside the app's message loop
(`call_later`, where Textual's context is set), then `settle` waits until the screen has
processed what it caused. `snapshot` is the screen as plain text.

The coupling to the UI is the app's small surface only: ``mach``, ``viewer``, ``session``,
``screen`` and ``frames``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any, TypeVar

from am_core import Result
from am_dbg.model.history import MachineHistory
from am_dbg.model.viewer import Viewer
from am_dbg.remote.errors import RemoteError
from am_dbg.remote.query import history_of, tx_summary
from am_dbg.states import DbgStates as S

__all__ = ["FILTERS", "MOVES", "SNAPSHOT_MAX_LINES", "ViewerControl"]

T = TypeVar("T")

# what a filter is called here -> its state (active = hidden), as the toolbar's tools
FILTERS = {
    "canceled": S.FilterCanceledTx,
    "queued": S.FilterQueuedTx,
    "empty": S.FilterEmptyTx,
    "health": S.FilterHealth,
    "checks": S.FilterChecks,
    "group": S.FilterOutGroup,
    "disconn": S.FilterDisconn,
    "rpc": S.FilterRpcMachs,
}
MOVES = ("next", "prev", "first", "newest", "next_step", "prev_step", "state_next", "state_prev")
SNAPSHOT_MAX_LINES = 200


class ViewerControl:
    """One viewer, addressed by `name` in the MCP tools."""

    def __init__(self, name: str, app: Any) -> None:
        self.name = name
        self.app = app

    # running inside the app ---------------------------------------------------------------------

    async def run(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Call `fn` in the app's message loop and return its result (or raise its error)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()

        def call() -> None:
            try:
                res = fn()
            except Exception as err:  # handed to the caller, never into the app's loop
                if not fut.done():
                    fut.set_exception(err)
                return
            if not fut.done():
                fut.set_result(res)

        if not self.app.call_later(call):
            raise RemoteError(f"viewer {self.name!r} is closing")
        res = await asyncio.wait_for(fut, timeout)
        await self.settle(timeout)
        return res

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the app and every widget of its screen processed what is queued now."""
        app = self.app
        try:
            screen = app.screen
        except Exception:  # not running (yet / any more)
            return
        pending = 0
        done = asyncio.Event()

        def one() -> None:
            nonlocal pending
            pending -= 1
            if pending == 0:
                done.set()

        for node in [app, *screen.walk_children(with_self=True)]:
            if node.call_later(one):
                pending += 1
        if pending:
            try:
                await asyncio.wait_for(done.wait(), timeout)
            except TimeoutError:
                raise RemoteError(f"viewer {self.name!r} did not settle in {timeout:g}s") from None

    # reading ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What this viewer shows: machine, cursor, step, filters, modes."""
        v: Viewer = self.app.viewer
        mach = self.app.mach
        out: dict[str, Any] = {"viewer": self.name, "machine": v.selected or None}
        h = v.history
        c = v.cursor
        out["cursor"] = c.tx
        out["step"] = c.step
        if h is not None:
            out["transitions"] = len(h)
            out["visible"] = len(v.current.visible) if v.current is not None else 0
            if 0 < c.tx <= len(h):
                out["at"] = tx_summary(h, c.tx - 1)
            else:
                out["at"] = None  # the schema, before the first transition
            out["address"] = str(v.url())
        out["hidden"] = [name for name, st in FILTERS.items() if mach.is1(st)]
        out["auto_filter"] = (
            "hide-all"
            if mach.is1(S.FilterAutoTx)
            else ("hide-canceled" if mach.is1(S.FilterAutoCanceledTx) else "show-all")
        )
        out["tail"] = mach.is1(S.TailMode)
        out["playing"] = mach.is1(S.Playing)
        return out

    def snapshot(self, max_lines: int = SNAPSHOT_MAX_LINES) -> str:
        """The screen as plain text, the way `App.export_screenshot` renders it (without styles)."""
        from rich.console import Console

        app = self.app
        width, height = app.size
        console = Console(
            width=width,
            height=height,
            file=io.StringIO(),
            force_terminal=True,
            color_system=None,
            record=True,
            legacy_windows=False,
            safe_box=False,
        )
        # Textual's own screenshot goes through the compositor the same way
        console.print(app.screen._compositor.render_update(full=True))
        lines = console.export_text(styles=False).rstrip("\n").split("\n")
        lines = [ln.rstrip() for ln in lines]
        if len(lines) > max_lines:
            lines = [*lines[:max_lines], f"... {len(lines) - max_lines} more lines"]
        return "\n".join(lines)

    # driving ------------------------------------------------------------------------------------

    async def select(self, mach_id: str) -> dict[str, Any]:
        history_of(self.app.session, mach_id)  # names it when unknown

        def go() -> None:
            if self.app.mach.add1(S.SelectingClient, {"id": mach_id}) == Result.CANCELED:
                raise RemoteError(f"viewer {self.name!r} refused to select {mach_id!r}")

        await self.run(go)
        await self._wait(lambda: self.app.viewer.selected == mach_id, f"select {mach_id!r}")
        return self.status()

    async def _wait(self, cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Selecting a big machine finishes after a paint: poll until it did."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not cond():
            if loop.time() > end:
                raise RemoteError(f"viewer {self.name!r}: {what} did not finish in {timeout:g}s")
            await asyncio.sleep(0.02)

    async def move(
        self,
        *,
        machine: str | None = None,
        index: int | None = None,
        tx_id: str | None = None,
        to: str | None = None,
        amount: int = 1,
        state: str | None = None,
        step: int = 0,
    ) -> dict[str, Any]:
        """Move the cursor: to a transition (`index` 0-based or `tx_id`), or relatively (`to`)."""
        given = sum(x is not None for x in (index, tx_id, to))
        if given != 1:
            raise RemoteError("give exactly one of index, tx_id or to")
        if to is not None and to not in MOVES:
            raise RemoteError(f"to: expected one of {', '.join(MOVES)}, got {to!r}")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            raise RemoteError(f"amount: expected a positive integer, got {amount!r}")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise RemoteError(f"step: expected an integer >= 0, got {step!r}")
        if machine is not None and machine != self.app.viewer.selected:
            await self.select(machine)
        h: MachineHistory | None = self.app.viewer.history
        if h is None:
            raise RemoteError(f"viewer {self.name!r} has no machine selected: give machine")
        if to in ("state_next", "state_prev") and (state is None or state not in h.state_names):
            raise RemoteError(f"to={to} needs state, one of machine {h.id!r}'s states")
        cursor: int | None = None
        if tx_id is not None:
            i = h.index_of(tx_id)
            if i is None:
                raise RemoteError(f"machine {h.id!r} has no transition {tx_id!r}")
            cursor = i + 1
        elif index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise RemoteError(f"index: expected an integer, got {index!r}")
            if not -1 <= index < len(h):
                raise RemoteError(
                    f"index {index} out of range: machine {h.id!r} has {len(h)} transitions "
                    "(-1 = the schema, before the first)"
                )
            cursor = index + 1
        before = self.app.viewer.cursor
        mach = self.app.mach

        def go() -> Any:
            if cursor is not None:
                return mach.add1(S.ScrollToTx, {"cursor": cursor, "step": step})
            if to == "next":
                return mach.add1(S.UserFwd, {"amount": amount})
            if to == "prev":
                return mach.add1(S.UserBack, {"amount": amount})
            if to == "first":
                return mach.add1(S.ScrollToTx, {"cursor": 0})
            if to == "newest":
                return mach.add1(S.TailMode)
            if to == "next_step":
                return mach.add1(S.UserFwdStep)
            if to == "prev_step":
                return mach.add1(S.UserBackStep)
            return mach.add1(S.ScrollToMutTx, {"state": state, "fwd": to == "state_next"})

        res = await self.run(go)
        out = self.status()
        out["moved"] = self.app.viewer.cursor != before
        if res == Result.CANCELED:
            out["note"] = "refused: nothing visible that way (filters hide transitions)"
        return out

    async def set_filter(self, name: str, hidden: bool) -> dict[str, Any]:
        """Hide (`hidden`) or show one kind of transition in this viewer."""
        if not isinstance(hidden, bool):
            raise RemoteError(f"hidden: expected true or false, got {hidden!r}")
        if name == "auto":
            raise RemoteError("filter 'auto' has three settings: use set_auto_filter")
        st = FILTERS.get(name) if isinstance(name, str) else None
        if st is None:
            raise RemoteError(f"no filter {name!r} (filters: {', '.join(FILTERS)})")
        mach = self.app.mach

        def go() -> None:
            if mach.is1(st) != hidden:
                mach.add1(S.ToggleTool, {"tool": name})

        await self.run(go)
        return self.status()

    async def set_auto_filter(self, mode: str) -> dict[str, Any]:
        """Auto transitions: "show-all", "hide-canceled" or "hide-all" (the toolbar's cycle)."""
        modes = ("show-all", "hide-canceled", "hide-all")
        if mode not in modes:
            raise RemoteError(f"mode: expected one of {', '.join(modes)}, got {mode!r}")
        mach = self.app.mach

        def current() -> str:
            if mach.is1(S.FilterAutoTx):
                return "hide-all"
            return "hide-canceled" if mach.is1(S.FilterAutoCanceledTx) else "show-all"

        for _ in range(3):
            if current() == mode:
                break
            await self.run(lambda: mach.add1(S.ToggleTool, {"tool": "auto"}))
        return self.status()
