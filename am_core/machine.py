"""The state machine: schema, clocks, the mutation queue, handlers, tracers, logging (spec §1-§15)."""

from __future__ import annotations

import asyncio
import builtins
import os
import random
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .async_handlers import check_binding, wrap_handler
from .clock import Clock, Time
from .ctx import Ctx
from .errors import (
    EvalTimeoutError,
    ImportMismatchError,
    InvalidArgsError,
    NestedEvalError,
    NotBoundError,
    SchemaError,
    StateMissingError,
)
from .event import Event
from .handlers import Binding, HandlerFn, HandlerTable, build_table, candidate_names, sanitize_id
from .relations import DefaultResolver
from .schema import EXCEPTION, inspect_states, parse_schema, string_all
from .semlogger import ArgsMapper, SemLogger, args_suffix
from .subscriptions import Subscriptions, WaitingMixin
from .tracer import tracer_hooks
from .transition import NO_ENTRIES, Transition, changes_log, state_changes
from .typed_args import ArgsIn, check_args, to_args
from .types import (
    ARG_EXCEPTION,
    MUTATION_STR,
    AException,
    LogEntry,
    LogLevel,
    Mutation,
    MutationType,
    MutSource,
    Position,
    Relation,
    Result,
    Schema,
    State,
)

EXECUTED = Result.EXECUTED
CANCELED = Result.CANCELED
QUEUED = Result.QUEUED
_ADD = MutationType.ADD
_REMOVE = MutationType.REMOVE
_SET = MutationType.SET
_EVAL = MutationType.EVAL
_EXTERNAL = int(LogLevel.EXTERNAL)
_CHANGES = int(LogLevel.CHANGES)
_OPS = int(LogLevel.OPS)
_EVERY = int(LogLevel.EVERYTHING)
_NO_DEDUP_PREFIXES = ("[pipe-", "[ctx", "[when")
_get_ident = threading.get_ident

StatesArg = str | Iterable[str]


@dataclass(slots=True)
class Serialized:
    """Exported machine state (spec §15)."""

    id: str
    state_names: list[str]
    time: list[int]
    queue_tick: int
    machine_tick: int


@dataclass(slots=True)
class _Breakpoint:
    added: list[str]
    removed: list[str]
    strict: bool = False
    hits: list[Any] = field(default_factory=list)


def _listify(states: StatesArg) -> list[str]:
    if isinstance(states, str):
        return [states]
    return list(states)


