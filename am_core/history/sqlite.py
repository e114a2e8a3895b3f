"""SQLite history (stdlib ``sqlite3``): WAL, batched writes on a writer thread, queries in SQL.

Several machines can share one file; each ``SQLiteHistory`` is one machine's view of it
(docs/telemetry.md#history).
"""

from __future__ import annotations

import atexit
import json
import queue
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from .base import BY_WALL, History
from .records import MachineRecord, Record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    machine_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    layout INTEGER NOT NULL,
    wall_time REAL NOT NULL,
    machine_time INTEGER NOT NULL,
    machine_tick INTEGER NOT NULL,
    mutation_type INTEGER NOT NULL,
    activated TEXT NOT NULL,
    deactivated TEXT NOT NULL,
    ticks TEXT NOT NULL,
    tx_id TEXT NOT NULL,
    called TEXT NOT NULL,
    is_auto INTEGER NOT NULL,
    is_accepted INTEGER NOT NULL,
    queue_tick INTEGER NOT NULL,
    source_tx TEXT NOT NULL,
    source_machine TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_wall ON records (machine_id, wall_time);
CREATE INDEX IF NOT EXISTS records_mtime ON records (machine_id, machine_time);
CREATE TABLE IF NOT EXISTS machines (
    machine_id TEXT PRIMARY KEY,
    state_names TEXT NOT NULL,
    tracked TEXT NOT NULL,
    time TEXT NOT NULL,
    queue_tick INTEGER NOT NULL,
    machine_tick INTEGER NOT NULL,
    first_tracking REAL NOT NULL,
    last_tracking REAL NOT NULL,
    last_sync REAL NOT NULL,
    next_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS layouts (
    machine_id TEXT NOT NULL,
    layout INTEGER NOT NULL,
    tracked TEXT NOT NULL,
    PRIMARY KEY (machine_id, layout)
);
"""

_COLS = (
    "id, machine_id, layout, wall_time, machine_time, machine_tick, mutation_type, activated, "
    "deactivated, ticks, tx_id, called, is_auto, is_accepted, queue_tick, source_tx, source_machine"
)
_INSERT = f"INSERT INTO records ({_COLS}) VALUES ({', '.join('?' * 17)})"
_SYNC = (
    "UPDATE machines SET time = ?, queue_tick = ?, machine_tick = ?, last_sync = ?, next_id = ? "
    "WHERE machine_id = ?"
)
_BATCH = 5000
_dumps = json.dumps
# state-name lists are stored as "\x1fA\x1fB\x1f": cheap to build, and instr() finds "\x1fA\x1f"
_SEP = "\x1f"


def _names(names: list[str]) -> str:
    return _SEP + _SEP.join(names) + _SEP if names else ""


def _unnames(text: str) -> list[str]:
    return text[1:-1].split(_SEP) if text else []


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _row_to_record(row: tuple[Any, ...], layouts: dict[int, list[str]]) -> Record:
    tracked = layouts[row[2]]
    ticks = [int(t) for t in row[9].split(",")] if row[9] else []
    return Record(
        id=row[0],
        machine_id=row[1],
        wall_time=row[3],
        machine_time=row[4],
        machine_tick=row[5],
        mutation_type=row[6],
        activated=_unnames(row[7]),
        deactivated=_unnames(row[8]),
        ticks=dict(zip(tracked, ticks, strict=True)),
        tx_id=row[10],
        called=_unnames(row[11]),
        is_auto=bool(row[12]),
        is_accepted=bool(row[13]),
        queue_tick=row[14],
        source_tx=row[15],
        source_machine=row[16],
    )


_open: weakref.WeakSet[SQLiteHistory] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """The writer is a daemon thread: commit what is queued before the interpreter exits."""
    for hist in list(_open):
        try:
            hist.close()
        except Exception:
            pass


class SQLiteHistory(History):
    """One machine's history in a SQLite file; safe to read from another process while written."""

    def __init__(self, path: str | Path, machine_id: str) -> None:
        super().__init__(machine_id)
        self.path = str(path)
        self._conn = _connect(self.path)
        self._conn.executescript(_SCHEMA)
        self._rlock = threading.Lock()
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        # the tracked-state list of this run's records, and every one seen (for decoding)
        self._layout = 0
        self._layouts: dict[int, list[str]] = {}
        _open.add(self)

    # ------------------------------------------------------------------ writing

    def _store(self, rec: Record | None, mrec: MachineRecord) -> None:
        if self._writer is None:
            self._start_writer()
        self._q.put(
            (rec, mrec.time, mrec.queue_tick, mrec.machine_tick, mrec.last_sync, mrec.next_id)
        )

    def _start_writer(self) -> None:
        if self._closed:
            raise RuntimeError(f"history of {self.machine_id} is closed")
        self._writer = threading.Thread(
            target=self._write_loop, name=f"am-history-{self.machine_id}", daemon=True
        )
        self._writer.start()

    def _write_loop(self) -> None:
        conn = _connect(self.path)
        q = self._q
        try:
            while True:
                item = q.get()
                batch: list[Any] = []
                waiters: list[threading.Event] = []
                stop = False
                while True:
                    if item is None:
                        stop = True
                    elif isinstance(item, threading.Event):
                        waiters.append(item)
                    else:
                        batch.append(item)
                    if len(batch) >= _BATCH:
                        break
                    try:
                        item = q.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    self._write(conn, batch)
                for w in waiters:
                    w.set()
                if stop:
                    return
        except BaseException as e:  # surfaced by flush()
            self._error = e
            # release anyone waiting; their flush() raises
            while True:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, threading.Event):
                    item.set()
        finally:
            conn.close()

    def _write(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        layout = self._layout
        rows = [
            (
                r.id,
                r.machine_id,
                layout,
                r.wall_time,
                r.machine_time,
                r.machine_tick,
                r.mutation_type,
                _names(r.activated),
                _names(r.deactivated),
                ",".join(map(str, r.ticks.values())),
                r.tx_id,
                _names(r.called),
                int(r.is_auto),
                int(r.is_accepted),
                r.queue_tick,
                r.source_tx,
                r.source_machine,
            )
            for r, *_ in batch
            if r is not None
        ]
        _r, t, qt, mt, synced, next_id = batch[-1]
        conn.execute("BEGIN")
        try:
            if rows:
                conn.executemany(_INSERT, rows)
            conn.execute(_SYNC, (_dumps(t), qt, mt, synced, next_id, self.machine_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def flush(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            ev = threading.Event()
            self._q.put(ev)
            ev.wait()
        if self._error is not None:
            raise RuntimeError(f"history writer of {self.machine_id} failed") from self._error

    def close(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._writer is not None:
            self._q.put(None)
            self._writer.join()
        self._conn.close()

    def _save_tracking(self, mrec: MachineRecord, tracked: list[str]) -> None:
        self.flush()
        layouts = self._load_layouts()
        found = [k for k, v in layouts.items() if v == tracked]
        with self._rlock:
            if found:
                self._layout = found[0]
            else:
                self._layout = max(layouts, default=0) + 1
                self._conn.execute(
                    "INSERT INTO layouts (machine_id, layout, tracked) VALUES (?, ?, ?)",
                    (self.machine_id, self._layout, _dumps(tracked)),
                )
                self._layouts[self._layout] = list(tracked)
            self._conn.execute(
                "INSERT OR REPLACE INTO machines (machine_id, state_names, tracked, time, "
                "queue_tick, machine_tick, first_tracking, last_tracking, last_sync, next_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    mrec.machine_id,
                    _dumps(mrec.state_names),
                    _dumps(tracked),
                    _dumps(mrec.time),
                    mrec.queue_tick,
                    mrec.machine_tick,
                    mrec.first_tracking,
                    mrec.last_tracking,
                    mrec.last_sync,
                    mrec.next_id,
                ),
            )

    # ------------------------------------------------------------------ reading

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._rlock:
            return self._conn.execute(sql, params).fetchall()

    def _machine_row(self) -> tuple[Any, ...] | None:
        rows = self._query(
            "SELECT machine_id, state_names, time, queue_tick, machine_tick, first_tracking, "
            "last_tracking, last_sync, next_id, tracked FROM machines WHERE machine_id = ?",
            (self.machine_id,),
        )
        return rows[0] if rows else None

    def _load_machine_record(self) -> MachineRecord | None:
        row = self._machine_row()
        if row is None:
            return None
        return MachineRecord(
            machine_id=row[0],
            state_names=json.loads(row[1]),
            time=json.loads(row[2]),
            queue_tick=row[3],
            machine_tick=row[4],
            first_tracking=row[5],
            last_tracking=row[6],
            last_sync=row[7],
            next_id=row[8],
        )

    def _load_layouts(self) -> dict[int, list[str]]:
        rows = self._query(
            "SELECT layout, tracked FROM layouts WHERE machine_id = ?", (self.machine_id,)
        )
        self._layouts = {k: json.loads(v) for k, v in rows}
        return self._layouts

    def _decode(self, rows: list[tuple[Any, ...]]) -> list[Record]:
        layouts = self._layouts
        if any(r[2] not in layouts for r in rows):
            layouts = self._load_layouts()
        return [_row_to_record(r, layouts) for r in rows]

    def _load_tracked(self) -> list[str] | None:
        row = self._machine_row()
        return json.loads(row[9]) if row else None

    @staticmethod
    def _col(by: str) -> str:
        return "wall_time" if by == BY_WALL else "machine_time"

    def _last_at(self, at: float | int, by: str) -> Record | None:
        col = self._col(by)
        rows = self._query(
            f"SELECT {_COLS} FROM records WHERE machine_id = ? AND {col} <= ? "
            f"ORDER BY {col} DESC, rowid DESC LIMIT 1",
            (self.machine_id, at),
        )
        return self._decode(rows)[0] if rows else None

    def _between(self, start: float | int, end: float | int, by: str) -> list[Record]:
        col = self._col(by)
        rows = self._query(
            f"SELECT {_COLS} FROM records WHERE machine_id = ? AND {col} BETWEEN ? AND ? "
            "ORDER BY rowid",
            (self.machine_id, start, end),
        )
        return self._decode(rows)

    def _changed_between(
        self, state: str, field: str, start: float | int, end: float | int, by: str
    ) -> bool:
        col = self._col(by)
        rows = self._query(
            f"SELECT 1 FROM records WHERE machine_id = ? AND {col} BETWEEN ? AND ? "
            f"AND instr({field}, ?) > 0 LIMIT 1",
            (self.machine_id, start, end, _names([state])),
        )
        return bool(rows)

    def _latest(self, state: str | None, limit: int) -> list[Record]:
        if state is None:
            rows = self._query(
                f"SELECT {_COLS} FROM records WHERE machine_id = ? ORDER BY rowid DESC LIMIT ?",
                (self.machine_id, limit),
            )
        else:
            s = _names([state])
            rows = self._query(
                f"SELECT {_COLS} FROM records WHERE machine_id = ? AND (instr(activated, ?) > 0 "
                "OR instr(deactivated, ?) > 0 OR instr(called, ?) > 0) ORDER BY rowid DESC LIMIT ?",
                (self.machine_id, s, s, s, limit),
            )
        return self._decode(rows)

    def count(self) -> int:
        """How many records this machine has in the file."""
        self.flush()
        return int(
            self._query("SELECT count(*) FROM records WHERE machine_id = ?", (self.machine_id,))[0][
                0
            ]
        )
