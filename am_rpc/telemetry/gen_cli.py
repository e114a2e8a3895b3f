"""``am-gen``: generators. ``am-gen grafana --ids a,b -o dash.json`` writes a Grafana dashboard for
the Prometheus exporter's metrics (docs/telemetry.md#grafana)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .grafana import dashboard_json


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="am-gen", description="asyncmachine generators")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grafana", help="a Grafana dashboard JSON for the Prometheus metrics")
    g.add_argument("--ids", required=True, help="comma-separated machine ids")
    g.add_argument("--title", default="asyncmachine")
    g.add_argument("-o", "--output", help="output file (default: stdout)")
    args = ap.parse_args(argv)
    ids = [i.strip() for i in args.ids.split(",") if i.strip()]
    try:
        text = dashboard_json(ids, args.title)
    except ValueError as e:
        ap.error(str(e))
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
