"""Reading the Go am-dbg fixture (`tests/data/am-dbg-sim.gob.br`: 107 machines, 7,605 txs).

Issue 6 target: the whole read (brotli + gob decode + mapping to our messages) <= 1 s here.
Baseline, measured in the same run: the raw brotli decompression of the same file, i.e. the part of
the work that is C code and no reader can avoid. Best of N runs each, wall and CPU time of this
process; the verdict uses CPU time, since on a shared machine (see the load average printed)
wall time mostly measures the other processes.

Damaged input (tests/dbg/gob/test_gob_damaged.py checks only the outcome): the slowest of 64
copies with one byte of the type definitions changed, against the intact decode of the same run;
a damaged stream must never cost more than an intact one.

    .venv/bin/python bench/gob.py [N] [FILE]
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brotli

from am_dbg.recordings.errors import GobError
from am_dbg.recordings.gob import decode_gob
from am_dbg.recordings.gob_import import import_gob_stream, read_gob_dump

TARGET_S = 1.0


def best(n: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall time and best CPU time (this process) of n runs, and the last result."""
    out, wall, cpu = None, [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu), out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    path = Path(sys.argv[2] if len(sys.argv) > 2 else "tests/data/am-dbg-sim.gob.br")
    raw = path.read_bytes()

    b_wall, b_cpu, data = best(n, lambda: brotli.decompress(raw))
    d_wall, d_cpu, _ = best(n, lambda: decode_gob(data))
    i_wall, i_cpu, _ = best(n, lambda: import_gob_stream(data))
    t_wall, t_cpu, machines = best(n, lambda: read_gob_dump(path))
    n_txs = sum(len(txs) for _, txs in machines)

    print(f"file: {path} ({len(raw):,} B brotli, {len(data):,} B gob)")
    print(f"machines: {len(machines)}, transitions: {n_txs:,}   (best of {n}; wall / CPU)")
    print(f"brotli decompress (baseline): {b_wall * 1e3:7.1f} ms / {b_cpu * 1e3:7.1f} ms")
    print(f"gob decode (generic values):  {d_wall * 1e3:7.1f} ms / {d_cpu * 1e3:7.1f} ms")
    print(f"gob decode + import:          {i_wall * 1e3:7.1f} ms / {i_cpu * 1e3:7.1f} ms")
    print(f"read_gob_dump (everything):   {t_wall * 1e3:7.1f} ms / {t_cpu * 1e3:7.1f} ms")
    print(f"ratio read_gob_dump / brotli: {t_wall / b_wall:7.1f}x wall, {t_cpu / b_cpu:.1f}x CPU")
    print(f"per transition (CPU):         {t_cpu / max(n_txs, 1) * 1e6:7.1f} us")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    verdict = "OK" if t_cpu <= TARGET_S else "OVER"
    print(f"target <= {TARGET_S:.1f} s (CPU): {verdict} ({t_cpu / TARGET_S:.2f} of the budget)")
    worst = damaged_worst(data, 64)
    print(f"damaged (worst of 64, CPU):   {worst * 1e3:7.1f} ms", end="")
    print(f"  = {worst / i_cpu:.2f}x the intact decode + import")


def damaged_worst(data: bytes, n: int) -> float:
    """CPU time of the slowest import of ``n`` copies with one byte of the first 700 changed."""
    rnd = random.Random(7)
    worst = 0.0
    for _ in range(n):
        bad = bytearray(data)
        bad[rnd.randrange(700)] = rnd.randrange(256)
        c0 = time.process_time()
        try:
            import_gob_stream(bytes(bad))
        except GobError:
            pass
        worst = max(worst, time.process_time() - c0)
    return worst


if __name__ == "__main__":
    main()
