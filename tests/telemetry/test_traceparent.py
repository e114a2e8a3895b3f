"""The OTel trace context travels with aRPC mutations: the server's transition span links to the
client's span (docs/arpc.md#trace-context, docs/telemetry.md#opentelemetry). Two real machines
over a real aRPC connection, the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from am_core import Event, Machine, State
from am_rpc.errors import InvalidParamsError
from am_rpc.protocol import MutationReq
from am_rpc.telemetry.otel import OtelTracer
from tests.rpc.helpers import PairFactory, norels, wait_until


@pytest.fixture
def make_pair() -> Iterator[PairFactory]:
    factory = PairFactory()
    yield factory
    factory.close()


def _setup() -> tuple[InMemorySpanExporter, TracerProvider, OtelTracer]:
    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    return spans, tp, OtelTracer(tp)


def _span(spans: InMemorySpanExporter, name: str, mach: str) -> ReadableSpan:
    def find() -> list[ReadableSpan]:
        return [
            s
            for s in spans.get_finished_spans()
            if s.name == name and (s.attributes or {}).get("am.machine.id") == mach
        ]

    wait_until(lambda: bool(find()), timeout=20, what=f"span {name} of {mach}")
    return find()[0]


def test_current_span_links_the_server_transition(make_pair: Any) -> None:
    spans, tp, tracer = _setup()
    pair = make_pair(norels())
    tracer.trace(pair.src)
    with tp.get_tracer("caller").start_as_current_span("request") as caller:
        pair.nm.add1("A")
    tx = _span(spans, "tx:[add] A", pair.src.id)
    want = caller.get_span_context()
    assert [(ln.context.trace_id, ln.context.span_id) for ln in tx.links] == [
        (want.trace_id, want.span_id)
    ]
    assert tx.links[0].context.is_remote
    # without a current span nothing is sent: no link
    pair.nm.add1("B")
    assert _span(spans, "tx:[add] B", pair.src.id).links == ()


def test_calling_transition_links_the_server_transition(make_pair: Any) -> None:
    spans, _tp, tracer = _setup()
    pair = make_pair(norels())
    tracer.trace(pair.src)
    caller = Machine({"Go": State()}, id="caller")
    nm = pair.nm

    class Handlers:
        def GoState(self, e: Event) -> None:
            nm.add1("C")  # a handler calling the remote machine

    caller.handlers_bind(Handlers())
    tracer.trace(caller)
    caller.add1("Go")
    go = _span(spans, "tx:[add] Go", "caller")
    remote = _span(spans, "tx:[add] C", pair.src.id)
    assert [ln.context.span_id for ln in remote.links] == [go.context.span_id]
    assert remote.links[0].context.trace_id == go.context.trace_id


def test_wire_field_is_optional_and_checked() -> None:
    tp = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    assert "t" not in MutationReq((1,)).to_wire()  # old peers see the same body
    assert MutationReq.from_wire({"s": [1]}).traceparent is None
    wire = MutationReq((1,), traceparent=tp).to_wire()
    assert wire["t"] == tp and MutationReq.from_wire(wire).traceparent == tp
    with pytest.raises(InvalidParamsError, match="traceparent"):
        MutationReq.from_wire({"s": [1], "t": "not-a-traceparent"})
    with pytest.raises(InvalidParamsError, match="traceparent"):
        MutationReq.from_wire({"s": [1], "t": 5})
