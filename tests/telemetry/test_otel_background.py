"""OtelTracer builds its spans off the machine's thread by default (docs/telemetry.md#cost):
every span reaches the processors, in the order the in-line path delivers them, from the
worker thread; ``force_flush``, ``shutdown`` and the process's exit deliver what is queued."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from am_core import Event, Machine, State
from am_rpc.telemetry import otel_direct
from am_rpc.telemetry.otel import OtelTracer

ROOT = Path(__file__).resolve().parents[2]
N = 3000  # transitions on the worker machine per run


class _Exporter(InMemorySpanExporter):
    """The SDK's in-memory exporter, noting the thread each span was exported on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def export(self, spans: Any) -> Any:
        self.threads.add(threading.current_thread().name)
        return super().export(spans)


def _traced(background: bool) -> tuple[OtelTracer, _Exporter]:
    exp = _Exporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exp))
    return OtelTracer(tp, background=background), exp


def _workload(tracer: OtelTracer) -> None:
    """A parent and a submachine: toggles, a multi state, cross-machine calls from handlers
    (links), canceled transitions."""
    parent = Machine({"Jobs": State(multi=True), "Idle": State()}, id="svc")
    tracer.trace(parent)
    job = Machine(
        {"A": State(remove=["B"]), "B": State(remove=["A"]), "C": State(require=["A"])},
        id="job",
        parent=parent,
    )

    class H:
        def BState(self, e: Event) -> None:
            parent.add1("Jobs")  # nested, linked to this transition

    job.handlers_bind(H())
    for _ in range(N // 3):
        job.add1("A")
        job.add1("B")
        job.add1("C")  # canceled: A is not active


def _tree(spans: tuple[ReadableSpan, ...]) -> list[tuple[Any, ...]]:
    """The spans in delivery order: name, parent name, attributes (tx ids as the span names
    they belong to, clocks kept), linked span names."""
    by_id = {s.context.span_id: s for s in spans}
    tx_name = {s.attributes["am.tx.id"]: s.name for s in spans if s.name.startswith("tx:")}
    out = []
    for s in spans:
        attrs = dict(s.attributes or {})
        for key in ("am.tx.id", "am.tx.source_tx"):
            if key in attrs:
                attrs[key] = tx_name.get(attrs[key], "?")
        parent = by_id[s.parent.span_id].name if s.parent else None
        out.append((s.name, parent, attrs, [by_id[ln.context.span_id].name for ln in s.links]))
    return out


def _wait(cond: Any, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_every_span_in_the_in_line_order() -> None:
    inline, inline_exp = _traced(background=False)
    bg, bg_exp = _traced(background=True)
    assert inline._direct is not None and not inline._direct.background
    assert bg._direct is not None and bg._direct.background
    for t in (inline, bg):
        _workload(t)
        t.shutdown()
    want = inline_exp.get_finished_spans()
    got = bg_exp.get_finished_spans()
    # 3 transitions and a nested one per round, the state spans ended on the way, the rest
    tx = [s for s in got if s.name.startswith("tx:")]
    assert len(tx) == N + N // 3
    assert len(got) == len(want)
    assert _tree(got) == _tree(want)
    # children end before their parents: states, then the machine span, the submachine first
    names = [s.name for s in got]
    assert names[-1] == "mach:svc"
    assert names.index("mach:job") < names.index("mach:svc")
    # built and exported off the machine's thread (and, at shutdown, on the caller's)
    assert "am-otel-spans" in bg_exp.threads
    assert inline_exp.threads == {threading.current_thread().name}


def test_the_worker_delivers_without_a_flush() -> None:
    bg, exp = _traced(background=True)
    _workload(bg)
    assert _wait(lambda: len([s for s in exp.get_finished_spans() if s.name.startswith("tx:")])
                 == N + N // 3)  # fmt: skip
    assert exp.threads == {"am-otel-spans"}
    bg.shutdown()


def test_force_flush_and_shutdown_deliver_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    # a worker that never wakes on its own: only a flush can deliver
    monkeypatch.setattr(otel_direct, "INTERVAL", 3600.0)
    monkeypatch.setattr(otel_direct, "BATCH", 10**9)
    bg, exp = _traced(background=True)
    _workload(bg)
    assert bg._direct is not None and len(bg._direct._queue) > N
    assert exp.get_finished_spans() == ()
    assert bg.force_flush()
    tx = [s for s in exp.get_finished_spans() if s.name.startswith("tx:")]
    assert len(tx) == N + N // 3
    assert not bg._direct._queue
    # more work, then shutdown: the queued spans, then the open states and the machines
    m = Machine({"X": State()}, id="late")
    bg.trace(m)
    m.add1("X")
    before = len(exp.get_finished_spans())
    bg.shutdown()
    names = [s.name for s in exp.get_finished_spans()[before:]]
    assert names[0] == "tx:[add] X"
    assert {"state:X", "mach:late", "mach:job", "mach:svc"} <= set(names)
    assert names.index("state:X") < names.index("mach:late")


def test_a_full_queue_is_delivered_by_the_machine_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-pressure: past the bound the machine's thread delivers the queue itself; no span is
    dropped, the order is kept."""
    monkeypatch.setattr(otel_direct, "INTERVAL", 3600.0)
    monkeypatch.setattr(otel_direct, "BATCH", 50)
    monkeypatch.setattr(otel_direct, "BOUND", 200)
    inline, inline_exp = _traced(background=False)
    bg, exp = _traced(background=True)
    _workload(bg)
    assert bg._direct is not None and len(bg._direct._queue) <= 200
    assert threading.current_thread().name in exp.threads
    _workload(inline)
    for t in (inline, bg):
        t.shutdown()
    assert _tree(exp.get_finished_spans()) == _tree(inline_exp.get_finished_spans())


PROGRAM = """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from am_core import Machine, State
from am_rpc.telemetry import otel_direct
from am_rpc.telemetry.otel import OtelTracer

otel_direct.INTERVAL = 3600.0  # only the exit can deliver
tp = TracerProvider()
tp.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(formatter=lambda s: s.name + "\\n")))
m = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="exiting")
OtelTracer(tp).trace(m)
for _ in range(500):
    m.add1("A")
    m.add1("B")
