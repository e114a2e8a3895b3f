"""The sender's bounded outbox: what the machine produced and the debugger has not confirmed yet.

Thread-safe and never blocking: the machine thread appends, the I/O loop takes frames out. Items
stay until the debugger acks them, so a connection that dies mid-stream loses nothing: after a
reconnect everything unacked is sent again (the debugger skips what it already has, by ``seq``).
Above ``limit`` items the oldest are dropped; every drop of an item not acked yet (sent or not:
an ack means durable, docs/protocol.md "Delivery") is counted, reported in the next frame
(``dropped``) and in :meth:`Outbox.stats`, never silent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from am_rpc.dbg.protocol import SchemaMsg

__all__ = ["Outbox", "OutboxStats"]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    queued: int  # items waiting (unsent + sent but unacked)
    produced: int  # tx messages ever added
    acked: int  # seq of the last tx the debugger confirmed
    dropped: int  # tx messages dropped before they were acked (overflow), total


class Outbox:
    """FIFO of ``(seq, packed tx)`` and schema-change markers ``(seq of the tx before, SchemaMsg)``."""

    __slots__ = (
        "_dropped_report",
        "_head",
        "_items",
        "_lock",
        "_sent",
        "acked",
        "dropped",
        "limit",
        "next_seq",
        "schema_lost",
    )

    def __init__(self, limit: int = 10_000) -> None:
        if limit < 1:
            raise ValueError(f"outbox limit must be >= 1, got {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._items: list[tuple[int, Any]] = []
        self._head = 0  # items before this index are gone
        self._sent = 0  # items from _head already written to the current connection
        self.next_seq = 1
        self.acked = 0
        self.dropped = 0
        self._dropped_report = 0  # dropped since the last frame
        self.schema_lost = False  # a schema marker was dropped unsent: re-send the schema

    def __len__(self) -> int:
        return len(self._items) - self._head

    def put_tx(self, packed: bytes) -> int:
        """Add one packed tx map; return its seq. Drops the oldest item when full."""
        with self._lock:
            seq = self.next_seq
            self.next_seq = seq + 1
            self._items.append((seq, packed))
            if len(self._items) - self._head > self.limit:
                self._drop_oldest()
            return seq

    def put_schema(self, schema: SchemaMsg) -> None:
        """Queue a schema change, ordered after every tx already queued."""
        with self._lock:
            self._items.append((self.next_seq - 1, schema))
            if len(self._items) - self._head > self.limit:
                self._drop_oldest()

    def _drop_oldest(self) -> None:
        item = self._items[self._head][1]
        self._items[self._head] = (0, None)
        self._head += 1
        sent = self._sent > 0
        if sent:
            self._sent -= 1
        if isinstance(item, SchemaMsg):
            self.schema_lost = self.schema_lost or not sent
        else:
            # written but not acked is not delivered: the debugger acks only what is durable,
            # and a recorder killed before its flush never had it. Counted either way.
            self.dropped += 1
            self._dropped_report += 1
        self._compact()

    def _compact(self) -> None:
        if self._head > 4096 and self._head * 2 > len(self._items):
            del self._items[: self._head]
            self._head = 0

    def ack(self, seq: int) -> None:
        """The debugger has every tx up to ``seq``: forget them (and schema markers sent before)."""
        with self._lock:
            if seq <= self.acked:
                return
            self.acked = seq
            items, head = self._items, self._head
            end = len(items)
            while head < end and self._sent > 0:
                s, item = items[head]
                if isinstance(item, SchemaMsg) or s <= seq:
                    items[head] = (0, None)
                    head += 1
                    self._sent -= 1
                else:
                    break
            self._head = head
            self._compact()

    def rewind(self) -> None:
        """The connection is gone: everything unacked will be sent again on the next one."""
        with self._lock:
            self._sent = 0

    def take(
        self, max_txs: int = 2048, max_bytes: int = 1 << 20
    ) -> tuple[SchemaMsg | None, int, list[bytes], int]:
        """The next unit to send: ``(schema, 0, [], 0)`` or ``(None, first seq, txs, dropped)``.

        Returns ``(None, 0, [], dropped)`` when nothing is waiting. Marks what it returns as sent.
        """
        with self._lock:
            start = self._head + self._sent
            items = self._items
            dropped = self._dropped_report
            if start >= len(items):
                return None, 0, [], 0
            first_seq, first = items[start]
            if isinstance(first, SchemaMsg):
                self._sent += 1
                return first, 0, [], 0
            out: list[bytes] = []
            size = 0
            end = min(len(items), start + max_txs)
            i = start
            while i < end:
                item = items[i][1]
                if isinstance(item, SchemaMsg):
                    break
                out.append(item)
                size += len(item)
                i += 1
                if size >= max_bytes:
                    break
            self._sent += len(out)
            self._dropped_report = 0
            return None, first_seq, out, dropped

    def delivered(self) -> bool:
        """Every tx was confirmed and nothing (not even a schema change) waits to be written."""
        with self._lock:
            pending = len(self._items) - self._head - self._sent
            return self.acked >= self.next_seq - 1 and pending == 0

    @property
    def pending(self) -> int:
        """Items not yet written to the current connection."""
        return len(self._items) - self._head - self._sent

    def stats(self) -> OutboxStats:
        with self._lock:
            return OutboxStats(len(self), self.next_seq - 1, self.acked, self.dropped)
