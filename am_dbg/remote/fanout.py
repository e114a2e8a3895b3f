"""One live session fed to many viewer processes (docs/remote.md, "Viewers over SSH").

`Fanout` sits where the ingest server forwards what it accepted (`IngestServer.forward`, the
``--fwd-data`` hook): each frame goes to the ``--fwd-data`` forwarder, if any, and to every
attached viewer feed. A feed is an `am_dbg.server.Forwarder` to a viewer's own ingest port;
`attach` first replays the session as it is (every machine's schema, its transitions with their
receive times, a disconnect for the greyed ones) and then adds the feed to the live list in the
same event-loop turn, so a viewer misses nothing and sees nothing twice.
"""

from __future__ import annotations

from typing import Any

from msgpack import packb

from am_dbg.model.derive import unpack_tx
from am_dbg.model.session import Session
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

__all__ = ["Fanout"]

_CHUNK = 512  # transitions per replayed frame


class Fanout:
    """The ingest server's `forward`: the original forwarder plus every attached feed."""

    def __init__(self, session: Session, forward: Any = None) -> None:
        self.session = session
        self.forward = forward
        self.feeds: list[Any] = []

    def attach(self, feed: Any) -> None:
        """Replay the session into `feed`, then keep it fed with what arrives."""
        for h in list(self.session.machines.values()):
            conn = h.conn_id
            feed.schema(conn, h.schema)
            for start in range(0, len(h), _CHUNK):
                end = min(start + _CHUNK, len(h))
                txs: list[TxMsg | bytes] = []
                for i, raw in enumerate(h.raws(start, end), start):
                    d = unpack_tx(raw)
                    d["time"] = h.recv_time_ns(i)  # the viewer keeps the original receive time
                    txs.append(packb(d))
                feed.txs(conn, 0, txs)  # seq 0: never taken for a resend (no dedup)
            if not h.connected:
                feed.disc(conn)
        self.feeds.append(feed)

    def detach(self, feed: Any) -> None:
        if feed in self.feeds:
            self.feeds.remove(feed)

    # the forward hook of the ingest server ------------------------------------------------------

    def schema(self, conn_id: str, schema: SchemaMsg) -> None:
        if self.forward is not None:
            self.forward.schema(conn_id, schema)
        for f in self.feeds:
            f.schema(conn_id, schema)

    def txs(self, conn_id: str, seq: int, txs: list[TxMsg | bytes]) -> None:
        if self.forward is not None:
            self.forward.txs(conn_id, seq, txs)
        for f in self.feeds:
            f.txs(conn_id, seq, txs)

    def disc(self, conn_id: str) -> None:
        if self.forward is not None:
            self.forward.disc(conn_id)
        for f in self.feeds:
            f.disc(conn_id)

    def close(self) -> None:
        for f in self.feeds:
            f.close()
        self.feeds.clear()
        if self.forward is not None:
            self.forward.close()
