"""Finished spans built directly and handed to the tracer provider's span processors, on the
machine's thread or off it.

A transition span's start and end are both known when the transition ends (a state span's when
the state ends), so ``OtelTracer`` need not pay for ``Tracer.start_span``, a live ``Span`` and
the context machinery on the machine's thread: it takes span ids from the tracer's own id
generator and builds the SDK's ``ReadableSpan`` with the tracer's resource and instrumentation
scope, for the same processors (``on_end``) a live span would reach. Used only where that is
exactly what the SDK would have done: an SDK tracer, enabled, whose sampler samples every child
of a sampled local parent (the default ``ParentBased(ALWAYS_ON)``), with span limits our
attributes fit in, and no SDK self-metrics configured. Processors' ``on_start`` is not called for
these spans (docs/telemetry.md#cost).

With ``background=True`` the machine's thread only appends a compact record (the transition,
its span's start and end time) to a queue; a worker thread runs the records in the order they
were made: it works out the state spans a transition ended and started, builds the spans and
feeds the processors. The queue is bounded: when it is full, the machine's thread
delivers the queue itself (back-pressure; no span is dropped). ``flush()`` delivers everything
queued on the calling thread.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

_log = logging.getLogger(__name__)
_UNSET = Status(StatusCode.UNSET)
_INTERNAL = SpanKind.INTERNAL
# the most attributes one of our spans carries (a transition span: 11)
_MAX_ATTRS = 16
SPAN_ID_MAX = 2**64 - 1
_new_tuple = tuple.__new__

# the worker: how often it delivers what is queued, how many records wake it early, and how
# many the queue holds before the machine's thread delivers them itself
INTERVAL = 0.05
BATCH = 512
BOUND = 65536


def span_context(parent: SpanContext, span_id: int) -> SpanContext:
    """A child context of ``parent`` (its trace, flags and state), what the default sampler
    gives a child of a sampled local parent; without ``SpanContext``'s argument checks."""
    return _new_tuple(
        SpanContext,
        (parent[0], span_id, False, parent[3], parent[4], 0 < span_id <= SPAN_ID_MAX),
    )


