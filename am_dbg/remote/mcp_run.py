"""The MCP server of ``am-dbg --ui-mcp [ADDR|stdio]`` in the debugger's event loop (docs/remote.md).

It runs beside the app (the viewer "main"), so its tools read the live session and mutate the
app's machine without locks:

- ``ADDR`` (default 127.0.0.1:6833): streamable HTTP at ``http://ADDR/mcp``; the TUI stays in the
  terminal (the user and the model look at the same screen) unless ``--headless`` is given, when
  the app runs on Textual's headless driver (the screen snapshot still works);
- ``stdio``: MCP over stdin/stdout (how MCP hosts launch servers), the app always headless; the
  process ends when the client closes stdin.

Non-loopback addresses are refused unless ``--insecure`` (the MCP server has no login of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from am_dbg.remote.hub import Hub
from am_rpc.dbg.addr import join_addr, split_addr

__all__ = ["MCP_PATH", "LazyMcpApp", "start_mcp"]

MCP_PATH = "/mcp"


async def start_mcp(addr: str, hub: Hub, app: Any) -> Callable[[], Awaitable[None]]:
    """Start serving; returns the coroutine function that stops it. Raises `OSError` when the
    address cannot be bound. Must be called before the app runs (stdio claims fds 0 and 1)."""
    if addr == "stdio":
        from am_dbg.remote.mcp_server import build_server

        task = asyncio.create_task(_stdio(build_server(hub), app))
        # Its first step claims fds 0 and 1 (the wire) and points them at /dev/null and
        # stderr: it must run before Textual replaces sys.stdout with its print capture.
        await asyncio.sleep(0)
        if task.done():
            task.result()  # raise why it could not start

        async def stop_stdio() -> None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

        return stop_stdio
    sock = _bind(addr)
    host, port = sock.getsockname()[:2]
    lazy = LazyMcpApp(hub, split_addr(addr)[0])
    http = _http_server(lazy)
    print(f"mcp on http://{join_addr(host, port)}{MCP_PATH}", file=sys.stderr, flush=True)
    serving = asyncio.create_task(http.serve(sockets=[sock]))

    async def stop_http() -> None:
        http.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serving, 5)
        await lazy.close()

    return stop_http


async def _stdio(mcp: Any, app: Any) -> None:
    """MCP over stdin/stdout; the app quits when the client goes away."""
    try:
        await mcp.run_stdio_async()
    finally:
        app.call_next(app.exit)


def _bind(addr: str) -> socket.socket:
    host, port = split_addr(addr)
    family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class LazyMcpApp:
    """The ASGI app of the endpoint, built on its first request.

    Importing the MCP SDK (its pydantic models) costs more CPU than the rest of the start-up
    together (docs/remote.md, "Start-up"); until a client calls, the socket is bound and
    uvicorn accepts, and the first request waits for the SDK once. The MCP app's lifespan (its
    session manager's task group) runs in a task of its own, entered and left there."""

    def __init__(self, hub: Hub, host: str) -> None:
        self.hub = hub
        self.host = host
        self._app: Any = None
        self._building: asyncio.Future[Any] | None = None
        self._life: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # uvicorn's lifespan is "off": nothing to start yet
            return
        app = self._app or await self._build()
        await app(scope, receive, send)

    async def _build(self) -> Any:
        if self._building is None:
            self._building = asyncio.get_running_loop().create_future()
            self._life = asyncio.create_task(self._run(self._building))
        return await asyncio.shield(self._building)

    async def _run(self, built: asyncio.Future[Any]) -> None:
        try:
            from am_dbg.remote.mcp_server import build_server

            mcp = build_server(self.hub)
            app = mcp.streamable_http_app(streamable_http_path=MCP_PATH, host=self.host)
            async with app.router.lifespan_context(app):
                self._app = app
                built.set_result(app)
                await self._stop.wait()
        except BaseException as err:
            if not built.done():
                built.set_exception(err)
            raise

    async def close(self) -> None:
        """End the MCP app's lifespan (when it was built)."""
        self._stop.set()
        if self._life is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._life, 5)


def _http_server(app: Any) -> Any:
    """A uvicorn server for the MCP app that leaves signals and logging to the debugger."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the debugger's loop handles them
            yield

    config = uvicorn.Config(
        app, log_level="critical", log_config=None, access_log=False, lifespan="off"
    )
    return Server(config)
