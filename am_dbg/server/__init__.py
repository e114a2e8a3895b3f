"""The am-dbg ingest server: telemetry connections in, `Session` updates (and recordings) out."""

from am_dbg.server.forward import Forwarder, ForwardError
from am_dbg.server.ingest import IngestBatch, IngestServer, IngestStats, ListenError

__all__ = ["ForwardError", "Forwarder", "IngestBatch", "IngestServer", "IngestStats", "ListenError"]
