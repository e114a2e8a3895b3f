"""The debugger's model: plain Python, no Textual (the UI only renders it).

`history` (one machine's stored transitions), `session` (every machine and the ingest rules),
`derive` (per-transition data computed once at ingest); the navigation model (`cursor`, `filters`,
`urls`) builds on them.
"""

from am_dbg.model.derive import TxInfo
from am_dbg.model.history import MachineHistory
from am_dbg.model.session import BatchOutcome, SchemaOutcome, Session

__all__ = ["BatchOutcome", "MachineHistory", "SchemaOutcome", "Session", "TxInfo"]
