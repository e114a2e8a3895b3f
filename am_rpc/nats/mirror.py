"""A read-only mirror of a machine of another PubSub member: its schema and last known clocks.

Like `NetMachine` without mutations (docs/protocol.md, "PubSub over NATS"): the reads and
``when*`` of a machine, answered from the updates the owner publishes. Every waiter is closed
when the owner is marked gone (check :attr:`Mirror.gone` afterwards when the reason matters).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from am_core import StateMissingError, Time
from am_core.waiting import Waiter

__all__ = ["Mirror"]


def _list(states: str | Sequence[str]) -> list[str]:
    return [states] if isinstance(states, str) else list(states)


class Mirror:
    """See the module docstring. Built and updated by `am_rpc.nats.pubsub.PubSub`."""

    def __init__(
        self, mach_id: str, member_id: str, states: Sequence[str], schema: dict[str, Any]
    ) -> None:
        self.id = mach_id
        self.member_id = member_id
        self.gone = False
        self._lock = threading.Lock()
        self._names = list(states)
        self._idx = {n: i for i, n in enumerate(self._names)}
        self._schema = dict(schema)
        self._time = [0] * len(self._names)
        self._waiters: list[tuple[Callable[[], bool], Waiter]] = []

    def __repr__(self) -> str:
        return f"Mirror(id={self.id!r}, member={self.member_id!r}, {self.active_states()})"

    # -- reads ------------------------------------------------------------------------------

    def _check(self, states: list[str]) -> None:
        missing = [s for s in states if s not in self._idx]
        if missing:
            raise StateMissingError(f"{' '.join(missing)} not defined in schema for {self.id}")

    def state_names(self) -> list[str]:
        return list(self._names)

    def schema(self) -> dict[str, Any]:
        """The owner's relations, as it published them (``{state: {"require": [...], ...}}``)."""
        return dict(self._schema)

    def has1(self, state: str) -> bool:
        return state in self._idx

    def time(self, states: str | Sequence[str] | None = None) -> Time:
        with self._lock:
            if states is None:
                return Time(self._time)
            names = _list(states)
            self._check(names)
            return Time(self._time[self._idx[s]] for s in names)

    def tick(self, state: str) -> int:
        return int(self.time([state])[0])

    def clock(self, states: str | Sequence[str] | None = None) -> dict[str, int]:
        names = self._names if states is None else _list(states)
        return dict(zip(names, self.time(names), strict=True))

    def is_(self, states: str | Sequence[str]) -> bool:
        return all(t % 2 == 1 for t in self.time(states))

    def is1(self, state: str) -> bool:
        return self.is_([state])

    def not_(self, states: str | Sequence[str]) -> bool:
        return all(t % 2 == 0 for t in self.time(states))

    def not1(self, state: str) -> bool:
        return self.not_([state])

    def any1(self, *states: str) -> bool:
        return any(self.is1(s) for s in states)

    def active_states(self) -> list[str]:
        with self._lock:
            return [n for n, t in zip(self._names, self._time, strict=True) if t % 2 == 1]

    # -- waiting ----------------------------------------------------------------------------

    def _when(self, label: str, names: list[str], cond: Callable[[], bool]) -> Waiter:
        self._check(names)
        with self._lock:
            if cond():
                return Waiter.closed(label)
            w = Waiter(label)
            if self.gone:
                w.close()
                return w
            self._waiters.append((cond, w))
            return w

    def when(self, states: str | Sequence[str]) -> Waiter:
        """Closed once every state in ``states`` is active on the owner (as last heard)."""
        names = _list(states)
        idx = [self._idx.get(s, 0) for s in names]
        return self._when("when", names, lambda: all(self._time[i] % 2 == 1 for i in idx))

    def when1(self, state: str) -> Waiter:
        return self.when([state])

    def when_not(self, states: str | Sequence[str]) -> Waiter:
        names = _list(states)
        idx = [self._idx.get(s, 0) for s in names]
        return self._when("whenNot", names, lambda: all(self._time[i] % 2 == 0 for i in idx))

    def when_not1(self, state: str) -> Waiter:
        return self.when_not([state])

    def when_time(self, states: Sequence[str], ticks: Sequence[int]) -> Waiter:
        """Closed once each state's tick reached the given one."""
        names = list(states)
        if len(names) != len(ticks):
            raise ValueError("when_time: states and ticks must have the same length")
        idx = [self._idx.get(s, 0) for s in names]
        want = [int(t) for t in ticks]
        return self._when(
            "whenTime",
            names,
            lambda: all(self._time[i] >= t for i, t in zip(idx, want, strict=True)),
        )

    def when_ticks(self, state: str, ticks: int) -> Waiter:
        """Closed once ``state`` ticked ``ticks`` more times than now."""
        return self.when_time([state], [self.tick(state) + ticks])

    # -- updates (from PubSub) --------------------------------------------------------------

    def _update(self, time: Sequence[int]) -> bool:
        """New clocks from the owner (ignored when they go back or do not fit); True if used."""
        if len(time) != len(self._names):
            return False
        with self._lock:
            if all(a == b for a, b in zip(time, self._time, strict=True)):
                return False
            self._time = [int(t) for t in time]
            keep: list[tuple[Callable[[], bool], Waiter]] = []
            ready: list[Waiter] = []
            for cond, w in self._waiters:
                if cond():
                    ready.append(w)
                else:
                    keep.append((cond, w))
            self._waiters = keep
        for w in ready:
            w.close()
        return True

    def _set_gone(self, gone: bool) -> None:
        with self._lock:
            self.gone = gone
            waiters, self._waiters = (self._waiters, []) if gone else ([], self._waiters)
        for _, w in waiters:
            w.close()
