"""The indexed recording container (`.amdbx`): SQLite (WAL) holding compressed chunks of
transitions per machine plus a narrow index, so opening costs the index, not the history.

Layout (docs/recordings.md):

    meta(key TEXT PRIMARY KEY, value TEXT)        format = "amdbx/1", app, version
    machines(mach INTEGER PRIMARY KEY, id, conn, schema BLOB, connected)
    chunks(mach, k, first, n, t_first, t_last, prev_clocks BLOB, crc, data_id) -- the index
    chunk_data(id INTEGER PRIMARY KEY, data BLOB)  zlib(msgpack [raws, receive times])
    seqs(mid, token, seq)                          what each sender run has recorded (acks)

A chunk holds up to `CHUNK_TXS` transitions of one machine; `prev_clocks` (the clocks of the
transition before it) is the checkpoint that lets it be derived alone (`model.lazy_history`).
The live writer rewrites a machine's open (not yet full) chunk in place at each flush, in one
transaction with everything else of that flush: a crash loses at most what was not acked yet.
`open_container` reads the index and checks each chunk's crc32 (no inflating, no decoding); a
damaged chunk is left out and said so, every intact one loads.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import msgpack

from am_dbg import __version__
from am_dbg.model.derive import unpack_tx
from am_dbg.model.lazy_history import ChunkCache, ChunkIndex, LazyTxs
from am_dbg.model.runs import earlier_run_id
from am_dbg.recordings.errors import RecordingError
from am_rpc.dbg.protocol import MessageError, SchemaMsg, TxMsg

__all__ = [
    "CHUNK_TXS",
    "FORMAT",
    "SQLITE_MAGIC",
    "ContainerRead",
    "ContainerWriter",
    "Progress",
    "open_container",
    "write_machines",
]

FORMAT = "amdbx/1"
VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\0"
CHUNK_TXS = 256
SUFFIX = ".amdbx"
# done, total: called while something long runs (converting, checking a big file)
Progress = Callable[[int, int], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS machines(
    mach INTEGER PRIMARY KEY, id TEXT NOT NULL, conn TEXT, schema BLOB NOT NULL,
    connected INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS chunks(
    mach INTEGER NOT NULL, k INTEGER NOT NULL, first INTEGER NOT NULL, n INTEGER NOT NULL,
    t_first INTEGER NOT NULL, t_last INTEGER NOT NULL, prev_clocks BLOB NOT NULL,
    crc INTEGER NOT NULL, data_id INTEGER NOT NULL, PRIMARY KEY(mach, k)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunk_data(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seqs(
    mid TEXT NOT NULL, token TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(mid, token));
"""


