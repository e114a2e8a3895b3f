"""The `am-dbg` console script: parse the command line, then run one of the three modes.

- `--print-summary` (with `-i`): print the JSON summary of a recording and exit;
- `--headless`: ingest (and record / convert) without a UI until SIGINT/SIGTERM or `--exit-after`;
- otherwise the Textual UI.
"""

from __future__ import annotations

import sys

from am_dbg import __version__
from am_dbg.config import ConfigError, parse_args

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
    if cfg.print_summary:
        from am_dbg.summary import print_summary

        return print_summary(cfg)
    if cfg.headless:
        from am_dbg.headless import run_headless

        return run_headless(cfg)
    from am_dbg.ui.app import run_ui

    return run_ui(cfg)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