class Machine(WaitingMixin):
    """A relational state machine (docs/api.md; the shared API: `am_core.MachineApi`).

    Keyword options are Go's ``Opts`` in snake_case: ``id``, ``ctx`` (parent context: cancelling
    it disposes the machine, or adds ``Disposing`` when defined), ``log_level``, ``tracers``,
    ``parent`` / ``parent_id``, ``tags``, ``queue_limit`` (1000), ``handler_timeout`` (1 s; 0 =
    off), ``dont_panic_to_exception``, ``dont_log_id``, ``dont_log_stack_trace``, ``detect_eval``,
    ``resolver`` (a factory ``fn(machine) -> resolver``), ``log_args`` (an args mapper), ``loop``.

    Mutations run synchronously in the calling thread when the machine is idle and are queued
    (returning their queue tick) from handlers or while another thread drains the queue.
    """

    def __init__(
        self,
        schema: Schema,
        *,
        id: str | None = None,
        ctx: Ctx | None = None,
        log_level: int = 0,
        tracers: Sequence[Any] | None = None,
        parent: Machine | None = None,
        parent_id: str = "",
        tags: Sequence[str] | None = None,
        queue_limit: int = 1000,
        handler_timeout: float = 1.0,
        handler_deadline: float = 10.0,
        handler_backoff: float = 3.0,
        dont_panic_to_exception: bool = False,
        dont_log_id: bool = False,
        dont_log_stack_trace: bool = False,
        detect_eval: bool = False,
        resolver: Callable[[Machine], Any] | None = None,
        log_args: ArgsMapper | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._id = id if id else f"{random.getrandbits(64):016x}"
        self._parent_id = parent.id if parent is not None else parent_id
        self._tags: list[str] = list(dict.fromkeys(tags or ()))
        self.loop = loop
        # public knobs (Go's public fields)
        self.queue_limit = queue_limit
        self.handler_timeout = handler_timeout
        self.handler_deadline = handler_deadline
        self.handler_backoff = handler_backoff
        self.eval_timeout = 1.0
        self.dispose_timeout = 1.0
        self.log_stack_trace = not dont_log_stack_trace
        self.panic_to_exception = not dont_panic_to_exception
        self.detect_eval = detect_eval or bool(os.environ.get("AM_DETECT_EVAL"))

        self._lock = threading.RLock()
        self._queue: deque[Mutation] = deque()
        self._queue_tick = 1
        self._pending = 0
        self._processing = False
        self._proc_thread = 0
        self._tx: Transition | None = None
        self._machine_tick = 0

        self._log_level = int(log_level)
        self._semlog = SemLogger(self)
        self._semlog._id = not dont_log_id
        self._semlog._args_mapper = log_args
        self._log_prefix = f"[{self._id[:5]}] "
        self._pre_log: list[LogEntry] = []

        self._bindings: list[Binding] = []
        self._bind_count = 0
        self._ever_bound = False
        self._table: HandlerTable = {}
        self._table_ver = 0
        self._candidates: set[str] = set()

        self._tracers: list[Any] = list(tracers or ())
        self._rehook()

        self._err: BaseException | None = None
        self._err_internal: deque[BaseException] = deque(maxlen=10)
        self._on_change: Callable[[Machine, Time, Time], None] | None = None
        self._on_error: Callable[[Machine, BaseException], None] | None = None
        self._on_dispose: list[Callable[[str, Ctx], None]] = []
        self._disposing = False
        self._disposed = False
        self._dispose_pending = False
        self._backoff_until = 0.0
        self._breakpoints: list[_Breakpoint] = []
        self._groups: dict[str, list[int]] = {}
        self._groups_order: list[str] = []

        self._parent_ctx = ctx
        self._ctx = Ctx()
        self._subs = Subscriptions(self)

        # schema
        parsed, err = parse_schema(schema)
        self._schema: Schema = parsed
        self._typed: dict[str, type] = {}  # states with an args type (docs/typed-args.md)
        self._names: list[str] = sorted(parsed)
        self._idx: dict[str, int] = {n: i for i, n in enumerate(self._names)}
        self._ticks: list[int] = [0] * len(self._names)
        self._active: tuple[str, ...] = ()
        self._active_set: frozenset[str] = frozenset()
        self.states_verified_ = False
        self._auto_states: list[str] = []
        self._plans: dict[Any, Any] = {}
        self._custom_resolver = resolver is not None
        # memoise resolution plans (also replaying steps/logs when those are on); tests turn
        # this off to compare against the full resolution
        self._memo = resolver is None
        self._log_capture: list[tuple[int, str]] | None = None
        self._resolver: Any = resolver(self) if resolver is not None else DefaultResolver(self)
        self._fast = False
        self._refresh_fast()
        self._on_schema()

        for t in self._tracers:
            init = getattr(t, "machine_init", None)
            if init is not None:
                new_ctx = init(self)
                if isinstance(new_ctx, Ctx):
                    self._ctx = new_ctx
        if parent is not None:
            for h in parent._hooks["new_submachine"]:
                h(parent, self)
        if ctx is not None:
            ctx.on_done(self._on_parent_ctx_done)
        if err is not None:
            self.add_err(SchemaError(err, raw=True))

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> str:
        """The machine's ID."""
        return self._id

    @property
    def parent_id(self) -> str:
        """The parent machine's ID ("" for none)."""
        return self._parent_id

    @property
    def tags(self) -> list[str]:
        """The machine's tags (a copy)."""
        return list(self._tags)

    def set_tags(self, tags: Sequence[str]) -> None:
        """Replace the machine's tags."""
        self._tags = list(dict.fromkeys(tags))

    @property
    def states_verified(self) -> bool:
        """True once the state index order is fixed (:meth:`verify_states`)."""
        return self.states_verified_

    def is_local(self) -> bool:
        """True: this machine runs in this process (a NetMachine returns False)."""
        return True

    def context(self) -> Ctx:
        """The machine's own context, cancelled at the end of disposal."""
        return self._ctx

    def context_parent(self) -> Ctx | None:
        """The parent context given to the constructor (its end disposes the machine), if any."""
        return self._parent_ctx

    # ------------------------------------------------------------------ internals

    def _refresh_fast(self) -> None:
        self._fast = (
            self._log_level < _OPS and not self._semlog._steps and not self._custom_resolver
        )

    def _set_log_level(self, level: int) -> None:
        self._log_level = level
        self._refresh_fast()

    def _on_schema(self) -> None:
        """Recompute everything derived from the schema and the names order."""
        self._auto_states = [n for n in self._names if self._schema[n].auto]
        self._typed = {n: st.args for n, st in self._schema.items() if st.args is not None}
        self._resolver.new_schema(self._schema, self._names)
        self._candidates = candidate_names(self._names)
        self._plans.clear()
        self._rebuild_table()

    def _rebuild_table(self) -> None:
        self._table = build_table(self._bindings, self._candidates, self._wrap_handler)
        self._table_ver += 1

    def _wrap_handler(self, b: Binding, event: str, fn: HandlerFn) -> HandlerFn:
        return wrap_handler(self, b, event, fn)

    def _log(self, level: int, msg: str) -> None:
        if level > self._log_level:
            return
        entry = LogEntry(level, msg)
        cap = self._log_capture
        if cap is not None and self._proc_thread == _get_ident():
            cap.append((level, msg))
        tx = self._tx
        if tx is not None and not tx.is_completed:
            if tx.log_entries is NO_ENTRIES:
                tx.log_entries = [entry]
            else:
                tx.log_entries.append(entry)
        else:
            buf = self._pre_log
            if not (buf and buf[-1].text == msg and not msg.startswith(_NO_DEDUP_PREFIXES)):
                buf.append(entry)
        sl = self._semlog
        line = self._log_prefix + msg if sl._id else msg
        sink = sl._logger
        if sink is None:
            sys.stdout.write(line + "\n")
        else:
            sink(LogLevel(level), line)

    def _take_pre_log(self) -> list[LogEntry]:
        buf = self._pre_log
        if not buf:
            return []
        self._pre_log = []
        return buf

    def _args_suffix(self, args: dict[str, Any]) -> str:
        return args_suffix(self._semlog._args_mapper, args)

    def _state_err(self, missing: Iterable[str]) -> StateMissingError:
        return StateMissingError(f"{' '.join(missing)} not defined in schema for {self._id}")

    def _parse_called(self, states: StatesArg) -> list[str]:
        """Validate (raise on unknown) and de-duplicate called states."""
        schema = self._schema
        if isinstance(states, str):
            if states not in schema:
                raise self._state_err([states])
            return [states]
        lst = list(states)
        missing = [s for s in lst if s not in schema]
        if missing:
            raise self._state_err(missing)
        if len(lst) > 1:
            lst = list(dict.fromkeys(lst))
        return lst

    def _in_backoff(self) -> bool:
        return self._backoff_until > 0 and time.monotonic() < self._backoff_until

    def _set_active_states(
        self, called: Sequence[str], target: list[str], is_auto: bool, args: dict[str, Any]
    ) -> bool:
        """Apply ``target`` as the active states, ticking clocks; log ``[state]``. True if changed."""
        ticks = self._ticks
        idx = self._idx
        removed, added, reticked = state_changes(
            self._active, self._active_set, target, called, self._schema, is_auto
        )
        for s in removed:
            ticks[idx[s]] += 1
        for s in added:
            ticks[idx[s]] += 1
        for s in reticked:
            ticks[idx[s]] += 2
        self._active = tuple(target)
        self._active_set = frozenset(target)
        if self._log_level >= _CHANGES:
            parts = changes_log(removed, added, reticked)
            if self._log_level >= _EVERY:
                # Go lists the unchanged states before counting re-ticked multi states as new,
                # so a re-activated multi state shows as both "+B" and "B"
                ch = set(added)
                parts += [s for s in target if s not in ch]
            if parts:
                tag = "[auto_]" if is_auto else "[state]"
                self._log(_CHANGES, f"{tag} {' '.join(parts)}{self._args_suffix(args)}")
        return bool(removed or added or reticked)

    # ------------------------------------------------------------------ queue

    def _enqueue(self, mut: Mutation) -> Result | None:
        """Append a mutation (tick, log, tracers). Returns EXECUTED for a suppressed duplicate."""
        with self._lock:
            if self._queued_twin(mut):
                if self._log_level >= _OPS:
                    self._log(
                        _OPS,
                        f"[queue:skipped] Duplicate detected for "
                        f"[{MUTATION_STR[mut.type]}] {' '.join(mut.called)}",
                    )
                return EXECUTED
            self._pending += 1
            mut.queue_tick = self._queue_tick + self._pending
            self._announce(mut)
            self._queue.append(mut)
        return None

    def _queued_twin(self, mut: Mutation) -> bool:
        """An equal mutation (type, called states; no args, no multi state) is already queued."""
        q = self._queue
        if not q or mut.args:
            return False
        schema = self._schema
        if any(schema[s].multi for s in mut.called):
            return False
        cs = set(mut.called)
        n = len(mut.called)
        return any(
            m.type == mut.type
            and not m.is_check
            and not m.args
            and len(m.called) == n
            and set(m.called) == cs
            for m in q
        )

    def _mut_log(self, tag: str, mut: Mutation) -> None:
        """``[queue:add] A B (args)``-style line at the OPS level."""
        self._log(
            _OPS,
            f"[{tag}:{MUTATION_STR[mut.type]}] {' '.join(mut.called)}{self._args_suffix(mut.args)}",
        )

    def _announce(self, mut: Mutation) -> None:
        """A mutation got its queue tick: log it, check breakpoints, tell tracers."""
        if self._log_level >= _OPS:
            self._mut_log("queue", mut)
        if self._breakpoints:
            self._check_breakpoints(mut)
        for h in self._hk_queued:
            h(self, mut)

    def _prepend(self, mut: Mutation) -> None:
        """Put ``mut`` at the front of the queue, no queue tick (spec §3.4); logged like Go's
        ``PrependMut``: ``[prepend:<type>] A`` for every kind, evals included."""
        with self._lock:
            mut.queue_tick = 0
            if self._log_level >= _OPS:
                self._mut_log("prepend", mut)
            if mut.type != _EVAL:
                for h in self._hooks["mutation_queued"]:
                    h(self, mut)
            self._queue.appendleft(mut)

    def _prepend_in_tx(self, mut: Mutation) -> None:
        """Prepend from inside a running transition (auto states, handler exceptions): the queue is
        being drained, so, as Go's ``processQueue`` does there, log ``[postpone]``."""
        self._prepend(mut)
        if self._log_level >= _OPS:
            self._log_postpone()

    def _log_postpone(self) -> None:
        n = len(self._queue)
        self._log(_OPS, f"[postpone] queue running ({n} {'item' if n == 1 else 'items'})")

    def _run(self, mut: Mutation) -> Result:
        """Queue ``mut`` and process the queue; the caller's result (or its queue tick)."""
        lock = self._lock
        with lock:
            idle = not self._processing and not self._queue and not self._disposed
            if idle:
                # fast path: an idle machine runs the mutation directly (same ticks as
                # append + pop), then drains whatever its handlers queued
                self._processing = True
                self._proc_thread = _get_ident()
                self._queue_tick += 1
                mut.queue_tick = self._queue_tick
                if self._hk_queued or self._breakpoints or self._log_level >= _OPS:
                    self._announce(mut)
        if idle:
            try:
                tx = Transition(self, mut)
                r = tx.run()
                subs = self._subs
                if subs.active and tx.is_accepted and not mut.is_check:
                    subs.on_transition_end(tx)
            except BaseException:
                with lock:
                    self._stop_processing()
                raise
            if self._queue:
                self._drain(None)  # mutations queued by its handlers (we still drain)
                return r
            # Release without the lock, then re-check: a thread that appended meanwhile saw us
            # draining and returned "queued", so it relies on this check (GIL-ordered writes).
            self._tx = None
            self._proc_thread = 0
            self._processing = False
            if self._queue:
                self._process_queue()
                return r
            if self._hk_queue_end or subs.active or self._dispose_pending:
                self._queue_ended()
            return r
        dup = self._enqueue(mut)
        if dup is not None:
            return dup
        res = self._process_queue()
        if res is None:
            return Result(mut.queue_tick) if mut.queue_tick > 1 else QUEUED
        return res

    def _process_queue(self) -> Result | None:
        """Drain the queue in this thread; None when another drain is running (= queued)."""
        with self._lock:
            if not self._queue or self._disposed:
                return CANCELED
            if self._processing:
                if self._log_level >= _OPS:
                    self._log_postpone()
                return None
            self._processing = True
            self._proc_thread = threading.get_ident()
        return self._drain(None)

    def _drain(self, first_mut: Mutation | None) -> Result:
        """The queue loop; the caller holds the processing flag. Runs ``first_mut`` first."""
        first: Result | None = None
        q = self._queue
        lock = self._lock
        subs = self._subs
        mut = first_mut
        try:
            while True:
                if mut is None:
                    with lock:
                        if not q:
                            self._stop_processing()
                            break
                        mut = q.popleft()
                        if mut.queue_tick > 0:
                            self._pending -= 1
                            self._queue_tick += 1
                if mut.canceled or (mut.ctx is not None and mut.ctx.done()):
                    if mut.done_event is not None:
                        mut.done_event.set()
                    if first is None:
                        first = EXECUTED
                    mut = None
                    continue
                if mut.type == _EVAL:
                    self._run_eval(mut)
                    mut = None
                    continue
                tx = Transition(self, mut)
                r = tx.run()
                if first is None:
                    first = r
                if mut.is_check:
                    if mut.done_event is not None:
                        mut.done_event.set()
                elif subs.active and tx.is_accepted:
                    subs.on_transition_end(tx)
                mut = None
        except BaseException:
            with lock:
                self._stop_processing()
            raise
        self._queue_ended()
        return first if first is not None else CANCELED

    def _stop_processing(self) -> None:
        """Give up the processing flag (the caller holds the lock)."""
        self._tx = None
        self._processing = False
        self._proc_thread = 0

    def _queue_ended(self) -> None:
        """The queue drained: ``queue_end`` tracers, ``when_queue_ends`` waiters, a late dispose."""
        for h in self._hk_queue_end:
            h(self)
        if self._subs.active:
            self._subs.on_queue_end()
        if self._dispose_pending:
            self._dispose_pending = False
            self._finish_dispose()

    def _run_eval(self, mut: Mutation) -> None:
        if self._log_level >= _OPS:
            self._log(_OPS, f"[eval] {mut.eval_source}")
        mut.args["ran"] = True
        try:
            if mut.eval_fn is not None:
                mut.eval_fn()
        except Exception as err:
            if not self.panic_to_exception:
                raise
            self.add_err(err)
        finally:
            if mut.done_event is not None:
                mut.done_event.set()

    def _on_processing_thread(self) -> bool:
        return self._processing and self._proc_thread == threading.get_ident()

    # ------------------------------------------------------------------ mutations

    def _args_in(self, called: Iterable[str], args: ArgsIn, require: bool) -> dict[str, Any]:
        """The mutation's args dict, checked against the called states' args types."""
        out = args if type(args) is dict else ({} if args is None else to_args(args))
        typed = self._typed
        if typed:
            for name in called:
                t = typed.get(name)
                if t is not None:
                    check_args(name, t, out, require)
        return out

    def add(self, states: StatesArg, args: ArgsIn = None) -> Result:
        """Activate ``states`` (keeping the active ones)."""
        if self._disposing or (self._backoff_until and self._in_backoff()):
            return CANCELED
        if len(self._queue) >= self.queue_limit:
            lst = _listify(states)
            if not (EXCEPTION in lst and EXCEPTION not in self._active_set):
                return CANCELED
        called = self._parse_called(states)
        a = (
            args
            if type(args) is dict and not self._typed
            else ({} if args is None and not self._typed else self._args_in(called, args, True))
        )
        return self._run(Mutation(_ADD, called, a))

    def add1(self, state: str, args: ArgsIn = None) -> Result:
        """Activate one state."""
        if self._disposing or (self._backoff_until and self._in_backoff()):
            return CANCELED
        if len(self._queue) >= self.queue_limit and not (
            state == EXCEPTION and EXCEPTION not in self._active_set
        ):
            return CANCELED
        if state not in self._schema:
            raise self._state_err([state])
        a = (
            args
            if type(args) is dict and not self._typed
            else ({} if args is None and not self._typed else self._args_in((state,), args, True))
        )
        return self._run(Mutation(_ADD, [state], a))

    def remove(self, states: StatesArg, args: ArgsIn = None) -> Result:
        """Deactivate ``states``."""
        if self._disposing or (self._backoff_until and self._in_backoff()):
            return CANCELED
        lst = _listify(states)
        if len(self._queue) >= self.queue_limit and not (
            EXCEPTION in lst and EXCEPTION in self._active_set
        ):
            return CANCELED
        if self._remove_is_noop(lst):
            return EXECUTED
        called = self._parse_called(lst)
        a = (
            args
            if type(args) is dict and not self._typed
            else ({} if args is None and not self._typed else self._args_in(called, args, False))
        )
        return self._run(Mutation(_REMOVE, called, a))

    def remove1(self, state: str, args: ArgsIn = None) -> Result:
        """Deactivate one state."""
        if self._disposing or (self._backoff_until and self._in_backoff()):
            return CANCELED
        if len(self._queue) >= self.queue_limit and not (
            state == EXCEPTION and EXCEPTION in self._active_set
        ):
            return CANCELED
        if (
            not self._queue
            and self._tx is not None
            and self._processing
            and state not in self._active_set
        ):
            return EXECUTED
        if state not in self._schema:
            raise self._state_err([state])
        a = (
            args
            if type(args) is dict and not self._typed
            else ({} if args is None and not self._typed else self._args_in((state,), args, False))
        )
        return self._run(Mutation(_REMOVE, [state], a))

    def set(self, states: StatesArg, args: ArgsIn = None) -> Result:
        """Make ``states`` (plus implied) the only active states."""
        if self._disposing:
            return CANCELED
        if len(self._queue) >= self.queue_limit:
            return CANCELED
        called = self._parse_called(states)
        a = (
            args
            if type(args) is dict and not self._typed
            else ({} if args is None and not self._typed else self._args_in(called, args, True))
        )
        return self._run(Mutation(_SET, called, a))

    def toggle(self, states: StatesArg, args: ArgsIn = None) -> Result:
        """Remove if all ``states`` are active, else add."""
        if self._disposing:
            return CANCELED
        lst = _listify(states)
        if self.is_(lst):
            return self.remove(lst, args)
        return self.add(lst, args)

    def toggle1(self, state: str, args: ArgsIn = None) -> Result:
        """:meth:`toggle` for a single state."""
        if self._disposing:
            return CANCELED
        if state in self._active_set:
            return self.remove1(state, args)
        return self.add1(state, args)

    def _ev_source(self, event: Event | None) -> MutSource | None:
        """The source of an ``ev_*`` mutation: the event's machine and transition, and that
        machine's time at the moment of the call (docs/api.md; Go records the time before the
        source transition, one lower when called from a final handler)."""
        if event is None:
            return None
        m = event.machine()
        mtime = sum(m._ticks) if m is not None else 0
        return MutSource(event.machine_id, event.transition_id, mtime)

    def _refuses(self) -> bool:
        """A new mutation is refused: disposing, in handler backoff or the queue is full."""
        return bool(
            self._disposing
            or (self._backoff_until and self._in_backoff())
            or len(self._queue) >= self.queue_limit
        )

    def _remove_is_noop(self, states: list[str]) -> bool:
        """From a handler with nothing queued, removing only inactive states changes nothing."""
        return (
            not self._queue
            and self._tx is not None
            and self._processing
            and not any(s in self._active_set for s in states)
        )

    def _ev_run(
        self, typ: MutationType, event: Event | None, states: StatesArg, args: dict[str, Any] | None
    ) -> Result:
        """``ev_add`` / ``ev_remove``: a full queue refuses even ``Exception`` (as Go's Ev*)."""
        if self._refuses():
            return CANCELED
        lst = _listify(states)
        if typ is _REMOVE and self._remove_is_noop(lst):
            return EXECUTED
        mut = Mutation(typ, self._parse_called(lst), args if args is not None else {})
        mut.source = self._ev_source(event)
        return self._run(mut)

    def ev_add(
        self, event: Event | None, states: StatesArg, args: dict[str, Any] | None = None
    ) -> Result:
        """``add`` recording the source transition of ``event``."""
        return self._ev_run(_ADD, event, states, args)

    def ev_add1(
        self, event: Event | None, state: str, args: dict[str, Any] | None = None
    ) -> Result:
        """:meth:`ev_add` for a single state."""
        return self.ev_add(event, state, args)

    def ev_remove(
        self, event: Event | None, states: StatesArg, args: dict[str, Any] | None = None
    ) -> Result:
        """``remove`` recording the source transition of ``event``."""
        return self._ev_run(_REMOVE, event, states, args)

    def ev_remove1(
        self, event: Event | None, state: str, args: dict[str, Any] | None = None
    ) -> Result:
        """:meth:`ev_remove` for a single state."""
        return self.ev_remove(event, state, args)

    def ev_toggle(
        self, event: Event | None, states: StatesArg, args: dict[str, Any] | None = None
    ) -> Result:
        """``toggle`` recording the source transition of ``event``."""
        if self._disposing:
            return CANCELED
        lst = _listify(states)
        if self.is_(lst):
            return self.ev_remove(event, lst, args)
        return self.ev_add(event, lst, args)

    def ev_toggle1(
        self, event: Event | None, state: str, args: dict[str, Any] | None = None
    ) -> Result:
        """:meth:`ev_toggle` for a single state."""
        return self.ev_toggle(event, [state], args)

    def add_err(self, err: BaseException | None, args: dict[str, Any] | None = None) -> Result:
        """Activate ``Exception`` carrying ``err`` (spec §10)."""
        return self.add_err_state(EXCEPTION, err, args)

    def add_err_state(
        self, state: str, err: BaseException | None, args: dict[str, Any] | None = None
    ) -> Result:
        """Activate ``state`` and ``Exception`` carrying ``err``."""
        return self._add_err_state(None, state, err, args)

    def ev_add_err(
        self, event: Event | None, err: BaseException | None, args: dict[str, Any] | None = None
    ) -> Result:
        """:meth:`add_err` recording the source transition of ``event``."""
        return self._add_err_state(event, EXCEPTION, err, args)

    def ev_add_err_state(
        self,
        event: Event | None,
        state: str,
        err: BaseException | None,
        args: dict[str, Any] | None = None,
    ) -> Result:
        """:meth:`add_err_state` recording the source transition of ``event``."""
        return self._add_err_state(event, state, err, args)

    def _add_err_state(
        self,
        event: Event | None,
        state: str,
        err: BaseException | None,
        args: dict[str, Any] | None,
    ) -> Result:
        if self._refuses() or err is None or type(err) is asyncio.CancelledError:
            return CANCELED
        called = self._parse_called([state, EXCEPTION])
        self._err = err
        trace = ""
        if self.log_stack_trace:
            if err.__traceback__ is not None:
                trace = "".join(traceback.format_exception(err))
            else:  # a fresh error: the caller's stack, like Go's debug.Stack()
                trace = "".join(traceback.format_stack()[:-2])
        if self._on_error is not None:
            self._on_error(self, err)
        a = dict(args) if args else {}
        a[ARG_EXCEPTION] = AException(err=err, err_trace=trace)
        mut = Mutation(_ADD, called, a)
        mut.source = self._ev_source(event)
        return self._run(mut)

    def panic_to_err(self, args: dict[str, Any] | None = None) -> Result:
        """Inside an ``except`` block: ``add_err`` the active exception."""
        err = sys.exc_info()[1]
        if err is None:
            return CANCELED
        return self.add_err(err, args)

    def panic_to_err_state(self, state: str, args: dict[str, Any] | None = None) -> Result:
        """Inside an ``except`` block: ``add_err_state`` the active exception."""
        err = sys.exc_info()[1]
        if err is None:
            return CANCELED
        return self.add_err_state(state, err, args)

    # checks

    def _check(self, typ: MutationType, states: StatesArg, args: ArgsIn) -> Result:
        if self._disposing or (self._backoff_until and self._in_backoff()):
            return CANCELED
        called = self._parse_called(states)
        return self.prepend_mut(
            Mutation(typ, called, self._args_in(called, args, typ == _ADD), is_check=True)
        )

    def can_add(self, states: StatesArg, args: ArgsIn = None) -> Result:
        """Dry-run an add: relations and negotiation handlers, nothing applied (spec §3.7)."""
        return self._check(_ADD, states, args)

    def can_add1(self, state: str, args: ArgsIn = None) -> Result:
        """:meth:`can_add` for a single state."""
        return self._check(_ADD, state, args)

    def can_remove(self, states: StatesArg, args: ArgsIn = None) -> Result:
        """Dry-run a remove: relations and negotiation handlers, nothing applied."""
        return self._check(_REMOVE, states, args)

    def can_remove1(self, state: str, args: ArgsIn = None) -> Result:
        """:meth:`can_remove` for a single state."""
        return self._check(_REMOVE, state, None)  # [quirk] args dropped

    def prepend_mut(self, mut: Mutation) -> Result:
        """Low-level: prepend an arbitrary mutation and process the queue."""
        if self._disposing:
            return CANCELED
        self._prepend(mut)
        res = self._process_queue()
        return QUEUED if res is None else res

    def eval(self, source: str, fn: Callable[[], Any], ctx: Ctx | None = None) -> bool:
        """Run ``fn`` inside the queue; block until it ran. False on timeout / done ctx."""
        if not source:
            raise InvalidArgsError("eval source required")
        if self._disposing or self._ctx.done() or (ctx is not None and ctx.done()):
            return False
        if self._on_processing_thread():
            if self.detect_eval:
                self.add_err(NestedEvalError(source))
                return False
            # Go deadlocks here until eval_timeout; the queue cannot run the fn meanwhile
            time.sleep(self.eval_timeout)
            self._eval_timed_out(source)
            return False
        done = threading.Event()
        mut = Mutation(_EVAL, [], {}, ctx=ctx, eval_fn=fn, eval_source=source, done_event=done)
        self._prepend(mut)
        self._process_queue()
        if not done.wait(self.eval_timeout):
            mut.canceled = True
            self._eval_timed_out(source)
            return False
        return bool(mut.args.get("ran"))  # False when skipped (ctx done, disposed)

    def _eval_timed_out(self, source: str) -> None:
        self._err_internal.append(EvalTimeoutError(source))
        if self._log_level >= _OPS:
            self._log(_OPS, f"[eval:timeout] {source}")

    # ------------------------------------------------------------------ state checks

    def is_(self, states: StatesArg) -> bool:
        """All ``states`` active (unknown names count as inactive)."""
        if self._disposed:
            return False
        active = self._active_set
        return all(s in active for s in _listify(states))

    def is1(self, state: str) -> bool:
        """:meth:`is_` for a single state."""
        return state in self._active_set and not self._disposed

    def not_(self, states: StatesArg) -> bool:
        """None of ``states`` active; unknown names raise."""
        lst = self._parse_called(states)
        active = self._active_set
        return not any(s in active for s in lst)

    def not1(self, state: str) -> bool:
        """:meth:`not_` for a single state."""
        return self.not_([state])

    def any(self, *groups: StatesArg) -> bool:
        """Any of the groups fully active."""
        return any(self.is_(g) for g in groups)

    def any1(self, *states: str) -> bool:
        """True when any of ``states`` is active."""
        return any(self.is1(s) for s in states)

    def has(self, states: StatesArg) -> bool:
        """True when every one of ``states`` is in the schema."""
        return all(s in self._schema for s in _listify(states))

    def has1(self, state: str) -> bool:
        """:meth:`has` for a single state."""
        return state in self._schema

    def switch(self, *groups: StatesArg) -> str:
        """The first active state found in the groups, else ``""``."""
        for g in groups:
            for s in _listify(g):
                if s in self._active_set:
                    return s
        return ""

    def active_states(self, states: StatesArg | None = None) -> list[str]:
        """The active states (only those of ``states``, when given); empty once disposed."""
        if self._disposed:
            return []
        if states is None:
            return list(self._active)
        want = set(_listify(states))
        return [s for s in self._active if s in want]

    def state_names(self) -> list[str]:
        """Every state's name in index order."""
        return list(self._names)

    def index(self, states: StatesArg) -> list[int]:
        """The indexes of ``states`` (-1 for an unknown one)."""
        idx = self._idx
        return [idx.get(s, -1) for s in _listify(states)]

    def index1(self, state: str) -> int:
        """:meth:`index` for a single state (-1 when unknown or disposed)."""
        if self._disposed:
            return -1
        return self._idx.get(state, -1)

    def parse_states(self, states: StatesArg) -> list[str]:
        """Known states only, de-duplicated."""
        return list(dict.fromkeys(s for s in _listify(states) if s in self._schema))

    # ------------------------------------------------------------------ clocks

    def tick(self, state: str) -> int:
        """``state``'s tick (odd: active, even: inactive; 0 when unknown or disposed)."""
        if self._disposed:
            return 0
        i = self._idx.get(state)
        return 0 if i is None else self._ticks[i]

    def time(self, states: StatesArg | None = None) -> Time:
        """The ticks in index order (of ``states``, when given; 0 for an unknown one)."""
        if self._disposed:
            return Time()  # Go: nil after disposal
        if states is None:
            return Time(self._ticks)
        idx, ticks = self._idx, self._ticks
        return Time(ticks[idx[s]] if s in idx else 0 for s in _listify(states))

    def clock(self, states: StatesArg | None = None) -> Clock:
        """State name -> tick (of ``states``, when given); empty once disposed."""
        if self._disposed:
            return Clock()
        names = self._names if states is None else _listify(states)
        return Clock((s, self.tick(s)) for s in names)

    def is_time(self, t: Sequence[int], states: StatesArg | None = None) -> bool:
        """True when the ticks of ``states`` (default: all) equal ``t``."""
        cur = self.time(states)
        return len(cur) == len(t) and all(a == b for a, b in zip(cur, t, strict=True))

    def was_time(self, t: Sequence[int], states: StatesArg | None = None) -> bool:
        """True when every tick of ``states`` (default: all) is at least ``t``'s."""
        cur = self.time(states)
        return all(a >= b for a, b in zip(cur, t, strict=False))

    def is_clock(self, clock: dict[str, int]) -> bool:
        """True when every state in ``clock`` has exactly that tick now."""
        return all(self.tick(s) == v for s, v in clock.items())

    def was_clock(self, clock: dict[str, int]) -> bool:
        """True when every state in ``clock`` has at least that tick now."""
        return all(self.tick(s) >= v for s, v in clock.items())

    def queue_tick(self) -> int:
        """The queue's tick: how many mutations were queued so far."""
        return self._queue_tick

    def machine_tick(self) -> int:
        """How many times this machine's state was imported (:meth:`import_` adds one)."""
        return self._machine_tick

    # ------------------------------------------------------------------ queue inspection

    def queue(self) -> list[Mutation]:
        """A copy of the queued mutations (empty once disposed)."""
        if self._disposed:
            return []
        with self._lock:
            return list(self._queue)

    def queue_len(self) -> int:
        """How many mutations are queued."""
        return len(self._queue)

    def transition(self) -> Transition | None:
        """The running transition, if any."""
        return self._tx

    def is_queued(
        self,
        mut_type: MutationType,
        states: StatesArg,
        without_args_only: bool = False,
        strict_equal: bool = False,
        min_queue_tick: int = 0,
        is_check: bool = False,
        position: Position = Position.ANY,
    ) -> tuple[bool, int, int]:
        """Find a queued mutation: ``(found, index, queue_tick)``."""
        want = _listify(states)
        with self._lock:
            q = list(self._queue)
        for i, m in enumerate(q):
            if position == Position.FIRST and i != 0:
                break
            if position == Position.LAST and i != len(q) - 1:
                continue
            if m.type != mut_type or m.is_check != is_check:
                continue
            if without_args_only and m.args:
                continue
            if strict_equal and len(m.called) != len(want):
                continue
            if min_queue_tick > 0 and m.queue_tick < min_queue_tick:
                continue
            if all(s in m.called for s in want):
                return True, i, m.queue_tick
        return False, -1, 0

    def is_queued_above(
        self,
        threshold: int,
        mut_type: MutationType,
        states: StatesArg,
        without_args_only: bool = False,
        strict_equal: bool = False,
        min_queue_tick: int = 0,
    ) -> bool:
        """True when more than ``threshold`` queued mutations of ``mut_type`` match ``states``."""
        want = _listify(states)
        n = 0
        for m in self.queue():
            if m.type != mut_type or m.is_check:
                continue
            if without_args_only and m.args:
                continue
            if strict_equal and len(m.called) != len(want):
                continue
            if min_queue_tick > 0 and m.queue_tick < min_queue_tick:
                continue
            if all(s in m.called for s in want):
                n += 1
                if n > threshold:
                    return True
        return False

    def will_be(self, states: StatesArg) -> bool:
        """True when an add of all ``states`` is queued."""
        return self.is_queued(_ADD, states)[0]

    def will_be1(self, state: str) -> bool:
        """:meth:`will_be` for a single state."""
        return self.will_be([state])

    def will_be_removed(self, states: StatesArg) -> bool:
        """True when a removal of all ``states`` is queued."""
        return self.is_queued(_REMOVE, states)[0]

    def will_be_removed1(self, state: str) -> bool:
        """:meth:`will_be_removed` for a single state."""
        return self.will_be_removed([state])

    def will_be_any(self, states: StatesArg) -> bool:
        """True when an add of any of ``states`` is queued."""
        return any(self.will_be1(s) for s in _listify(states))

    # ------------------------------------------------------------------ errors

    def err(self) -> BaseException | None:
        """The last error (kept after Exception is removed)."""
        return self._err

    def is_err(self) -> bool:
        """True while ``Exception`` is active."""
        return self.is1(EXCEPTION)

    def err_internal(self) -> list[BaseException]:
        """Internal handler/eval timeout errors (at most 10), oldest first."""
        return list(self._err_internal)

    def on_error(self, fn: Callable[[Machine, BaseException], None] | None) -> None:
        """Set (or clear with None) a callback ``fn(mach, err)`` called by every ``add_err``."""
        self._on_error = fn

    def on_change(self, fn: Callable[[Machine, Time, Time], None] | None) -> None:
        """Set (or clear with None) a callback ``fn(mach, time_before, time_after)`` after each transition."""
        self._on_change = fn

    # ------------------------------------------------------------------ handlers

    def handlers_bind(self, obj: Any, id: str | None = None, state_prefix: str = "") -> str:
        """Bind an object whose methods are handlers (``FooEnter``, ``FooState``, ...)."""
        return self._bind(Binding(self._new_bid(id), 0, obj, state_prefix))

    def handlers_bind_maps(
        self,
        negotiations: dict[str, HandlerFn] | None = None,
        finals: dict[str, HandlerFn] | None = None,
        id: str | None = None,
    ) -> str:
        """Bind two dicts ``handler name -> fn``."""
        maps = {**(negotiations or {}), **(finals or {})}
        return self._bind(Binding(self._new_bid(id), 0, None, "", maps))

    def _new_bid(self, bid: str | None) -> str:
        if bid:
            return sanitize_id(bid)
        return f"anon-{random.getrandbits(16):04x}"

    def _bind(self, b: Binding) -> str:
        # async negotiation handlers, or async finals without a loop: refused before binding
        check_binding(self, b, b.methods(self._candidates))
        with self._lock:
            b.num = self._bind_count
            self._bind_count += 1
            first = not self._bindings
            self._bindings.append(b)
            self._ever_bound = True
            self._rebuild_table()
        if self._log_level >= _OPS:
            self._log(_OPS, f"[handlers] bind {b.num}:{b.id}")
        if first and EXCEPTION in self._active_set and self._err is not None:
            self.add_err(self._err)
        return b.id

    def handlers_detach(self, binding_id: str) -> None:
        """Unbind the handlers bound as ``binding_id``; raises `NotBoundError` for an unknown ID."""
        with self._lock:
            for i, b in enumerate(self._bindings):
                if b.id == binding_id:
                    del self._bindings[i]
                    self._rebuild_table()
                    break
            else:
                raise NotBoundError("handlers")
        if self._log_level >= _OPS:
            self._log(_OPS, f"[handlers] detach {binding_id}")

    def handlers(self) -> list[str]:
        """The IDs of the bound handler bindings, in binding order."""
        return [b.id for b in self._bindings]

    def has_handlers(self) -> bool:
        """True when any handler binding is bound."""
        return bool(self._bindings)

    # ------------------------------------------------------------------ tracers

    def _rehook(self) -> None:
        """Per hook, the tuple of bound tracers implementing it: a traced machine loops over it, so a
        hook no tracer defines costs nothing (docs/telemetry.md#cost)."""
        hooks = self._hooks = tracer_hooks(self._tracers)
        self._traced = any(hooks.values())
        self._hk_queued = tuple(hooks["mutation_queued"])
        self._hk_tx_init = tuple(hooks["transition_init"])
        self._hk_tx_start = tuple(hooks["transition_start"])
        self._hk_handler_start = tuple(hooks["handler_start"])
        self._hk_handler_end = tuple(hooks["handler_end"])
        self._hk_tx_finals = tuple(hooks["transition_finals"])
        self._hk_tx_end = tuple(hooks["transition_end"])
        self._hk_queue_end = tuple(hooks["queue_end"])

    def tracer_bind(self, tracer: Any) -> str:
        """Attach a tracer (its hooks run on transitions); returns its ID."""
        tid_fn = getattr(tracer, "tracer_id", None)
        tid = tid_fn() if callable(tid_fn) else type(tracer).__name__
        with self._lock:
            self._tracers.append(tracer)
            self._rehook()
        if self._log_level >= _OPS:
            self._log(_OPS, f"[tracers] bind {tid}")
        return str(tid)

    def tracer_detach(self, tracer: Any) -> None:
        """Detach by object or by ``tracer_id()``."""
        with self._lock:
            for i, t in enumerate(self._tracers):
                tid_fn = getattr(t, "tracer_id", None)
                tid = tid_fn() if callable(tid_fn) else None
                if t is tracer or (isinstance(tracer, str) and tid == tracer):
                    del self._tracers[i]
                    self._rehook()
                    return
        raise NotBoundError("tracer")

    def tracers(self) -> list[Any]:
        """The attached tracers, in attach order."""
        return list(self._tracers)

    # ------------------------------------------------------------------ logging

    def semlogger(self) -> SemLogger:
        """The semantic logger (what to log, and where)."""
        return self._semlog

    def log_level(self) -> LogLevel:
        """The current log level."""
        return LogLevel(self._log_level)

    def set_log_level(self, level: int) -> None:
        """Change the log level."""
        self._set_log_level(int(level))

    def log(self, msg: str, *args: Any) -> None:
        """External log line ``[exter] <msg>``."""
        if self._log_level < _EXTERNAL:
            return
        text = (msg % args) if args else msg
        self._log(_EXTERNAL, "[exter] " + text.replace("\n", " "))

    # ------------------------------------------------------------------ schema

    def schema(self) -> Schema:
        """A deep copy of the (parsed) schema."""
        return {n: st.copy() for n, st in self._schema.items()}

    def state(self, name: str) -> State:
        """A copy of ``name``'s definition; raises for an unknown name."""
        st = self._schema.get(name)
        if st is None:
            raise self._state_err([name])
        return st.copy()

    def schema_ver(self) -> int:
        """The schema's version: the number of states (grows with :meth:`set_schema`)."""
        return len(self._names)

    def resolver(self) -> Any:
        """The relation resolver (the default or the one given to the constructor)."""
        return self._resolver

    def verify_states(self, names: Sequence[str]) -> None:
        """Fix the state index order; every schema state must be listed (spec §1.3)."""
        uniq = list(dict.fromkeys(names))
        errs = [
            f"state {n} not defined in schema for {self._id}" for n in uniq if n not in self._schema
        ]
        if errs:
            raise SchemaError("\n".join(errs), raw=True)
        if len(uniq) < len(self._schema):
            missing = [n for n in self._schema if n not in uniq]
            raise SchemaError(
                f"trying to verify less states than registered: {len(uniq)}/{len(self._schema)}; "
                f"missing: {' '.join(missing)}"
            )
        self._reindex(uniq)
        self.states_verified_ = True
        for h in self._hooks["verify_states"]:
            h(self)

    def _reindex(self, names: list[str]) -> None:
        with self._lock:
            old = {n: self._ticks[i] for i, n in enumerate(self._names)}
            self._names = list(names)
            self._idx = {n: i for i, n in enumerate(names)}
            self._ticks = [old.get(n, 0) for n in names]
            self._on_schema()

    def set_schema(self, new_schema: Schema, names: Sequence[str]) -> None:
        """Grow the schema at runtime (spec §1.6)."""
        if self._tx is not None and not self._tx.is_completed:
            raise SchemaError("cannot set schema during a transition")
        if len(new_schema) <= len(self._schema):
            raise SchemaError("new schema too short")
        if len(new_schema) != len(names):
            raise SchemaError("new schema and names have different lengths")
        parsed, err = parse_schema(new_schema)
        if err is not None:
            raise SchemaError(err, raw=True)
        old = self._schema
        old_names = self._names
        self._schema = parsed
        try:
            self.verify_states(names)
        except SchemaError:
            self._schema = old
            self._reindex(old_names)
            raise
        for h in self._hooks["schema_change"]:
            h(self, old)

    def set_groups(
        self, groups: Mapping[str, Sequence[str | int]], order: Sequence[str] | None = None
    ) -> None:
        """Debugger metadata: group name -> states (names or indexes)."""
        out: dict[str, list[int]] = {}
        for g, states in groups.items():
            out[g] = [s if isinstance(s, int) else self._idx.get(s, -1) for s in states]
        self._groups = out
        self._groups_order = list(order) if order is not None else list(groups)

    def groups(self) -> tuple[dict[str, list[int]], list[str]]:
        """State groups (name -> state indexes) and their order, for the debugger."""
        return {k: list(v) for k, v in self._groups.items()}, list(self._groups_order)

    def relations_of(self, state: str) -> list[Relation]:
        """The relations ``state`` has to other states."""
        return list(self._resolver.relations_of(state))

    def relations_between(self, a: str, b: str) -> list[Relation]:
        """The relations that ``a`` has with ``b``."""
        return list(self._resolver.relations_between(a, b))

    def inbound_relations_of(self, state: str) -> list[str]:
        """The states whose relations point at ``state``."""
        return list(self._resolver.inbound_relations_of(state))

    # ------------------------------------------------------------------ strings

    # ------------------------------------------------------------------ export / import

    def export(self) -> tuple[Serialized, Schema]:
        """Clocks, order and queue tick for :meth:`import_`, plus the schema (states must be verified)."""
        if not self.states_verified_:
            raise SchemaError("states not verified")
        return (
            Serialized(
                id=self._id,
                state_names=list(self._names),
                time=list(self._ticks),
                queue_tick=self._queue_tick,
                machine_tick=self._machine_tick,
            ),
            self.schema(),
        )

    def import_(self, data: Serialized) -> None:
        """Restore clocks and order from ``export()`` of the same machine id (spec §15)."""
        if data.id != self._id:
            raise ImportMismatchError()
        if len(data.state_names) != len(self._schema) or len(data.time) != len(data.state_names):
            raise SchemaError(
                f"import: state count mismatch: {len(data.state_names)} != {len(self._schema)}"
            )
        missing = [n for n in data.state_names if n not in self._schema]
        if missing:
            raise self._state_err(missing)
        with self._lock:
            self._names = list(data.state_names)
            self._idx = {n: i for i, n in enumerate(self._names)}
            self._ticks = list(data.time)
            self._active = tuple(n for i, n in enumerate(self._names) if self._ticks[i] % 2 == 1)
            self._active_set = frozenset(self._active)
            self._queue_tick = data.queue_tick
            self._machine_tick = data.machine_tick + 1
            self.states_verified_ = True
            self._on_schema()
        if self._log_level >= _CHANGES:
            self._log(
                _CHANGES,
                f"[import] imported {self._machine_tick} times, now at {sum(self._ticks)} ticks",
            )
        if "MachineRestored" in self._schema:
            self.add1("MachineRestored")

    # ------------------------------------------------------------------ breakpoints

    def add_breakpoint(
        self, added: Sequence[str] | None, removed: Sequence[str] | None, strict: bool = False
    ) -> None:
        """Log ``[breakpoint]`` and call ``breakpoint()`` when such a mutation is queued."""
        self._breakpoints.append(_Breakpoint(list(added or ()), list(removed or ()), strict))

    def add_breakpoint1(self, added: str, removed: str, strict: bool = False) -> None:
        """:meth:`add_breakpoint` for a single added and/or removed state ("" for none)."""
        self.add_breakpoint([added] if added else [], [removed] if removed else [], strict)

    def _check_breakpoints(self, mut: Mutation) -> None:
        called = set(mut.called)
        for bp in self._breakpoints:
            if (mut.type == _ADD and bp.added and called == set(bp.added)) or (
                mut.type == _REMOVE and bp.removed and called == set(bp.removed)
            ):
                pass
            else:
                continue
            if bp.strict:
                if mut.type == _ADD and self.is_(bp.added):
                    continue
                if mut.type == _REMOVE and self.not_(bp.removed):
                    continue
            self._log(_CHANGES, "[breakpoint] Machine.breakpoint")
            bp.hits.append(mut)
            self.breakpoint(mut)

    def breakpoint(self, mut: Mutation) -> None:
        """Called when a breakpoint matches; override or set a debugger breakpoint here."""

    # ------------------------------------------------------------------ disposal

    def on_dispose(self, fn: Callable[[str, Ctx], None]) -> None:
        """Register ``fn(machine_id, ctx)``, called during disposal."""
        self._on_dispose.append(fn)

    def is_disposed(self) -> bool:
        """True once disposal finished its first step (the queue drained or was dropped)."""
        return self._disposed

    def _on_parent_ctx_done(self) -> None:
        if "Disposing" in self._schema:
            self.add1("Disposing")
        else:
            self.dispose()

    def dispose(self) -> None:
        """Shut down: cancel mutations, drain, notify tracers, close subscriptions (idempotent)."""
        if self._disposing:
            return
        parent_alive = self._parent_ctx is None or not self._parent_ctx.done()
        if "Start" in self._schema and parent_alive and "Start" in self._active_set:
            self.remove1("Start")
        self._dispose(wait=True)

    def dispose_force(self) -> None:
        """Dispose synchronously without waiting for the queue."""
        if self._disposing:
            return
        self._dispose(wait=False)

    def _dispose(self, wait: bool) -> None:
        self._disposing = True
        if self._on_processing_thread():
            # called from a handler: finish once this thread drained the queue
            self._dispose_pending = True
            return
        if wait and self._processing:
            deadline = time.monotonic() + self.dispose_timeout
            while self._processing and time.monotonic() < deadline:
                time.sleep(0.005)
        self._finish_dispose()

    def _finish_dispose(self) -> None:
        if self._disposed:
            return
        self._disposed = True
        if self._log_level >= _OPS:
            self._log(_OPS, f"[dispose] {self._id}")
        for h in self._hooks["machine_dispose"]:
            h(self._id)
        with self._lock:
            self._bindings = []
            self._rebuild_table()
            dropped = list(self._queue)
            self._queue.clear()
            self._pending = 0
        for m in dropped:  # release callers blocked on pending evals / checks
            m.canceled = True
            if m.done_event is not None:
                m.done_event.set()
        self._subs.on_dispose()
        for fn in self._on_dispose:
            fn(self._id, self._ctx)
        self._ctx.cancel()

    # ------------------------------------------------------------------ strings
    # (last in the class: the method named `str` shadows the builtin in later annotations)

    def str(self) -> str:
        """``(A:1 B:3)``: active states in index order ("" once disposed, as Go)."""
        if self._disposed:
            return ""
        act = self._active_set
        return (
            "("
            + " ".join(f"{n}:{self._ticks[i]}" for i, n in enumerate(self._names) if n in act)
            + ")"
        )

    def string_all(self) -> builtins.str:
        """``(A:1 B:1) [C:0 D:0 Exception:0]``."""
        if self._disposed:
            return ""
        return string_all(self._names, self._ticks, self._active_set)

    def inspect(self, states: StatesArg | None = None) -> builtins.str:
        """Every known state (or ``states``) with its tick and relations, one per line."""
        names = self._names if states is None else _listify(states)
        known = [n for n in names if n in self._schema]
        return inspect_states(known, self._active_set, self.tick, self._schema)

    def __str__(self) -> builtins.str:
        return self.str()

    def __repr__(self) -> builtins.str:
        return f"Machine(id={self._id!r}, {self.str()})"


def new_common(
    schema: Schema,
    names: Sequence[str] | None = None,
    handlers: Any = None,
    *,
    id: str | None = None,
    parent: Machine | None = None,
    **opts: Any,
) -> Machine:
    """Go's ``NewCommon``: env-driven options, the default args mapper, verified names, handlers."""
    from .semlogger import new_log_args_mapper

    env_log = os.environ.get("AM_LOG", "")
    if env_log.isdigit() and "log_level" not in opts:
        opts["log_level"] = min(int(env_log), int(LogLevel.EVERYTHING))
    if os.environ.get("AM_DEBUG"):
        opts.setdefault("dont_panic_to_exception", True)
        opts.setdefault("handler_timeout", 600.0)
    opts.setdefault("log_args", new_log_args_mapper())
    mach = Machine(schema, id=id, parent=parent, **opts)
    if names is not None:
        mach.verify_states(names)
    if handlers is not None:
        bid = "comm-" + (mach.id[:1].upper() + mach.id[1:])
        mach.handlers_bind(handlers, id=bid)
    return mach
