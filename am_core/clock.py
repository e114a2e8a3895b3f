"""Logical clocks: a tick per state, odd = active. ``Time`` is the tick list in state-index order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def is_active_tick(tick: int) -> bool:
    return tick % 2 == 1


def next_active(tick: int) -> int:
    return tick + 2 if tick % 2 == 1 else tick + 1


def next_inactive(tick: int) -> int:
    return tick + 2 if tick % 2 == 0 else tick + 1


def next_active_in(tick: int) -> int:
    return 2 if tick % 2 == 1 else 1


def next_inactive_in(tick: int) -> int:
    return 2 if tick % 2 == 0 else 1


class Clock(dict[str, int]):
    """State name -> tick."""


class Time(list[int]):
    """Machine time: ticks in state-index order, with index-based helpers (spec §2)."""

    def _ok(self, i: int) -> bool:
        return 0 <= i < len(self)

    def is1(self, idx: int) -> bool:
        return self._ok(idx) and self[idx] % 2 == 1

    def is_(self, idxs: Sequence[int]) -> bool:
        if not idxs:
            return False
        return all(self.is1(i) for i in idxs)

    def not_(self, idxs: Sequence[int]) -> bool:
        return not any(self.is1(i) for i in idxs if i != -1)

    def not1(self, idx: int) -> bool:
        if not self._ok(idx):
            return False
        return self[idx] % 2 == 0

    def any(self, *lists: Sequence[int]) -> bool:
        return any(self.is_(lst) for lst in lists)

    def any1(self, *idxs: int) -> bool:
        return any(self.is1(i) for i in idxs)

    def add(self, t2: Sequence[int]) -> Time:
        if len(t2) != len(self):
            return self
        return Time(a + b for a, b in zip(self, t2, strict=True))

    def diff_since(self, before: Sequence[int]) -> Time:
        if len(before) != len(self):
            return Time([0] * len(self))
        return Time(a - b for a, b in zip(self, before, strict=True))

    def non_zero_states(self) -> list[int]:
        return [i for i, t in enumerate(self) if t]

    def active_states(self) -> list[int]:
        return [i for i, t in enumerate(self) if t % 2 == 1]

    def sum(self, idxs: Iterable[int] | None = None) -> int:
        if idxs is None:
            return sum(self)
        return sum(self[i] for i in idxs if self._ok(i))

    def filter(self, idxs: Iterable[int]) -> Time:
        return Time(self[i] if self._ok(i) else 0 for i in idxs)

    def after(self, or_equal: bool, t2: Sequence[int]) -> bool:
        """True iff every compared position is > (or >=) ``t2``; stops at the shorter length."""
        n = min(len(self), len(t2))
        if or_equal:
            return all(self[i] >= t2[i] for i in range(n))
        return all(self[i] > t2[i] for i in range(n))

    def before(self, or_equal: bool, t2: Sequence[int]) -> bool:
        n = min(len(self), len(t2))
        if or_equal:
            return all(self[i] <= t2[i] for i in range(n))
        return all(self[i] < t2[i] for i in range(n))

    def equal(self, strict: bool, t2: Sequence[int]) -> bool:
        if strict and len(self) != len(t2):
            return False
        n = min(len(self), len(t2))
        return all(self[i] == t2[i] for i in range(n))


class TimeIndex:
    """Time plus state names: the same helpers by name."""

    __slots__ = ("names", "time")

    def __init__(self, names: Sequence[str], time: Sequence[int]) -> None:
        self.names = list(names)
        self.time = Time(time)

    def _idx(self, states: Iterable[str]) -> list[int]:
        pos = {n: i for i, n in enumerate(self.names)}
        return [pos.get(s, -1) for s in states]

    def is_(self, states: Sequence[str]) -> bool:
        return self.time.is_(self._idx(states))

    def is1(self, state: str) -> bool:
        return self.time.is1(self._idx([state])[0])

    def not_(self, states: Sequence[str]) -> bool:
        return self.time.not_(self._idx(states))

    def not1(self, state: str) -> bool:
        return self.time.not1(self._idx([state])[0])

    def any1(self, *states: str) -> bool:
        return self.time.any1(*self._idx(states))

    def active_states(self) -> list[str]:
        return [self.names[i] for i in self.time.active_states()]

    def non_zero_states(self) -> list[str]:
        return [self.names[i] for i in self.time.non_zero_states()]

    def __str__(self) -> str:
        return " ".join(f"{n}:{t}" for n, t in zip(self.names, self.time, strict=False))
