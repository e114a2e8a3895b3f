"""Errors raised while reading or writing recordings.

    RecordingError           a recording cannot be read (or written) as asked
    └── GobError             a Go `.gob.br` dump is damaged or not what am-dbg exports

Each message says what happened, where (file, byte offset) and what was kept.
"""

from __future__ import annotations

from am_dbg.errors import DbgError

__all__ = ["GobError", "RecordingError"]


class RecordingError(DbgError):
    """A recording cannot be read or written."""


class GobError(RecordingError):
    """A Go am-dbg dump (brotli + `encoding/gob`) cannot be interpreted.

    `offset` is the byte offset in the decompressed gob stream (-1 when the problem is in the
    brotli layer or in the file as a whole); `gob_type` names the gob type being read.
    """

    def __init__(self, message: str, offset: int = -1, gob_type: str = "") -> None:
        self.offset = offset
        self.gob_type = gob_type
        self.reason = message
        where = []
        if offset >= 0:
            where.append(f"at byte {offset:,} of the decompressed gob stream")
        if gob_type:
            where.append(f"reading {gob_type}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
