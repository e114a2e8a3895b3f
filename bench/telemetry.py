"""Cost of the telemetry exporters per transition, and the history's SQLite insert rate
(run: python bench/telemetry.py).

The toggle bench of bench/core.py (a 2-state exclusive machine switched back and forth, one
handler per transition), run bare and with each exporter bound, in interleaved chunks; the best
chunk of each is kept. Two costs per transition, each with its ratio to the bare machine measured
in the same run:

- "machine thread": the CPU time of the thread running the machine, for the transitions only;
- "total CPU": this process's CPU time (all threads) for the transitions and then a flush of
  everything they caused (OtelTracer.force_flush: the queued spans built and delivered, the batch
  processor's export; the history writer's commit), so no work is left for the next chunk.

OtelTracer builds its spans off the machine's thread by default (docs/telemetry.md#cost): its
machine-thread cost is what a transition pays, its total CPU what the process pays. The targets
(OTel <= 3x bare, Prometheus <= 1.3x bare) are checked against the total CPU.

"otel" is OtelTracer with TransitionFilter and a BatchSpanProcessor whose exporter drops the
batches (the tracer's and the SDK's cost, not a network's); "otel + memory exporter" the same with
the SDK's InMemorySpanExporter keeping every span (cleared between chunks, untimed); "otel,
in-line" builds and delivers the spans on the machine's thread (background=False); "otel, no
processor" is a provider without span processors (the tracer then builds nothing: its
bookkeeping only). "otel (SDK floor)" is what the OpenTelemetry SDK itself costs for the spans a
toggle transition makes (one transition span, one state span started, one ended) as live spans
with a BatchSpanProcessor, without attributes or our tracer. "tracer floor" is a bound tracer
doing nothing (one no-op hook): what am_core's traced path costs any tracer.

"otel + OTLP/HTTP" (fewer transitions): the OTLP/HTTP exporter sending to a receiver process on
127.0.0.1 that reads and discards the requests (its CPU is not counted).

The history insert rate, two ways: the backend (records handed to the SQLite history the way the
tracer does, until the writer thread committed the last one), and end to end (the toggle with a
SQLite history, until committed; bounded by the machine's own speed). Both in records per second
of this process's CPU time (all threads), with the wall-clock rate beside it. Target: >= 50,000
records/s.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from am_core import Event, Machine, State, Tracer
from am_core.history import MemoryHistory, Record, SQLiteHistory

Flush = Callable[[], Any]
# a case: run the chunk (returns transitions), then a flush of the work it left (or None)
Case = tuple[Callable[[], int], Flush | None]


def toggle(n: int, attach: Callable[[Machine], Flush | None] | None = None) -> Case:
    mach = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="bench-toggle")
    mach.add1("A")
    count = [0]

    class Handlers:
        def AState(self, e: Event) -> None:
            count[0] += 1

        def BState(self, e: Event) -> None:
            count[0] += 1

    mach.handlers_bind(Handlers())
    flush = attach(mach) if attach is not None else None
    add1 = mach.add1

    def run() -> int:
        count[0] = 0
        for _ in range(n // 2):
            add1("B")
            add1("A")
        assert count[0] == n, count[0]
        return n

    return run, flush


class _Discard:
    """A span exporter dropping the batches: the cost measured is the tracer's and the SDK's,
    not a network's."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _otel(exporter: Any, background: bool = True) -> Callable[[Machine], Flush]:
    def attach(mach: Machine) -> Flush:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from am_rpc.telemetry.otel import OtelTracer, TransitionFilter

        tp = TracerProvider()
        tp.add_span_processor(TransitionFilter(BatchSpanProcessor(exporter, max_queue_size=65536)))
        tracer = OtelTracer(tp, background=background).trace(mach)
        return tracer.force_flush

    return attach


def otel_bare_attach(mach: Machine) -> Flush:
    """The tracer with a provider that has no span processor: its bookkeeping only."""
    from opentelemetry.sdk.trace import TracerProvider

    from am_rpc.telemetry.otel import OtelTracer

    return OtelTracer(TracerProvider()).trace(mach).force_flush


def prometheus_attach(mach: Machine) -> None:
    from am_rpc.telemetry.prometheus import PrometheusExporter

    PrometheusExporter().track(mach)


class _NoOp(Tracer):
    def transition_end(self, tx: object) -> None:
        pass


def otel_floor(n: int) -> Case:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(_Discard(), max_queue_size=65536))  # type: ignore[arg-type]
    tracer = tp.get_tracer("floor")
    state = [tracer.start_span("state")]

    def run() -> int:
        for _ in range(n):
            tx = tracer.start_span("tx")
            state[0].end()
            state[0] = tracer.start_span("state")
            tx.end()
        return n

    return run, tp.force_flush


