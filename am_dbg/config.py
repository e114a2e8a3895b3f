"""am-dbg's command line, parsed into one immutable `Config` that every part of the debugger reads.

Flags follow the Go am-dbg, with the decisions listed in docs/architecture.md: Go-style
booleans that default on also take `--no-<flag>`, `--listen [ADDR]` is an alias of `--listen-addr`,
`-1` disables the server, and files in `--dir` are only written when their flag asks for them.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from am_dbg.errors import DbgError
from am_rpc.dbg.addr import split_addr

__all__ = ["DEFAULT_ADDR", "VIEWS", "Config", "ConfigError", "build_parser", "parse_args"]

DEFAULT_ADDR = "localhost:6831"
DEFAULT_MCP_ADDR = "127.0.0.1:6833"  # am-dbg --ui-mcp (docs/remote.md)
DEFAULT_SSH_ADDR = "127.0.0.1:6834"  # am-dbg --ui-ssh
DEFAULT_REPL_ADDR = "127.0.0.1:6835"  # am-dbg --ui-repl: the debugger's machine over aRPC
VIEWS = ("tree-log", "tree-matrix", "matrix")


class ConfigError(DbgError, ValueError):
    """A command line value cannot be used; the message says which flag and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything the command line decides. Defaults are the Go code's (§6.2), except where noted."""

    start_url: str = ""
    listen_addr: str = DEFAULT_ADDR  # "" = no server
    dir: Path = Path(".")
    clean_on_connect: bool = True
    import_data: str = ""
    record: str = ""
    export_data: str = ""
    fwd_data: tuple[str, ...] = ()
    select_connected: bool = False
    enable_clipboard: bool = True
    enable_mouse: bool = True
    headless: bool = False
    print_summary: bool = False
    exit_after: float = 0.0
    demo: bool = False
    nats: bool = False  # start a local nats-server and listen on it (the [nats] extra)
    ui_mcp: str = ""  # MCP server: HOST:PORT or "stdio" ("" = none; the [mcp] extra)
    ui_ssh: str = ""  # SSH server of viewers: HOST:PORT ("" = none; the [ssh] extra)
    ui_ssh_keys: str = "~/.ssh/authorized_keys"  # who may log in over SSH
    ui_repl: str = ""  # the debugger's own machine served over aRPC for am-repl ("" = none)
    # filters (checked = hidden)
    filter_auto: bool = False
    filter_auto_canceled: bool = True  # forced on at start in Go
    filter_canceled: bool = False
    filter_checks: bool = True  # forced on at start in Go
    filter_disconn: bool = False
    filter_empty: bool = False
    filter_group: bool = True
    filter_health: bool = True  # forced on at start in Go
    filter_log_level: int = 2
    filter_rpc_machs: bool = False
    filter_queued: bool = False
    # output files in --dir (all off by default: running am-dbg never litters the cwd)
    output_clients: bool = False
    output_diagrams: bool = False
    output_log: bool = False
    output_tx: bool = False
    # view
    view: str = "tree-log"
    view_expand_links: bool = True
    view_log_wrap: bool = False
    view_narrow: bool = False
    view_rain: bool = False
    view_reader: bool = True
    view_tail: bool = True
    view_theme: str = "dark"
    view_timelines: int = 1
    # limits and self-debugging
    max_mem: int = 1000
    max_clients: int = 5000
    token: str = ""  # shared secret of the ingest port (--token / AM_DBG_TOKEN); "" = none
    insecure: bool = False  # allow a non-loopback listener without a secret
    log_ops_ttl: float = 3600.0
    dbg_am_dbg_addr: str = ""
    dbg_id: str = "am-dbg"
    dbg_log_level: int = 0
    # deterministic rendering for snapshot tests (fixed clock, ports, memory figures, spinner)
    test_mode: bool = False

    @property
    def listening(self) -> bool:
        return bool(self.listen_addr)


