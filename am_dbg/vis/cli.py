"""`am-vis`: diagrams of recordings and Go dumps from the command line (docs/diagrams.md).

    am-vis render FILE mach://ID[/tN|/TXID] --format mermaid|d2|dot|svg [--state S --distance N]
    am-vis network FILE
    am-vis inspect FILE

Files are read by the recordings loader and stored in a `Session`, like `am-dbg --import-data`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from am_dbg.errors import DbgError
from am_dbg.model.diagram import Diagram, DiagramError, machine_diagram, network
from am_dbg.model.session import Session
from am_dbg.model.urls import MachUrl, UrlError
from am_dbg.recordings.errors import RecordingError
from am_dbg.recordings.io import load
from am_dbg.vis.svg import SvgError, to_svg
from am_dbg.vis.text import network_mermaid, to_d2, to_dot, to_mermaid

__all__ = ["entry", "inspect_markdown", "main", "render"]

FORMATS = {"mermaid": to_mermaid, "d2": to_d2, "dot": to_dot, "svg": to_svg}
_TN = re.compile(r"^t(\d+)$")


class CliError(DbgError):
    pass


def open_session(path: str) -> Session:
    try:
        res = load(path)
    except RecordingError as err:
        raise CliError(str(err)) from None
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    s = Session(clean_on_connect=False, max_mem_bytes=2**62)
    s.load(res.machines)
    return s


def diagram_at(s: Session, url_text: str, **filters: object) -> Diagram:
    """The diagram a `mach://` address names: the schema alone, or after transition tN (1-based)."""
    try:
        url = MachUrl.parse(url_text)
    except UrlError as err:
        raise CliError(str(err)) from None
    hist = s.machines.get(url.mach_id)
    if hist is None:
        raise CliError(f"no machine {url.mach_id!r} in the file (see `am-vis inspect`)")
    i: int | None = None
    if url.tx_id:
        m = _TN.match(url.tx_id)
        if m:
            n = int(m[1])
            if not 1 <= n <= len(hist):
                raise CliError(f"{url.mach_id!r} has transitions t1..t{len(hist)}, not t{n}")
            i = n - 1
        else:
            i = hist.index_of(url.tx_id)
            if i is None:
                raise CliError(f"no transition {url.tx_id!r} in {url.mach_id!r}")
    elif url.t is not None:
        i = hist.tx_at_mach_time(url.t)
    try:
        return machine_diagram(hist, i, **filters)  # type: ignore[arg-type]
    except DiagramError as err:
        raise CliError(str(err)) from None


def render(s: Session, url: str, fmt: str, **filters: object) -> str:
    d = diagram_at(s, url, **filters)
    try:
        return FORMATS[fmt](d)
    except SvgError as err:
        raise CliError(str(err)) from None


def inspect_markdown(s: Session, name: str) -> str:
    out = [f"# {name}", "", f"{len(s.machines)} machines.", ""]
    out.append("| machine | parent | states | transitions | errors | groups |")
    out.append("|---|---|---|---|---|---|")
    for mid, h in s.machines.items():
        groups = ", ".join(h.schema.groups) or "-"
        out.append(
            f"| {mid} | {h.parent_id or '-'} | {len(h.state_names)} | {len(h)} | "
            f"{len(h.errors)} | {groups} |"
        )
    schemas: dict[tuple[str, ...], list[str]] = {}
    for mid, h in s.machines.items():
        schemas.setdefault(h.state_names, []).append(mid)
    out += ["", f"## Schemas ({len(schemas)})", ""]
    for names, mids in schemas.items():
        shown = ", ".join(mids[:5]) + (f" and {len(mids) - 5} more" if len(mids) > 5 else "")
        out.append(f"- {shown}: {', '.join(names)}")
    errs = [(mid, h) for mid, h in s.machines.items() if h.errors]
    out += ["", "## Errors", ""]
    if not errs:
        out.append("none")
    for mid, h in errs:
        first = h.errors[0]
        out.append(f"- {mid}: {len(h.errors)} transitions in error, first t{first + 1}")
    return "\n".join(out) + "\n"


def _write(text: str, out: str | None) -> None:
    if out is None or out == "-":
        sys.stdout.write(text)
        return
    try:
        Path(out).write_text(text)
    except OSError as err:
        raise CliError(f"cannot write {out!r}: {err.strerror or err}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="am-vis", description="Diagrams of asyncmachine recordings.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="one machine's relation graph (optionally at a transition)")
    r.add_argument("file")
    r.add_argument("url", help="mach://ID, mach://ID/tN (N-th transition, 1-based) or /TXID")
    r.add_argument("--format", "-f", choices=sorted(FORMATS), default="mermaid")
    r.add_argument("--state", help="only states near this one")
    r.add_argument("--distance", type=int, help="relation hops from --state (default 1)")
    r.add_argument("--group", help="only the states of this schema group")
    r.add_argument("--touched", action="store_true", help="only what the transition touched")
    r.add_argument("-o", "--output", help="file to write (default: stdout)")
    n = sub.add_parser("network", help="the graph of machines (parents, pipes) as Mermaid")
    n.add_argument("file")
    n.add_argument("-o", "--output")
    i = sub.add_parser("inspect", help="a Markdown summary: machines, schemas, counts, errors")
    i.add_argument("file")
    i.add_argument("-o", "--output")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        s = open_session(args.file)
        if args.cmd == "render":
            text = render(
                s,
                args.url,
                args.format,
                state=args.state,
                distance=args.distance,
                group=args.group,
                touched_only=args.touched,
            )
        elif args.cmd == "network":
            text = network_mermaid(network(s))
        else:
            text = inspect_markdown(s, Path(args.file).name)
        _write(text, args.output)
    except CliError as err:
        print(f"am-vis: {err}", file=sys.stderr)
        return 2
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
