"""Clock sync as pure functions: checksums, diffs, applying diffs, schema hash (docs/arpc.md).

aRPC moves clocks, not events. The server diffs a snapshot of the source against the baseline it last
exported; the client adds the increments to its mirror and checks the 8-bit checksum. Nothing here does
I/O or touches a machine, so it is tested directly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from am_rpc.errors import ChecksumError
from am_rpc.protocol import Update


def checksum(time_sum: int, queue_tick: int, machine_tick: int) -> int:
    """``(tracked tick sum + queue tick + machine tick) mod 256``."""
    return (time_sum + queue_tick + machine_tick) % 256


def tracked_indexes(
    names: Sequence[str], allowed: Iterable[str] | None, skipped: Iterable[str] | None
) -> tuple[int, ...]:
    """Source indexes of the synced states: names ∩ allowed (when given) minus skipped, source order."""
    allow = None if allowed is None else set(allowed)
    skip = set(skipped or ())
    return tuple(i for i, n in enumerate(names) if (allow is None or n in allow) and n not in skip)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The source's full time, queue tick and machine tick at one moment."""

    time: tuple[int, ...]
    queue_tick: int
    machine_tick: int = 0

    def tracked_sum(self, tracked: Sequence[int]) -> int:
        t = self.time
        return sum(t[i] for i in tracked if i < len(t))

    def same_as(self, other: Snapshot | None, tracked: Sequence[int]) -> bool:
        """Equal for export purposes: same tracked sum, queue tick and machine tick (§5.5, Q2)."""
        return (
            other is not None
            and self.queue_tick == other.queue_tick
            and self.machine_tick == other.machine_tick
            and self.tracked_sum(tracked) == other.tracked_sum(tracked)
        )


def bound_time(snap: Snapshot, tracked: Sequence[int], schema_synced: bool) -> tuple[int, ...]:
    """The time as the client sees it: full with untracked ticks zeroed, or just the tracked ones."""
    if schema_synced:
        keep = set(tracked)
        return tuple(t if i in keep else 0 for i, t in enumerate(snap.time))
    return tuple(snap.time[i] for i in tracked)


def make_update(
    prev: Snapshot | None, now: Snapshot, tracked: Sequence[int], schema_synced: bool
) -> Update:
    """Deep diff of ``now`` against the baseline ``prev`` (§5.3a), in the client's index binding."""
    idx: list[int] = []
    ticks: list[int] = []
    pt = prev.time if prev is not None else ()
    nt = now.time
    for pos, i in enumerate(tracked):
        if i >= len(nt):
            continue
        cur = nt[i]
        old = pt[i] if i < len(pt) else 0
        if cur != old:
            idx.append(i if schema_synced else pos)
            ticks.append(cur - old)
    return Update(
        indexes=tuple(idx),
        ticks=tuple(ticks),
        queue_tick=now.queue_tick - (prev.queue_tick if prev else 0),
        machine_tick=now.machine_tick - (prev.machine_tick if prev else 0),
        checksum=checksum(now.tracked_sum(tracked), now.queue_tick, now.machine_tick),
    )


def apply_update(
    time: Sequence[int], queue_tick: int, machine_tick: int, upd: Update
) -> tuple[list[int], int, int]:
    """The mirror's new (time, queue tick, machine tick); :class:`ChecksumError` if it doesn't fit."""
    new = list(time)
    for i, t in zip(upd.indexes, upd.ticks, strict=True):
        if i >= len(new):
            raise ChecksumError(f"index {i} out of range for {len(new)} states")
        new[i] += t
        if new[i] < 0:
            raise ChecksumError(f"tick of index {i} would become negative")
    q = queue_tick + upd.queue_tick
    mt = machine_tick + upd.machine_tick
    if q < 0 or mt < 0:
        raise ChecksumError("queue or machine tick would become negative")
    got = checksum(sum(new), q, mt)
    if got != upd.checksum:
        raise ChecksumError(f"checksum mismatch: computed {got}, received {upd.checksum}")
    return new, q, mt


def schema_hash(schema: Mapping[str, Mapping[str, Any]] | None) -> str:
    """First 6 hex chars of MD5 over the canonical schema text (§3.7); ``""`` for no schema."""
    if schema is None:
        return ""
    parts: list[str] = []
    for name in sorted(schema, key=lambda n: n.encode()):
        st = schema[name]
        parts.append(name + ":")
        if st.get("auto"):
            parts.append("a,")
        if st.get("multi"):
            parts.append("m,")
        for rel in ("after", "remove", "add", "require"):
            for other in sorted(st.get(rel) or (), key=lambda n: n.encode()):
                parts.append(other + ",")
            parts.append(";")
    return hashlib.md5("".join(parts).encode()).hexdigest()[:6]


def active_indexes(
    names: Sequence[str],
    time: Sequence[int],
    requires: Mapping[str, Sequence[str]] | None = None,
) -> list[int]:
    """Active = odd tick, plus everything reachable by ``require`` from an active state (§1.4)."""
    active = {i for i, t in enumerate(time) if t % 2 == 1}
    if requires:
        index = {n: i for i, n in enumerate(names)}
        stack = [names[i] for i in active]
        while stack:
            for req in requires.get(stack.pop(), ()):
                j = index.get(req)
                if j is not None and j not in active:
                    active.add(j)
                    stack.append(req)
    return sorted(active)
