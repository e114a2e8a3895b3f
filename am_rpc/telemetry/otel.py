"""OpenTelemetry traces and logs for machines, with ``opentelemetry-sdk`` (extra ``[otel]``).

The span tree (docs/telemetry.md#opentelemetry):

- ``mach:<id>``: one long-lived span per machine, ended when the machine is disposed (or at
  ``OtelTracer.shutdown``); a child machine's span is a child of its parent machine's span;
- ``state:<Name>``: one span per activation of a state, a child of the machine span, ended by the
  transition that deactivates it (a multi state's re-activation ends one span and starts another);
- ``tx:[add] A B``: one span per transition, a child of the machine span, with called / added /
  removed states, the result and the source machine as attributes, and a link to the transition
  that queued its mutation (also across machines in one thread).

Handler errors, transition steps and the machine's log lines are OTel log records carrying the
trace context of their transition (the span-event API is being deprecated). ``TransitionFilter``
is a span processor dropping canceled and empty transitions before export.

With the SDK's default sampler the spans are built finished, by default off the machine's thread
(otel_direct.py, docs/telemetry.md#cost): ``force_flush`` / ``shutdown`` deliver what is queued.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from itertools import compress
from operator import ne
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import Logger, LoggerProvider, SeverityNumber, get_logger_provider
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace import Span as TSpan
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from am_core import ARG_EXCEPTION, LogLevel, MutationType, Tracer
from am_rpc import trace_context

from .otel_direct import SPAN_ID_MAX, DirectSpans, span_context

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from am_core import Machine, Mutation, Transition

SCOPE = "asyncmachine"

# attribute names
A_MACHINE = "am.machine.id"
A_PARENT = "am.machine.parent_id"
A_TAGS = "am.machine.tags"
A_STATE = "am.state"
A_TICK = "am.state.tick"
A_TX_ID = "am.tx.id"
A_TX_TYPE = "am.tx.type"
A_CALLED = "am.tx.called"
A_ADDED = "am.tx.added"
A_REMOVED = "am.tx.removed"
A_RESULT = "am.tx.result"
A_AUTO = "am.tx.auto"
A_QUEUE_TICK = "am.tx.queue_tick"
A_TIME_AFTER = "am.tx.time_after"
A_SOURCE_MACHINE = "am.tx.source_machine"
A_SOURCE_TX = "am.tx.source_tx"
A_STEP_TYPE = "am.step.type"
A_LOG_LEVEL = "am.log.level"

# log record event names
EV_EXCEPTION = "am.exception"
EV_STEP = "am.step"

_SEVERITY = {
    LogLevel.EXTERNAL: SeverityNumber.INFO,
    LogLevel.CHANGES: SeverityNumber.INFO,
    LogLevel.OPS: SeverityNumber.DEBUG,
    LogLevel.DECISIONS: SeverityNumber.DEBUG2,
    LogLevel.EVERYTHING: SeverityNumber.TRACE,
}
_QUEUED_MAX = 10_000
_NAMES_MAX = 1024
_ERR_HANDLER = Status(StatusCode.ERROR, "handler error")
_ERR_EXCEPTION = Status(StatusCode.ERROR, "Exception")
_RESULT = {True: "executed", False: "canceled"}
_UNSET_STATUS = Status(StatusCode.UNSET)
_now = time.time_ns
_new_tuple = tuple.__new__
_INTERNAL = SpanKind.INTERNAL
# attribute keys of a state span, with and without the activating transition
_STATE_KEYS: tuple[str, ...] = (A_STATE, A_TICK, A_TX_ID)
_STATE_KEYS_NO_TX: tuple[str, ...] = (A_STATE, A_TICK)


class _Current:
    """Every ``OtelTracer``, for the span of the transition running on a thread."""

    tracers: weakref.WeakSet[OtelTracer] = weakref.WeakSet()


class _Remote(threading.local):
    """.ctx: the SpanContext of a received traceparent, while it runs (a class default: reading
    it unset costs no exception)."""

    ctx: SpanContext | None = None


class _Local(threading.local):
    """.stack: the open transitions of this thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[_Tx] = []


_remote = _Remote()
_propagator = TraceContextTextMapPropagator()


