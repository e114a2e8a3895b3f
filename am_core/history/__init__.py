"""Mutation history: a tracer recording chosen states, queries over it, and restoring a machine
after a restart (docs/telemetry.md#history). Stdlib only."""

from .base import BY_MACHINE, BY_WALL, History, HistoryError
from .memory import MemoryHistory
from .records import MachineRecord, Record
from .sqlite import SQLiteHistory
from .tracer import HistoryTracer

__all__ = [
    "BY_MACHINE",
    "BY_WALL",
    "History",
    "HistoryError",
    "HistoryTracer",
    "MachineRecord",
    "MemoryHistory",
    "Record",
    "SQLiteHistory",
]