class DirectSpans:
    """Span ids and finished spans for one SDK tracer (see the module docstring)."""

    def __init__(self, tracer: SdkTracer, background: bool = False) -> None:
        self._processor = tracer.span_processor
        gen = tracer.id_generator.generate_span_id
        if type(tracer.id_generator) is RandomIdGenerator:
            # the generator's own draw without its method call; 0 (invalid) draws again
            rb = random.getrandbits

            def new_id() -> int:
                return rb(64) or gen()

            self.new_id: Callable[[], int] = new_id
        else:
            self.new_id = gen
        self.resource = tracer.resource
        self.scope = tracer._instrumentation_scope
        self.info = tracer.instrumentation_info
        self.background = background
        # the processors as last seen, and where a span goes: (on_end or None, filter or None)
        self._seen: Any = object()
        self._route: tuple[Callable[[ReadableSpan], None] | None, Any] = (None, None)
        self._queue: deque[tuple[Any, ...]] = deque()
        # re-entrant: a processor may mutate a traced machine while records run
        self._drain_lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = False
        self._start_lock = threading.Lock()
        if background:
            # at exit, before the provider shuts down: atexit runs in reverse order, and the
            # provider registered its hook when it was made, before this tracer
            atexit.register(_stop_at_exit, weakref.ref(self))
            os.register_at_fork(after_in_child=partial(_after_fork, weakref.ref(self)))

    @staticmethod
    def for_tracer(tracer: Any, background: bool = False) -> DirectSpans | None:
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
        return DirectSpans(tracer, background)

    # ------------------------------------------------------------------ routing

    def route(self) -> tuple[Callable[[ReadableSpan], None] | None, Any]:
        """(deliver, filter): the ``on_end`` a span goes to (None: no processor, nothing to
        build) and, when the only processor is a transition filter, that filter (its decision
        is taken before a span is built). Re-read when the provider's processors change."""
        proc = self._processor
        if type(proc) is not SynchronousMultiSpanProcessor:
            return proc.on_end, None
        procs = proc._span_processors
        if procs is self._seen:
            return self._route
        if not procs:
            route: tuple[Any, Any] = (None, None)
        elif len(procs) == 1:
            only: Any = procs[0]
            drops = getattr(only, "drops_transition", None)
            route = (only.next.on_end, only) if drops is not None else (only.on_end, None)
        else:
            route = (proc.on_end, None)
        self._seen, self._route = procs, route
        return route

    # ------------------------------------------------------------------ spans

    def build(
        self,
        name: str,
        span_id: int,
        parent: SpanContext,
        keys: tuple[str, ...],
        values: tuple[Any, ...],
        start: int,
        end: int,
        links: Sequence[Link] = (),
        status: Status = _UNSET,
    ) -> ReadableSpan:
        ctx = _new_tuple(
            SpanContext,
            (parent[0], span_id, False, parent[3], parent[4], 0 < span_id <= SPAN_ID_MAX),
        )
        return ReadableSpan(
            name,
            ctx,
            parent,
            self.resource,
            # the shapes are the tracer's own: keys and values match by construction
            dict(zip(keys, values, strict=False)),
            (),
            links,
            _INTERNAL,
            self.info,
            status,
            start,
            end,
            self.scope,
        )

    def put(self, rec: tuple[Any, ...]) -> None:
        """Run a record ``(handler, ...)`` as ``handler(rec)``: queued for the worker
        (``background``), else now; records run one at a time, in the order they were put."""
        if self.background:
            q = self._queue
            q.append(rec)
            if len(q) >= BATCH:
                self._kick()
            elif self._thread is None:
                self._start()
            return
        with self._drain_lock:
            rec[0](rec)

    # ------------------------------------------------------------------ the worker

    def _kick(self) -> None:
        if len(self._queue) >= BOUND:
            self.flush()  # back-pressure: the worker is behind, deliver here
            return
        if self._thread is None:
            self._start()
        if not self._wake.is_set():
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            self._stop = False
            t = threading.Thread(
                target=_work, args=(weakref.ref(self),), name="am-otel-spans", daemon=True
            )
            self._thread = t
            t.start()

    def flush(self) -> None:
        """Run every queued record on this thread, in order (their spans are delivered when
        this returns)."""
        q = self._queue
        with self._drain_lock:
            pop = q.popleft
            while q:
                rec = pop()
                try:
                    rec[0](rec)
                except Exception:  # one failing span (a processor's error) must not stop the rest
                    _log.exception("span record failed")

    def stop(self) -> None:
        """Deliver the queue and stop the worker (a later span starts it again)."""
        t = self._thread
        if t is not None:
            self._stop = True
            self._wake.set()
            if t is not threading.current_thread():
                t.join(30)
            self._thread = None
        self.flush()


def _work(ref: weakref.ref[DirectSpans]) -> None:
    """The worker's loop: holds its ``DirectSpans`` only weakly, so a dropped tracer ends it."""
    while True:
        ds = ref()
        if ds is None:
            return
        wake = ds._wake
        del ds
        wake.wait(INTERVAL)
        ds = ref()
        if ds is None:
            return
        wake.clear()
        ds.flush()
        if ds._stop:
            return
        del ds


def _after_fork(ref: weakref.ref[DirectSpans]) -> None:
    """In a forked child: no worker runs there yet, and no lock may be held."""
    ds = ref()
    if ds is not None:
        ds._thread = None
        ds._drain_lock = threading.RLock()
        ds._start_lock = threading.Lock()
        ds._wake = threading.Event()


def _stop_at_exit(ref: weakref.ref[DirectSpans]) -> None:
    ds = ref()
    if ds is not None:
        ds.stop()
