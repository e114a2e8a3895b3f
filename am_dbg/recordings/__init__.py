"""Recordings: am-dbg's own `.amdbg` format and Go am-dbg `.gob.br` dumps (docs/protocol.md).

`load(path)` reads either (by content: the `AMDBG` magic, else a Go dump) into our messages;
`export(session, path)` writes a session, or a single moment of it, as `.amdbg`;
`RecordingWriter` records live. Errors: `RecordingError` (see `errors.py`).
"""

from am_dbg.recordings.amdbg import FORMAT, MAGIC, RecordingWriter, read_amdbg
from am_dbg.recordings.errors import RecordingError
from am_dbg.recordings.io import LoadResult, export, load

__all__ = [
    "FORMAT",
    "MAGIC",
    "LoadResult",
    "RecordingError",
    "RecordingWriter",
    "export",
    "load",
    "read_amdbg",
]