def best_costs(
    cases: dict[str, Case], chunks: int, untimed: dict[str, Callable[[], Any]] | None = None
) -> dict[str, tuple[float, float]]:
    """Interleave the cases chunk by chunk (fair on a busy machine); per case the best
    (machine-thread CPU, total CPU) seconds per transition. ``untimed[name]`` runs after each
    chunk of that case, outside the timing."""
    best = {k: (float("inf"), float("inf")) for k in cases}
    after = {k: (untimed or {}).get(k, lambda: None) for k in cases}
    gc.collect()
    for _ in range(chunks):
        for name, (run, flush) in cases.items():
            c0, t0 = time.process_time(), time.thread_time()
            n = run()
            t1 = time.thread_time()
            if flush is not None:
                flush()
            c1 = time.process_time()
            after[name]()
            m, t = best[name]
            best[name] = (min(m, (t1 - t0) / n), min(t, (c1 - c0) / n))
    return best


def otlp_cost(n: int, chunks: int) -> tuple[float, float]:
    """(machine-thread, total CPU) seconds per transition with the OTLP/HTTP exporter sending
    to a receiver process on 127.0.0.1."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    recv = subprocess.Popen([sys.executable, "-c", _RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert recv.stdout is not None
        port = int(recv.stdout.readline())
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")
        case = toggle(n, _otel(exporter))
        case[0]()
        got = best_costs({"otlp": case}, chunks)["otlp"]
        flush = case[1]
        assert flush is not None
        flush.__self__.shutdown()  # type: ignore[attr-defined]  # the tracer's: queue, spans
        flush.__self__.provider.shutdown()  # type: ignore[attr-defined]
        return got
    finally:
        recv.terminate()
        recv.wait(30)


_RECEIVER = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


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
    ap.add_argument(
        "--otlp-chunks", type=int, default=5, help="chunks with the OTLP/HTTP exporter (0: skip)"
    )
    args = ap.parse_args()
    chunk = max(2, args.chunk - args.chunk % 2)

    def hist_mem(m: Machine) -> None:
        MemoryHistory(m.id, max_records=10_000).track(m)

    tmp = Path(tempfile.mkdtemp(prefix="am-bench-telemetry-"))

    def hist_sqlite(m: Machine) -> Flush:
        h = SQLiteHistory(tmp / "toggle.db", m.id)
        h.track(m)
        return h.flush

    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    cases: dict[str, Case] = {
        "bare": toggle(chunk),
        "tracer floor": toggle(chunk, lambda m: m.tracer_bind(_NoOp()) and None),
        "prometheus": toggle(chunk, prometheus_attach),
        "otel": toggle(chunk, _otel(_Discard())),
        "otel + memory exporter": toggle(chunk, _otel(memory)),
        "otel, in-line": toggle(chunk, _otel(_Discard(), background=False)),
        "otel, no processor": toggle(chunk, otel_bare_attach),
        "otel (SDK floor)": otel_floor(chunk),
        "history (memory)": toggle(chunk, hist_mem),
        "history (sqlite)": toggle(chunk, hist_sqlite),
    }
    for run, flush in cases.values():
        run()  # warm up
        if flush is not None:
            flush()
    memory.clear()
    best = best_costs(cases, args.chunks, {"otel + memory exporter": memory.clear})
    print(f"toggle: {chunk:,}-transition chunks x {args.chunks}, interleaved; best chunk of each")
    bm, bt = best["bare"]
    targets = {"prometheus": 1.3, "otel": 3.0}
    print(f"  {'':24} {'machine thread':>24}   {'total CPU':>22}")

    def row(name: str, m: float, t: float) -> None:
        target = f"  (target <= {targets[name]}x)" if name in targets else ""
        print(
            f"  {name:24} {m * 1e6:7.2f} µs/tx {m / bm:5.2f}x bare"
            f"   {t * 1e6:7.2f} µs/tx {t / bt:5.2f}x bare{target}"
        )

    for name, (m, t) in best.items():
        row(name, m, t)
    if args.otlp_chunks:
        m, t = otlp_cost(chunk, args.otlp_chunks)
        row("otel + OTLP/HTTP", m, t)
    print("history insert rate (SQLite, WAL; target >= 50,000 records/s):")
    for label, fn in (("backend", history_backend_rate), ("end to end", history_e2e_rate)):
        cpu, wall, count = fn(args.history_n, tmp / f"{label.replace(' ', '-')}.db")
        print(
            f"  {label:10} {cpu:9,.0f} records/s CPU  {wall:9,.0f} records/s wall  "
            f"({count:,} records)"
        )


if __name__ == "__main__":
    main()
