"""How long a recorded message waits before it is on disk (`.amdbg`, docs/protocol.md).

A live `RecordingWriter` flushes at least every `flush_interval` (1 s), so a crash loses at most the
last second. tests/dbg/ingest/test_headless.py checks that what was flushed survives a SIGKILL; the
delay itself is measured here, as a ratio against the writer's own interval in the same run. Also
printed: the cost of one flush of the same records, written synchronously (the I/O part).

    .venv/bin/python bench/recording_flush.py [SECONDS] [FLUSH_INTERVAL]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgpack

from am_dbg.recordings.amdbg import RecordingWriter


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    raw = msgpack.packb({"id": "t" * 16, "clocks": list(range(8)), "steps": []})
    with tempfile.TemporaryDirectory() as d:
        w = RecordingWriter(Path(d) / "lag.amdbg", flush_interval=interval)
        sent: list[float] = []
        lags: list[float] = []
        seen = w.records  # the META record is already on disk
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            w.write_tx("c", raw, time.time_ns())
            sent.append(time.monotonic())
            flushed = w.records
            now = time.monotonic()
            while seen < flushed:
                lags.append(now - sent[seen - 1])
                seen += 1
            time.sleep(0.002)
        w.close()

        sync = RecordingWriter(Path(d) / "sync.amdbg", background=False)
        per_second = len(sent) / seconds * interval
        for _ in range(int(per_second)):
            sync.write_tx("c", raw, time.time_ns())
        t0 = time.perf_counter()
        sync.flush()
        flush_cost = time.perf_counter() - t0
        sync.close()

    worst = max(lags)
    print(f"messages: {len(sent):,} in {seconds:.0f} s, {len(lags):,} seen on disk while running")
    print(f"flush interval (baseline):  {interval * 1e3:8.1f} ms")
    print(f"delay to disk, median:      {statistics.median(lags) * 1e3:8.1f} ms")
    print(
        f"delay to disk, worst:       {worst * 1e3:8.1f} ms = {worst / interval:.2f}x the interval"
    )
    print(f"one flush of {int(per_second):,} messages:  {flush_cost * 1e3:8.1f} ms")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
