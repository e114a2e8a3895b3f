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

__all__ = ["MCP_PATH", "start_mcp"]

MCP_PATH = "/mcp"


async def start_mcp(addr: str, hub: Hub, app: Any) -> Callable[[], Awaitable[None]]:
    """Start serving; returns the coroutine function that stops it. Raises `OSError` when the
    address cannot be bound. Must be called before the app runs (stdio claims fds 0 and 1)."""
    from am_dbg.remote.mcp_server import build_server

    mcp = build_server(hub)
    if addr == "stdio":
        task = asyncio.create_task(_stdio(mcp, app))
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
    http = _http_server(mcp, addr)
    print(f"mcp on http://{join_addr(host, port)}{MCP_PATH}", file=sys.stderr, flush=True)
    serving = asyncio.create_task(http.serve(sockets=[sock]))

    async def stop_http() -> None:
        http.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serving, 5)

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


def _http_server(mcp: Any, addr: str) -> Any:
    """A uvicorn server for the MCP app that leaves signals and logging to the debugger."""
    import uvicorn

    host, _ = split_addr(addr)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the debugger's loop handles them
            yield

    starlette = mcp.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    config = uvicorn.Config(
        starlette, log_level="critical", log_config=None, access_log=False, lifespan="on"
    )
    return Server(config)