# no shutdown, no flush: the queue is delivered at exit, before the provider shuts down
"""


def test_queued_spans_are_exported_at_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.count("tx:[add] A") == 500 and lines.count("tx:[add] B") == 500
    assert lines.count("state:A") == 500  # each B ended an A


FORK = """
import os, time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from am_core import Machine, State
from am_rpc.telemetry.otel import OtelTracer

exp = InMemorySpanExporter()
tp = TracerProvider()
tp.add_span_processor(SimpleSpanProcessor(exp))
m = Machine({"A": State(remove=["B"]), "B": State(remove=["A"])}, id="forked")
OtelTracer(tp).trace(m)
m.add1("A")
while not exp.get_finished_spans():  # the parent's worker ran
    time.sleep(0.01)
pid = os.fork()
if pid == 0:
    exp.clear()
    for _ in range(10):
        m.add1("B")
        m.add1("A")
    tx = []
    deadline = time.monotonic() + 30
    while len(tx) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
        tx = [s for s in exp.get_finished_spans() if s.name.startswith("tx:")]
    print("child", len(tx), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_worker() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FORK],
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "child 20" in done.stdout.splitlines(), done.stdout


def test_the_filter_decides_alike_before_and_after_building() -> None:
    """Alone, TransitionFilter's decision is taken before a span is built; once another
    processor is added (the tracer notices), it sees built spans and keeps the same kind."""
    from am_rpc.telemetry.otel import TransitionFilter

    alone = InMemorySpanExporter()
    tp1 = TracerProvider()
    tp1.add_span_processor(TransitionFilter(SimpleSpanProcessor(alone)))
    t1 = OtelTracer(tp1)
    filtered, everything = InMemorySpanExporter(), InMemorySpanExporter()
    tp2 = TracerProvider()
    tp2.add_span_processor(TransitionFilter(SimpleSpanProcessor(filtered)))
    t2 = OtelTracer(tp2)
    _workload(t1)
    _workload(t2)
    t1.force_flush()
    t2.force_flush()
    # the same run, the same spans kept (the filter alone decided before building)
    want = [s.name for s in alone.get_finished_spans()]
    assert [s.name for s in filtered.get_finished_spans()] == want
    assert len(want) > N
    tp2.add_span_processor(SimpleSpanProcessor(everything))
    m = Machine({"X": State(), "Y": State(require=["Z"]), "Z": State()}, id="later")
    t2.trace(m)
    m.add1("X")
    m.add1("Y")  # canceled: kept by the unfiltered processor only
    for t in (t1, t2):
        t.shutdown()
    assert not any(
        s.attributes.get("am.tx.result") == "canceled" for s in alone.get_finished_spans()
    )
    later = [s.name for s in everything.get_finished_spans()]
    assert "tx:[add] X" in later and "tx:[add] Y" in later and "mach:later" in later
    kept = [s.name for s in filtered.get_finished_spans()]
    assert "tx:[add] X" in kept and "tx:[add] Y" not in kept
