"""Open any recording (`load`) and write a session or one moment of it (`export`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from msgpack import packb

from am_dbg.model.lazy_history import LazyTxs
from am_dbg.model.packed import PackedTxs
from am_dbg.recordings.amdbg import FORMAT, MAGIC, RecordingWriter, read_amdbg
from am_dbg.recordings.container import FORMAT as CONTAINER_FORMAT
from am_dbg.recordings.container import (
    SQLITE_MAGIC,
    SUFFIX,
    Progress,
    is_container,
    open_container,
    write_machines,
)
from am_dbg.recordings.errors import RecordingError
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

if TYPE_CHECKING:
    from am_dbg.model.history import MachineHistory
    from am_dbg.model.session import Session

__all__ = [
    "GOB_FORMAT",
    "LoadResult",
    "convert",
    "export",
    "load",
    "probe",
    "refuse_foreign_name",
]

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


def load(path: str | PathLike[str], progress: Progress | None = None) -> LoadResult:
    """Read an `.amdbx` / `.amdbg` recording or a Go `.gob.br` dump (decided by content).

    An `.amdbx` opens from its index: its transitions are `LazyTxs`, decoded a chunk at a time
    when shown (docs/recordings.md). `progress(done, total)` is called while a big file is
    checked. Raises `RecordingError` when nothing can be read; partial damage is reported in
    `warnings`.
    """
    name = str(path)
    try:
        with open(path, "rb") as f:
            if is_container(f.read(len(SQLITE_MAGIC))):
                return _load_container(path, progress)
            f.seek(0)
            data = f.read()
    except OSError as err:
        raise RecordingError(f"cannot read {name!r}: {err.strerror or err}") from None
    if not data:
        raise RecordingError(f"{name!r} is empty: nothing to import")
    if data.startswith(MAGIC) or (len(data) < len(MAGIC) and data and MAGIC.startswith(data)):
        got = read_amdbg(path, data)
        return LoadResult(list(got.machines), FORMAT, got.warnings, got.disconnected, True)
    from am_dbg.recordings.gob_import import GobDumpInfo, read_gob_dump

    warnings: list[str] = []
    info = GobDumpInfo()
    try:
        # salvage: a cut or damaged dump keeps every machine that was complete before the damage
        machines = read_gob_dump(path, warnings, info, salvage=True)
    except RecordingError as err:
        raise _unknown(name, err) from None
    warnings = [f"{name}: {w}" for w in warnings]
    # Old Go dumps have no IsQueued field: they cannot tell queued messages from transitions.
    queued_known = info.queued_known or any(tx.is_queued for _, txs in machines for tx in txs)
    return LoadResult(
        list(machines), GOB_FORMAT, warnings, {s.id: True for s, _ in machines}, queued_known
    )


def _load_container(path: str | PathLike[str], progress: Progress | None) -> LoadResult:
    got = open_container(path, progress=progress)
    return LoadResult(list(got.machines), CONTAINER_FORMAT, got.warnings, got.disconnected, True)


def _named(msg: str, tmp: Path, name: str) -> str:
    """An export error names the file the user asked for, not the temporary one."""
    return msg.replace(f"cannot record to {str(tmp)!r}", f"cannot write {name!r}")


def _unknown(name: str, err: RecordingError) -> RecordingError:
    """A file without the AMDBG magic that is no readable Go dump either."""
    if name.endswith(".br") or name.endswith(".gob"):
        return err
    return RecordingError(
        f"{name!r} is neither an am-dbg recording (no AMDBG header) nor a Go am-dbg dump "
        f"({getattr(err, 'reason', err)})"
    )


_PROBE_BYTES = 1 << 16


def probe(path: str | PathLike[str]) -> None:
    """Raise the `RecordingError` of `load` for a file it could not read at all, from its first
    64 KiB only: unreadable, empty, a newer `.amdbg` version, neither `.amdbg` nor brotli data.

    Cheap enough to run before a UI takes over the terminal (the error is then one line on
    stderr); damage further in is left to `load`, which keeps what is intact.
    """
    name = str(path)
    try:
        with open(path, "rb") as f:
            head = f.read(_PROBE_BYTES)
    except OSError as err:
        raise RecordingError(f"cannot read {name!r}: {err.strerror or err}") from None
    if not head:
        raise RecordingError(f"{name!r} is empty: nothing to import")
    if is_container(head):
        open_container(path, verify=False)  # the header and the index decide
        return
    if head.startswith(MAGIC) or MAGIC.startswith(head):
        read_amdbg(path, head)  # the header decides; a cut body is only a warning here
        return
    from am_dbg.recordings.gob_import import decompress_dump

    try:
        decompress_dump(head, warnings=[])  # salvage mode: an error only if nothing decompresses
    except RecordingError as err:
        err.args = (f"{name}: {err.args[0]}",)
        raise _unknown(name, err) from None


_GO_SUFFIXES = (".gob.br", ".gob", ".br")


def refuse_foreign_name(path: str | PathLike[str]) -> None:
    """Export writes `.amdbg` only: a Go dump's name (`.gob.br`) would mislabel the file."""
    name = str(path)
    for suffix in _GO_SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            raise RecordingError(
                f"cannot export to {name!r}: am-dbg writes .amdbg recordings, not Go {suffix} "
                f"dumps; use a name like {stem + '.amdbg'!r}"
            )


