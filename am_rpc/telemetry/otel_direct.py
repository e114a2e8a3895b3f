"""Finished spans built directly and handed to the tracer provider's span processor.

A transition span's start and end are both known when the transition ends (a state span's when
the state ends), so ``OtelTracer`` need not pay for ``Tracer.start_span``, a live ``Span`` and
the context machinery on the machine's thread: it builds the SDK's ``ReadableSpan`` with ids from
the tracer's own id generator, the tracer's resource and instrumentation scope, and gives it to
the same processors (``on_end``) that a live span would reach. Used only where that is exactly
what the SDK would have done: an SDK tracer, enabled, whose sampler samples every child of a
sampled local parent (the default ``ParentBased(ALWAYS_ON)``), with span limits our attributes fit
in, and no SDK self-metrics configured. Processors' ``on_start`` is not called for these spans
(docs/telemetry.md#cost).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import Link, SpanContext, Status, StatusCode

_UNSET = Status(StatusCode.UNSET)
# the most attributes one of our spans carries (a transition span: 11)
_MAX_ATTRS = 16


class DirectSpans:
    """Makes child span contexts and emits finished spans for one SDK tracer."""

    __slots__ = ("_gen", "_on_end", "info", "resource", "scope")

    def __init__(self, tracer: SdkTracer) -> None:
        self._on_end = tracer.span_processor.on_end
        self._gen = tracer.id_generator.generate_span_id
        self.resource = tracer.resource
        self.scope = tracer._instrumentation_scope
        self.info = tracer.instrumentation_info

    @staticmethod
    def for_tracer(tracer: Any) -> DirectSpans | None:
        """A ``DirectSpans`` when spans built directly equal what ``tracer`` would make; else None."""
        if not isinstance(tracer, SdkTracer):
            return None
        sampler = tracer.sampler
        if not isinstance(sampler, ParentBased) or sampler._local_parent_sampled is not ALWAYS_ON:
            return None
        limits = tracer._span_limits
        if (
            (limits.max_span_attributes is not None and limits.max_span_attributes < _MAX_ATTRS)
            or limits.max_span_attribute_length is not None
            or (limits.max_links is not None and limits.max_links < 1)
        ):
            return None
        if type(tracer._tracer_metrics).__name__ != "NoOpTracerMetrics":
            return None
        if not tracer._is_enabled():
            return None
        return DirectSpans(tracer)

    def child(self, parent: SpanContext) -> SpanContext:
        """A new span's context under a sampled local ``parent`` (what the default sampler gives)."""
        return SpanContext(
            parent.trace_id, self._gen(), False, parent.trace_flags, parent.trace_state
        )

    def children_of(self, parent: SpanContext) -> Any:
        """``child(parent)`` as a callable of no arguments, the parent's fields read once."""
        tid, flags, tstate, gen = parent.trace_id, parent.trace_flags, parent.trace_state, self._gen

        def child() -> SpanContext:
            return SpanContext(tid, gen(), False, flags, tstate)

        return child

    def finish(
        self,
        name: str,
        ctx: SpanContext,
        parent: SpanContext,
        attributes: Mapping[str, Any],
        start: int,
        end: int,
        links: Sequence[Link] = (),
        status: Status = _UNSET,
    ) -> None:
        self._on_end(
            ReadableSpan(
                name=name,
                context=ctx,
                parent=parent,
                resource=self.resource,
                attributes=attributes,
                links=links,
                instrumentation_info=self.info,
                status=status,
                start_time=start,
                end_time=end,
                instrumentation_scope=self.scope,
            )
        )
