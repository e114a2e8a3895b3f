"""Cost of the telemetry exporters per transition, and the history's SQLite insert rate
(run: python bench/telemetry.py).

The toggle bench of bench/core.py (a 2-state exclusive machine switched back and forth, one
handler per transition), run bare and with each exporter bound, in interleaved chunks; the best
chunk of each is kept. Time is this process's CPU time (all threads: the OTel batch thread and
the history writer count). Prints µs per transition and the ratio to the bare machine measured
in the same run. Targets: OTel <= 3x bare, Prometheus <= 1.3x bare.

The history insert rate: N transitions into a SQLite history file, timed (wall clock) from the
first mutation until the writer has committed the last record. Target: >= 50,000 records/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import best_rates  # bench/core.py

from am_core import Event, Machine, State
from am_core.history import MemoryHistory, SQLiteHistory


def toggle(n: int, attach: Callable[[Machine], Any] | None = None) -> Callable[[], int]:
    mach = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="bench-toggle")
    mach.add1("A")
    count = [0]

    class Handlers:
        def AState(self, e: Event) -> None:
            count[0] += 1

        def BState(self, e: Event) -> None:
            count[0] += 1

    mach.handlers_bind(Handlers())
    if attach is not None:
        attach(mach)
    add1 = mach.add1

    def run() -> int:
        count[0] = 0
        for _ in range(n // 2):
            add1("B")
            add1("A")
        assert count[0] == n, count[0]
        return n

    return run


def otel_attach(mach: Machine) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from am_rpc.telemetry.otel import OtelTracer, TransitionFilter

    class Discard(SpanExporter):
        """Drops the batches: the cost measured is the tracer's and the SDK's, not a network's."""

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tp = TracerProvider()
    tp.add_span_processor(TransitionFilter(BatchSpanProcessor(Discard(), max_queue_size=65536)))
    OtelTracer(tp).trace(mach)


def prometheus_attach(mach: Machine) -> None:
    from am_rpc.telemetry.prometheus import PrometheusExporter

    PrometheusExporter().track(mach)


def history_rate(n: int, path: Path) -> tuple[float, int]:
    mach = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="bench-hist")
    hist = SQLiteHistory(path, "bench-hist")
    hist.track(mach)
    add1 = mach.add1
    t0 = time.perf_counter()
    for _ in range(n // 2):
        add1("B")
        add1("A")
    hist.flush()
    dt = time.perf_counter() - t0
    count = hist.count()
    hist.close()
    return count / dt, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunk", type=int, default=5_000, help="transitions per timed chunk")
    ap.add_argument("--chunks", type=int, default=20, help="chunks per case")
    ap.add_argument(
        "--history-n", type=int, default=200_000, help="transitions for the insert rate"
    )
    args = ap.parse_args()
    chunk = max(2, args.chunk - args.chunk % 2)

    def hist_mem(m: Machine) -> None:
        MemoryHistory(m.id, max_records=10_000).track(m)

    tmp = Path(tempfile.mkdtemp(prefix="am-bench-telemetry-"))

    def hist_sqlite(m: Machine) -> None:
        SQLiteHistory(tmp / "toggle.db", m.id).track(m)

    cases = {
        "bare": toggle(chunk),
        "prometheus": toggle(chunk, prometheus_attach),
        "otel": toggle(chunk, otel_attach),
        "history (memory)": toggle(chunk, hist_mem),
        "history (sqlite)": toggle(chunk, hist_sqlite),
    }
    for fn in cases.values():
        fn()  # warm up
    best = best_rates(cases, args.chunks)
    print(f"toggle: {chunk:,}-transition chunks x {args.chunks}, interleaved; best chunk of each")
    base = best["bare"]
    targets = {"prometheus": 1.3, "otel": 3.0}
    for name, rate in best.items():
        ratio = base / rate
        target = f"  (target <= {targets[name]}x)" if name in targets else ""
        print(f"  {name:18} {1e6 / rate:7.2f} µs/transition  {ratio:5.2f}x bare{target}")
    rate, count = history_rate(args.history_n, tmp / "rate.db")
    print(
        f"history insert rate (SQLite, WAL): {rate:,.0f} records/s ({count:,} records; target >= 50,000)"
    )


if __name__ == "__main__":
    main()