def export(
    session: Session,
    path: str | PathLike[str],
    moment_ns: int | None = None,
    machine_ids: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write machines of `session` to an `.amdbg` file (`.amdbx` when the name ends so);
    returns the transitions written.

    `moment_ns`: a single moment, each machine reduced to its last transition at or before that
    human time (machines without one keep just their schema). `machine_ids`: which machines (in
    that order; default every machine). Written to a temporary file renamed into place, so a
    failed export never leaves half a file. Raises `RecordingError` (with no machines, on I/O).
    """
    refuse_foreign_name(path)
    ids = list(session.machines) if machine_ids is None else list(machine_ids)
    machs = [session.machines[i] for i in ids if i in session.machines]
    if not machs:
        raise RecordingError("nothing to export: no machines")
    name = str(path)
    if name.endswith(SUFFIX):
        return _export_container(machs, path, moment_ns, progress)
    dest = Path(path)
    tmp = dest.with_name(dest.name + ".part")
    written = 0
    now = time.time_ns()
    try:
        w = RecordingWriter(tmp, background=False, chunk_bytes=4 * 2**20)
    except RecordingError as err:
        raise RecordingError(_named(str(err), tmp, name)) from None
    try:
        for h in machs:
            if moment_ns is None:
                rng: Iterable[int] = range(len(h))
            else:
                i = h.tx_at_human_time(moment_ns)
                rng = (i,) if i >= 0 else ()
            first = h.time_ns(0) if len(h) else now
            w.write_connect(h.conn_id, h.id, first)
            w.write_schema(h.schema, h.conn_id, first)
            for i in rng:
                w.write_tx(h.conn_id, h.raw(i), h.recv_time_ns(i))
                written += 1
            if not h.connected:
                last = h.time_ns(-1) if len(h) else now
                w.write_disconnect(h.conn_id, h.id, last)
    finally:
        w.close()
    if w.error is not None:
        tmp.unlink(missing_ok=True)
        raise RecordingError(_named(w.error, tmp, name))
    try:
        os.replace(tmp, dest)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RecordingError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    return written


def _export_container(
    machs: Sequence[MachineHistory],
    path: str | PathLike[str],
    moment_ns: int | None,
    progress: Progress | None,
) -> int:
    def ranges() -> Iterable[tuple[MachineHistory, Iterable[int]]]:
        for h in machs:
            if moment_ns is None:
                yield h, range(len(h))
            else:
                i = h.tx_at_human_time(moment_ns)
                yield h, ((i,) if i >= 0 else ())

    todo = list(ranges())
    total = sum(len(r) for _, r in todo)  # type: ignore[arg-type,misc]
    return write_machines(
        path,
        ((h.schema, ((h.raw(i), h.recv_time_ns(i)) for i in r), h.connected) for h, r in todo),
        total,
        progress,
    )


def convert(
    src: str | PathLike[str], dest: str | PathLike[str], progress: Progress | None = None
) -> tuple[int, list[str]]:
    """Convert any recording (`.amdbg`, `.gob.br`, `.amdbx`) to an `.amdbx`, without a model.

    Returns (transitions written, the warnings of reading `src`)."""
    got = load(src, progress)
    total = sum(len(txs) for _, txs in got.machines)

    def pairs(txs: Sequence[TxMsg]) -> Iterable[tuple[bytes, int]]:
        if isinstance(txs, PackedTxs):
            return txs.packed()
        if isinstance(txs, LazyTxs):
            return (
                (raw, t)
                for raws, recv in txs.raw_chunks()
                for raw, t in zip(raws, recv, strict=True)
            )
        return ((packb(tx.to_wire()), tx.time) for tx in txs)

    machines = ((s, pairs(txs), not got.disconnected.get(s.id, True)) for s, txs in got.machines)
    return write_machines(dest, machines, total, progress), got.warnings
