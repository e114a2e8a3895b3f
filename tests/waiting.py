"""Waiting on a condition in tests, never on a fixed sleep.

CI runs on a shared, busy box: a test waits for what it needs with a generous timeout, so a slow
run is only slower, never red. The timeout is a safety net for a hang, not a speed budget.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 20.0


def wait_until(
    cond: Callable[[], object],
    timeout: float = TIMEOUT,
    what: str = "condition",
    interval: float = 0.005,
) -> None:
    """Poll ``cond`` from a thread until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def await_until(
    cond: Callable[[], object], timeout: float = TIMEOUT, what: str = "condition"
) -> None:
    """Poll ``cond`` on the running loop (letting it turn) until it is true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


async def pause_until(
    pilot: Any, cond: Callable[[], object], timeout: float = TIMEOUT, what: str = "condition"
) -> None:
    """Let a Textual app process its messages (``pilot.pause()``) until ``cond`` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause()
        if not cond():
            await asyncio.sleep(0.005)
