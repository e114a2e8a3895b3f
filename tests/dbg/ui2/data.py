"""Test data for part 2: the Go fixture, and the orders network (cross-machine sources, handlers,
arguments, open subscriptions, pipes) recorded from real machines over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cache
from typing import Any

from reader.scenario import orders_network
from ui.recorded import fixture_session, record_live

from am_dbg.model.session import Session

GO_MACHS = ("ps-2", "ps-2-disc", "ps-3", "sim", "sim-p1", "sim-p11")
PS2_TX = "a59d994dd6efb726a1cd3ef1b7f384fd"
PS2_URL = f"mach://ps-2/{PS2_TX}"


def go_session() -> Session:
    return fixture_session(GO_MACHS)


@cache
def _orders() -> Session:
    return asyncio.run(record_live(orders_network, disconnect=()))


def prime_orders() -> None:
    """Record now (from a sync fixture): async tests cannot start another event loop."""
    _orders()


def orders_session() -> Session:
    """A fresh copy (apps mutate sessions: selection caches, removals)."""
    src = _orders()
    out = Session()
    out.load([(h.schema, [h.tx(i) for i in range(len(h))]) for h in src.machines.values()])
    return out


def first_with(s: Session, mach: str, prefix: str) -> int:
    h = s.machines[mach]
    for i in range(len(h)):
        if any(e.text.startswith(prefix) for e in h.log_entries(i)):
            return i
    raise AssertionError(f"no {prefix!r} line in {mach}")


async def wait_for(pilot: Any, pred: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Let the app run until `pred()` holds (screen callbacks land a few turns later)."""
    for _ in range(int(timeout / 0.02)):
        if pred():
            return True
        await pilot.pause(0.02)
    return pred()