def _outgoing() -> str | None:
    """The traceparent for an aRPC mutation made now: the current OTel span, else the span of
    the transition running on this thread (a handler calling a remote machine)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        for t in list(_Current.tracers):
            st = t._local.stack
            if st:
                ctx = st[-1].ctx
                break
        else:
            return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


@contextlib.contextmanager
def _incoming(traceparent: str) -> Iterator[None]:
    """Run a received mutation with the caller's span context set for this thread."""
    got = trace.get_current_span(_propagator.extract({"traceparent": traceparent}))
    ctx = got.get_span_context()
    prev = _remote.ctx
    _remote.ctx = ctx if ctx.is_valid else None
    try:
        yield
    finally:
        _remote.ctx = prev


trace_context.register(_outgoing, _incoming)


class _Tx:
    """An open transition span: a live SDK span, or (direct) its start time and, once asked for
    (a link, a log record, a traceparent) or built, its id; ``status`` set by a handler error."""

    __slots__ = ("_ctx", "direct", "links", "parent", "sid", "span", "start", "status", "tx")

    def __init__(
        self,
        tx: Transition,
        span: TSpan | None,
        direct: DirectSpans | None,
        parent: SpanContext,
        start: int,
    ) -> None:
        self.tx = tx
        self.span = span
        self.direct = direct
        self.sid = 0
        self.parent = parent
        self.start = start
        self._ctx: SpanContext | None = span.get_span_context() if span is not None else None
        self.links: list[Link] | None = None
        self.status: Status | None = None

    @property
    def ctx(self) -> SpanContext:
        ctx = self._ctx
        if ctx is None:
            assert self.direct is not None
            self.sid = self.direct.new_id()
            ctx = self._ctx = span_context(self.parent, self.sid)
        return ctx

    def context(self) -> Context:
        """An OTel context with this span current (for log records)."""
        span = self.span if self.span is not None else NonRecordingSpan(self.ctx)
        return trace.set_span_in_context(span)


_State = tuple[TSpan | None, int, tuple[Any, ...]]


class _Mach:
    """Per-machine spans."""

    __slots__ = (
        "ctx",
        "direct",
        "id",
        "mach",
        "names",
        "span",
        "span_ctx",
        "state_names",
        "states",
    )

    def __init__(self, mach: Machine, span: TSpan, direct: DirectSpans | None) -> None:
        self.mach = mach
        self.id = mach.id
        self.span = span
        self.span_ctx = span.get_span_context()
        self.ctx = trace.set_span_in_context(span)
        # children built directly: only under a sampled span (the default sampler's choice)
        self.direct = (
            direct
            if direct is not None and self.span_ctx.is_valid and self.span_ctx.trace_flags.sampled
            else None
        )
        # open state spans: state -> (a live span, or None and its start time; attribute
        # values, as _STATE_KEYS / _STATE_KEYS_NO_TX)
        self.states: dict[str, _State] = {}
        self.state_names: dict[str, str] = {}  # state -> its span name
        self.names: list[str] = []
        self.reindex()

    def reindex(self) -> None:
        self.names = self.mach.state_names()

    def state_name(self, state: str) -> str:
        """The span name of a state, cached."""
        name = self.state_names[state] = f"state:{state}"
        return name


