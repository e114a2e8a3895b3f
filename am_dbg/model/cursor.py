"""Where the user is in one machine's history, and how every key moves it (docs/architecture.md).

Cursors are 1-based like Go's: `tx = 0` is the bare schema, `tx = N` is "the machine right after
transition N" (history index N-1). `step` walks the steps of the *next* visible transition.

`Visible` is the filtered index: the history positions that pass the filters, kept in a compact
`array` and extended incrementally as batches arrive, so every move is a bisect (O(log n)) whatever the
history length. With no filter able to hide anything it stores nothing at all. The move functions are
pure: they take a `Cursor` and return the new one (or None when the move is refused), so the UI's state
machine decides what to do with a refusal and tests read like the spec.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from am_dbg.model.filters import Filters, TxLike

__all__ = [
    "FAST_JUMP",
    "Cursor",
    "HistoryLike",
    "Visible",
    "first",
    "jump",
    "last",
    "next_tx",
    "prev_tx",
    "snap",
    "state_jump",
    "step_back",
    "step_fwd",
]

FAST_JUMP = 50


class TxInfoLike(TxLike, Protocol):
    @property
    def n_steps(self) -> int: ...


class HistoryLike(Protocol):
    """The part of `MachineHistory` navigation needs."""

    def __len__(self) -> int: ...
    def info(self, i: int) -> TxInfoLike: ...
    def executed_by(self, queued_i: int) -> int | None: ...
    def next_touching(
        self,
        state_idx: int,
        start: int,
        forward: bool,
        accept: Callable[[int], bool] | None = None,
    ) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Cursor:
    """`tx`: 1-based transition (0 = before the first); `step`: 0 = none, else steps shown of tx+1."""

    tx: int = 0
    step: int = 0


class Visible:
    """The filtered index of one machine's history: 0-based positions that pass `filters`."""

    __slots__ = ("_all", "_filters", "_group", "_h", "_idx", "_scanned")

    def __init__(
        self, history: HistoryLike, filters: Filters, group: Collection[int] | None = None
    ) -> None:
        self._h = history
        self._filters = filters
        self._group = frozenset(group) if group is not None else None
        self._all = not filters.hides_txs(group is not None)
        self._idx = array("q")
        self._scanned = 0
        self.extend()

    @property
    def history(self) -> HistoryLike:
        return self._h

    @property
    def filters(self) -> Filters:
        return self._filters

    @property
    def total(self) -> int:
        return len(self._h)

    @property
    def filtering(self) -> bool:
        """True when some transitions may be hidden (the timeline shows two counters)."""
        return not self._all

    def accept(self, i: int) -> bool:
        if self._all:
            return 0 <= i < len(self._h)
        info = self._h.info(i)
        return self._filters.accepts(info, self._group, lambda: self._exec_canceled(i))

    def _exec_canceled(self, i: int) -> bool:
        j = self._h.executed_by(i)
        return j is not None and not self._h.info(j).accepted

    def _lazy_exec_canceled(self, i: int) -> Callable[[], bool]:
        return lambda: self._exec_canceled(i)

    def extend(self) -> int:
        """Index transitions that arrived since the last call; returns how many became visible."""
        n = len(self._h)
        start = self._scanned
        self._scanned = n
        if self._all or start >= n:
            return max(0, n - start)
        before = len(self._idx)
        f, grp, info, idx = self._filters, self._group, self._h.info, self._idx
        for i in range(start, n):
            tx = info(i)
            lazy = self._lazy_exec_canceled(i) if tx.is_queued and tx.is_auto else None
            if f.accepts(tx, grp, lazy):
                idx.append(i)
        return len(idx) - before

    def drop_front(self, n: int) -> None:
        """`n` transitions were dropped from the front of the history (memory GC): shift positions."""
        if n <= 0:
            return
        self._scanned = max(0, self._scanned - n)
        if self._all:
            return
        cut = bisect_left(self._idx, n)
        self._idx = array("q", (i - n for i in self._idx[cut:]))

    def __len__(self) -> int:
        return self._scanned if self._all else len(self._idx)

    def __getitem__(self, pos: int) -> int:
        if self._all:
            if not -self._scanned <= pos < self._scanned:
                raise IndexError(pos)
            return pos % self._scanned
        return self._idx[pos]

    def count_upto(self, i: int) -> int:
        """How many visible transitions have a position <= i (the 1-based filtered position of i)."""
        if self._all:
            return max(0, min(i + 1, self._scanned))
        return bisect_right(self._idx, i)

    def is_visible(self, i: int) -> bool:
        if self._all:
            return 0 <= i < self._scanned
        k = bisect_left(self._idx, i)
        return k < len(self._idx) and self._idx[k] == i

    def next_index(self, i: int) -> int | None:
        """First visible position > i."""
        k = self.count_upto(i)
        return self[k] if k < len(self) else None

    def prev_index(self, i: int) -> int | None:
        """Last visible position < i."""
        k = self.count_upto(i - 1)
        return self[k - 1] if k > 0 else None


