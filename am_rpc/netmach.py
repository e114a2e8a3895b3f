"""``NetMachine``: a read-mostly mirror of a remote source with the ``Machine`` API (docs/arpc.md).

Mutations travel to the source and return its ``Result`` (the response's clock diff is applied before
the call returns: read-your-writes). Checks, getters and ``when*`` waiters are answered locally from the
mirrored clock, which the client updates from pushes and responses on its I/O thread. The mirror has no
queue and no relation engine; only *final* handlers (``XState``, ``XEnd``, ``AnyState``) run, once per
applied update, on the client's I/O thread, so they must not block.

Differences from a local machine, on purpose: ``when_args`` raises ``NotImplementedError`` (Go returns
a resolved channel, which lies); ``can_add`` / ``can_remove`` return ``EXECUTED`` (as Go);
``queue_len()`` is 0 and ``when_queue_ends()`` is resolved (there is no local queue).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from am_core.clock import Clock, Time
from am_core.ctx import Ctx
from am_core.errors import StateMissingError
from am_core.forks import ForkPool
from am_core.machine import Serialized
from am_core.schema import inspect_states, string_all
from am_core.typed_args import ArgsIn, to_args
from am_core.types import Mutation, MutationType, Result, Schema, State
from am_core.waiting import Waiter
from am_rpc.clock import active_indexes, apply_update
from am_rpc.protocol import Event as WireEvent
from am_rpc.protocol import Update, UpdateMany

log = logging.getLogger("am_rpc")
_CANCELLATIONS = (asyncio.CancelledError, concurrent.futures.CancelledError)

_counter = 0
_counter_lock = threading.Lock()


def _next_tx_id() -> str:
    global _counter
    with _counter_lock:
        _counter += 1
        return f"rnm-tx-{_counter}"


class Remote(Protocol):
    """What a NetMachine needs from its client."""

    def remote_mutate(
        self, mtype: int, idxs: list[int], args: dict[str, Any] | None, event: WireEvent | None
    ) -> Result: ...

    def remote_mutate_ns(
        self, mtype: int, idxs: list[int], args: dict[str, Any] | None
    ) -> Result: ...


@dataclass(slots=True, eq=False)
class NetTransition:
    """The synthetic transition tracers get for each applied clock update (type ``set``)."""

    id: str
    machine: NetMachine
    mutation: Mutation
    time_before: Time
    time_after: Time
    activated: list[str]
    deactivated: list[str]
    is_accepted: bool = True
    is_completed: bool = True
    called_states: list[str] = field(default_factory=list)

    def string(self) -> str:
        return f"tx#{self.id}\n[set] {' '.join(self.mutation.called)}"


class NetEvent:
    """What a NetMachine handler receives: the handler name, the synthetic transition, no args."""

    __slots__ = ("_mach", "_tx", "args", "is_check", "name")

    def __init__(self, name: str, mach: NetMachine, tx: NetTransition) -> None:
        self.name = name
        self._mach = mach
        self._tx = tx
        self.args: dict[str, Any] = {}
        self.is_check = False

    @property
    def machine_id(self) -> str:
        return self._mach.id

    @property
    def transition_id(self) -> str:
        return self._tx.id

    def machine(self) -> NetMachine:
        return self._mach

    def transition(self) -> NetTransition:
        return self._tx

    def mutation(self) -> Mutation:
        return self._tx.mutation

    def is_valid(self) -> bool:
        return not self._mach.is_disposed()


def schema_to_wire(schema: Mapping[str, State]) -> dict[str, dict[str, Any]]:
    """am_core states -> the wire's maps (empty fields omitted)."""
    out: dict[str, dict[str, Any]] = {}
    for name, st in schema.items():
        d: dict[str, Any] = {}
        if st.auto:
            d["auto"] = True
        if st.multi:
            d["multi"] = True
        for rel in ("require", "add", "remove", "after", "tags"):
            vals = getattr(st, rel)
            if vals:
                d[rel] = list(vals)
        out[name] = d
    return out