class OtelTracer(Tracer):
    """Traces every machine it is bound to (``trace(mach)``); submachines are traced too."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        logger_provider: LoggerProvider | None = None,
        parent: Context | None = None,
        steps: bool = True,
        log_lines: bool = True,
        background: bool = True,
    ) -> None:
        tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        lp = logger_provider if logger_provider is not None else get_logger_provider()
        self.provider = tp
        self.tracer = tp.get_tracer(SCOPE)
        # spans built directly (docs/telemetry.md#cost); off the machine's thread by default
        self._direct = DirectSpans.for_tracer(self.tracer, background)
        # (type, called) -> (span name, type attribute, called attribute)
        self._names: dict[tuple[int, tuple[str, ...]], tuple[str, str, tuple[str, ...]]] = {}
        self.logger: Logger = lp.get_logger(SCOPE)
        self.parent = parent
        self.steps = steps
        self.log_lines = log_lines
        self._lock = threading.RLock()
        self._machs: dict[str, _Mach] = {}
        self._local = _Local()
        # id(mutation) -> (mutation, context of the transition that queued it)
        self._queued: dict[int, tuple[Mutation, SpanContext]] = {}
        _Current.tracers.add(self)

    def tracer_id(self) -> str:
        return "otel"

    def inheritable(self) -> bool:
        return True

    # ------------------------------------------------------------------ machines

    def trace(self, mach: Machine) -> OtelTracer:
        """Start the machine's span and bind; returns self."""
        if self._start_machine(mach):
            mach.tracer_bind(self)
        return self

    def _start_machine(self, mach: Machine) -> bool:
        with self._lock:
            if mach.id in self._machs:
                return False
            parent = self._machs.get(mach.parent_id or "")
            ctx = parent.ctx if parent is not None else self.parent
            attrs: dict[str, Any] = {A_MACHINE: mach.id}
            if mach.parent_id:
                attrs[A_PARENT] = mach.parent_id
            if mach.tags:
                attrs[A_TAGS] = list(mach.tags)
            span = self.tracer.start_span(f"mach:{mach.id}", context=ctx, attributes=attrs)
            md = self._machs[mach.id] = _Mach(mach, span, self._direct)
        # states active when tracing starts get their span now
        self._run(md, (self._states_at_start, md, list(mach.time()), md.names, _now()))
        if self.log_lines:
            self.bridge_logs(mach)
        return True

    def _run(self, md: _Mach, rec: tuple[Any, ...]) -> None:
        """Run a span record: on the worker of the spans built directly (in order), or here."""
        if md.direct is not None:
            md.direct.put(rec)
        else:
            rec[0](rec)

    def machine_init(self, machine: Machine) -> None:
        self._start_machine(machine)
        return None

    def new_submachine(self, parent: Machine, machine: Machine) -> None:
        self.trace(machine)

    def verify_states(self, machine: Machine) -> None:
        md = self._machs.get(machine.id)
        if md is not None:
            md.reindex()

    def schema_change(self, machine: Machine, old_schema: Any) -> None:
        self.verify_states(machine)

    def machine_dispose(self, machine_id: str) -> None:
        with self._lock:
            md = self._machs.pop(machine_id, None)
        if md is None:
            return
        self._run(md, (self._machine_end, md, _now()))
        if md.direct is not None:
            md.direct.flush()  # ended when this returns

    def shutdown(self) -> None:
        """End every open span (machines still running) and deliver every queued span to the
        provider's processors."""
        with self._lock:
            ids = list(self._machs)
        for mid in reversed(ids):  # children first
            self.machine_dispose(mid)
        if self._direct is not None:
            self._direct.stop()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Deliver the queued spans to the processors, then flush the provider (its exporters).
        ``TracerProvider.force_flush`` alone does not see spans still queued here."""
        if self._direct is not None:
            self._direct.flush()
        flush = getattr(self.provider, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True

    # ------------------------------------------------------------------ span records
    # Run in order, on the worker of the spans built directly (or, for live spans, on the
    # machine's thread); only they touch a machine's open state spans (``_Mach.states``).

    def _states_at_start(self, rec: tuple[Any, ...]) -> None:
        _, md, t, names, now = rec
        for i, s in enumerate(names):
            if t[i] % 2:
                self._start_state(md, s, t[i], "", now)

    def _machine_end(self, rec: tuple[Any, ...]) -> None:
        _, md, now = rec
        for st in md.states.values():
            self._end_state(md, st, now)
        md.states.clear()
        md.span.end()

    def _start_state(self, md: _Mach, state: str, tick: int, tx_id: str, now: int) -> None:
        values = (state, tick, tx_id) if tx_id else (state, tick)
        if md.direct is not None:
            md.states[state] = (None, now, values)
        else:
            keys = _STATE_KEYS if tx_id else _STATE_KEYS_NO_TX
            span = self.tracer.start_span(
                f"state:{state}", context=md.ctx, attributes=dict(zip(keys, values, strict=True))
            )
            md.states[state] = (span, 0, values)

    def _end_state(self, md: _Mach, st: _State, now: int) -> None:
        span, start, values = st
        if span is not None:
            span.end()
            return
        direct = md.direct
        assert direct is not None
        deliver = direct.route()[0]
        if deliver is None:
            return  # no processor: nothing to build
        state = values[0]
        name = md.state_names.get(state) or md.state_name(state)
        keys = _STATE_KEYS if len(values) == 3 else _STATE_KEYS_NO_TX
        deliver(direct.build(name, direct.new_id(), md.span_ctx, keys, values, start, now))

    def _tx_end(self, rec: tuple[Any, ...]) -> None:
        """A transition ended: end and start state spans by its clocks, then its own span."""
        _, md, names, top, tx_id, now = rec
        tx = top.tx
        tb = tx._tb
        ta = tx._ta
        added: list[str] = []
        removed: list[str] = []
        direct = md.direct
        deliver: Any = None
        filt: Any = None
        if direct is not None:
            deliver, filt = direct.route()
        if ta is not tb:
            # by the clocks: a final handler that raised leaves its states applied, though
            # the transition is not accepted
            states = md.states
            for i in compress(range(len(ta)), map(ne, ta, tb)):
                s = names[i]
                was, act = tb[i] % 2, ta[i] % 2
                if was:
                    old = states.pop(s, None)
                    if old is None:
                        pass
                    elif direct is None:
                        self._end_state(md, old, now)
                    elif deliver is not None:
                        # _end_state and DirectSpans.build, inlined for the spans built directly
                        vals = old[2]
                        pctx = md.span_ctx
                        sid = direct.new_id()
                        deliver(
                            ReadableSpan(
                                md.state_names.get(s) or md.state_name(s),
                                _new_tuple(
                                    SpanContext,
                                    (
                                        pctx[0],
                                        sid,
                                        False,
                                        pctx[3],
                                        pctx[4],
                                        0 < sid <= SPAN_ID_MAX,
                                    ),
                                ),
                                pctx,
                                direct.resource,
                                {A_STATE: s, A_TICK: vals[1], A_TX_ID: vals[2]}
                                if len(vals) == 3
                                else {A_STATE: s, A_TICK: vals[1]},
                                (),
                                (),
                                _INTERNAL,
                                direct.info,
                                _UNSET_STATUS,
                                old[1],
                                now,
                                direct.scope,
                            )
                        )
                if act:
                    # activated, or a multi state re-activated
                    added.append(s)
                    if direct is not None:
                        states[s] = (None, now, (s, ta[i], tx_id))
                    else:
                        self._start_state(md, s, ta[i], tx_id, now)
                elif was:
                    removed.append(s)
        status = _ERR_EXCEPTION if "Exception" in added else top.status
        result = _RESULT[bool(tx.is_accepted)]
        span = top.span
        if span is None:
            assert direct is not None
            if deliver is None or (
                filt is not None and filt.drops_transition(result, added, removed, status)
            ):
                return  # no processor, or dropped by the filter: nothing to build
        mut = tx.mutation
        name, typ, called = self._name(mut)
        qt = mut.queue_tick
        src = mut.source
        attrs: dict[str, Any] = {
            A_MACHINE: md.id,
            A_TX_ID: tx_id,
            A_TX_TYPE: typ,
            A_CALLED: called,
            A_AUTO: mut.is_auto,
        }
        if qt:
            attrs[A_QUEUE_TICK] = qt
        if src is not None:
            attrs[A_SOURCE_MACHINE] = src.mach_id
            attrs[A_SOURCE_TX] = src.tx_id
        attrs[A_RESULT] = result
        attrs[A_ADDED] = tuple(added)
        attrs[A_REMOVED] = tuple(removed)
        # machine time (the sum of ticks), as the history's queries use it
        attrs[A_TIME_AFTER] = sum(ta)
        if span is not None:
            span.set_attributes(attrs)
            if status is not None:
                span.set_status(status)
            span.end()
            return
        assert direct is not None
        sid = top.sid or direct.new_id()
        pctx = top.parent
        # DirectSpans.build, inlined (this runs once per transition)
        deliver(
            ReadableSpan(
                name,
                _new_tuple(
                    SpanContext, (pctx[0], sid, False, pctx[3], pctx[4], 0 < sid <= SPAN_ID_MAX)
                ),
                pctx,
                direct.resource,
                attrs,
                (),
                top.links or (),
                _INTERNAL,
                direct.info,
                status if status is not None else _UNSET_STATUS,
                top.start,
                now,
                direct.scope,
            )
        )

    # ------------------------------------------------------------------ transitions

    def mutation_queued(self, machine: Machine, mutation: Mutation) -> None:
        st = self._local.stack
        if not st or mutation.is_check:
            remote = _remote.ctx
            if remote is not None and not mutation.is_check:
                # a mutation received over aRPC with a traceparent: link its transition to it
                q = self._queued
                if len(q) >= _QUEUED_MAX:
                    q.pop(next(iter(q)))
                q[id(mutation)] = (mutation, remote)
            return
        top = st[-1]
        q = self._queued
        if len(q) >= _QUEUED_MAX:
            q.pop(next(iter(q)))
        q[id(mutation)] = (mutation, top.ctx)
        # a handler of the running transition raised: report it there
        if "Exception" in mutation.called and self._report_error(machine, mutation, top):
            top.status = _ERR_HANDLER
            if top.span is not None:
                top.span.set_status(_ERR_HANDLER)

    def _report_error(self, machine: Machine, mutation: Mutation, top: _Tx) -> bool:
        exc = mutation.args.get(ARG_EXCEPTION)
        err = getattr(exc, "err", None)
        if not isinstance(err, BaseException):
            return False
        self.logger.emit(
            timestamp=time.time_ns(),
            context=top.context(),
            severity_number=SeverityNumber.ERROR,
            body=f"{type(err).__name__}: {err}",
            attributes={A_MACHINE: machine.id},
            event_name=EV_EXCEPTION,
            exception=err,
        )
        return True

    def _name(self, mut: Mutation) -> tuple[str, str, tuple[str, ...]]:
        """The span name and the type / called attributes, cached per (type, called)."""
        key = (mut.type, tuple(mut.called))
        got = self._names.get(key)
        if got is None:
            if len(self._names) >= _NAMES_MAX:
                self._names.clear()
            got = self._names[key] = (f"tx:{mut.string()}", str(MutationType(mut.type)), key[1])
        return got

    def transition_start(self, tx: Transition) -> None:
        mut = tx.mutation
        if mut.is_check:
            return
        md = self._machs.get(tx.machine.id)
        if md is None:
            return
        direct = md.direct
        if direct is not None:
            top = _Tx(tx, None, direct, md.span_ctx, _now())
        else:
            # the live span gets its attributes at the end (set_attributes keeps their order)
            span = self.tracer.start_span(self._name(mut)[0], context=md.ctx)
            top = _Tx(tx, span, None, md.span_ctx, 0)
        queued = self._queued.pop(id(mut), None)
        if queued is not None and queued[0] is mut:
            top.links = [Link(queued[1])]
            if top.span is not None:
                top.span.add_link(queued[1])
        self._local.stack.append(top)
        if queued is None and "Exception" in mut.called:
            # add_err outside of a handler: reported on its own transition
            self._report_error(md.mach, mut, top)

    def transition_end(self, tx: Transition) -> None:
        mut = tx.mutation
        if mut.is_check:
            return
        st = self._local.stack
        if not st or st[-1].tx is not tx:
            return
        top = st.pop()
        md = self._machs.get(tx.machine.id)
        if self.steps and tx.steps:
            ctx = top.context()
            names = md.names if md is not None else []
            for step in tx.steps:
                self.logger.emit(
                    timestamp=time.time_ns(),
                    context=ctx,
                    severity_number=SeverityNumber.DEBUG,
                    body=step.string_from_index(names),
                    attributes={A_MACHINE: tx.machine.id, A_STEP_TYPE: str(step.type)},
                    event_name=EV_STEP,
                )
        if md is None:
            return
        # the id is read here: am_core makes it on first read, and other tracers read it too
        rec = (self._tx_end, md, md.names, top, tx.id, _now())
        if md.direct is not None:
            md.direct.put(rec)
        else:
            self._tx_end(rec)

    # ------------------------------------------------------------------ logs

    def bridge_logs(self, mach: Machine) -> None:
        """Forward the machine's log lines to OTel; the previous sink keeps getting them.

        Tracing a machine does this; call it again after replacing the sink with ``set_logger``.
        """
        slog = mach.semlogger()
        prev = slog.logger()
        logger = self.logger
        mid = mach.id
        machs = self._machs

        def sink(level: LogLevel, msg: str) -> None:
            prev(level, msg)
            st = self._local.stack
            if st:
                ctx: Context | None = st[-1].context()
            else:
                md = machs.get(mid)
                ctx = md.ctx if md is not None else otel_context.get_current()
            logger.emit(
                timestamp=time.time_ns(),
                context=ctx,
                severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
                body=msg,
                attributes={A_MACHINE: mid, A_LOG_LEVEL: str(LogLevel(level))},
            )

        slog.set_logger(sink)


class TransitionFilter(SpanProcessor):
    """Forwards spans to ``next`` except canceled and/or empty transitions (no state changed);
    a transition whose handler raised is always kept."""

    def __init__(self, next: SpanProcessor, canceled: bool = True, empty: bool = True) -> None:
        self.next = next
        self.canceled = canceled
        self.empty = empty

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.next.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        a: Any = span.attributes or {}
        if A_RESULT in a and self.drops_transition(
            a[A_RESULT],
            a.get(A_ADDED),
            a.get(A_REMOVED),
            span.status if span.status.status_code == StatusCode.ERROR else None,
        ):
            return
        self.next.on_end(span)

    def drops_transition(
        self, result: str, added: Sequence[str] | None, removed: Sequence[str] | None, error: Any
    ) -> bool:
        """Whether a transition span is dropped; ``error``: its error status, or None. The
        tracer asks this before building a span when this filter is the only processor."""
        if error is not None:
            return False
        if self.canceled and result == "canceled":
            return True
        return bool(self.empty and not added and not removed)

    def shutdown(self) -> None:
        self.next.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.next.force_flush(timeout_millis)


# ---------------------------------------------------------------------- one call / env

_default: OtelTracer | None = None
_default_lock = threading.Lock()


def _otlp_providers() -> tuple[TracerProvider, LoggerProvider]:
    """Providers exporting over OTLP/HTTP; the exporters and the resource honour ``OTEL_*``."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider as SdkLoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attrs = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SCOPE}
    resource = Resource.create(attrs)
    tp = SdkTracerProvider(resource=resource)
    tp.add_span_processor(TransitionFilter(BatchSpanProcessor(OTLPSpanExporter())))
    lp = SdkLoggerProvider(resource=resource)
    lp.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    return tp, lp


