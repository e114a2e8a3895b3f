"""Earlier runs of a machine id: kept, never erased, under a suffixed id (docs/protocol.md, "Runs").

When a new run of a machine id arrives (a restarted program, or another sender using the same id:
same id, another session token), the history received so far is not dropped: it is renamed to the
first free ``<id>~<n>`` (``n`` = 1 for the oldest) and stays in the model and in the recording,
while the new run takes the plain id. Readers of a recording apply the same rule, so re-opening
it shows every run. A renamed run that is still connected keeps receiving its own channel's
transitions, and one that reconnects (same session token) continues there.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from am_rpc.dbg.protocol import SchemaMsg

__all__ = ["RUN_SEP", "earlier_run_id", "find_run", "renamed"]

_H = TypeVar("_H")

RUN_SEP = "~"


def earlier_run_id(mach_id: str, taken: Container[str]) -> str:
    """The id an earlier run of ``mach_id`` is kept under: the first free ``<id>~<n>``."""
    n = 1
    while f"{mach_id}{RUN_SEP}{n}" in taken:
        n += 1
    return f"{mach_id}{RUN_SEP}{n}"


def find_run(
    mach_id: str, token: str, runs: Mapping[str, _H], token_of: Callable[[_H], Any]
) -> str | None:
    """The earlier run of ``mach_id`` with session ``token`` (it reconnects: its history goes
    on under its ``~n`` id), if any."""
    n = 1
    while (run := f"{mach_id}{RUN_SEP}{n}") in runs:
        if token and token_of(runs[run]) == token:
            return run
        n += 1
    return None


def renamed(schema: SchemaMsg, run_id: str) -> SchemaMsg:
    """``schema`` under the id of an earlier run (everything else kept, the token too)."""
    return replace(schema, id=run_id)