def _bool_flag(p: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """Go-style boolean: `--flag`, `--flag=false`, and `--no-flag` for the ones that default on."""
    dest = name.replace("-", "_")
    p.add_argument(
        f"--{name}",
        dest=dest,
        nargs="?",
        const="true",
        default=None,
        metavar="BOOL",
        help=f"{help} (default {str(default).lower()})",
    )
    p.add_argument(
        f"--no-{name}", dest=dest, action="store_const", const="false", help=argparse.SUPPRESS
    )


def _to_bool(name: str, val: str | None, default: bool) -> bool:
    if val is None:
        return default
    low = val.lower()
    if low in ("1", "true", "t", "yes", "on"):
        return True
    if low in ("0", "false", "f", "no", "off"):
        return False
    raise ConfigError(f"--{name}: expected true or false, got {val!r}")


_BOOLS: tuple[tuple[str, bool, str], ...] = (
    (
        "clean-on-connect",
        True,
        "when all known machines are disconnected, drop them on the next connection",
    ),
    ("select-connected", False, "select a newly connected machine if it is the only connected one"),
    ("enable-clipboard", True, "clipboard for the address bar copy/paste"),
    ("enable-mouse", True, "mouse support"),
    ("filter-auto", False, "hide all auto transitions"),
    ("filter-auto-canceled", True, "hide canceled auto transitions"),
    ("filter-canceled", False, "hide canceled transitions"),
    ("filter-checks", True, "hide check (Can*) transitions"),
    ("filter-disconn", False, "hide disconnected machines"),
    ("filter-empty", False, "hide empty transitions"),
    ("filter-group", True, "hide transitions outside the selected group"),
    ("filter-health", True, "hide Healthcheck / Heartbeat transitions"),
    ("filter-rpc-machs", False, "hide RPC / relay machines"),
    ("filter-queued", False, "hide queued-mutation messages"),
    ("output-clients", False, "write clients.txt into --dir"),
    ("output-diagrams", False, "write diagram-{machine,state,tx}.mmd into --dir"),
    ("output-log", False, "write log.md into --dir"),
    ("output-tx", False, "write tx.md (the current transition) into --dir"),
    ("view-expand-links", True, "expand link nodes in the reader"),
    ("view-log-wrap", False, "wrap log lines"),
    ("view-narrow", False, "force the narrow layout"),
    ("view-rain", False, "start in the rain view"),
    ("view-reader", True, "show the log reader"),
    ("view-tail", True, "start in tail mode"),
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="am-dbg",
        description="am-dbg: a multi-client debugger for asyncmachine state machines.",
    )
    p.add_argument(
        "machurl", nargs="?", default="", metavar="MACHURL", help="start at mach://id/tx/step"
    )
    p.add_argument(
        "-l",
        "--listen-addr",
        "--listen",
        dest="listen_addr",
        nargs="?",
        const=DEFAULT_ADDR,
        default=DEFAULT_ADDR,
        metavar="ADDR",
        help=f"listen on HOST:PORT (default {DEFAULT_ADDR}; port 0 = any free port; -1 = no server)",
    )
    p.add_argument("-d", "--dir", default=".", help="output directory (default .)")
    p.add_argument(
        "-i",
        "--import-data",
        default="",
        metavar="FILE",
        help="import a .amdbx, .amdbg or .gob.br file",
    )
    p.add_argument(
        "--record",
        default="",
        metavar="FILE",
        help="with --headless: record everything received to FILE (.amdbx: indexed, opens at once)",
    )
    p.add_argument(
        "--export-data", default="", metavar="FILE", help="with -i and --headless: convert and exit"
    )
    p.add_argument(
        "-f", "--fwd-data", action="append", default=[], metavar="ADDR", help="forward to ADDR"
    )
    p.add_argument("--headless", action="store_true", help="ingest and record without a UI")
    p.add_argument(
        "--print-summary", action="store_true", help="with -i: print a JSON summary and exit"
    )
    p.add_argument(
        "--exit-after", type=float, default=0.0, metavar="SECONDS", help="exit after SECONDS"
    )
    p.add_argument("--demo", action="store_true", help="start the example machines, streaming here")
    p.add_argument(
        "--nats",
        action="store_true",
        help="start a local nats-server and listen on it (with --demo: the demo runs over NATS)",
    )
    p.add_argument(
        "--ui-mcp",
        nargs="?",
        const=DEFAULT_MCP_ADDR,
        default="",
        metavar="ADDR",
        help=f"serve an MCP server for AI agents on ADDR (default {DEFAULT_MCP_ADDR}) or 'stdio'",
    )
    p.add_argument(
        "--ui-ssh",
        nargs="?",
        const=DEFAULT_SSH_ADDR,
        default="",
        metavar="ADDR",
        help=f"serve a viewer to every SSH login on ADDR (default {DEFAULT_SSH_ADDR})",
    )
    p.add_argument(
        "--ui-repl",
        nargs="?",
        const=DEFAULT_REPL_ADDR,
        default="",
        metavar="ADDR",
        help=f"serve the debugger's machine over aRPC for am-repl on ADDR (default "
        f"{DEFAULT_REPL_ADDR}; guarded by --token when set)",
    )
    p.add_argument(
        "--ui-ssh-keys",
        default="~/.ssh/authorized_keys",
        metavar="FILE",
        help="public keys that may log in over SSH (default ~/.ssh/authorized_keys)",
    )
    for name, default, help in _BOOLS:
        _bool_flag(p, name, default, help)
    p.add_argument(
        "--filter-log-level", type=int, default=2, metavar="N", help="log level 0-5 (default 2)"
    )
    p.add_argument("-v", "--view", default="tree-log", choices=VIEWS, help="initial view")
    p.add_argument("--view-theme", default="dark", choices=("dark", "light"), help="colour theme")
    p.add_argument(
        "--view-timelines", type=int, default=1, choices=(0, 1, 2), help="timelines shown"
    )
    p.add_argument(
        "--max-mem", type=int, default=1000, metavar="MB", help="memory budget (default 1000)"
    )
    p.add_argument(
        "--max-clients", type=int, default=5000, metavar="N", help="max machines (default 5000)"
    )
    p.add_argument(
        "--token",
        default=None,
        metavar="SECRET",
        help="shared secret senders must present (default $AM_DBG_TOKEN; prefer the variable)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow --listen-addr on a non-loopback address without a secret",
    )
    p.add_argument(
        "--log-ops-ttl", type=float, default=3600.0, metavar="SECONDS", help="drop ops logs after"
    )
    p.add_argument(
        "--dbg-am-dbg-addr", default="", metavar="ADDR", help="stream this debugger to ADDR"
    )
    p.add_argument(
        "--dbg-id", default="am-dbg", metavar="ID", help="id of the debugger's own machine"
    )
    p.add_argument(
        "--dbg-log-level", type=int, default=0, metavar="N", help="debugger's own log level 0-5"
    )
    p.add_argument("--test-mode", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.abspath(a) == os.path.abspath(b)


def _check_addr(flag: str, addr: str) -> None:
    try:
        if addr == "1":  # AM_DBG_ADDR's shorthand is no address on the command line
            raise ValueError(f"expected HOST:PORT, got {addr!r}")
        if addr.startswith("nats://"):  # telemetry over NATS (docs/protocol.md)
            from am_rpc.nats.subjects import parse_nats_addr

            parse_nats_addr(addr)
        else:
            split_addr(addr)
    except ValueError as err:
        raise ConfigError(f"{flag}: {err}") from None


def parse_args(argv: list[str] | None = None) -> tuple[Config, bool]:
    """Parse the command line. Returns the config and whether `--version` was asked."""
    ns = build_parser().parse_args(argv)
    start_url = ns.machurl
    # `am-dbg --view-rain mach://x`: a Go-style boolean swallowed the positional start URL
    for name, _, _ in _BOOLS:
        dest = name.replace("-", "_")
        val = getattr(ns, dest)
        if isinstance(val, str) and val.startswith("mach://") and not start_url:
            start_url = val
            setattr(ns, dest, "true")
    listen = ns.listen_addr
    # `am-dbg --listen mach://x` : the value is the positional start URL, not an address.
    if isinstance(listen, str) and listen.startswith("mach://"):
        start_url, listen = listen, DEFAULT_ADDR
    if listen in ("-1", "", None):
        listen = ""
    else:
        _check_addr("--listen-addr", listen)
    if ns.demo and not listen:
        raise ConfigError("--demo needs the server: drop --listen-addr -1")
    token = ns.token if ns.token is not None else os.environ.get("AM_DBG_TOKEN", "")
    # a nats:// listener subscribes to a NATS server, whose own auth applies: no port of ours
    if listen and not listen.startswith("nats://") and not token and not ns.insecure:
        from am_dbg.server.admission import is_loopback
        from am_rpc.dbg.addr import split_addr

        host = split_addr(listen)[0]
        if not is_loopback(host):
            raise ConfigError(
                f"--listen-addr {listen}: not a loopback address, and no secret: set "
                "AM_DBG_TOKEN (or --token), or say --insecure"
            )
    for addr in ns.fwd_data:
        _check_addr("--fwd-data", addr)
    if ns.ui_ssh:
        _check_addr("--ui-ssh", ns.ui_ssh)
    if ns.ui_mcp and ns.ui_mcp != "stdio":
        _check_addr("--ui-mcp", ns.ui_mcp)
        from am_dbg.server.admission import is_loopback
        from am_rpc.dbg.addr import split_addr

        if not is_loopback(split_addr(ns.ui_mcp)[0]) and not ns.insecure:
            raise ConfigError(
                f"--ui-mcp {ns.ui_mcp}: not a loopback address; the MCP server has no login of "
                "its own: say --insecure to serve it there anyway"
            )
    if ns.ui_repl:
        _check_addr("--ui-repl", ns.ui_repl)
        from am_dbg.server.admission import is_loopback
        from am_rpc.dbg.addr import split_addr

        if not is_loopback(split_addr(ns.ui_repl)[0]) and not token and not ns.insecure:
            raise ConfigError(
                f"--ui-repl {ns.ui_repl}: not a loopback address, and no secret: set "
                "AM_DBG_TOKEN (or --token), or say --insecure"
            )
    if ns.dbg_am_dbg_addr:
        _check_addr("--dbg-am-dbg-addr", ns.dbg_am_dbg_addr)
    if start_url and not start_url.startswith("mach://"):
        raise ConfigError(f"MACHURL: expected mach://<machine>[/<tx>[/<step>]], got {start_url!r}")
    if ns.record and ns.import_data and _same_file(ns.record, ns.import_data):
        raise ConfigError(
            f"--record: {ns.record!r} is the file given to -i; recording would overwrite it "
            "before it is read (record to another file)"
        )
    if not 0 <= ns.filter_log_level <= 5:
        raise ConfigError(f"--filter-log-level: expected 0-5, got {ns.filter_log_level}")
    bools = {
        name.replace("-", "_"): _to_bool(name, getattr(ns, name.replace("-", "_")), default)
        for name, default, _ in _BOOLS
    }
    # A start address disables tail mode unless --view-tail was given explicitly.
    if start_url and ns.view_tail is None:
        bools["view_tail"] = False
    # The auto and auto-canceled filters are mutually exclusive; hiding all wins.
    if bools["filter_auto"]:
        bools["filter_auto_canceled"] = False
    cfg = Config(
        start_url=start_url,
        listen_addr=listen,
        dir=Path(ns.dir),
        import_data=ns.import_data,
        record=ns.record,
        export_data=ns.export_data,
        fwd_data=tuple(ns.fwd_data),
        headless=ns.headless,
        print_summary=ns.print_summary,
        exit_after=ns.exit_after,
        demo=ns.demo,
        nats=ns.nats,
        ui_mcp=ns.ui_mcp,
        ui_ssh=ns.ui_ssh,
        ui_ssh_keys=ns.ui_ssh_keys,
        ui_repl=ns.ui_repl,
        filter_log_level=ns.filter_log_level,
        view=ns.view,
        view_theme=ns.view_theme,
        view_timelines=ns.view_timelines,
        max_mem=ns.max_mem,
        max_clients=ns.max_clients,
        token=token,
        insecure=ns.insecure,
        log_ops_ttl=ns.log_ops_ttl,
        dbg_am_dbg_addr=ns.dbg_am_dbg_addr,
        dbg_id=ns.dbg_id,
        dbg_log_level=ns.dbg_log_level,
        test_mode=ns.test_mode,
        **bools,
    )
    return cfg, bool(ns.version)