def trace_machine(
    mach: Machine,
    tracer_provider: TracerProvider | None = None,
    logger_provider: LoggerProvider | None = None,
) -> OtelTracer:
    """One call: trace ``mach`` (and its submachines). Without providers, a process-wide tracer
    exporting over OTLP/HTTP is made once (``OTEL_EXPORTER_OTLP_ENDPOINT`` etc. apply) and is
    flushed at exit."""
    global _default
    if tracer_provider is not None or logger_provider is not None:
        return OtelTracer(tracer_provider, logger_provider).trace(mach)
    with _default_lock:
        if _default is None:
            tp, lp = _otlp_providers()
            _default = OtelTracer(tp, lp)

            def _flush(t: OtelTracer = _default) -> None:
                t.shutdown()
                tp.shutdown()
                lp.shutdown()  # type: ignore[attr-defined]

            atexit.register(_flush)
    return _default.trace(mach)


def trace_env(mach: Machine, env: dict[str, str] | None = None) -> OtelTracer | None:
    """``trace_machine(mach)`` when ``AM_OTEL_TRACE=1``; otherwise nothing."""
    env = dict(os.environ) if env is None else env
    if env.get("AM_OTEL_TRACE", "") != "1":
        return None
    return trace_machine(mach)


__all__: Sequence[str] = (
    "EV_EXCEPTION",
    "EV_STEP",
    "OtelTracer",
    "TransitionFilter",
    "trace_env",
    "trace_machine",
)
