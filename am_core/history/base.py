"""The history API every backend implements: record, query, restore (docs/telemetry.md#history)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import AmError
from .records import MachineRecord, Record
from .tracer import HistoryTracer

if TYPE_CHECKING:
    from ..machine import Machine

#: the two clocks a query can use
BY_WALL = "wall"
BY_MACHINE = "machine"

TimeArg = float | int | datetime


class HistoryError(AmError):
    sentinel = "history"


def _at(value: TimeArg, by: str) -> float | int:
    if by == BY_WALL:
        return value.timestamp() if isinstance(value, datetime) else float(value)
    if by == BY_MACHINE:
        if isinstance(value, datetime):
            raise HistoryError("machine time is a tick sum (int), not a datetime")
        return int(value)
    raise HistoryError(f"unknown clock {by!r}: use 'wall' or 'machine'")


class History:
    """Base class of the backends: queries go to ``_select``-style primitives of each backend.

    Times are wall time (seconds since the epoch, or a ``datetime``) with ``by="wall"``, or machine
    time (the sum of all ticks, which only grows) with ``by="machine"``. Ranges are inclusive.
    """

    def __init__(self, machine_id: str) -> None:
        self.machine_id = machine_id
        self._lock = threading.Lock()
        self._mrec: MachineRecord | None = None
        self._tracked: list[str] | None = None
        self._tracers: list[HistoryTracer] = []

    # ------------------------------------------------------------------ recording

    def track(
        self,
        machine: Machine,
        states: list[str] | None = None,
        store_transitions: bool = True,
        track_rejected: bool = False,
        restore: bool = False,
    ) -> HistoryTracer:
        """Bind a tracer recording ``states`` (default: all) of ``machine``; returns the tracer.

        ``restore=True`` first imports the stored machine record (see ``restore``), with the
        tracer already bound, so the ``MachineRestored`` transition is recorded too.
        """
        if machine.id != self.machine_id:
            raise HistoryError(f"history is for machine {self.machine_id}, not {machine.id}")
        tracer = HistoryTracer(self, machine, states, store_transitions, track_rejected)
        now = time.time()
        with self._lock:
            prev = self._load_machine_record()
            if restore and prev is None:
                raise HistoryError(f"no history of machine {self.machine_id}")
            src = prev if restore else None
            if src is not None:
                # import_ applies this order; the tracer must know it before the import runs
                tracer._index(list(src.state_names))
            self._mrec = MachineRecord(
                machine_id=machine.id,
                state_names=list(src.state_names) if src else machine.state_names(),
                time=list(src.time) if src else list(machine.time()),
                queue_tick=src.queue_tick if src else machine.queue_tick(),
                machine_tick=src.machine_tick + 1 if src else machine.machine_tick(),
                first_tracking=prev.first_tracking if prev else now,
                last_tracking=now,
                last_sync=prev.last_sync if prev else now,
                next_id=prev.next_id if prev else 1,
            )
            self._tracked = tracer.tracked
            self._save_tracking(self._mrec, self._tracked)
        machine.tracer_bind(tracer)
        self._tracers.append(tracer)
        if src is not None:
            self._import(machine, src)
        return tracer

    def _append(self, rec: Record, mach_time: list[int], queue_tick: int) -> None:
        """Called by the tracer on the machine's thread."""
        with self._lock:
            m = self._mrec
            assert m is not None
            rec.id = m.next_id
            m.next_id += 1
            m.time = mach_time
            m.queue_tick = queue_tick
            m.machine_tick = rec.machine_tick
            m.last_sync = rec.wall_time
            self._store(rec, m)

    def _sync(self, mach_time: list[int], queue_tick: int, machine_tick: int) -> None:
        """An untracked transition: only the machine record changes."""
        with self._lock:
            m = self._mrec
            assert m is not None
            m.time = mach_time
            m.queue_tick = queue_tick
            m.machine_tick = machine_tick
            m.last_sync = time.time()
            self._store(None, m)

    def _names_changed(self, names: list[str], tracked: list[str], time_: list[int]) -> None:
        """The machine's state order changed (``verify_states`` / ``set_schema``)."""
        with self._lock:
            if self._mrec is not None:
                self._mrec.state_names = names
                self._mrec.time = time_
                self._tracked = tracked
                self._save_tracking(self._mrec, tracked)

    # backend primitives
    def _store(self, rec: Record | None, mrec: MachineRecord) -> None:
        raise NotImplementedError

    def _save_tracking(self, mrec: MachineRecord, tracked: list[str]) -> None:
        raise NotImplementedError

    def _load_machine_record(self) -> MachineRecord | None:
        raise NotImplementedError

    def _load_tracked(self) -> list[str] | None:
        raise NotImplementedError

    def _last_at(self, at: float | int, by: str) -> Record | None:
        """The last record at or before ``at``."""
        raise NotImplementedError

    def _between(self, start: float | int, end: float | int, by: str) -> list[Record]:
        raise NotImplementedError

    def _latest(self, state: str | None, limit: int) -> list[Record]:
        raise NotImplementedError

    def flush(self) -> None:
        """Wait until everything recorded so far is stored (a no-op in memory)."""

    def close(self) -> None:
        """Flush and release the backend."""

    def count(self) -> int:
        """How many records of this machine are stored."""
        raise NotImplementedError

    # ------------------------------------------------------------------ queries

    def _check(self, state: str) -> None:
        tracked = self._tracked if self._tracked is not None else self._load_tracked()
        if tracked is None:
            raise HistoryError(f"no history of machine {self.machine_id}")
        if state not in tracked:
            raise HistoryError(f"state {state} is not tracked by the history of {self.machine_id}")

    def records_between(self, start: TimeArg, end: TimeArg, by: str = BY_WALL) -> list[Record]:
        """Every record in ``[start, end]``, oldest first."""
        self.flush()
        return self._between(_at(start, by), _at(end, by), by)

    def _changed_between(
        self, state: str, field: str, start: float | int, end: float | int, by: str
    ) -> bool:
        return any(state in getattr(r, field) for r in self._between(start, end, by))

    def activated_between(
        self, state: str, start: TimeArg, end: TimeArg, by: str = BY_WALL
    ) -> bool:
        """Did a transition in ``[start, end]`` activate ``state``?"""
        self._check(state)
        self.flush()
        return self._changed_between(state, "activated", _at(start, by), _at(end, by), by)

    def deactivated_between(
        self, state: str, start: TimeArg, end: TimeArg, by: str = BY_WALL
    ) -> bool:
        """Did a transition in ``[start, end]`` deactivate ``state``?"""
        self._check(state)
        self.flush()
        return self._changed_between(state, "deactivated", _at(start, by), _at(end, by), by)

    def active_at(self, state: str, at: TimeArg, by: str = BY_WALL) -> bool:
        """Was ``state`` active at ``at`` (by the last record at or before it)?"""
        self._check(state)
        self.flush()
        rec = self._last_at(_at(at, by), by)
        return rec is not None and rec.ticks.get(state, 0) % 2 == 1

    def active_between(self, state: str, start: TimeArg, end: TimeArg, by: str = BY_WALL) -> bool:
        """Was ``state`` active at any moment of ``[start, end]``?"""
        # active at some moment iff active at the start or activated within
        return self.active_at(state, start, by) or self.activated_between(state, start, end, by)

    def last_transitions(self, state: str, n: int = 10) -> list[Record]:
        """The last ``n`` records that activated, deactivated or called ``state``, newest first."""
        self._check(state)
        self.flush()
        return self._latest(state, n)

    def last(self, n: int = 1) -> list[Record]:
        """The last ``n`` records, newest first."""
        self.flush()
        return self._latest(None, n)

    def machine_record(self) -> MachineRecord | None:
        """The machine as of its last record (from storage when not tracking here)."""
        self.flush()
        with self._lock:
            if self._mrec is not None:
                m = self._mrec
                return replace(m, time=list(m.time), state_names=list(m.state_names))
        return self._load_machine_record()

    def restore(self, machine: Machine) -> MachineRecord:
        """``import_`` the last record into ``machine``: its clocks continue from there and, when
        its schema has ``MachineRestored``, that state is added (as ``Machine.import_`` does).
        Restore before ``track``, or use ``track(..., restore=True)``: tracking a machine makes it
        the last record."""
        mrec = self.machine_record()
        if mrec is None:
            raise HistoryError(f"no history of machine {self.machine_id}")
        # import_ may reorder the states and runs no tracer hook for it: this history's tracers
        # on the machine learn the new order first (MachineRestored is recorded with it)
        for t in self._tracers:
            if t.machine is machine:
                t._index(list(mrec.state_names))
        self._import(machine, mrec)
        return mrec

    @staticmethod
    def _import(machine: Machine, mrec: MachineRecord) -> None:
        from ..machine import Serialized

        machine.import_(
            Serialized(
                id=mrec.machine_id,
                state_names=list(mrec.state_names),
                time=list(mrec.time),
                queue_tick=mrec.queue_tick,
                machine_tick=mrec.machine_tick,
            )
        )
