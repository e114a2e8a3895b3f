"""SVG through Graphviz's `dot` (docs/diagrams.md "SVG engine": why Graphviz)."""

from __future__ import annotations

import shutil
import subprocess

from am_dbg.errors import DbgError
from am_dbg.model.diagram import Diagram
from am_dbg.vis.text import to_dot

__all__ = ["SvgError", "dot_to_svg", "to_svg"]

_TIMEOUT = 120


class SvgError(DbgError, RuntimeError):
    """Graphviz is missing or failed."""


def dot_to_svg(dot: str) -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise SvgError(
            "SVG needs Graphviz's `dot` (Debian: apt-get install graphviz); "
            "--format mermaid or d2 work without it"
        )
    try:
        run = subprocess.run(
            [exe, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise SvgError(f"dot did not finish in {_TIMEOUT} s") from None
    if run.returncode != 0:
        raise SvgError(f"dot failed: {run.stderr.decode(errors='replace').strip()}")
    return run.stdout.decode()


def to_svg(d: Diagram) -> str:
    return dot_to_svg(to_dot(d))
