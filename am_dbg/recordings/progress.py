"""A progress line on stderr while a big recording converts or loads (headless and CLI).

On a terminal the line is rewritten in place; otherwise (logs, pipes) a line at most every
second. The last call (done == total) always prints, so a log shows where it ended.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressLine"]


class ProgressLine:
    """`ProgressLine("converting x.amdbg", "transitions")` is a `Progress` callback."""

    def __init__(
        self, what: str, unit: str, stream: TextIO | None = None, interval: float = 1.0
    ) -> None:
        self.what = what
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.1 if self.tty else interval
        self._last = time.monotonic()  # the first line after one interval: quick runs print one
        self.lines = 0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        end = total > 0 and done >= total
        if not end and now - self._last < self.interval:
            return
        self._last = now
        pct = f"{100 * done // total}% " if total > 0 else ""
        of = f" of {total:,}" if total > 0 else ""
        line = f"am-dbg: {self.what}: {pct}({done:,}{of} {self.unit})"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if end else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.lines += 1
