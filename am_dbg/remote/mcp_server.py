"""The MCP tools of ``am-dbg --ui-mcp`` (docs/remote.md), on the official `mcp` SDK (the ``[mcp]`` extra).

Read tools answer from the shared `Session` (`am_dbg.remote.query`); viewer tools drive a running
app through mutations of its own machine (`am_dbg.remote.control`). Every answer is bounded
(limits, offsets, ``left_off``); a bad argument — a wrong type, an unknown machine, state,
filter or viewer, an index out of range — is a tool error whose text says what to give instead,
never a crash of the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from am_dbg import __version__
from am_dbg.remote import query
from am_dbg.remote.control import SNAPSHOT_MAX_LINES
from am_dbg.remote.errors import RemoteError
from am_dbg.remote.hub import Hub

__all__ = ["INSTRUCTIONS", "build_server"]

F = TypeVar("F", bound=Callable[..., Any])

INSTRUCTIONS = """\
am-dbg is a debugger for asyncmachine state machines. It holds the history of every connected
(or recorded) machine: each transition says which states were called, whether it was accepted,
canceled or only queued, its resolution steps and its log lines. Start with list_machines, then
read_schema or find_transitions on one machine; read_transition shows one transition in full;
states_at tells which states were active at a moment. Indexes are 0-based positions in a
machine's history; a viewer's "cursor" is index + 1 (0 = before the first transition). A viewer
is a debugger screen with its own cursor and filters: move_cursor, select_machine, set_filter and
screen_snapshot act on it the way a user's keys would."""

_READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
_DRIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def _tool_errors(fn: F) -> F:
    """A `RemoteError` becomes a tool error with its message (the model reads it and retries)."""

    @wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            res = fn(*args, **kwargs)
            if isinstance(res, Awaitable):
                res = await res
        except RemoteError as err:
            raise ToolError(str(err)) from None
        return res

    return call  # type: ignore[return-value]


