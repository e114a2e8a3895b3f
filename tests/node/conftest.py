from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from am_rpc.node import Supervisor, SupervisorOpts
from am_rpc.node.pool_file import PoolFile

FAST = {"heartbeat": 0.2, "heartbeat_timeout": 1.0, "misses": 2, "orphan_timeout": 20.0}


def wait_until(cond: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Poll a condition (never a fixed sleep as synchronisation)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what or cond}")
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def kill_pool(pool_dir: Path) -> None:
    """Whatever a test left running (workers of a killed supervisor) is killed here."""
    try:
        workers = PoolFile(pool_dir).read().get("workers", [])
    except ValueError:
        workers = []
    for w in workers:
        try:
            os.kill(int(w["pid"]), signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def make_sup(tmp_path: Path) -> Iterator[Callable[..., Supervisor]]:
    sups: list[Supervisor] = []

    def make(**kw: object) -> Supervisor:
        sup = Supervisor(
            tmp_path / "pool", id=f"sup-{len(sups) + 1}", opts=SupervisorOpts(**{**FAST, **kw})
        )  # type: ignore[arg-type]
        sups.append(sup.start())
        return sup

    yield make
    for sup in sups:
        sup.close()
    kill_pool(tmp_path / "pool")
