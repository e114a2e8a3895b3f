"""In-process history: records in a list, bounded by ``max_records`` (docs/telemetry.md#history)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from .base import BY_WALL, History
from .records import MachineRecord, Record


class MemoryHistory(History):
    """Keeps the newest ``max_records`` records in memory (0: unbounded)."""

    def __init__(self, machine_id: str, max_records: int = 100_000) -> None:
        super().__init__(machine_id)
        self.max_records = max_records
        self._records: list[Record] = []
        # parallel keys for bisection (both clocks only grow)
        self._wall: list[float] = []
        self._mtime: list[int] = []

    def _store(self, rec: Record | None, mrec: MachineRecord) -> None:
        if rec is None:
            return
        self._records.append(rec)
        self._wall.append(rec.wall_time)
        self._mtime.append(rec.machine_time)
        # trimmed in bulk (amortised); queries only see the newest max_records
        if self.max_records and len(self._records) >= 2 * self.max_records:
            drop = len(self._records) - self.max_records
            del self._records[:drop], self._wall[:drop], self._mtime[:drop]

    def _lo(self) -> int:
        n = len(self._records)
        return max(0, n - self.max_records) if self.max_records else 0

    def _save_tracking(self, mrec: MachineRecord, tracked: list[str]) -> None:
        pass

    def _load_machine_record(self) -> MachineRecord | None:
        return self._mrec

    def _load_tracked(self) -> list[str] | None:
        return self._tracked

    def _keys(self, by: str) -> list[float] | list[int]:
        return self._wall if by == BY_WALL else self._mtime

    def _last_at(self, at: float | int, by: str) -> Record | None:
        with self._lock:
            lo = self._lo()
            i = bisect_right(self._keys(by), at, lo)
            return self._records[i - 1] if i > lo else None

    def _between(self, start: float | int, end: float | int, by: str) -> list[Record]:
        with self._lock:
            keys, lo = self._keys(by), self._lo()
            return self._records[bisect_left(keys, start, lo) : bisect_right(keys, end, lo)]

    def _latest(self, state: str | None, limit: int) -> list[Record]:
        out: list[Record] = []
        with self._lock:
            lo = self._lo()
            for i in range(len(self._records) - 1, lo - 1, -1):
                rec = self._records[i]
                if len(out) >= limit:
                    break
                if state is None or rec.touches(state):
                    out.append(rec)
        return out

    def count(self) -> int:
        return len(self._records) - self._lo()