def build_server(hub: Hub) -> MCPServer:
    """An MCP server whose tools read `hub.session` and drive `hub.viewers`."""
    mcp = MCPServer(
        name="am-dbg",
        title="am-dbg, the asyncmachine debugger",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
    )
    session = hub.session

    def tool(annotations: ToolAnnotations) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            mcp.add_tool(_tool_errors(fn), annotations=annotations, structured_output=True)
            return fn

        return deco

    @tool(_READ)
    def list_machines(offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """List the machines the debugger knows: id, parent, tags, number of states and of
        transitions (queued mutations counted apart), connected or not, time of the newest
        transition. Paged: `offset` and `limit` (max 200); `left_off` says how many more."""
        return query.list_machines(session, offset, limit)

    @tool(_READ)
    def read_schema(machine: str) -> dict[str, Any]:
        """The schema of one machine: every state with its relations (require, add, remove,
        after), its auto/multi flags and tags, and the state groups."""
        return query.read_schema(session, machine)

    @tool(_READ)
    def find_transitions(
        machine: str,
        state: str | None = None,
        result: Literal["accepted", "canceled", "queued"] | None = None,
        since: str | None = None,
        until: str | None = None,
        text: str | None = None,
        errors_only: bool = False,
        newest_first: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Search one machine's transitions; every given criterion must hold.

        - state: the transition called, added, removed or touched this state;
        - result: "accepted", "canceled" or "queued" (a queued mutation, not yet executed);
        - since / until: ISO 8601 times (UTC unless a zone is given, e.g. 2024-07-22T13:29:41Z)
          or nanoseconds since the epoch, inclusive;
        - text: case-insensitive substring of the tx id, a called state or a log line;
        - errors_only: an error state (Exception, Err*) is active after the transition.
        Returns `total` matches and a page of summaries (index, cursor, id, time, type, called,
        result, added, removed, flags), oldest first unless `newest_first`; `limit` max 200."""
        return query.find_transitions(
            session,
            machine,
            state=state,
            result=result,
            since=since,
            until=until,
            text=text,
            errors_only=errors_only,
            newest_first=newest_first,
            offset=offset,
            limit=limit,
        )

    @tool(_READ)
    def read_transition(
        machine: str, index: int | None = None, tx_id: str | None = None, max_log_lines: int = 100
    ) -> dict[str, Any]:
        """One transition in full: its summary, resolution steps ("A require B", "handler
        AState"), log lines (level 0-5, text), arguments, and the active states before and after.
        Address it by `index` (0-based; -1 = the newest) or by `tx_id`. Log lines are capped by
        `max_log_lines` (max 500; `log_left_off` says how many were cut)."""
        return query.read_transition(session, machine, index, tx_id, max_log_lines)

    @tool(_READ)
    def states_at(
        machine: str, index: int | None = None, time: str | None = None
    ) -> dict[str, Any]:
        """Which states were active, and every state's clock (its activation counter: odd =
        active), right after transition `index` (0-based; default the newest), or after the last
        transition at or before `time` (ISO 8601 or ns since the epoch)."""
        return query.states_at(session, machine, index, time)

    @tool(_READ)
    def list_viewers() -> dict[str, Any]:
        """The viewers (debugger screens) attached, each with its machine, cursor and filters.
        Pass a viewer's name to the viewer tools; "main" is the first one."""
        return {"viewers": [v.status() for v in hub.viewers.values()]}

    @tool(_READ)
    def viewer_status(viewer: str = "main") -> dict[str, Any]:
        """What one viewer shows: selected machine, cursor (index + 1; 0 = before the first
        transition), step, the transition at the cursor, hidden kinds of transitions, tail/play."""
        return hub.viewer(viewer).status()

    @tool(_DRIVE)
    async def select_machine(machine: str, viewer: str = "main") -> dict[str, Any]:
        """Show another machine in a viewer (as clicking it in the client list). The viewer
        lands at the same moment in time it was looking at, or at the newest when tailing."""
        return await hub.viewer(viewer).select(machine)

    @tool(_DRIVE)
    async def move_cursor(
        viewer: str = "main",
        machine: str | None = None,
        index: int | None = None,
        tx_id: str | None = None,
        to: Literal[
            "next", "prev", "first", "newest", "next_step", "prev_step", "state_next", "state_prev"
        ]
        | None = None,
        amount: int = 1,
        state: str | None = None,
        step: int = 0,
    ) -> dict[str, Any]:
        """Move a viewer's cursor, exactly one of:
        - index: go to that transition (0-based; -1 = before the first), optional `step`;
        - tx_id: go to that transition;
        - to: "next"/"prev" (by `amount` visible transitions), "first", "newest" (and keep
          following new ones: tail mode), "next_step"/"prev_step" (steps of the next
          transition), "state_next"/"state_prev" (the next/previous transition touching `state`).
        `machine` selects that machine first. Filters hide some transitions: a move lands on a
        visible one, and a refused move says so in `note`. Returns the viewer's status."""
        return await hub.viewer(viewer).move(
            machine=machine, index=index, tx_id=tx_id, to=to, amount=amount, state=state, step=step
        )

    @tool(_DRIVE)
    async def set_filter(name: str, hidden: bool, viewer: str = "main") -> dict[str, Any]:
        """Hide (hidden=true) or show one kind of transition in a viewer: "canceled", "queued",
        "empty", "health" (Healthcheck/Heartbeat), "checks", "group" (outside the selected group),
        "disconn" (disconnected machines), "rpc" (aRPC machines). Returns the viewer's status."""
        return await hub.viewer(viewer).set_filter(name, hidden)

    @tool(_DRIVE)
    async def set_auto_filter(
        mode: Literal["show-all", "hide-canceled", "hide-all"], viewer: str = "main"
    ) -> dict[str, Any]:
        """Which automatic transitions a viewer shows: "show-all", "hide-canceled" (the default)
        or "hide-all". Returns the viewer's status."""
        return await hub.viewer(viewer).set_auto_filter(mode)

    @tool(_READ)
    async def screen_snapshot(viewer: str = "main", max_lines: int = SNAPSHOT_MAX_LINES) -> str:
        """The viewer's screen as plain text, as a user sees it: client list, states tree (active
        states marked), log, timelines, status bar. At most `max_lines` lines (max 200)."""
        if not isinstance(max_lines, int) or max_lines < 1:
            raise RemoteError(f"max_lines: expected a positive integer, got {max_lines!r}")
        ctl = hub.viewer(viewer)
        await ctl.settle()
        return ctl.snapshot(min(max_lines, SNAPSHOT_MAX_LINES))

    return mcp
