"""`am-dbg` with the UI: what must happen before Textual takes the terminal and after it gives it back.

Textual draws on stderr, so every line for the user is printed around the app, never during it:
before — load `-i` and say what a damaged file lost, open `--record` / `--fwd-data`, bind the server
and print ``listening on HOST:PORT`` (a bind error is one line and exit 2, or offline with `-i`);
after (quit, SIGINT, SIGTERM) — close the server, forwarder and recording, print ``Clients: N``,
``Transitions: N`` and ``Memory: Nmb`` like the headless mode.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from functools import partial
from typing import Any

from am_dbg.config import Config
from am_dbg.model.session import Session

__all__ = ["UiRun", "run_ui", "summary_lines"]


def _err(msg: str) -> None:
    print(f"am-dbg: {msg}", file=sys.stderr, flush=True)


def summary_lines(session: Session) -> list[str]:
    from am_dbg.summary import exit_lines

    return exit_lines(session)


def run_ui(cfg: Config) -> int:
    """Run the TUI until the user quits (or SIGINT / SIGTERM); returns the exit code."""
    try:
        return asyncio.run(_run(cfg))
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return 130


async def _run(cfg: Config) -> int:
    ui = UiRun(cfg)
    try:
        code = await ui.open()
        if code is not None:
            return code
        app = ui.app
        assert app is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:  # into the app's own loop: Textual's context is not set in a signal callback
                loop.add_signal_handler(sig, partial(app.call_next, app.exit))
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass
        await app.run_async(mouse=cfg.enable_mouse)
    finally:
        await ui.close()
    for line in summary_lines(ui.session):
        print(line, file=sys.stderr)
    sys.stderr.flush()
    return app.return_code or 0


class UiRun:
    """The app with its `--record` writer, `--fwd-data` forwarder and bound server.

    `open()` prints what the user must see before the screen is taken and returns an exit code
    when it cannot go on (None: `app` is ready to run); `close()` releases everything, always.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.recorder: Any = None
        self.forwarder: Any = None
        self.server: Any = None
        self.session = Session.from_config(cfg)
        self.app: Any = None  # DbgApp once open() succeeded

    async def open(self) -> int | None:
        from am_dbg.recordings import RecordingError, RecordingWriter, load
        from am_dbg.server import Forwarder, ForwardError, ListenError
        from am_dbg.ui.app import DbgApp, ingest_server
        from am_rpc.dbg.addr import join_addr

        cfg = self.cfg
        if cfg.record:
            try:
                self.recorder = RecordingWriter(cfg.record, append=True)
            except (OSError, RecordingError) as err:
                _err(str(err))
                return 1
        self.session = session = Session.from_config(cfg, recorder=self.recorder)
        warnings: list[str] = []
        if cfg.import_data:
            print(f"Importing data from {cfg.import_data} Please wait...", file=sys.stderr)
            try:
                res = load(cfg.import_data)
            except RecordingError as err:  # names the file and the reason
                _err(str(err))
                return 1
            warnings = list(res.warnings)
            for warning in warnings:  # the UI shows them too, but the screen is gone on exit
                _err(warning)
            session.load(res.machines)
            for hist in session.machines.values():  # the UI reads every machine on its first
                hist.derive_now()  # frame: derive here, under "Please wait", not behind it
        if cfg.fwd_data:
            self.forwarder = Forwarder(  # notes become a toast once the UI runs
                cfg.fwd_data, on_note=_err, secret=cfg.token or None
            )
            try:
                await self.forwarder.start()
            except ForwardError as err:
                _err(str(err))
                return 2
        if cfg.listening:
            server = ingest_server(cfg, session, forward=self.forwarder)
            try:
                await server.start()
            except ListenError as err:
                if not cfg.import_data:
                    _err(str(err.strerror))
                    return 2
                _err(f"{err.strerror}; going on offline")
                cfg = dataclasses.replace(cfg, listen_addr="")
            else:
                self.server = server
                shown = getattr(server, "url", "") or join_addr(*server.addr)  # nats:// as given
                print(f"listening on {shown}", file=sys.stderr, flush=True)
        self.app = app = DbgApp(cfg, session=session, load_warnings=warnings)
        if self.server is not None:
            # no await since start(): nothing arrived yet. Callbacks of a server bound outside
            # the app run outside Textual's context (no active app for the timers they set):
            # hand every batch to the app's own message loop.
            self.server.on_batch = partial(app.call_next, app.on_batch)
            app.attach_server(self.server)
        if self.forwarder is not None:
            self.forwarder.on_note = partial(app.call_next, app.notify)
        return None

    async def close(self) -> None:
        """Apply what was received, then close the forwarder and the recording (complete)."""
        if self.server is not None:
            await self.server.close()  # already closed by the app's unmount: a no-op then
            self.server = None
        if self.forwarder is not None:
            self.forwarder.close()
            self.forwarder = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
