"""Recordings: am-dbg's `.amdbg` and indexed `.amdbx` formats, Go am-dbg `.gob.br` dumps
(docs/protocol.md, docs/recordings.md).

`load(path)` reads any of them (by content: SQLite → `.amdbx`, opened lazily from its index;
the `AMDBG` magic; else a Go dump) into our messages; `export(session, path)` writes a session,
or a single moment of it, as `.amdbg` (or `.amdbx` when the name ends so);
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