def _strs(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def schema_from_wire(wire: Mapping[str, Any]) -> Schema:
    """The wire's maps -> am_core states (unknown keys ignored)."""
    return {
        name: State(
            auto=bool(d.get("auto")),
            multi=bool(d.get("multi")),
            require=_strs(d.get("require")),
            add=_strs(d.get("add")),
            remove=_strs(d.get("remove")),
            after=_strs(d.get("after")),
            tags=_strs(d.get("tags")),
        )
        for name, d in wire.items()
        if isinstance(d, dict)
    }


class NetMachine:
    """A remote machine with the local ``Machine`` API. Built by :class:`~am_rpc.client.Client`."""

    def __init__(
        self,
        id: str,
        *,
        remote: Remote | None = None,
        schema: Schema | None = None,
        names: Sequence[str] | None = None,
        parent_id: str = "",
    ) -> None:
        self._id = id
        self._remote = remote
        self._parent_id = parent_id
        self._lock = threading.RLock()
        self._schema: Schema | None = dict(schema) if schema is not None else None
        self._requires_map = self._requires()
        self._names: list[str] = list(names) if names is not None else sorted(schema or {})
        self._index: dict[str, int] = {n: i for i, n in enumerate(self._names)}
        self._time: list[int] = [0] * len(self._names)
        self._queue_tick = 0
        self._machine_tick = 0
        self._active: list[str] = []
        self._remote_id = ""
        self._tags: list[str] = ["rpc-netmach"]
        self._err: BaseException | None = None
        self._disposed = False
        self._installed = False
        self._bindings: dict[str, Any] = {}
        self._binding_seq = 0
        self._tracers: list[Any] = []
        self._when: list[tuple[tuple[str, ...], Waiter]] = []
        self._when_not: list[tuple[tuple[str, ...], Waiter]] = []
        self._when_time: list[tuple[tuple[str, ...], tuple[int, ...], Waiter]] = []
        self._when_queue: list[tuple[int, Waiter]] = []
        self._when_query: list[tuple[Callable[[Clock], bool], Waiter]] = []
        self._state_ctxs: dict[str, Ctx] = {}
        self._disposed_waiter = Waiter("disposed")
        self._ctx = Ctx()
        self._fork_pool: ForkPool | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop for forked coroutines (default: the running loop when forking)."""
        self.panic_to_exception = True
        self._on_dispose: list[Callable[[str], Any]] = []

    # -- identity ----------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def parent_id(self) -> str:
        return self._parent_id

    @property
    def tags(self) -> list[str]:
        return list(self._tags)

    def set_tags(self, tags: Iterable[str]) -> None:
        self._tags = list(dict.fromkeys(tags))

    @property
    def states_verified(self) -> bool:
        return True

    def remote_id(self) -> str:
        """Id of the source machine."""
        return self._remote_id

    def is_local(self) -> bool:
        return False

    # -- mirror installation (client I/O thread) ---------------------------------------------------

    def _requires(self) -> dict[str, list[str]] | None:
        if not self._schema:
            return None
        return {n: list(s.require) for n, s in self._schema.items() if s.require}

    def _has_subscriptions(self) -> bool:
        return bool(
            self._when
            or self._when_not
            or self._when_time
            or self._when_queue
            or self._when_query
            or self._state_ctxs
        )

    def _set_remote_id(self, remote_id: str) -> None:
        self._remote_id = remote_id
        self._tags = [t for t in self._tags if not t.startswith("src-id:")]
        self._tags.append(f"src-id:{remote_id}")

    def _install(
        self,
        names: Sequence[str],
        time: Sequence[int],
        queue_tick: int,
        machine_tick: int,
        schema: Schema | None,
        keep_schema: bool = True,
    ) -> None:
        """A full set (HELLO snapshot, Sync, schema change): replace everything, then notify."""
        with self._lock:
            old_schema = self._schema
            old_names = self._names
            if schema is not None or not keep_schema:
                self._schema = dict(schema) if schema is not None else None
                self._requires_map = self._requires()
            if list(names) != self._names:
                self._names = list(names)
                self._index = {n: i for i, n in enumerate(self._names)}
            changed = self._installed and (old_names != self._names or old_schema != self._schema)
            self._installed = True
        if changed:
            for t in list(self._tracers):
                fn = getattr(t, "schema_change", None)
                if fn is not None:
                    try:
                        fn(self, old_schema)
                    except Exception:
                        log.exception("%s: tracer schema_change failed", self._id)
        self._commit(list(time), queue_tick, machine_tick)

    def _apply_update(self, upd: Update) -> bool:
        """Apply one diff; raises ChecksumError (nothing applied) when it does not fit."""
        with self._lock:
            time, q, mt = apply_update(self._time, self._queue_tick, self._machine_tick, upd)
        return self._commit(time, q, mt)

    def _apply_many(self, many: UpdateMany) -> None:
        """Apply per-mutation diffs in order; each changing one is a synthetic transition."""
        for mtype, called, upd in zip(many.types, many.called, many.updates, strict=True):
            with self._lock:
                time, q, mt = apply_update(self._time, self._queue_tick, self._machine_tick, upd)
                names = [self._names[i] for i in called if i < len(self._names)]
            self._commit(time, q, mt, mtype=mtype, called=names)

    def _commit(
        self,
        time: list[int],
        queue_tick: int,
        machine_tick: int,
        mtype: int = MutationType.SET,
        called: list[str] | None = None,
    ) -> bool:
        """Store a new clock and run tracers, handlers and subscriptions (spec §5.6 step 5)."""
        with self._lock:
            if self._disposed:
                return False
            names = self._names
            active = [names[i] for i in active_indexes(names, time, self._requires_map)]
            old_active = set(self._active)
            new_set = set(active)
            activated = [n for n in active if n not in old_active]
            deactivated = [n for n in self._active if n not in new_set]
            before = Time(self._time)
            changed = before != time or queue_tick != self._queue_tick
            flush_queue = queue_tick < self._queue_tick
            self._time = list(time)
            self._machine_tick = machine_tick
            self._queue_tick = queue_tick
            self._active = active
        if not changed and not activated and not deactivated:
            return False
        if before != time and (self._tracers or self._bindings):
            tx = NetTransition(
                id=_next_tx_id(),
                machine=self,
                mutation=Mutation(
                    type=MutationType(mtype) if mtype in (0, 1, 2) else MutationType.SET,
                    called=called if called is not None else list(active),
                    args={},
                ),
                time_before=before,
                time_after=Time(time),
                activated=activated,
                deactivated=deactivated,
            )
            self._trace("transition_init", tx)
            self._trace("transition_start", tx)
            self._run_handlers(tx, activated, deactivated)
            self._trace("transition_end", tx)
        if not self._has_subscriptions():
            return True
        self._process_subscriptions(activated, deactivated, flush_queue)
        return True

    def _trace(self, hook: str, tx: NetTransition) -> None:
        for t in list(self._tracers):
            fn = getattr(t, hook, None)
            if fn is None:
                continue
            try:
                fn(tx)
            except Exception:
                log.exception("%s: tracer %s.%s failed", self._id, type(t).__name__, hook)

    def _run_handlers(
        self, tx: NetTransition, activated: list[str], deactivated: list[str]
    ) -> None:
        if not self._bindings:
            return
        calls = [f"{n}State" for n in activated] + [f"{n}End" for n in deactivated]
        if activated or deactivated:
            calls.append("AnyState")
        for obj in list(self._bindings.values()):
            for name in calls:
                fn = getattr(obj, name, None)
                if fn is None or not callable(fn):
                    continue
                try:
                    fn(NetEvent(name, self, tx))
                except Exception:
                    log.exception("%s: handler %s failed", self._id, name)

    def _process_subscriptions(
        self, activated: list[str], deactivated: list[str], flush_queue: bool
    ) -> None:
        to_close: list[Waiter] = []
        with self._lock:
            active = set(self._active)
            clock = {n: self._time[i] for i, n in enumerate(self._names)}
            for name in (*activated, *deactivated):
                ctx = self._state_ctxs.pop(name, None)
                if ctx is not None:
                    ctx.cancel()
            _settle(self._when, lambda e: all(s in active for s in e[0]), to_close)
            _settle(self._when_not, lambda e: not any(s in active for s in e[0]), to_close)
            _settle(
                self._when_time,
                lambda e: all(clock.get(s, 0) >= t for s, t in zip(e[0], e[1], strict=True)),
                to_close,
            )
            _settle(self._when_queue, lambda e: flush_queue or self._queue_tick >= e[0], to_close)
            queries = list(self._when_query)
        kept_queries = []
        for fn, w in queries:
            if w.done():
                continue
            try:
                ok = bool(fn(Clock(clock)))
            except Exception:
                log.exception("%s: when_query predicate failed", self._id)
                ok = False
            if ok:
                to_close.append(w)
            else:
                kept_queries.append((fn, w))
        with self._lock:
            added = [e for e in self._when_query if e not in queries]
            self._when_query[:] = kept_queries + added
        for w in to_close:
            w.close()

    # -- validation --------------------------------------------------------------------------------

    def _check(self, states: Iterable[str]) -> list[str]:
        states = list(dict.fromkeys(states))
        missing = [s for s in states if s not in self._index]
        if missing:
            raise StateMissingError(f"{' '.join(missing)} not defined in schema for {self._id}")
        return states

    def _idxs(self, states: Sequence[str]) -> list[int]:
        return [self._index[s] for s in states]

    # -- mutations (remote) ------------------------------------------------------------------------

    def _mutate(
        self,
        mtype: MutationType,
        states: Sequence[str],
        args: ArgsIn,
        event: Any = None,
    ) -> Result:
        args = to_args(args) if args is not None else None  # typed args travel as their fields
        with self._lock:
            if self._disposed:
                return Result.CANCELED
            states = self._check(states)
            idxs = self._idxs(states)
        if self._remote is None:
            return Result.CANCELED
        return self._remote.remote_mutate(int(mtype), idxs, args, _wire_event(event))

    def add(self, states: Sequence[str], args: ArgsIn = None) -> Result:
        return self._mutate(MutationType.ADD, states, args)

    def add1(self, state: str, args: ArgsIn = None) -> Result:
        return self._mutate(MutationType.ADD, [state], args)

    def remove(self, states: Sequence[str], args: ArgsIn = None) -> Result:
        return self._mutate(MutationType.REMOVE, states, args)

    def remove1(self, state: str, args: ArgsIn = None) -> Result:
        return self._mutate(MutationType.REMOVE, [state], args)

    def set(self, states: Sequence[str], args: ArgsIn = None) -> Result:
        return self._mutate(MutationType.SET, states, args)

    def toggle(self, states: Sequence[str], args: ArgsIn = None) -> Result:
        """Remove if all are active on the (possibly stale) mirror, else add."""
        if self.is_(states):
            return self.remove(states, args)
        return self.add(states, args)

    def toggle1(self, state: str, args: ArgsIn = None) -> Result:
        return self.toggle([state], args)

    def ev_add(
        self, event: Any, states: Sequence[str], args: dict[str, Any] | None = None
    ) -> Result:
        return self._mutate(MutationType.ADD, states, args, event)

    def ev_add1(self, event: Any, state: str, args: dict[str, Any] | None = None) -> Result:
        return self._mutate(MutationType.ADD, [state], args, event)

    def ev_remove(
        self, event: Any, states: Sequence[str], args: dict[str, Any] | None = None
    ) -> Result:
        return self._mutate(MutationType.REMOVE, states, args, event)

    def ev_remove1(self, event: Any, state: str, args: dict[str, Any] | None = None) -> Result:
        return self._mutate(MutationType.REMOVE, [state], args, event)

    def ev_toggle(
        self, event: Any, states: Sequence[str], args: dict[str, Any] | None = None
    ) -> Result:
        if self.is_(states):
            return self.ev_remove(event, states, args)
        return self.ev_add(event, states, args)

    def ev_toggle1(self, event: Any, state: str, args: dict[str, Any] | None = None) -> Result:
        return self.ev_toggle(event, [state], args)

    def _err_states(self, state: str | None) -> list[str]:
        states = [state] if state else []
        states.append("Exception")
        if "ErrOnClient" in self._index:
            states.append("ErrOnClient")
        return list(dict.fromkeys(states))

    def add_err(self, err: BaseException, args: dict[str, Any] | None = None) -> Result:
        """Store ``err`` locally (``err()``), log it, and add Exception (+ErrOnClient) remotely."""
        return self.add_err_state("", err, args)

    def add_err_state(
        self, state: str, err: BaseException, args: dict[str, Any] | None = None
    ) -> Result:
        return self.ev_add_err_state(None, state, err, args)

    def ev_add_err(
        self, event: Any, err: BaseException, args: dict[str, Any] | None = None
    ) -> Result:
        return self.ev_add_err_state(event, "", err, args)

    def ev_add_err_state(
        self, event: Any, state: str, err: BaseException, args: dict[str, Any] | None = None
    ) -> Result:
        if isinstance(err, _CANCELLATIONS):
            return Result.CANCELED
        self._err = err
        log.error("[%s] [error] %s", self._id, err)
        merged = {**(args or {}), "err": str(err)}
        return self._mutate(MutationType.ADD, self._err_states(state or None), merged, event)

    def add_ns(self, states: Sequence[str], args: dict[str, Any] | None = None) -> Result:
        """Fire-and-forget Add: ``EXECUTED`` once the frame is written; no result, no clock diff."""
        with self._lock:
            if self._disposed:
                return Result.CANCELED
            idxs = self._idxs(self._check(states))
        if self._remote is None:
            return Result.CANCELED
        return self._remote.remote_mutate_ns(int(MutationType.ADD), idxs, args)

    def add1_ns(self, state: str, args: dict[str, Any] | None = None) -> Result:
        return self.add_ns([state], args)

    def can_add(self, states: Sequence[str], args: dict[str, Any] | None = None) -> Result:
        """Always ``EXECUTED`` (as in Go): relations are resolved only on the source."""
        self._check(states)
        return Result.EXECUTED

    def can_add1(self, state: str, args: dict[str, Any] | None = None) -> Result:
        return self.can_add([state], args)

    def can_remove(self, states: Sequence[str], args: dict[str, Any] | None = None) -> Result:
        self._check(states)
        return Result.EXECUTED

    def can_remove1(self, state: str, args: dict[str, Any] | None = None) -> Result:
        return self.can_remove([state], args)

    def err(self) -> BaseException | None:
        """The last error added through this NetMachine (not the source's)."""
        return self._err

    # -- checks (local) ----------------------------------------------------------------------------

    def is_(self, states: Sequence[str]) -> bool:
        with self._lock:
            states = self._check(states)
            return bool(states) and all(s in self._active for s in states)

    def is1(self, state: str) -> bool:
        return self.is_([state])

    def not_(self, states: Sequence[str]) -> bool:
        with self._lock:
            states = self._check(states)
            return not any(s in self._active for s in states)

    def not1(self, state: str) -> bool:
        return self.not_([state])

    def any(self, *lists: Sequence[str]) -> bool:
        return any(self.is_(lst) for lst in lists)

    def any1(self, *states: str) -> bool:
        return any(self.is1(s) for s in states)

    def has(self, states: Sequence[str]) -> bool:
        return all(s in self._index for s in states)

    def has1(self, state: str) -> bool:
        return state in self._index

    def is_err(self) -> bool:
        return "Exception" in self._index and self.is1("Exception")

    def switch(self, *groups: Sequence[str]) -> str:
        with self._lock:
            for group in groups:
                for s in group:
                    if s in self._active:
                        return s
        return ""

    def is_clock(self, clock: Mapping[str, int]) -> bool:
        with self._lock:
            self._check(clock)
            return all(self._time[self._index[n]] == t for n, t in clock.items())

    def was_clock(self, clock: Mapping[str, int]) -> bool:
        with self._lock:
            self._check(clock)
            return all(self._time[self._index[n]] >= t for n, t in clock.items())

    def is_time(self, time: Sequence[int], states: Sequence[str] | None = None) -> bool:
        cur = self.time(states)
        return len(cur) == len(time) and all(a == b for a, b in zip(cur, time, strict=True))

    def was_time(self, time: Sequence[int], states: Sequence[str] | None = None) -> bool:
        cur = self.time(states)
        return all(a >= b for a, b in zip(cur, time, strict=False))

    # -- getters (local) ---------------------------------------------------------------------------

    def state_names(self) -> list[str]:
        return list(self._names)

    def active_states(self, states: Sequence[str] | None = None) -> list[str]:
        with self._lock:
            if states is None:
                return list(self._active)
            return [s for s in self._active if s in set(states)]

    def tick(self, state: str) -> int:
        with self._lock:
            i = self._index.get(state)
            return 0 if i is None else self._time[i]

    def time(self, states: Sequence[str] | None = None) -> Time:
        with self._lock:
            if states is None:
                return Time(self._time)
            return Time(self._time[self._index[s]] if s in self._index else 0 for s in states)

    def clock(self, states: Sequence[str] | None = None) -> Clock:
        with self._lock:
            names = self._names if states is None else [s for s in states if s in self._index]
            return Clock({n: self._time[self._index[n]] for n in names})

    def queue_tick(self) -> int:
        return self._queue_tick

    def machine_tick(self) -> int:
        return self._machine_tick

    def queue_len(self) -> int:
        return 0

    def index(self, states: Sequence[str]) -> list[int]:
        return [self._index.get(s, -1) for s in states]

    def index1(self, state: str) -> int:
        return self._index.get(state, -1)

    def groups(self) -> tuple[dict[str, list[int]], list[str]]:
        """Empty: groups are debugger metadata of the source, not synced (as in Go)."""
        return {}, []

    def transition(self) -> None:
        """None: a NetMachine never runs transitions itself."""
        return None

    def parse_states(self, states: Sequence[str]) -> list[str]:
        return [s for s in dict.fromkeys(states) if s in self._index]

    def schema(self) -> Schema | None:
        with self._lock:
            return dict(self._schema) if self._schema is not None else None

    def export(self) -> tuple[Serialized, Schema]:
        """The mirror's serialized form and schema, like ``Machine.export()``."""
        with self._lock:
            ser = Serialized(
                id=self._id,
                state_names=list(self._names),
                time=list(self._time),
                queue_tick=self._queue_tick,
                machine_tick=self._machine_tick,
            )
            return ser, dict(self._schema or {})

    # -- forks (am_core's runner: coroutine -> task on a loop, callable -> thread) --------------

    def context(self) -> Ctx:
        """Cancelled when the NetMachine is disposed."""
        return self._ctx

    def _forks(self) -> ForkPool:
        if self._fork_pool is None:
            self._fork_pool = ForkPool(self)  # type: ignore[arg-type]
        return self._fork_pool

    def go(self, ctx: Ctx | None, fn: Callable[..., Any]) -> None:
        """Run ``fn`` under ``ctx`` (None: this machine's context); errors -> ``add_err``."""
        self._forks().start(ctx, fn)

    def go_after(self, ctx: Ctx | None, delay: float, fn: Callable[..., Any]) -> None:
        self._forks().start(ctx, fn, delay)

    def fork(self, ctx: Ctx | None, event: Any, fn: Callable[..., Any]) -> None:
        if event is not None and not event.is_valid():
            return
        self._forks().start(ctx, fn)

    def string_all(self) -> str:
        with self._lock:
            return string_all(self._names, self._time, set(self._active))

    def __str__(self) -> str:
        return self.str()

    def __repr__(self) -> str:
        return f"NetMachine({self._id!r}, remote={self._remote_id!r}, {self.str()})"

    def inspect(self, states: Sequence[str] | None = None) -> str:
        """Per state: active flag, name, tick, and (with a synced schema) its relations."""
        with self._lock:
            names = self._names if states is None else self._check(states)
            return inspect_states(names, set(self._active), self.tick, self._schema)

    def log(self, msg: str, *args: Any) -> None:
        log.info("[%s] %s", self._id[:5], msg % args if args else msg)

    # -- waiting (local subscriptions) -------------------------------------------------------------

    def _bind_ctx(self, w: Waiter, ctx: Ctx | None) -> Waiter:
        if ctx is not None:
            ctx.on_done(w.close)
        return w

    def _subscribe(
        self,
        kind: str,
        label: str,
        ctx: Ctx | None,
        met: Callable[[], bool],
        subs: list[Any],
        key: tuple[Any, ...],
    ) -> Waiter:
        """A waiter, closed already when disposed, ``ctx`` is done or ``met()``; otherwise
        ``(*key, waiter)`` joins ``subs`` until an applied update meets it."""
        with self._lock:
            if self._disposed or (ctx is not None and ctx.done()) or met():
                return Waiter.closed(kind)
            w = Waiter(f"{kind} {label}" if label else kind)
            subs.append((*key, w))
        return self._bind_ctx(w, ctx)

    def when(self, states: Sequence[str], ctx: Ctx | None = None) -> Waiter:
        """Resolves when all ``states`` are active at once on the mirror."""
        states = self._check(states)
        return self._subscribe(
            "when",
            " ".join(states),
            ctx,
            lambda: all(s in self._active for s in states),
            self._when,
            (tuple(states),),
        )

    def when1(self, state: str, ctx: Ctx | None = None) -> Waiter:
        return self.when([state], ctx)

    def when_not(self, states: Sequence[str], ctx: Ctx | None = None) -> Waiter:
        states = self._check(states)
        return self._subscribe(
            "when_not",
            " ".join(states),
            ctx,
            lambda: not any(s in self._active for s in states),
            self._when_not,
            (tuple(states),),
        )

    def when_not1(self, state: str, ctx: Ctx | None = None) -> Waiter:
        return self.when_not([state], ctx)

    def when_err(self, ctx: Ctx | None = None) -> Waiter:
        return self.when(["Exception"], ctx)

    def when_time(
        self, states: Sequence[str], times: Sequence[int], ctx: Ctx | None = None
    ) -> Waiter:
        """Resolves when every state's tick is >= the given one."""
        if len(states) != len(times):
            raise ValueError("when_time: states and times differ in length")
        self._check(states)
        return self._subscribe(
            "when_time",
            " ".join(states),
            ctx,
            lambda: all(
                self._time[self._index[s]] >= t for s, t in zip(states, times, strict=True)
            ),
            self._when_time,
            (tuple(states), tuple(times)),
        )

    def when_time1(self, state: str, tick: int, ctx: Ctx | None = None) -> Waiter:
        return self.when_time([state], [tick], ctx)

    def when_ticks(self, state: str, ticks: int, ctx: Ctx | None = None) -> Waiter:
        """Resolves when ``state`` ticked ``ticks`` more times."""
        return self.when_time1(state, self.tick(state) + ticks, ctx)

    def when_next_active(self, state: str, ctx: Ctx | None = None) -> Waiter:
        t = self.tick(state)
        return self.when_time1(state, t + (2 if t % 2 else 1), ctx)

    def when_query(self, fn: Callable[[Clock], bool], ctx: Ctx | None = None) -> Waiter:
        """Resolves when ``fn(clock)`` is true; re-evaluated on every applied update."""
        return self._subscribe("when_query", "", ctx, lambda: False, self._when_query, (fn,))

    def when_queue(self, tick: int, ctx: Ctx | None = None) -> Waiter:
        """Resolves when the mirrored queue tick reaches ``tick`` (a queued Result)."""
        return self._subscribe(
            "when_queue",
            str(tick),
            ctx,
            lambda: self._queue_tick >= tick,
            self._when_queue,
            (int(tick),),
        )

    def when_queue_ends(self, ctx: Ctx | None = None) -> Waiter:
        """Resolved: a NetMachine has no local queue."""
        return Waiter.closed("when_queue_ends")

    def when_args(self, state: str, args: Mapping[str, Any], ctx: Ctx | None = None) -> Waiter:
        """Not implemented over aRPC (args never travel back to clients)."""
        raise NotImplementedError("when_args is not supported on a NetMachine (docs/arpc.md)")

    def when_disposed(self) -> Waiter:
        return self._disposed_waiter

    def new_state_ctx(self, state: str) -> Ctx:
        """A context cancelled when ``state`` changes activity on the mirror."""
        with self._lock:
            self._check([state])
            ctx = self._state_ctxs.get(state)
            if ctx is None or ctx.done():
                ctx = Ctx(value={"id": self._id, "state": state, "tick": self.tick(state)})
                if self._disposed:
                    ctx.cancel()
                else:
                    self._state_ctxs[state] = ctx
            return ctx

    # -- handlers, tracers, disposal ---------------------------------------------------------------

    def handlers_bind(self, obj: Any) -> str:
        """Bind final handlers (``XState``, ``XEnd``, ``AnyState``); returns the binding id."""
        with self._lock:
            self._binding_seq += 1
            bid = f"{type(obj).__name__}-{self._binding_seq}"
            self._bindings[bid] = obj
            return bid

    def has_handlers(self) -> bool:
        return bool(self._bindings)

    def handlers_detach(self, binding_id: str) -> None:
        from am_core.errors import NotBoundError

        with self._lock:
            if self._bindings.pop(binding_id, None) is None:
                raise NotBoundError("handlers")

    def tracer_bind(self, tracer: Any) -> str:
        with self._lock:
            self._tracers.append(tracer)
        tid = getattr(tracer, "tracer_id", None)
        return str(tid()) if callable(tid) else type(tracer).__name__

    def tracer_detach(self, tracer: Any) -> None:
        from am_core.errors import NotBoundError

        with self._lock:
            for i, t in enumerate(self._tracers):
                if t is tracer:
                    del self._tracers[i]
                    return
        raise NotBoundError("tracer")

    def tracers(self) -> list[Any]:
        return list(self._tracers)

    def on_dispose(self, fn: Callable[[str], Any]) -> None:
        self._on_dispose.append(fn)

    def is_disposed(self) -> bool:
        return self._disposed

    def dispose(self) -> None:
        """Close every waiter and context; mutations return ``CANCELED`` afterwards. Idempotent."""
        with self._lock:
            if self._disposed:
                return
            self._disposed = True
            waiters = [w for _, w in self._when] + [w for _, w in self._when_not]
            waiters += [w for *_, w in self._when_time] + [w for _, w in self._when_queue]
            waiters += [w for _, w in self._when_query]
            for subs in (
                self._when,
                self._when_not,
                self._when_time,
                self._when_queue,
                self._when_query,
            ):
                subs.clear()
            ctxs = list(self._state_ctxs.values())
            self._state_ctxs.clear()
            self._remote = None
        for w in waiters:
            w.close()
        for c in ctxs:
            c.cancel()
        self._ctx.cancel()
        for fn in self._on_dispose:
            try:
                fn(self._id)
            except Exception:
                log.exception("%s: on_dispose callback failed", self._id)
        for t in list(self._tracers):
            fn2 = getattr(t, "machine_dispose", None)
            if fn2 is not None:
                try:
                    fn2(self._id)
                except Exception:
                    log.exception("%s: tracer machine_dispose failed", self._id)
        self._disposed_waiter.close()

    # last in the class: after this, `str` in annotations would mean this method
    def str(self) -> str:
        with self._lock:
            parts = [f"{n}:{self._time[self._index[n]]}" for n in self._active]
        return f"({' '.join(parts)})"


def _settle(entries: list[Any], met: Callable[[Any], bool], to_close: list[Waiter]) -> None:
    """In place: drop done waiters, move the ones whose entry is ``met`` to ``to_close``."""
    kept = []
    for entry in entries:
        w = entry[-1]
        if w.done():
            continue
        if met(entry):
            to_close.append(w)
        else:
            kept.append(entry)
    entries[:] = kept


def _wire_event(event: Any) -> WireEvent | None:
    if event is None:
        return None
    return WireEvent(
        machine_id=str(getattr(event, "machine_id", "") or ""),
        name=str(getattr(event, "name", "") or ""),
        tx_id=str(getattr(event, "transition_id", "") or ""),
        is_check=bool(getattr(event, "is_check", False)),
    )
