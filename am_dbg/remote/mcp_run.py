"""``am-dbg --ui-mcp [ADDR|stdio]``: the debugger with an MCP server beside it (docs/remote.md).

The app is the usual `DbgApp` (the viewer "main"), set up by `am_dbg.ui.runner.UiRun` exactly as
the plain UI is (``-i``, ``--record``, the ingest server). The MCP server runs in the same event
loop, so its tools read the live session and mutate the app's machine without locks:

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
import signal
import sys
from collections.abc import Iterator
from functools import partial
from typing import Any

from am_dbg.config import Config
from am_rpc.dbg.addr import join_addr, split_addr

__all__ = ["HEADLESS_SIZE", "MCP_PATH", "run_mcp"]

MCP_PATH = "/mcp"
HEADLESS_SIZE = (160, 50)


def _err(msg: str) -> None:
    print(f"am-dbg: {msg}", file=sys.stderr, flush=True)


def run_mcp(cfg: Config) -> int:
    """Run the app and the MCP server until the app quits (or SIGINT/SIGTERM, or stdin closes
    with ``stdio``); returns the exit code."""
    try:
        return asyncio.run(_run(cfg))
    except KeyboardInterrupt:
        return 130


async def _run(cfg: Config) -> int:
    from am_dbg.remote.hub import Hub
    from am_dbg.remote.mcp_server import build_server
    from am_dbg.ui.runner import UiRun, summary_lines

    stdio = cfg.ui_mcp == "stdio"
    headless = cfg.headless or stdio
    ui = UiRun(cfg)
    http: Any = None
    task: asyncio.Task[Any] | None = None
    app: Any = None
    try:
        code = await ui.open()
        if code is not None:
            return code
        app = ui.app
        hub = Hub(ui.session)
        hub.attach("main", app)
        mcp = build_server(hub)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, partial(app.call_next, app.exit))
        if stdio:
            task = asyncio.create_task(_stdio(mcp, app))
            # Its first step claims fds 0 and 1 (the wire) and points them at /dev/null and
            # stderr: it must run before Textual replaces sys.stdout with its print capture.
            await asyncio.sleep(0)
            if task.done():
                task.result()  # raise why it could not start
        else:
            http = _http_server(mcp, cfg.ui_mcp)
            try:
                sockets = [_bind(cfg.ui_mcp)]
            except OSError as err:
                _err(f"--ui-mcp {cfg.ui_mcp}: {err.strerror or err}")
                return 2
            host, port = sockets[0].getsockname()[:2]
            print(f"mcp on http://{join_addr(host, port)}{MCP_PATH}", file=sys.stderr, flush=True)
            task = asyncio.create_task(http.serve(sockets=sockets))
        await app.run_async(
            headless=headless, size=HEADLESS_SIZE if headless else None, mouse=cfg.enable_mouse
        )
    finally:
        if http is not None:
            http.should_exit = True
        if task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
        await ui.close()
    for line in summary_lines(ui.session):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    return app.return_code or 0


async def _stdio(mcp: Any, app: Any) -> None:
    """MCP over stdin/stdout; the app quits when the client goes away."""
    try:
        await mcp.run_stdio_async()
    finally:
        app.call_next(app.exit)


def _bind(addr: str) -> Any:
    import socket

    host, port = split_addr(addr)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, kind, proto, _, sockaddr = infos[0]
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
