"""``am-dbg --ui-repl [ADDR]``: the debugger's own machine served over aRPC, for ``am-repl`` (docs/remote.md).

The source is the main viewer's machine (`am_dbg/states.py`): a REPL attached to it lists and
inspects the debugger's states, and adds / removes them the way a key press does
(``add SelectingClient id=ps-1``, ``add UserFwd amount=5``, ``when ClientSelected``).

Its handlers drive Textual widgets, so a mutation must run in the app's message loop, never in
one of aRPC's worker threads: `ViewerSource` is that machine as an aRPC source whose ``add`` /
``remove`` / ``set`` hand the call to the viewer (`ViewerControl.run`, as the MCP tools do) and
wait for its result. Reads (names, clocks, schema, tracer) are the machine's own; its tracer
pushes every change, the debugger's own included, to each client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from am_dbg.remote.control import ViewerControl

__all__ = ["ViewerSource", "start_repl_server"]

MUTATION_TIMEOUT = 30.0  # a viewer that does not answer a mutation in this long is stuck


class ViewerSource:
    """A viewer's machine as an aRPC source: mutations in the app's loop, the rest its own."""

    def __init__(self, ctl: ViewerControl, loop: asyncio.AbstractEventLoop) -> None:
        self.ctl = ctl
        self.mach = ctl.app.mach
        self.loop = loop

    def __getattr__(self, name: str) -> Any:  # id, state_names, time, schema, tracer_bind...
        return getattr(self.mach, name)

    def _in_app(self, kind: str, states: Any, args: Any) -> Any:
        fn = getattr(self.mach, kind)
        fut = asyncio.run_coroutine_threadsafe(
            self.ctl.run(lambda: fn(states, args), MUTATION_TIMEOUT), self.loop
        )
        return fut.result(MUTATION_TIMEOUT + 5)

    def add(self, states: Any, args: Any = None) -> Any:
        return self._in_app("add", states, args)

    def remove(self, states: Any, args: Any = None) -> Any:
        return self._in_app("remove", states, args)

    def set(self, states: Any, args: Any = None) -> Any:
        return self._in_app("set", states, args)


async def start_repl_server(
    addr: str, ctl: ViewerControl, token: str = ""
) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Serve `ctl`'s machine on `addr`; (the bound address, its stopper). Raises `OSError` or
    `am_rpc.RpcError` when it cannot listen."""
    from am_rpc import serve

    source = ViewerSource(ctl, asyncio.get_running_loop())
    # inline=False: a mutation waits for the app's loop, so it must not run on a loop thread
    mux = await asyncio.to_thread(
        serve, source, addr, name="am-dbg-repl", inline=False, token=token or None
    )

    async def stop() -> None:
        await asyncio.to_thread(mux.close)

    return str(mux.addr), stop
