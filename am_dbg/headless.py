"""`am-dbg --headless`: ingest (and record, forward, convert) without a UI.

- ``am-dbg --headless [--listen-addr ADDR] [--record FILE] [--exit-after S]`` listens until SIGINT,
  SIGTERM or the timeout; senders are acked once their transitions are in the recording (flushed
  to the OS) and the model; ``--record`` onto an existing recording continues it (a restarted
  recorder skips what the file already has); the recording is closed complete on exit;
- ``am-dbg -i FILE --headless --export-data OUT.amdbg`` converts a recording (or a Go dump) and exits.

On exit it prints ``Clients: N``, ``Transitions: N`` and ``Memory: Nmb`` on stderr.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from am_dbg.config import Config
from am_dbg.model.session import Session
from am_dbg.server.forward import Forwarder, ForwardError
from am_dbg.server.ingest import IngestServer, ListenError
from am_rpc.dbg.addr import join_addr, split_addr

__all__ = ["Attach", "run_headless"]

# A front end started beside the headless ingest (`am-dbg --headless --ui-ssh`, docs/remote.md):
# given the session, the ingest server (None when offline) and the ``--fwd-data`` forwarder, it
# returns the coroutine function that stops it, or an exit code when it cannot start.
Attach = Callable[[Session, Any, Any], Awaitable["Callable[[], Awaitable[None]] | int"]]

_GC_INTERVAL = 1.0


def _err(msg: str) -> None:
    print(f"am-dbg: {msg}", file=sys.stderr, flush=True)


def _summary(session: Session) -> None:
    from am_dbg.summary import exit_lines

    print("\n".join(exit_lines(session)), file=sys.stderr, flush=True)


def _import(cfg: Config, session: Session) -> bool:
    """Load ``-i FILE`` into the session; False (after a one-line error) when it is unreadable."""
    from am_dbg.recordings import load
    from am_dbg.recordings.errors import RecordingError
    from am_dbg.recordings.progress import ProgressLine

    try:
        result = load(cfg.import_data, ProgressLine(f"checking {cfg.import_data}", "chunks"))
    except RecordingError as err:  # the message names the file and the reason
        _err(str(err))
        return False
    for warning in result.warnings:
        _err(warning)
    session.load(result.machines)
    return True


def run_headless(cfg: Config, attach: Attach | None = None) -> int:
    """Run the headless mode; returns the process exit code."""
    logging.basicConfig(level=logging.WARNING, format="am-dbg: %(message)s", stream=sys.stderr)
    if cfg.export_data and not cfg.import_data:
        _err("--export-data needs -i/--import-data in headless mode")
        return 2
    if cfg.import_data and cfg.export_data:
        from am_dbg.recordings.errors import RecordingError
        from am_dbg.recordings.io import refuse_foreign_name

        try:
            refuse_foreign_name(cfg.export_data)  # before a long import, not after
        except RecordingError as err:
            _err(str(err))
            return 2
        return _convert(cfg)
    try:
        return asyncio.run(_serve(cfg, attach))
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return 130


def _convert(cfg: Config) -> int:
    from am_dbg.recordings import export
    from am_dbg.recordings.container import SUFFIX
    from am_dbg.recordings.errors import RecordingError

    if cfg.export_data.endswith(SUFFIX):  # to the indexed container: file to file, no model
        return _convert_indexed(cfg)

    session = Session.from_config(cfg)
    if not _import(cfg, session):
        return 1
    try:
        export(session, cfg.export_data)
    except (OSError, RecordingError) as err:
        _err(str(err))  # names the file and the reason
        return 1
    _summary(session)
    return 0


def _convert_indexed(cfg: Config) -> int:
    from am_dbg.recordings.errors import RecordingError
    from am_dbg.recordings.io import convert
    from am_dbg.recordings.progress import ProgressLine

    try:
        n, warnings = convert(
            cfg.import_data,
            cfg.export_data,
            ProgressLine(f"converting {cfg.import_data} to {cfg.export_data}", "transitions"),
        )
    except (OSError, RecordingError) as err:
        _err(str(err))
        return 1
    for warning in warnings:
        _err(warning)
    print(f"Transitions: {n}", file=sys.stderr, flush=True)
    return 0


async def _serve(cfg: Config, attach: Attach | None = None) -> int:
    recorder: Any = None
    if cfg.record:
        from am_dbg.recordings import RecordingError, RecordingWriter
        from am_dbg.recordings.container import SUFFIX, ContainerWriter

        writer = ContainerWriter if cfg.record.endswith(SUFFIX) else RecordingWriter
        try:
            recorder = writer(cfg.record, append=True)
        except (OSError, RecordingError) as err:
            _err(str(err))
            return 1
    session = Session.from_config(cfg, recorder=recorder)
    if cfg.import_data and not _import(cfg, session):
        if recorder is not None:
            recorder.close()
        return 1
    forwarder: Forwarder | None = None
    server: IngestServer | None = None
    demo: Any = None
    stop_attached: Callable[[], Awaitable[None]] | None = None
    try:
        if cfg.fwd_data:
            forwarder = Forwarder(cfg.fwd_data, on_note=_err, secret=cfg.token or None)
            try:
                await forwarder.start()
            except ForwardError as err:
                _err(str(err))
                return 2
        if cfg.listen_addr.startswith("nats://"):  # the [nats] extra
            from am_dbg.server.nats_ingest import NatsIngestServer

            server = NatsIngestServer(
                session,
                cfg.listen_addr,
                durable=_nats_durable(cfg),
                max_clients=cfg.max_clients,
                forward=forwarder,
            )
            host = cfg.listen_addr
        elif cfg.listen_addr:
            host, port = split_addr(cfg.listen_addr)
            server = IngestServer(
                session,
                host=host,
                port=port,
                max_clients=cfg.max_clients,
                forward=forwarder,
                token=cfg.token,
                insecure=cfg.insecure,
            )
        if server is not None:
            try:
                await server.start()
            except ListenError as err:
                if not cfg.import_data:
                    _err(str(err.strerror))
                    return 2
                _err(f"{err.strerror}; going on offline")
                server = None
            else:
                addr = host if host.startswith("nats://") else join_addr(host, server.port)
                print(f"listening on {addr}", file=sys.stderr, flush=True)
                if cfg.demo:
                    from am_dbg.demo import DemoError, start_demo

                    try:
                        demo = start_demo(addr)
                    except DemoError as err:
                        _err(str(err))
                        return 2
        if cfg.demo and demo is None:
            _err("--demo needs the server: drop --listen-addr -1")
            return 2
        if attach is not None:
            got = await attach(session, server, forwarder)
            if isinstance(got, int):
                return got
            stop_attached = got
        await _wait_for_exit(cfg, session)
    finally:
        if stop_attached is not None:
            await stop_attached()
        if demo is not None:
            for problem in await demo.stop_async():
                _err(problem)
            if server is not None:
                await server.settle()  # what the examples flushed on exit is in the model
        if server is not None:
            await server.close()
        if forwarder is not None:
            forwarder.close()
        if recorder is not None:
            recorder.close()
    _summary(session)
    return 0


def _nats_durable(cfg: Config) -> str:
    """``?durable=NAME``: read through that JetStream durable consumer (a restarted recorder with
    the same name loses nothing); without it a plain core-NATS subscriber (docs/protocol.md)."""
    from am_rpc.nats.subjects import parse_nats_addr

    return parse_nats_addr(cfg.listen_addr).durable


async def _wait_for_exit(cfg: Config, session: Session) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread / platform
            pass
    if cfg.exit_after > 0:
        loop.call_later(cfg.exit_after, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), _GC_INTERVAL)
        except TimeoutError:
            if session.over_budget:
                session.gc({})
