"""`am-dbg -i FILE --print-summary`: what a recording holds, as one JSON object on stdout; and
the three lines both modes print on exit (`exit_lines`), counted the same way.

The shape is the one in docs/architecture.md, "Decisions" (machines sorted by id; `transitions`
excludes queued-mutation messages, counted in `queued`, which is null when the file cannot tell). Everything else goes to
stderr: warnings about damage (the JSON then describes what was read, exit 0), and the reason when
the file cannot be read at all (exit 1).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from am_dbg.model.lazy_history import LazyTxs
from am_dbg.model.packed import PackedTxs
from am_dbg.recordings import RecordingError, load

if TYPE_CHECKING:
    from am_dbg.config import Config
    from am_dbg.model.session import Session

__all__ = ["exit_lines", "print_summary", "summarize"]


def exit_lines(session: Session) -> list[str]:
    """`Clients: N`, `Transitions: N`, `Memory: Nmb` (docs/architecture.md), printed on exit by
    the UI and the headless mode. Transitions exclude queued-mutation messages, as
    `--print-summary` counts them; memory is the estimated size of the stored history."""
    txs = sum(len(h) - h.n_queued() for h in session.machines.values())
    mem = session.stored_bytes // 2**20
    return [f"Clients: {len(session.machines)}", f"Transitions: {txs}", f"Memory: {mem}mb"]


def summarize(path: str) -> tuple[dict[str, Any], list[str]]:
    """The summary object of the recording at `path` and the load warnings."""
    got = load(path)
    machines = []
    for schema, txs in sorted(got.machines, key=lambda m: m[0].id):
        if isinstance(txs, PackedTxs):
            queued = txs.n_queued  # no need to decode every message
        elif isinstance(txs, LazyTxs):
            queued = txs.n_queued()  # chunk by chunk, nothing kept
        else:
            queued = sum(1 for tx in txs if tx.is_queued)
        machines.append(
            {
                "id": schema.id,
                "parent_id": schema.parent or None,
                "tags": list(schema.tags),
                "states": list(schema.states_index),
                "transitions": len(txs) - queued,
                "queued": queued if got.queued_known else None,
                "disconnected": got.disconnected.get(schema.id, True),
            }
        )
    return {"file": path, "format": got.format, "machines": machines}, got.warnings


def print_summary(
    cfg: Config, out: TextIO | None = None, err: TextIO | None = None, name: str = ""
) -> int:
    """Print the summary of `cfg.import_data`; 0 on success (even if damaged), 1 if unreadable.

    `name`: what the JSON calls the file (the URL a download came from), default its path."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not cfg.import_data:
        print("am-dbg: --print-summary needs a file: -i FILE", file=err)
        return 2
    try:
        summary, warnings = summarize(cfg.import_data)
    except RecordingError as e:
        print(f"am-dbg: {e}", file=err)
        return 1
    for w in warnings:
        print(f"am-dbg: warning: {w}", file=err)
    if name:
        summary["file"] = name
    out.write(json.dumps(summary) + "\n")
    out.flush()
    return 0
