"""A real ingest server on 127.0.0.1 and helpers to wait on conditions (never fixed sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from am_dbg.model.session import Session
from am_dbg.server import IngestServer


@pytest.fixture
async def server() -> AsyncIterator[IngestServer]:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    yield srv
    await srv.close()


async def wait_for(cond: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Poll `cond` until true, failing with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def in_thread(fn: Callable[[], object]) -> object:
    """Run blocking machine code off the server's loop (like a real program's thread)."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)
