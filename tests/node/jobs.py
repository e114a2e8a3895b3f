"""Job functions the pool tests run in worker processes: each records its execution in a file."""

from __future__ import annotations

import os
import time
from pathlib import Path


def record(path: str, tag: str) -> None:
    # one short O_APPEND write per line: lines from several processes never interleave
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{tag} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


def square(path: str, n: int) -> list[int]:
    record(path, f"run {n}")
    return [n * n, os.getpid()]


def slow(path: str, n: int, gate: str) -> list[int]:
    """Records its start, then waits until ``gate`` exists (the test opens it when it wants)."""
    record(path, f"start {n}")
    while not Path(gate).exists():
        time.sleep(0.01)
    record(path, f"end {n}")
    return [n, os.getpid()]


def fail(msg: str) -> None:
    raise ValueError(msg)


def burn(n: int) -> int:
    """A CPU-bound job (the benchmark's): sum of squares below n."""
    return sum(i * i for i in range(n))
