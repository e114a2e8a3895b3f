"""Cost of the telemetry exporters per transition, and the history's SQLite insert rate
(run: python bench/telemetry.py).

The toggle bench of bench/core.py (a 2-state exclusive machine switched back and forth, one
handler per transition), run bare and with each exporter bound, in interleaved chunks; the best
chunk of each is kept. Time is this process's CPU time (all threads: the OTel batch thread and
the history writer count). Prints µs per transition and the ratio to the bare machine measured
in the same run. Targets: OTel <= 3x bare, Prometheus <= 1.3x bare.

"tracer floor" is a bound tracer doing nothing (one no-op hook): what am_core's traced path
costs any tracer. "otel (SDK floor)" is what the OpenTelemetry SDK itself costs for the spans a toggle transition
makes (one transition span, one state span started, one ended), without attributes or our tracer:
the lower bound of any tracer built on live SDK spans (OtelTracer builds finished spans instead:
docs/telemetry.md#cost). "otel, no processor" is OtelTracer with a provider without span
processors: the tracer's own work, without the filter, the batch processor and its thread.

The history insert rate, two ways: the backend (records handed to the SQLite history the way the
tracer does, until the writer thread committed the last one), and end to end (the toggle with a
SQLite history, until committed; bounded by the machine's own speed). Both in records per second
of this process's CPU time (all threads), with the wall-clock rate beside it. Target: >= 50,000
records/s.
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

from am_core import Event, Machine, State, Tracer
from am_core.history import MemoryHistory, Record, SQLiteHistory


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


def otel_bare_attach(mach: Machine) -> None:
    """The tracer with a provider that has no span processor: our side of the cost only."""
    from opentelemetry.sdk.trace import TracerProvider

    from am_rpc.telemetry.otel import OtelTracer

    OtelTracer(TracerProvider()).trace(mach)


def prometheus_attach(mach: Machine) -> None:
    from am_rpc.telemetry.prometheus import PrometheusExporter

    PrometheusExporter().track(mach)


class _NoOp(Tracer):
    def transition_end(self, tx: object) -> None:
        pass


def otel_floor(n: int) -> Callable[[], int]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=65536))
    tracer = tp.get_tracer("floor")
    state = [tracer.start_span("state")]

    def run() -> int:
        for _ in range(n):
            tx = tracer.start_span("tx")
            state[0].end()
            state[0] = tracer.start_span("state")
            tx.end()
        return n

    return run


def history_backend_rate(n: int, path: Path) -> tuple[float, float, int]:
    """(records per CPU second, per wall second, records) through the history's append path."""
    mach = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="bench-hist-b")
    hist = SQLiteHistory(path, mach.id)
    hist.track(mach)
    now = time.time()
    recs = [
        Record(0, mach.id, now, i, 0, 0, ["A"], ["B"], {"A": i, "B": i}, "0123456789abcdef", ["A"])
        for i in range(n)
    ]
    t = [1, 2]
    c0, w0 = time.process_time(), time.perf_counter()
    for r in recs:
        hist._append(r, t, 0)
    hist.flush()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    count = hist.count()
    hist.close()
    return count / cpu, count / wall, count


def history_e2e_rate(n: int, path: Path) -> tuple[float, float, int]:
    """(records per CPU second, per wall second, records): the toggle with a SQLite history."""
    mach = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="bench-hist")
    hist = SQLiteHistory(path, mach.id)
    hist.track(mach)
    add1 = mach.add1
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n // 2):
        add1("B")
        add1("A")
    hist.flush()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    count = hist.count()
    hist.close()
    return count / cpu, count / wall, count


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
        "tracer floor": toggle(chunk, lambda m: m.tracer_bind(_NoOp())),
        "prometheus": toggle(chunk, prometheus_attach),
        "otel": toggle(chunk, otel_attach),
        "otel, no processor": toggle(chunk, otel_bare_attach),
        "otel (SDK floor)": otel_floor(chunk),
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
    print("history insert rate (SQLite, WAL; target >= 50,000 records/s):")
    for label, fn in (("backend", history_backend_rate), ("end to end", history_e2e_rate)):
        cpu, wall, count = fn(args.history_n, tmp / f"{label.replace(' ', '-')}.db")
        print(
            f"  {label:10} {cpu:9,.0f} records/s CPU  {wall:9,.0f} records/s wall  "
            f"({count:,} records)"
        )


if __name__ == "__main__":
    main()
