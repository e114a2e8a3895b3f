"""``am-dbg --ui-mcp`` / ``--ui-ssh`` / ``--ui-repl``: the app plus the remote front ends, in one loop.

The app is the usual `DbgApp`, set up by `am_dbg.ui.runner.UiRun` exactly as the plain UI is
(``-i``, ``--record``, ``--fwd-data``, the ingest server), in the terminal or — with ``--headless``
or ``--ui-mcp stdio`` — on Textual's headless driver. Beside it: the MCP server
(`am_dbg.remote.mcp_run`, the app is its viewer "main") and the SSH server (`am_dbg.remote.ssh`,
one viewer process per login, fed by a `Fanout` that takes the ingest server's forward hook) and
the aRPC server of the app's machine for ``am-repl`` (`am_dbg.remote.repl_serve`).
Everything stops when the app quits, on SIGINT/SIGTERM, or when an stdio MCP client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from am_dbg.config import Config

__all__ = ["HEADLESS_SIZE", "run_remote"]

HEADLESS_SIZE = (160, 50)


def _err(msg: str) -> None:
    print(f"am-dbg: {msg}", file=sys.stderr, flush=True)


def run_remote(cfg: Config) -> int:
    """Run until the app quits; returns the exit code.

    ``--headless --ui-ssh`` without ``--ui-mcp`` / ``--ui-repl`` needs no app in this process: the headless
    ingest (`am_dbg.headless`) runs with the SSH server attached, which starts faster."""
    if cfg.headless and cfg.ui_ssh and not cfg.ui_mcp and not cfg.ui_repl:
        from am_dbg.headless import run_headless

        return run_headless(cfg, attach=partial(_start_ssh, cfg))
    try:
        return asyncio.run(_run(cfg))
    except KeyboardInterrupt:
        return 130


async def _run(cfg: Config) -> int:
    from am_dbg.remote.hub import Hub
    from am_dbg.ui.runner import UiRun, summary_lines

    headless = cfg.headless or cfg.ui_mcp == "stdio"
    ui = UiRun(cfg)
    stops: list[Callable[[], Awaitable[None]]] = []
    app: Any = None
    try:
        code = await ui.open()
        if code is not None:
            return code
        app = ui.app
        # before any "... on ADDR" line: a SIGTERM sent as soon as one is read must quit cleanly
        # (the app takes the exit from its queue when it starts)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, partial(app.call_next, app.exit))
        if cfg.ui_ssh:
            got = await _start_ssh(cfg, ui.session, ui.server, ui.forwarder)
            if isinstance(got, int):
                return got
            stops.append(got)
        hub = Hub(ui.session)
        main = hub.attach("main", app)
        if cfg.ui_repl:
            from am_dbg.remote.repl_serve import start_repl_server
            from am_rpc import RpcError

            try:
                bound, stop = await start_repl_server(cfg.ui_repl, main, cfg.token)
            except (OSError, RpcError) as err:
                _err(f"--ui-repl {cfg.ui_repl}: {getattr(err, 'strerror', None) or err}")
                return 2
            stops.append(stop)
            print(f"repl on {bound}", file=sys.stderr, flush=True)
        if cfg.ui_mcp:
            from am_dbg.remote.mcp_run import start_mcp

            try:
                stops.append(await start_mcp(cfg.ui_mcp, hub, app))
            except OSError as err:
                _err(f"--ui-mcp {cfg.ui_mcp}: {err.strerror or err}")
                return 2
        await app.run_async(
            headless=headless, size=HEADLESS_SIZE if headless else None, mouse=cfg.enable_mouse
        )
    finally:
        for stop in reversed(stops):
            await stop()
        await ui.close()
    for line in summary_lines(ui.session):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    return app.return_code or 0


async def _start_ssh(
    cfg: Config, session: Any, server: Any, forwarder: Any
) -> Callable[[], Awaitable[None]] | int:
    """Start the SSH server on the ingest's forward hook; its stopper, or an exit code."""
    from am_dbg.remote.fanout import Fanout
    from am_dbg.remote.ssh import SshError, SshServer
    from am_rpc.dbg.addr import join_addr

    fanout = Fanout(session, forward=forwarder)
    if server is not None:
        server.forward = fanout  # what the ingest accepts goes to every viewer too
    args = ["--view-theme", cfg.view_theme, "--max-clients", str(cfg.max_clients)]
    ssh = SshServer(fanout, cfg.ui_ssh, cfg.ui_ssh_keys, tuple(args))
    try:
        await ssh.start()
    except SshError as err:
        _err(str(err))
        return 2
    print(f"ssh on {join_addr(*ssh.bound)}", file=sys.stderr, flush=True)

    async def stop() -> None:
        await ssh.close()
        if server is not None:
            server.forward = forwarder
        fanout.forward = None  # its owner closes the --fwd-data forwarder
        fanout.close()

    return stop
