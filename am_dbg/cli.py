"""The `am-dbg` console script: parse the command line, then run one of the modes.

- `--print-summary` (with `-i`): print the JSON summary of a recording and exit;
- `--ui-mcp [ADDR|stdio]`, `--ui-ssh [ADDR]`, `--ui-repl [ADDR]`: the app with an MCP server for
  AI agents, an SSH server of viewers and/or its machine served over aRPC for `am-repl`
  (am_dbg.remote, docs/remote.md);
- `--headless`: ingest (and record / convert) without a UI until SIGINT/SIGTERM or `--exit-after`;
- otherwise the Textual UI.
"""

from __future__ import annotations

import dataclasses
import errno
import socket
import sys

from am_dbg import __version__
from am_dbg.config import ConfigError, parse_args
from am_rpc.dbg.addr import join_addr, split_addr

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, version = parse_args(argv)
    except ConfigError as err:
        print(f"am-dbg: {err}", file=sys.stderr)
        return 2
    if version:
        print(f"am-dbg {__version__}")
        return 0
    url = ""
    if cfg.import_data.startswith(("http://", "https://")):
        url = cfg.import_data
        from am_dbg.recordings import RecordingError
        from am_dbg.recordings.download import download

        print(f"Downloading {cfg.import_data} ...", file=sys.stderr, flush=True)
        try:
            local = download(cfg.import_data)
        except RecordingError as err:
            print(f"am-dbg: {err}", file=sys.stderr)
            return 1
        cfg = dataclasses.replace(cfg, import_data=str(local))
    if cfg.print_summary:
        from am_dbg.summary import print_summary

        return print_summary(cfg, name=url)
    if cfg.nats:  # a local nats-server to listen on (docs/protocol.md, "Telemetry over NATS")
        from am_rpc.nats.local_server import start_for_cli

        url = start_for_cli()
        if not url:
            return 2
        cfg = dataclasses.replace(cfg, listen_addr=url)
    if (
        cfg.ui_mcp or cfg.ui_ssh or cfg.ui_repl
    ):  # the app (maybe headless) and remote front ends (docs/remote.md)
        from am_dbg.remote.runner import run_remote

        return run_remote(cfg)
    if cfg.headless:
        from am_dbg.headless import run_headless

        return run_headless(cfg)
    if cfg.export_data:  # the UI exports from its dialog; converting a file is headless
        print("am-dbg: --export-data needs --headless (the UI does not do it)", file=sys.stderr)
        return 2
    if cfg.import_data:
        from am_dbg.recordings import RecordingError
        from am_dbg.recordings.io import probe

        try:
            probe(cfg.import_data)  # one line and exit 1 now, not a traceback inside the UI
        except RecordingError as err:
            print(f"am-dbg: {err}", file=sys.stderr)
            return 1
    if cfg.listening:
        busy = port_in_use(cfg.listen_addr)
        if busy and not cfg.import_data:
            print(f"am-dbg: {busy}", file=sys.stderr)
            return 2
        if busy:
            print(f"am-dbg: {busy}; going on offline", file=sys.stderr)
            cfg = dataclasses.replace(cfg, listen_addr="")
    from am_dbg.ui.app import run_ui

    return run_ui(cfg)


def port_in_use(addr: str) -> str:
    """The one-line error when another program listens on `addr` ("" when it looks free).

    The UI starts its server once the terminal is taken over; a port in use must stop it before
    (docs/architecture.md: exit 2, or offline with `-i`), like the headless mode does.
    """
    if addr.startswith("nats://"):
        return ""  # not a port of ours: NATS is dialled, not bound
    host, port = split_addr(addr)
    if port == 0:
        return ""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return ""  # the server says why when it starts
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            try:
                sock.bind(sockaddr)
            except OSError as err:
                if err.errno == errno.EADDRINUSE:
                    return f"cannot listen on {join_addr(host, port)}: address already in use"
    return ""


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
