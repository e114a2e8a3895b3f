"""OpenTelemetry: the SDK's in-memory exporters see the exact span tree and log records of a
scripted run of the demo pipeline's machines (docs/telemetry.md#opentelemetry)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from am_core import Event, LogLevel, Machine
from am_rpc.telemetry.otel import EV_EXCEPTION, EV_STEP, OtelTracer, TransitionFilter, trace_env

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from pipeline import LaneStates, PipelineStates


class _Run:
    def __init__(self, filtered: bool = False, sampler: Any = None) -> None:
        self.spans = InMemorySpanExporter()
        self.logs = InMemoryLogRecordExporter()
        tp = TracerProvider(sampler=sampler)
        proc = SimpleSpanProcessor(self.spans)
        tp.add_span_processor(TransitionFilter(proc) if filtered else proc)
        lp = LoggerProvider()
        lp.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.tracer = OtelTracer(tp, lp)


def _script(run: _Run) -> tuple[Machine, Machine]:
    """One file through a lane, scripted: every step the demo's lane takes, without its timers."""
    pipe = Machine(PipelineStates.schema(), id="pipeline")
    run.tracer.trace(pipe)
    # created after: traced as a submachine, its span a child of the pipeline's
    lane = Machine(LaneStates.schema(), id="lane-1", parent=pipe, log_level=LogLevel.CHANGES)
    # a second machine with a traced id is not traced twice
    Machine(LaneStates.schema(), id="lane-1", parent=pipe)
    lines: list[str] = []
    lane.semlogger().set_logger(lambda lvl, msg: lines.append(msg))
    run.tracer.bridge_logs(lane)  # after replacing the sink

    class PipeH:
        def FileDoneState(self, e: Event) -> None:
            raise RuntimeError(f"no room for {e.args['path']}")

    class LaneH:
        def DoneState(self, e: Event) -> None:
            # a cross-machine call from a handler, as the demo's lane does
            pipe.ev_add1(e, "FileDone", {"path": "a.txt"})

    pipe.handlers_bind(PipeH())
    lane.handlers_bind(LaneH())
    pipe.add1("Start")
    lane.add1("Start")
    lane.semlogger().enable_steps(True)
    lane.add1("FileAssigned")
    lane.semlogger().enable_steps(False)
    lane.add1("Downloaded")
    lane.add1("SlotGranted")
    lane.add1("Processed")
    lane.add1("Uploaded")
    lane.remove1("FileAssigned")
    assert lines, "the previous log sink still gets the lines"
    return pipe, lane


def _tree(run: _Run) -> list[tuple[Any, ...]]:
    """(name, parent name, attributes with tx ids as span names, linked span names), end order."""
    spans = run.spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    tx_name = {s.attributes["am.tx.id"]: s.name for s in spans if s.name.startswith("tx:")}
    out = []
    for s in spans:
        attrs = dict(s.attributes or {})
        for key in ("am.tx.id", "am.tx.source_tx"):
            if key in attrs:
                attrs[key] = tx_name.get(attrs[key], "?")
        parent = by_id[s.parent.span_id].name if s.parent else None
        links = [by_id[ln.context.span_id].name for ln in s.links]
        out.append((s.name, parent, attrs, links))
    return out


