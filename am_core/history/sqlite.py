"""SQLite history (stdlib ``sqlite3``): WAL, batched writes on a writer thread, queries in SQL.

Several machines can share one file; each ``SQLiteHistory`` is one machine's view of it
(docs/telemetry.md#history).
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .base import BY_WALL, History
from .records import MachineRecord, Record

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    machine_id TEXT NOT NULL,
    id INTEGER NOT NULL,
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
    source_machine TEXT NOT NULL,
    PRIMARY KEY (machine_id, id)
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
"""

_COLS = (
    "id, machine_id, wall_time, machine_time, machine_tick, mutation_type, activated, "
    "deactivated, ticks, tx_id, called, is_auto, is_accepted, queue_tick, source_tx, source_machine"
)
_INSERT = f"INSERT OR REPLACE INTO records ({_COLS}) VALUES ({', '.join('?' * 16)})"
_SYNC = (
    "UPDATE machines SET time = ?, queue_tick = ?, machine_tick = ?, last_sync = ?, next_id = ? "
    "WHERE machine_id = ?"
)
_BATCH = 5000
_dumps = json.dumps


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _row_to_record(row: tuple[Any, ...]) -> Record:
    return Record(
        id=row[0],
        machine_id=row[1],
        wall_time=row[2],
        machine_time=row[3],
        machine_tick=row[4],
        mutation_type=row[5],
        activated=json.loads(row[6]),
        deactivated=json.loads(row[7]),
        ticks=json.loads(row[8]),
        tx_id=row[9],
        called=json.loads(row[10]),
        is_auto=bool(row[11]),
        is_accepted=bool(row[12]),
        queue_tick=row[13],
        source_tx=row[14],
        source_machine=row[15],
    )


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
        rows = [
            (
                r.id,
                r.machine_id,
                r.wall_time,
                r.machine_time,
                r.machine_tick,
                r.mutation_type,
                _dumps(r.activated),
                _dumps(r.deactivated),
                _dumps(r.ticks),
                r.tx_id,
                _dumps(r.called),
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
        with self._rlock:
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
            f"ORDER BY {col} DESC, id DESC LIMIT 1",
            (self.machine_id, at),
        )
        return _row_to_record(rows[0]) if rows else None

    def _between(self, start: float | int, end: float | int, by: str) -> list[Record]:
        col = self._col(by)
        rows = self._query(
            f"SELECT {_COLS} FROM records WHERE machine_id = ? AND {col} BETWEEN ? AND ? "
            "ORDER BY id",
            (self.machine_id, start, end),
        )
        return [_row_to_record(r) for r in rows]

    def _changed_between(
        self, state: str, field: str, start: float | int, end: float | int, by: str
    ) -> bool:
        col = self._col(by)
        rows = self._query(
            f"SELECT 1 FROM records WHERE machine_id = ? AND {col} BETWEEN ? AND ? "
            f"AND instr({field}, ?) > 0 LIMIT 1",
            (self.machine_id, start, end, _dumps(state)),
        )
        return bool(rows)

    def _latest(self, state: str | None, limit: int) -> list[Record]:
        if state is None:
            rows = self._query(
                f"SELECT {_COLS} FROM records WHERE machine_id = ? ORDER BY id DESC LIMIT ?",
                (self.machine_id, limit),
            )
        else:
            s = _dumps(state)
            rows = self._query(
                f"SELECT {_COLS} FROM records WHERE machine_id = ? AND (instr(activated, ?) > 0 "
                "OR instr(deactivated, ?) > 0 OR instr(called, ?) > 0) ORDER BY id DESC LIMIT ?",
                (self.machine_id, s, s, s, limit),
            )
        return [_row_to_record(r) for r in rows]

    def count(self) -> int:
        """How many records this machine has in the file."""
        self.flush()
        return int(
            self._query("SELECT count(*) FROM records WHERE machine_id = ?", (self.machine_id,))[0][
                0
            ]
        )