def is_container(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


def _clocks(raw: bytes) -> tuple[int, ...]:
    try:
        c = unpack_tx(raw).get("c")
    except MessageError:
        return ()
    return tuple(c) if type(c) is list and all(type(x) is int for x in c) else ()


def _human(raw: bytes, recv: int) -> int:
    try:
        st = unpack_tx(raw).get("st")
    except MessageError:
        return recv
    return st if type(st) is int and st > 0 else recv


@dataclass(slots=True)
class _WMach:
    row: int
    id: str
    conn: str
    schema: SchemaMsg
    connected: bool = True
    k: int = 0  # the open chunk
    first: int = 0  # its first tx index
    prev: tuple[int, ...] = ()  # clocks before it
    raws: list[bytes] = field(default_factory=list)
    recv: list[int] = field(default_factory=list)
    data_id: int | None = None  # the open chunk's row, once written
    dirty: bool = False  # machine row changed
    chunk_dirty: bool = False


class ContainerWriter:
    """Writes an `.amdbx` recording: a live `Session` recorder (`--record FILE.amdbx`) or a
    converter (`write_machines`). Thread-safe; the `write_*` calls only buffer, `flush` writes
    one transaction. A failing write stops the recording (`error` says why), ingest goes on."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        flush_interval: float = 1.0,
        background: bool = True,
        append: bool = False,
        chunk_txs: int = CHUNK_TXS,
        level: int = 6,
    ) -> None:
        self.path = Path(path)
        self.chunk_txs = chunk_txs
        self.level = level
        self.flush_interval = flush_interval
        self.error: str | None = None
        self.seqs: dict[tuple[str, str], int] = {}
        self.txs = 0
        self.chunks = 0  # chunks sealed (full) so far
        self._machs: dict[int, _WMach] = {}
        self._by_id: dict[str, int] = {}
        self._by_conn: dict[str, int] = {}
        self._seq_dirty: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self._closed = False
        self._done = False  # the file is closed
        self._wake = threading.Event()
        try:
            if not append and self.path.exists():
                self.path.unlink()
                for extra in ("-wal", "-shm"):
                    Path(str(self.path) + extra).unlink(missing_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            old = dict(self._db.execute("SELECT key, value FROM meta"))
            if old and old.get("format", "").split("/")[0] != FORMAT.split("/")[0]:
                raise RecordingError(f"{str(path)!r} is not an am-dbg indexed recording")
            if old:
                self._resume()
            else:
                self._db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("format", FORMAT), ("app", "am-dbg"), ("version", __version__)],
                )
        except sqlite3.DatabaseError as err:
            raise RecordingError(f"cannot record to {str(path)!r}: {err}") from None
        except OSError as err:
            raise RecordingError(f"cannot record to {str(path)!r}: {err.strerror or err}") from None
        atexit.register(self.close)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._run, name=f"amdbx-writer:{self.path.name}", daemon=True
            )
            self._thread.start()

    def _resume(self) -> None:
        """Continue a recording: its machines keep their rows, new chunks follow the old."""
        self.seqs = {(m, t): s for m, t, s in self._db.execute("SELECT mid, token, seq FROM seqs")}
        rows = self._db.execute("SELECT mach, id, conn, schema, connected FROM machines")
        for row, mid, conn, schema, connected in rows.fetchall():
            m = _WMach(row, mid, conn or "", SchemaMsg.from_wire(msgpack.unpackb(schema)))
            m.connected = bool(connected)
            last = self._db.execute(
                "SELECT k, first, n, data_id FROM chunks WHERE mach=? ORDER BY k DESC LIMIT 1",
                (row,),
            ).fetchone()
            if last is not None:
                k, first, n, data_id = last
                m.k, m.first = k + 1, first + n
                blob = self._db.execute(
                    "SELECT data FROM chunk_data WHERE id=?", (data_id,)
                ).fetchone()
                raws, _ = msgpack.unpackb(zlib.decompress(blob[0]))
                m.prev = _clocks(raws[-1]) if raws else ()
            self._machs[row] = m
            self._by_id[mid] = row

    # the Recorder protocol (model.session) ------------------------------------------------------

    def batch(self) -> threading.RLock:
        """``with writer.batch(): ...``: a flush never splits what is written inside."""
        return self._lock

    def write_connect(self, conn_id: str, mach_id: str, time_ns: int) -> None:
        pass  # the schema that follows decides (new machine, new run, reconnect)

    def write_schema(self, schema: SchemaMsg, conn_id: str, time_ns: int) -> None:
        with self._lock:
            row = self._by_id.get(schema.id)
            m = self._machs.get(row) if row is not None else None
            same_run = m is not None and (
                m.conn == conn_id or (bool(schema.token) and m.schema.token == schema.token)
            )
            if m is not None and not same_run:  # a new run: the earlier one is kept, renamed
                m.id = earlier_run_id(schema.id, self._by_id)
                m.schema = SchemaMsg.from_wire({**m.schema.to_wire(), "id": m.id})
                m.dirty = True
                self._by_id[m.id] = m.row
                m = None
            if m is None:
                row = len(self._machs) + 1
                m = _WMach(row, schema.id, conn_id, schema, dirty=True)
                self._machs[row] = m
                self._by_id[schema.id] = row
            m.schema, m.conn, m.connected, m.dirty = schema, conn_id, True, True
            self._by_conn[conn_id] = m.row

    def write_tx(self, conn_id: str, tx: TxMsg | bytes, time_ns: int) -> None:
        raw = tx if isinstance(tx, bytes) else msgpack.packb(tx.to_wire())
        with self._lock:
            row = self._by_conn.get(conn_id)
            if row is None or self._done:
                return
            m = self._machs[row]
            m.raws.append(raw)
            m.recv.append(time_ns)
            m.chunk_dirty = True
            self.txs += 1
            full = len(m.raws) >= self.chunk_txs
        if full and self._thread is None:
            self.flush()

    def write_disconnect(self, conn_id: str, mach_id: str, time_ns: int) -> None:
        with self._lock:
            row = self._by_conn.pop(conn_id, None)
            if row is not None:
                self._machs[row].connected = False
                self._machs[row].dirty = True

    def write_seq(self, mach_id: str, token: str, seq: int, time_ns: int) -> None:
        with self._lock:
            key = (mach_id, token)
            self.seqs[key] = max(self.seqs.get(key, 0), seq)
            self._seq_dirty.add(key)

    # writing ------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything buffered in one transaction (full chunks sealed, open ones updated)."""
        with self._lock:
            if self.error is not None or self._done:
                return
            try:
                self._flush()
            except (sqlite3.Error, OSError, ValueError) as err:
                self.error = f"recording to {str(self.path)!r} stopped: {err}"
                print(f"am-dbg: {self.error}", file=sys.stderr)
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass

    def _flush(self) -> None:
        db = self._db
        busy = [m for m in self._machs.values() if m.dirty or m.chunk_dirty] or self._seq_dirty
        if not busy:
            return
        db.execute("BEGIN")
        for m in self._machs.values():
            if m.dirty:
                db.execute(
                    "INSERT OR REPLACE INTO machines VALUES (?, ?, ?, ?, ?)",
                    (m.row, m.id, m.conn, msgpack.packb(m.schema.to_wire()), int(m.connected)),
                )
                m.dirty = False
            while m.chunk_dirty:
                self._write_chunk(m)
        for key in self._seq_dirty:
            db.execute("INSERT OR REPLACE INTO seqs VALUES (?, ?, ?)", (*key, self.seqs[key]))
        self._seq_dirty.clear()
        db.execute("COMMIT")

    def _write_chunk(self, m: _WMach) -> None:
        """Write (or rewrite) `m`'s open chunk; a full one is sealed and the next one opened."""
        n = min(len(m.raws), self.chunk_txs)
        raws, recv = m.raws[:n], m.recv[:n]
        data = zlib.compress(msgpack.packb([raws, recv]), self.level)
        crc = zlib.crc32(data)
        if m.data_id is None:
            cur = self._db.execute("INSERT INTO chunk_data(data) VALUES (?)", (data,))
            m.data_id = cur.lastrowid
        else:
            self._db.execute("UPDATE chunk_data SET data=? WHERE id=?", (data, m.data_id))
        t_first, t_last = _human(raws[0], recv[0]), _human(raws[-1], recv[-1])
        self._db.execute(
            "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (m.row, m.k, m.first, n, t_first, t_last, msgpack.packb(m.prev), crc, m.data_id),
        )
        if n < self.chunk_txs:
            m.chunk_dirty = False
            return
        m.prev = _clocks(raws[-1])
        m.k += 1
        m.first += n
        m.data_id = None
        del m.raws[:n], m.recv[:n]
        m.chunk_dirty = bool(m.raws)
        self.chunks += 1

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Flush everything and close the file (idempotent)."""
        if self._closed:
            return
        atexit.unregister(self.close)
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        with self._lock:
            self._done = True
            try:
                # a finished recording is one self-contained file (no -wal / -shm beside it), so a
                # copy opens anywhere, read-only too; a reader still holding it keeps WAL on
                self._db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass
            try:
                self._db.close()
            except sqlite3.Error:
                pass

    def __enter__(self) -> ContainerWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_machines(
    path: str | PathLike[str],
    machines: Iterable[tuple[SchemaMsg, Iterable[tuple[bytes, int]], bool]],
    total: int = 0,
    progress: Progress | None = None,
    chunk_txs: int = CHUNK_TXS,
) -> int:
    """Convert: write (schema, (raw, receive time) pairs, connected) per machine; returns the
    transitions written. Written to `<path>.part` and renamed, so a failure leaves no half file."""
    dest = Path(path)
    tmp = dest.with_name(dest.name + ".part")
    w = ContainerWriter(tmp, background=False, chunk_txs=chunk_txs)
    written = 0
    try:
        for schema, txs, connected in machines:
            w.write_schema(schema, schema.id, 0)
            for raw, t in txs:
                w.write_tx(schema.id, raw, t)
                written += 1
                if progress is not None and not written % 65536:
                    progress(written, total)
            if not connected:
                w.write_disconnect(schema.id, schema.id, 0)
    finally:
        w.close()
    if w.error is not None:
        tmp.unlink(missing_ok=True)
        raise RecordingError(w.error.replace(str(tmp), str(dest)))
    os.replace(tmp, dest)
    if progress is not None:
        progress(written, total)
    return written


# reading ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class ContainerRead:
    """What `open_container` found: lazily decoded machines and what was lost."""

    machines: list[tuple[SchemaMsg, LazyTxs]]
    disconnected: dict[str, bool]
    warnings: list[str]
    cache: ChunkCache
    chunks: int = 0  # intact chunks
    lost_chunks: int = 0
    lost_txs: int = 0
    seqs: dict[tuple[str, str], int] = field(default_factory=dict)


class _Reader:
    """One read-only connection; chunks are fetched by their data row (positioned reads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def blob(self, data_id: int) -> bytes:
        rows = self.query("SELECT data FROM chunk_data WHERE id=?", (data_id,))
        if not rows:
            raise RecordingError(f"recording {str(self.path)!r}: chunk data {data_id} missing")
        return bytes(rows[0][0])

    def read(self, key: tuple[int, int]) -> tuple[list[bytes], list[int]]:
        data_id, crc = key
        try:
            data = self.blob(data_id)
            if zlib.crc32(data) != crc:
                raise RecordingError("checksum mismatch")
            raws, recv = msgpack.unpackb(zlib.decompress(data))
        except (sqlite3.Error, zlib.error, ValueError, RecordingError) as err:
            raise RecordingError(
                f"recording {str(self.path)!r}: chunk {data_id} became unreadable: {err}"
            ) from None
        return raws, recv


def open_container(
    path: str | PathLike[str],
    *,
    verify: bool = True,
    progress: Progress | None = None,
    max_mem_bytes: int = 256 * 2**20,
) -> ContainerRead:
    """Open an `.amdbx` recording: its index now, its transitions when asked (`LazyTxs`).

    `verify`: check every chunk's crc32 first (reads the compressed bytes, inflates nothing), so
    a damaged chunk is left out with a warning rather than failing when shown. Raises
    `RecordingError` when nothing can be read.
    """
    name = str(path)
    try:
        r = _Reader(Path(path))
        meta = dict(r.query("SELECT key, value FROM meta"))
        rows = r.query("SELECT mach, id, schema, connected FROM machines ORDER BY mach")
    except sqlite3.DatabaseError as err:
        raise RecordingError(
            f"{name!r} is not a readable am-dbg indexed recording ({err})"
        ) from None
    fmt = meta.get("format", "")
    if not fmt.startswith("amdbx/"):
        raise RecordingError(f"{name!r} is an SQLite file but not an am-dbg recording")
    try:
        version = int(fmt.split("/")[1])
    except ValueError:
        raise RecordingError(f"recording {name!r} has an invalid format {fmt!r}") from None
    if version > VERSION:
        raise RecordingError(
            f"recording {name!r} has format version {version}, this am-dbg reads version "
            f"{VERSION} only; upgrade am-dbg to open it"
        )
    warnings: list[str] = []
    cache = ChunkCache(max_mem_bytes)
    out = ContainerRead([], {}, warnings, cache)
    try:
        out.seqs = {(m, t): s for m, t, s in r.query("SELECT mid, token, seq FROM seqs")}
    except sqlite3.DatabaseError as err:
        warnings.append(f"recording {name!r}: sender sequence table unreadable ({err})")
    total_chunks = 0
    if verify and progress is not None:
        total_chunks = r.query("SELECT count(*) FROM chunks")[0][0]
    seen = 0
    for row, mid, schema_blob, connected in rows:
        try:
            schema = SchemaMsg.from_wire(msgpack.unpackb(schema_blob))
        except (MessageError, ValueError, TypeError) as err:
            warnings.append(f"recording {name!r}: machine {mid!r} skipped: bad schema ({err})")
            continue
        try:
            chunks = r.query(
                "SELECT k, first, n, t_first, t_last, prev_clocks, crc, data_id "
                "FROM chunks WHERE mach=? ORDER BY k",
                (row,),
            )
        except sqlite3.DatabaseError as err:
            warnings.append(f"recording {name!r}: machine {mid!r}: index unreadable ({err})")
            chunks = []
        index = ChunkIndex()
        last_t = 0
        for k, first, n, t_first, t_last, prev, crc, data_id in chunks:
            seen += 1
            if verify:
                why = _check(r, data_id, crc)
                if progress is not None and not seen % 256:
                    progress(seen, total_chunks)
                if why:
                    out.lost_chunks += 1
                    out.lost_txs += n
                    warnings.append(
                        f"recording {name!r}: machine {mid!r}: chunk {k} damaged ({why}): "
                        f"transitions {first:,}..{first + n - 1:,} ({n:,}) lost"
                    )
                    continue
            index.add(n, t_first, tuple(msgpack.unpackb(prev)), (data_id, crc))
            last_t = max(last_t, t_last)
            out.chunks += 1
        txs = LazyTxs(schema, index, r.read, cache, row, last_t)
        out.machines.append((schema, txs))
        out.disconnected[schema.id] = not connected
    if progress is not None and verify:
        progress(seen, total_chunks)
    if out.lost_chunks:
        warnings.append(
            f"recording {name!r}: {out.lost_chunks:,} damaged chunks skipped, "
            f"{out.lost_txs:,} transitions lost; every intact chunk loaded"
        )
    return out


def _check(r: _Reader, data_id: int, crc: int) -> str:
    """Why chunk data `data_id` cannot be trusted ("" when its checksum holds)."""
    try:
        data = r.blob(data_id)
    except (sqlite3.DatabaseError, RecordingError) as err:
        return str(err)
    if zlib.crc32(data) != crc:
        return "checksum mismatch"
    return ""