def _tx(
    called: list[str],
    typ: str,
    result: str,
    added: list[str],
    removed: list[str],
    tb: int,
    ta: int,
    qt: int,
    auto: bool = False,
    mach: str = "lane-1",
    source: tuple[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "am.machine.id": mach,
        "am.tx.id": f"tx:[{typ}] {' '.join(called)}",
        "am.tx.type": typ,
        "am.tx.called": tuple(called),
        "am.tx.auto": auto,
    }
    if qt:
        out["am.tx.queue_tick"] = qt
    if source:
        out["am.tx.source_machine"], out["am.tx.source_tx"] = source
    out.update(
        {
            "am.tx.result": result,
            "am.tx.added": tuple(added),
            "am.tx.removed": tuple(removed),
            "am.tx.time_after": ta,
        }
    )
    assert tb <= ta
    return out


def _st(state: str, tx: str) -> dict[str, Any]:
    return {"am.state": state, "am.state.tick": 1, "am.tx.id": tx}


AUTO4 = ["Done", "Downloading", "Processing", "Uploading"]
AUTO3 = ["Done", "Processing", "Uploading"]
CHAIN = ["Done", "Downloaded", "FileAssigned", "Processed", "SlotGranted", "Uploaded"]
L = "mach:lane-1"
P = "mach:pipeline"


def test_span_tree_of_the_pipeline_run() -> None:
    run = _Run()
    _script(run)
    run.tracer.shutdown()
    tree = _tree(run)
    expected = [
        (
            "tx:[add] Start",
            P,
            _tx(["Start"], "add", "executed", ["Start"], [], 0, 1, 2, mach="pipeline"),
            [],
        ),
        ("tx:[add] Start", L, _tx(["Start"], "add", "executed", ["Start"], [], 0, 1, 2), []),
        (
            "tx:[add] " + " ".join(AUTO4),
            L,
            _tx(AUTO4, "add", "canceled", [], [], 1, 1, 0, True),
            ["tx:[add] Start"],
        ),
        (
            "tx:[add] FileAssigned",
            L,
            _tx(["FileAssigned"], "add", "executed", ["FileAssigned"], [], 1, 2, 3),
            [],
        ),
        (
            "tx:[add] " + " ".join(AUTO4),
            L,
            _tx(AUTO4, "add", "executed", ["Downloading"], [], 2, 3, 0, True),
            ["tx:[add] FileAssigned"],
        ),
        ("state:Downloading", L, _st("Downloading", "tx:[add] " + " ".join(AUTO4)), []),
        (
            "tx:[add] Downloaded",
            L,
            _tx(["Downloaded"], "add", "executed", ["Downloaded"], ["Downloading"], 3, 5, 4),
            [],
        ),
        (
            "tx:[add] " + " ".join(AUTO3),
            L,
            _tx(AUTO3, "add", "canceled", [], [], 5, 5, 0, True),
            ["tx:[add] Downloaded"],
        ),
        (
            "tx:[add] SlotGranted",
            L,
            _tx(["SlotGranted"], "add", "executed", ["SlotGranted"], [], 5, 6, 5),
            [],
        ),
        (
            "tx:[add] " + " ".join(AUTO3),
            L,
            _tx(AUTO3, "add", "executed", ["Processing"], [], 6, 7, 0, True),
            ["tx:[add] SlotGranted"],
        ),
        ("state:Processing", L, _st("Processing", "tx:[add] " + " ".join(AUTO3)), []),
        (
            "tx:[add] Processed",
            L,
            _tx(["Processed"], "add", "executed", ["Processed"], ["Processing"], 7, 9, 6),
            [],
        ),
        (
            "tx:[add] Done Uploading",
            L,
            _tx(["Done", "Uploading"], "add", "executed", ["Uploading"], [], 9, 10, 0, True),
            ["tx:[add] Processed"],
        ),
        ("state:Uploading", L, _st("Uploading", "tx:[add] Done Uploading"), []),
        (
            "tx:[add] Uploaded",
            L,
            _tx(["Uploaded"], "add", "executed", ["Uploaded"], ["Uploading"], 10, 12, 7),
            [],
        ),
        # Done's handler adds FileDone to the pipeline: a nested transition linked to the lane's;
        # its handler raises (FileDone's clock moves on, but the transition is not accepted),
        # and the Exception transition that follows is linked to it
        (
            "tx:[add] FileDone",
            P,
            _tx(
                ["FileDone"],
                "add",
                "canceled",
                [],
                [],
                1,
                3,
                3,
                mach="pipeline",
                source=("lane-1", "tx:[add] Done"),
            ),
            ["tx:[add] Done"],
        ),
        (
            "tx:[add] Exception",
            P,
            _tx(["Exception"], "add", "executed", ["Exception"], [], 3, 4, 0, mach="pipeline"),
            ["tx:[add] FileDone"],
        ),
        (
            "tx:[add] Done",
            L,
            _tx(["Done"], "add", "executed", ["Done"], [], 12, 13, 0, True),
            ["tx:[add] Uploaded"],
        ),
        # removing FileAssigned ends every state span of the chain (in the lane's state order)
        *[(f"state:{s}", L, _st(s, f"tx:[add] {s}"), []) for s in CHAIN],
        (
            "tx:[remove] FileAssigned",
            L,
            _tx(["FileAssigned"], "remove", "executed", [], CHAIN, 13, 19, 8),
            [],
        ),
        (
            "tx:[add] " + " ".join(AUTO4),
            L,
            _tx(AUTO4, "add", "canceled", [], [], 19, 19, 0, True),
            ["tx:[remove] FileAssigned"],
        ),
        # shutdown: open states end with their machine, children first
        ("state:Start", L, _st("Start", "tx:[add] Start"), []),
        (L, P, {"am.machine.id": "lane-1", "am.machine.parent_id": "pipeline"}, []),
        ("state:Start", P, _st("Start", "tx:[add] Start"), []),
        ("state:Exception", P, _st("Exception", "tx:[add] Exception"), []),
        (P, None, {"am.machine.id": "pipeline"}, []),
    ]
    assert tree == expected
    # the same trace for all; the duplicate "lane-1" machine was not traced
    assert len({s.context.trace_id for s in run.spans.get_finished_spans()}) == 1


def test_live_spans_give_the_same_tree() -> None:
    """A sampler other than the default makes the tracer use live SDK spans (not spans built
    directly, docs/telemetry.md#cost): the exporter sees the same tree, logs tied the same way."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    direct, live = _Run(), _Run(sampler=ALWAYS_ON)
    assert direct.tracer._direct is not None and live.tracer._direct is None
    for run in (direct, live):
        _script(run)
        run.tracer.shutdown()
    assert _tree(live) == _tree(direct)
    spans = {s.context.span_id: s.name for s in live.spans.get_finished_spans()}
    errs = [
        r.log_record
        for r in live.logs.get_finished_logs()
        if r.log_record.event_name == EV_EXCEPTION
    ]
    assert [spans[r.span_id] for r in errs] == ["tx:[add] FileDone"]


def test_log_records_carry_the_trace_context() -> None:
    run = _Run()
    _script(run)
    run.tracer.shutdown()
    spans = {s.context.span_id: s for s in run.spans.get_finished_spans()}
    recs = [r.log_record for r in run.logs.get_finished_logs()]
    for r in recs:
        assert r.span_id in spans, r.body
    errs = [r for r in recs if r.event_name == EV_EXCEPTION]
    assert len(errs) == 1
    assert errs[0].body == "RuntimeError: no room for a.txt"
    assert errs[0].attributes["exception.type"] == "RuntimeError"
    assert spans[errs[0].span_id].name == "tx:[add] FileDone"
    steps = [r for r in recs if r.event_name == EV_STEP]
    # steps were on for the FileAssigned mutation only (and its auto transition)
    assert {spans[r.span_id].name for r in steps} == {
        "tx:[add] FileAssigned",
        "tx:[add] " + " ".join(AUTO4),
    }
    fa = [r.body for r in steps if spans[r.span_id].name == "tx:[add] FileAssigned"]
    assert fa[:2] == ["called **FileAssigned**", "activate **FileAssigned**"]
    lines = [r for r in recs if r.event_name is None]
    assert lines and all(r.attributes["am.machine.id"] == "lane-1" for r in lines)
    first = next(r for r in lines if "FileAssigned" in str(r.body))
    assert spans[first.span_id].name == "tx:[add] FileAssigned"


def test_filter_drops_canceled_and_empty() -> None:
    run = _Run(filtered=True)
    _script(run)
    run.tracer.shutdown()
    kept = run.spans.get_finished_spans()
    for s in kept:
        if s.name == "tx:[add] FileDone":
            # its handler raised: kept, marked as an error
            assert s.status.status_code == StatusCode.ERROR
            continue
        assert s.attributes.get("am.tx.result") != "canceled", s.name
        if s.name.startswith("tx:"):
            assert s.attributes["am.tx.added"] or s.attributes["am.tx.removed"], s.name
    assert {s.name for s in kept} >= {"tx:[add] FileAssigned", "tx:[add] Exception", L, P}
    assert any(s.name == "tx:[add] FileAssigned" for s in run.spans.get_finished_spans())


def test_env_switch() -> None:
    m = Machine(PipelineStates.schema(), id="env1")
    assert trace_env(m, {}) is None
    assert trace_env(m, {"AM_OTEL_TRACE": "0"}) is None
