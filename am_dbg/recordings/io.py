"""Open any recording (`load`) and write a session or one moment of it (`export`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from am_dbg.recordings.amdbg import FORMAT, MAGIC, RecordingWriter, read_amdbg
from am_dbg.recordings.errors import RecordingError
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

if TYPE_CHECKING:
    from am_dbg.model.session import Session

__all__ = ["GOB_FORMAT", "LoadResult", "export", "load"]

GOB_FORMAT = "gob/go-am-dbg"


@dataclass(slots=True)
class LoadResult:
    """Machines read from a file, ready for `Session.load(result.machines)`.

    The transitions of an `.amdbg` file are a `PackedTxs` (a sequence of `TxMsg` decoded on
    access, stored by `Session.load` without a decode / re-encode round trip).

    `disconnected[id]`: not connected when the data ended. `queued_known`: the file can tell
    queued-mutation messages from transitions (False for Go dumps older than `IsQueued`).
    `warnings`: what was lost or skipped, one line each (print them on stderr).
    """

    machines: list[tuple[SchemaMsg, Sequence[TxMsg]]]
    format: str
    warnings: list[str] = field(default_factory=list)
    disconnected: dict[str, bool] = field(default_factory=dict)
    queued_known: bool = True


def load(path: str | PathLike[str]) -> LoadResult:
    """Read an `.amdbg` recording or a Go `.gob.br` dump (decided by content, not by name).

    Raises `RecordingError` when nothing can be read; partial damage is reported in `warnings`.
    """
    name = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise RecordingError(f"cannot read {name!r}: {err.strerror or err}") from None
    if data.startswith(MAGIC) or (len(data) < len(MAGIC) and data and MAGIC.startswith(data)):
        got = read_amdbg(path, data)
        return LoadResult(list(got.machines), FORMAT, got.warnings, got.disconnected, True)
    from am_dbg.recordings.gob_import import read_gob_dump

    warnings: list[str] = []
    try:
        machines = read_gob_dump(path, warnings)
    except RecordingError as err:
        if name.endswith(".br") or name.endswith(".gob"):
            raise
        raise RecordingError(
            f"{name!r} is neither an am-dbg recording (no AMDBG header) nor a Go am-dbg dump ({err})"
        ) from None
    # Old Go dumps have no IsQueued field: a file without any queued message cannot tell.
    queued_known = any(tx.is_queued for _, txs in machines for tx in txs)
    return LoadResult(
        list(machines), GOB_FORMAT, warnings, {s.id: True for s, _ in machines}, queued_known
    )


def export(
    session: Session,
    path: str | PathLike[str],
    moment_ns: int | None = None,
    machine_ids: Iterable[str] | None = None,
) -> int:
    """Write machines of `session` to an `.amdbg` file; returns the transitions written.

    `moment_ns`: a single moment, each machine reduced to its last transition at or before that
    human time (machines without one keep just their schema). `machine_ids`: which machines (in
    that order; default every machine). Written to a temporary file renamed into place, so a
    failed export never leaves half a file. Raises `RecordingError` (with no machines, on I/O).
    """
    ids = list(session.machines) if machine_ids is None else list(machine_ids)
    machs = [session.machines[i] for i in ids if i in session.machines]
    if not machs:
        raise RecordingError("nothing to export: no machines")
    dest = Path(path)
    tmp = dest.with_name(dest.name + ".part")
    written = 0
    now = time.time_ns()
    w = RecordingWriter(tmp, background=False, chunk_bytes=4 * 2**20)
    try:
        for h in machs:
            if moment_ns is None:
                rng: Iterable[int] = range(len(h))
            else:
                i = h.tx_at_human_time(moment_ns)
                rng = (i,) if i >= 0 else ()
            first = h.info(0).time_ns if len(h) else now
            w.write_connect(h.conn_id, h.id, first)
            w.write_schema(h.schema, h.conn_id, first)
            for i in rng:
                w.write_tx(h.conn_id, h.raw(i), h.info(i).time_ns)
                written += 1
            if not h.connected:
                last = h.info(-1).time_ns if len(h) else now
                w.write_disconnect(h.conn_id, h.id, last)
    finally:
        w.close()
    if w.error is not None:
        tmp.unlink(missing_ok=True)
        raise RecordingError(w.error)
    try:
        os.replace(tmp, dest)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RecordingError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    return written
