"""The am-dbg exception tree: one root, `DbgError`, for everything the debugger raises.

Each class lives next to the code that raises it (and is imported from there); the stdlib base it
had before it joined the tree stays a base too, so ``except ValueError`` / ``except OSError`` keep
working. Every error class am_dbg defines is in this tree (``tests/dbg/test_dbg_errors.py``
checks it). Errors of the telemetry wire itself are am_rpc's (``am_rpc.dbg.protocol.MessageError``).

::

    DbgError                  base of every error am_dbg raises
    ├── ConfigError           a command line value cannot be used (am_dbg.config; a ValueError)
    ├── DemoError             the demo cannot start (am_dbg.demo; a RuntimeError)
    ├── UrlError              text that is not a ``mach://`` address (am_dbg.model.urls; a ValueError)
    ├── ListenError           the ingest server cannot listen (am_dbg.server.ingest; an OSError)
    ├── ForwardError          a forward target cannot be reached at startup
    │                         (am_dbg.server.forward; an OSError)
    ├── TooDeepError          a msgpack value nests too deep or is not msgpack
    │                         (am_dbg.recordings.depth; a ValueError)
    ├── DiagramError          a diagram asked of a state, group or transition that is not there
    │                         (am_dbg.model.diagram; a ValueError)
    ├── SvgError              Graphviz is missing or failed (am_dbg.vis.svg; a RuntimeError)
    ├── CliError              an ``am-vis`` argument cannot be used (am_dbg.vis.cli)
    ├── RemoteError           an MCP tool or REPL request names something that is not there
    │                         (am_dbg.remote.errors; a ValueError)
    ├── SshError              the ``--ui-ssh`` server cannot start (am_dbg.remote.ssh; an OSError)
    ├── RecordingError        a recording cannot be read or written (am_dbg.recordings.errors)
    │   └── GobError          a Go ``.gob.br`` dump is damaged or not what am-dbg exports
    ├── _WireError            internal to am_dbg.recordings.gob: a gob decode failure at a position
    │                         (reported as a GobError)
    └── _ChunkDamageError     internal to am_dbg.recordings.amdbg: a chunk whose content cannot be
                              read (the reader skips it and says so)
"""

from __future__ import annotations

__all__ = ["DbgError"]


class DbgError(Exception):
    """Base class of every exception raised by am_dbg."""
