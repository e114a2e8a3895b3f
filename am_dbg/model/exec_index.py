"""Which transition executed a queued mutation: an index instead of a scan per question.

A queued-mutation message is executed by the first later transition (not another queued message)
with its queue tick or its token. The filters (the auto tri-state) and the reader's Queue section
ask this of thousands of queued messages per frame; a forward scan each, to the end of the
history for the ones never executed, made selecting a long machine take seconds.

The index keeps, for every executed (non-queued) transition, its position and queue tick in two
arrays, and its token, if any. Queue ticks only grow along a machine's transitions, so the first
transition after a message with a given tick is a bisect; if a history ever breaks that order,
the index says so and the caller scans as before.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

from am_dbg.model.derive import TxInfo

__all__ = ["ExecIndex"]

_F = TxInfo._fields
_QUEUED = _F.index("is_queued")
_TICK = _F.index("queue_tick")
_TOKEN = _F.index("mut_queue_token")


class ExecIndex:
    """Executed transitions by queue tick and by token (absolute positions), built incrementally."""

    __slots__ = ("_pos", "_tick", "_token", "monotonic", "upto")

    def __init__(self, start: int = 0) -> None:
        self._pos = array("q")  # absolute positions of executed transitions, in order
        self._tick = array("q")  # their queue ticks (non-decreasing while `monotonic`)
        self._token: dict[int, list[int]] = {}  # nonzero token -> positions
        self.monotonic = True
        self.upto = start  # absolute position indexed up to

    def extend(self, rows: Sequence[tuple[Any, ...]], base: int) -> None:
        """Index stored infos (plain tuples, `rows[i]` at absolute position `base + i`) not seen yet."""
        pos, ticks, tokens = self._pos, self._tick, self._token
        last = ticks[-1] if ticks else 0
        for i in range(self.upto - base, len(rows)):
            row = rows[i]
            if row[_QUEUED]:
                continue
            tick, token = row[_TICK], row[_TOKEN]
            if tick < last:
                self.monotonic = False
            last = tick
            pos.append(base + i)
            ticks.append(tick)
            if token:
                tokens.setdefault(token, []).append(base + i)
        self.upto = base + len(rows)

    def find(self, after: int, tick: int, token: int) -> int | None:
        """The first executed transition after absolute position `after` with queue tick `tick`
        or token `token` (0: none), as the forward scan finds it; requires `monotonic`."""
        best: int | None = None
        if tick:
            k = bisect_left(self._tick, tick, lo=bisect_right(self._pos, after))
            # a greater tick first means the message was never executed by tick
            if k < len(self._tick) and self._tick[k] == tick:
                best = self._pos[k]
        if token:
            at = self._token.get(token, ())
            k = bisect_right(at, after)
            if k < len(at) and (best is None or at[k] < best):
                best = at[k]
        return best