# --- moves (§5.1, §5.5). Each returns the new cursor, or None when the move is refused. ---


def snap(vis: Visible, tx: int, forward: bool) -> int | None:
    """The nearest visible 1-based cursor from `tx` in the direction of travel.

    0 (the schema) is always reachable. Going forward with nothing visible ahead returns None (the
    cursor stays); going back with nothing visible behind lands on 0.
    """
    if tx <= 0:
        return 0
    tx = min(tx, vis.total)
    if vis.is_visible(tx - 1):
        return tx
    if forward:
        j = vis.next_index(tx - 1)
        return None if j is None else j + 1
    j = vis.prev_index(tx - 1)
    return 0 if j is None else j + 1


def next_tx(vis: Visible, c: Cursor) -> Cursor | None:
    j = vis.next_index(c.tx - 1)
    return None if j is None else Cursor(j + 1)


def prev_tx(vis: Visible, c: Cursor) -> Cursor | None:
    if c.tx <= 0:
        return None
    j = vis.prev_index(c.tx - 1)
    return Cursor(0 if j is None else j + 1)


def first(vis: Visible) -> Cursor:
    return Cursor(0)


def last(vis: Visible) -> Cursor:
    return Cursor(vis[-1] + 1) if len(vis) else Cursor(0)


def jump(vis: Visible, c: Cursor, amount: int) -> Cursor | None:
    """Fast jump by `amount` visible transitions (negative = back), clamped to the ends."""
    n = len(vis)
    if n == 0:
        return None
    # 1-based filtered position of the cursor (0 = before all); an invisible cursor counts as the
    # visible transition before it.
    pos = vis.count_upto(c.tx - 1)
    target = max(0, min(n, pos + amount))
    new = Cursor(0 if target == 0 else vis[target - 1] + 1)
    return None if new.tx == c.tx and c.step == 0 else new


def state_jump(vis: Visible, c: Cursor, state_idx: int, forward: bool) -> Cursor | None:
    """The previous/next visible transition that added, removed or called `state_idx` (step reset)."""
    cur = c.tx - 1
    j = vis.history.next_touching(state_idx, cur, forward, vis.accept)
    return None if j is None else Cursor(j + 1)


def _steps_of_next(vis: Visible, c: Cursor) -> tuple[int | None, int]:
    j = vis.next_index(c.tx - 1)
    if j is None:
        return None, 0
    return j, vis.history.info(j).n_steps


def step_fwd(vis: Visible, c: Cursor) -> Cursor | None:
    """One step further into the next transition; past its last step, onto that transition."""
    j, n = _steps_of_next(vis, c)
    if j is None:
        return None
    if c.step < n:
        return Cursor(c.tx, c.step + 1)
    return Cursor(j + 1, 0)


def step_back(vis: Visible, c: Cursor) -> Cursor | None:
    """One step back; from step 0, onto the previous visible transition with every step of the one
    just left shown (that transition is now the *next* one)."""
    if c.step > 0:
        return Cursor(c.tx, c.step - 1)
    if c.tx <= 0:
        return None
    left = c.tx - 1
    j = vis.prev_index(left)
    n = vis.history.info(left).n_steps
    return Cursor(0 if j is None else j + 1, n)
