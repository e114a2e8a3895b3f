"""Waiting on a machine (spec §8) and state contexts (spec §9).

``Subscriptions`` is the per-machine registry the machine calls into (hooks below, run in the
thread draining the queue); ``WaitingMixin`` gives ``Machine`` its public ``when*`` and
``new_state_ctx`` methods (and, through ``ForksMixin``, ``fork`` / ``go`` / ``go_after``).

Concurrency: registrations may come from any thread while another thread drains the queue. A
registration checks the condition and registers under one lock; the draining thread processes a
transition under the same lock *after* the transition applied its states, and re-checks each
touched subscription against the machine's current clocks. So a condition that became true is
either seen at registration or processed afterwards, never lost. The machine skips the hooks
while ``active`` is False; a registration sets ``active`` under the lock *before* it reads the
machine, so a drain that skipped a hook had applied its states before that read. Waiters are
closed outside the lock (closing runs callbacks: asyncio wake-ups, thread events, helper gates).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from .ctx import Ctx
from .forks import ForkPool, ForksMixin
from .pipes import PipeRunner
from .typed_args import ArgsIn, to_args
from .types import LogLevel
from .waiting import Waiter

if TYPE_CHECKING:
    from .machine import Machine
    from .transition import Transition

__all__ = ["Subscriptions", "WaitingMixin"]

_OPS = int(LogLevel.OPS)
QueryFn = Callable[[dict[str, int]], bool]


class _Sub:
    """One pending subscription: its waiter, optional context and reuse key."""

    __slots__ = ("args", "ctx", "fn", "heaped", "key", "kind", "states", "times", "waiter")

    def __init__(
        self,
        kind: str,
        waiter: Waiter,
        ctx: Ctx | None,
        key: Any = None,
        states: tuple[str, ...] = (),
        times: tuple[int, ...] = (),
        args: dict[str, Any] | None = None,
        fn: QueryFn | None = None,
    ) -> None:
        self.kind = kind
        self.waiter = waiter
        self.ctx = ctx
        self.key = key
        self.states = states
        self.times = times
        self.args = args
        self.fn = fn
        self.heaped = False


def _args_match(want: dict[str, Any], got: dict[str, Any]) -> bool:
    for k, v in want.items():
        if k not in got:
            return False
        try:
            if not bool(got[k] == v):
                return False
        except Exception:
            return False
    return True


class Subscriptions:
    """Per-machine registry of waiters and state contexts. Hooks run in the draining thread."""

    def __init__(self, mach: Machine) -> None:
        self.mach = mach
        self._lock = threading.Lock()
        # when / when_not: state -> subs; reuse key -> sub
        self._state_subs: dict[str, list[_Sub]] = {}
        self._time_subs: dict[str, list[_Sub]] = {}
        self._args_subs: dict[str, list[_Sub]] = {}
        self._keys: dict[Any, _Sub] = {}
        self._queue_subs: list[tuple[int, int, _Sub]] = []
        self._queue_seq = 0
        self._queue_ends: list[Waiter] = []
        self._queries: list[_Sub] = []
        self._ctx_subs: dict[int, _Sub] = {}
        self._pending = 0
        self._state_ctxs: dict[str, Ctx] = {}
        self._disposed = False
        self._disposed_waiter = Waiter("disposed")
        self._closed = Waiter.closed("closed")
        self._pool: ForkPool | None = None
        self._applied_tx: Transition | None = None
        self._applied: tuple[list[str], list[str]] = ([], [])
        self._pipes: PipeRunner | None = None
        # True while anything is registered; the machine skips the hooks below otherwise. Set
        # under the lock *before* a registration reads the machine's state (see module docstring).
        self.active = False
        # True while any when_args waiter exists: the machine then emits every "<state>State"
        # event through on_handler_event, even without bound handlers.
        self.has_args_waiters = False

    # -- bookkeeping (lock held) ----------------------------------------------------------------

    def _add(self, sub: _Sub, index: dict[str, list[_Sub]] | None) -> None:
        if index is not None:
            for s in sub.states:
                index.setdefault(s, []).append(sub)
        if sub.key is not None:
            self._keys[sub.key] = sub
        if sub.ctx is not None:
            self._ctx_subs[id(sub)] = sub
        self._pending += 1

    def _drop(self, sub: _Sub) -> None:
        kind = sub.kind
        index = (
            self._state_subs
            if kind in ("when", "whenNot")
            else self._time_subs
            if kind == "whenTime"
            else self._args_subs
            if kind == "whenArgs"
            else None
        )
        if index is not None:
            for s in sub.states:
                lst = index.get(s)
                if lst is not None:
                    try:
                        lst.remove(sub)
                    except ValueError:
                        pass
                    if not lst:
                        del index[s]
            if kind == "whenArgs":
                self.has_args_waiters = bool(self._args_subs)
        elif kind == "whenQuery":
            try:
                self._queries.remove(sub)
            except ValueError:
                pass
        elif kind == "whenQueue" and sub.heaped:
            sub.heaped = False
            self._queue_subs = [e for e in self._queue_subs if e[2] is not sub]
            heapq.heapify(self._queue_subs)
        if sub.key is not None and self._keys.get(sub.key) is sub:
            del self._keys[sub.key]
        self._ctx_subs.pop(id(sub), None)
        self._pending -= 1

    def _update_active(self) -> None:
        self.active = bool(self._pending or self._state_ctxs or self._queue_ends)

    def _log(self, msg: str) -> None:
        mach = self.mach
        if mach._log_level >= _OPS:
            mach._log(_OPS, msg)

    def _reuse(self, key: Any) -> Waiter | None:
        sub = self._keys.get(key)
        if sub is not None and not sub.waiter.done():
            return sub.waiter
        return None

    def _refuse(self, ctx: Ctx | None) -> bool:
        """Lock held, before a registration reads the machine: mark the registry active (see
        the module docstring); True when no waiter can be made (disposed, ``ctx`` done)."""
        self.active = True
        return self._disposed or self.mach._disposing or (ctx is not None and ctx.done())

    def forks(self) -> ForkPool:
        """The machine's fork runner (tasks, bounded pool), made on first use."""
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = ForkPool(self.mach)
        return pool

    def pipe_runner(self) -> PipeRunner:
        """The thread that delivers this machine's outgoing pipes, in order (made on first use)."""
        runner = self._pipes
        if runner is None:
            with self._lock:
                runner = self._pipes
                if runner is None:
                    runner = self._pipes = PipeRunner(f"am-pipes-{self.mach.id}")
        return runner

    # -- registration -----------------------------------------------------------------------------

    def when(self, states: Sequence[str], ctx: Ctx | None, negate: bool) -> Waiter:
        mach = self.mach
        names = mach._parse_called(states)
        kind = "whenNot" if negate else "when"
        with self._lock:
            if self._refuse(ctx):
                return self._closed
            active = mach._active_set
            if negate:
                if not any(s in active for s in names):
                    return self._closed
            elif all(s in active for s in names):
                return self._closed
            key = (kind, frozenset(names), ctx)
            w = self._reuse(key)
            if w is not None:
                return w
            w = Waiter(f"{kind} {' '.join(names)}")
            self._add(_Sub(kind, w, ctx, key, tuple(names)), self._state_subs)
        self._log(f"[{kind}:new] {' '.join(names)}")
        return w

    def when_time(self, states: Sequence[str], times: Sequence[int], ctx: Ctx | None) -> Waiter:
        mach = self.mach
        st, tm = list(states), [int(t) for t in times]
        if not st or len(st) != len(tm):
            mach.add_err(
                ValueError(
                    f"whenTime: states and times must have the same length ({' '.join(st)}) > 0"
                )
            )
            return self._closed
        with self._lock:
            if self._refuse(ctx):
                return self._closed
            if all(mach.tick(s) >= t for s, t in zip(st, tm, strict=True)):
                return self._closed
            key = ("whenTime", tuple(st), tuple(tm), ctx)
            w = self._reuse(key)
            if w is not None:
                return w
            w = Waiter(f"whenTime {' '.join(st)} {tm}")
            self._add(_Sub("whenTime", w, ctx, key, tuple(st), tuple(tm)), self._time_subs)
        self._log(f"[whenTime:new] {','.join(st)} {' '.join(str(t) for t in tm)}")
        return w

    def when_args(self, state: str, args: dict[str, Any], ctx: Ctx | None) -> Waiter:
        mach = self.mach
        (name,) = mach._parse_called([state])
        want = dict(args)
        with self._lock:
            if self._refuse(ctx):
                return self._closed
            # reuse: same state and equal args, ctx ignored (spec §8)
            for sub in self._args_subs.get(name, ()):
                if sub.args == want and not sub.waiter.done():
                    return sub.waiter
            w = Waiter(f"whenArgs {name}")
            self._add(_Sub("whenArgs", w, ctx, None, (name,), args=want), self._args_subs)
            self.has_args_waiters = True
        self._log(f"[whenArgs:new] {name} ({','.join(sorted(want))})")
        return w

    def when_query(self, fn: QueryFn, ctx: Ctx | None) -> Waiter:
        with self._lock:
            if self._refuse(ctx):
                return self._closed
            w = Waiter("whenQuery")
            n = len(self._queries)
            sub = _Sub("whenQuery", w, ctx, fn=fn)
            self._queries.append(sub)
            self._add(sub, None)
        self._log(f"[whenQuery:new] {n}")
        return w

    def when_queue(self, tick: int, ctx: Ctx | None) -> Waiter:
        mach = self.mach
        with self._lock:
            if self._refuse(ctx):
                return self._closed
            if mach._queue_tick >= tick:
                return self._closed
            w = Waiter(f"whenQueue {tick}")
            sub = _Sub("whenQueue", w, ctx, times=(tick,))
            self._queue_seq += 1
            sub.heaped = True
            heapq.heappush(self._queue_subs, (tick, self._queue_seq, sub))
            self._add(sub, None)
        self._log(f"[whenQueue:new] {tick}")
        return w

    def when_queue_ends(self) -> Waiter:
        mach = self.mach
        with self._lock:
            self.active = True
            if self._disposed or not mach._processing:
                return self._closed
            w = Waiter("whenQueueEnds")
            self._queue_ends.append(w)
        return w

    def when_disposed(self) -> Waiter:
        return self._disposed_waiter

    def new_state_ctx(self, state: str, event: Any = None) -> Ctx:
        mach = self.mach
        (name,) = mach._parse_called([state])
        with self._lock:
            self.active = True
            ctx = self._state_ctxs.get(name)
            if ctx is not None and not ctx.done():
                return ctx
            value = {"id": mach.id, "state": name, "tick": mach.tick(name), "event": event}
            ctx = Ctx(mach.context(), value)
            if self._disposed or mach._disposing:
                ctx.cancel()
                return ctx
            self._state_ctxs[name] = ctx
        self._log(f"[ctx:new] {name}")
        return ctx

    # -- hooks (draining thread) -------------------------------------------------------------------

    def on_states_applied(
        self, tx: Transition, activated: list[str], deactivated: list[str]
    ) -> None:
        """States and ticks were applied (before final handlers): cancel state contexts."""
        # what changed, for on_transition_end (saves diffing the clocks)
        self._applied_tx = tx
        self._applied = (activated, deactivated)
        if not self._state_ctxs:
            return
        mach = self.mach
        expired: list[tuple[str, Ctx]] = []
        with self._lock:
            ctxs = self._state_ctxs
            for group in (activated, deactivated):
                for s in group:
                    ctx = ctxs.get(s)
                    # a context made concurrently for the new tick stays alive
                    if ctx is not None and ctx.value["tick"] != mach.tick(s):
                        del ctxs[s]
                        expired.append((s, ctx))
            self._update_active()
        for s, ctx in expired:
            self._log(f"[ctx:match] {s}")
            ctx.cancel()

    def on_handler_event(self, name: str, tx: Transition) -> None:
        """A ``<state>State`` event was emitted (after its handlers): resolve when_args."""
        state = name[:-5]
        subs = self._args_subs.get(state)
        if not subs:
            return
        got = tx.mutation.args
        matched: list[_Sub] = []
        with self._lock:
            for sub in list(self._args_subs.get(state, ())):
                assert sub.args is not None
                if _args_match(sub.args, got):
                    self._drop(sub)
                    matched.append(sub)
        for sub in matched:
            assert sub.args is not None
            self._log(f"[whenArgs:match] {state} ({','.join(sorted(sub.args))})")
            sub.waiter.close()

    def on_transition_end(self, tx: Transition) -> None:
        """An accepted, non-check transition fully ran: resolve when/when_not/when_time/queue/query."""
        if not tx.is_accepted or tx.mutation.is_check:
            return
        mach = self.mach
        closing: dict[int, _Sub] = {}
        logs: list[str] = []
        errors: list[Exception] = []
        with self._lock:
            if not self._pending:
                self._applied_tx = None
                self._update_active()
                return
            # lazy expiry: waiters whose context is done
            if self._ctx_subs:
                for sub in self._ctx_subs.values():
                    ctx = sub.ctx
                    if ctx is not None and ctx.done():
                        closing[id(sub)] = sub
            changed: Sequence[str]
            if self._applied_tx is tx:
                activated, deactivated = self._applied
                changed = [*activated, *deactivated] if deactivated else activated
            else:
                # registered after this tx applied its states: diff its clocks
                before, after = tx.time_before, tx.time_after
                names = mach._names
                n = min(len(before), len(after), len(names))
                changed = [names[i] for i in range(n) if before[i] != after[i]]
            self._applied_tx = None
            if changed and self._state_subs:
                active = mach._active_set
                for s in changed:
                    for sub in self._state_subs.get(s, ()):
                        if id(sub) in closing:
                            continue
                        if sub.kind == "when":
                            ok = all(x in active for x in sub.states)
                        else:
                            ok = not any(x in active for x in sub.states)
                        if ok:
                            closing[id(sub)] = sub
                            logs.append(f"[{sub.kind}:match] {' '.join(sub.states)}")
            if changed and self._time_subs:
                tick = mach.tick
                for s in changed:
                    for sub in self._time_subs.get(s, ()):
                        if id(sub) in closing:
                            continue
                        if all(tick(x) >= t for x, t in zip(sub.states, sub.times, strict=True)):
                            closing[id(sub)] = sub
                            times = " ".join(str(t) for t in sub.times)
                            logs.append(f"[whenTime:match] {' '.join(sub.states)} [{times}]")
            heap = self._queue_subs
            if heap:
                qt = mach._queue_tick
                while heap and heap[0][0] <= qt:
                    tick_, _seq, sub = heapq.heappop(heap)
                    sub.heaped = False
                    if id(sub) not in closing:
                        closing[id(sub)] = sub
                        logs.append(f"[whenQueue:match] {tick_}")
            if self._queries:
                clock = dict(mach.clock())
                for sub in self._queries:
                    if id(sub) in closing:
                        continue
                    assert sub.fn is not None
                    try:
                        ok = bool(sub.fn(clock))
                    except Exception as err:
                        # a broken query must not stall its waiter nor the queue
                        ok = True
                        errors.append(err)
                    if ok:
                        closing[id(sub)] = sub
            for sub in closing.values():
                self._drop(sub)
            self._update_active()
        for line in logs:
            self._log(line)
        for sub in closing.values():
            sub.waiter.close()
        for query_err in errors:
            mach.add_err(query_err)

    def on_queue_end(self) -> None:
        """The queue drained: resolve when_queue_ends waiters."""
        if not self._queue_ends:
            return
        with self._lock:
            waiters, self._queue_ends = self._queue_ends, []
            self._update_active()
        for w in waiters:
            w.close()

    def on_dispose(self) -> None:
        """The machine is disposed: close every waiter, cancel every state context."""
        with self._lock:
            self._disposed = True
            waiters: list[Waiter] = [e[2].waiter for e in self._queue_subs]
            for index in (self._state_subs, self._time_subs, self._args_subs):
                for subs in index.values():
                    waiters.extend(s.waiter for s in subs)
            waiters.extend(s.waiter for s in self._queries)
            waiters.extend(self._queue_ends)
            ctxs = list(self._state_ctxs.values())
            self._state_subs.clear()
            self._time_subs.clear()
            self._args_subs.clear()
            self._keys.clear()
            self._queue_subs.clear()
            self._queries.clear()
            self._queue_ends = []
            self._ctx_subs.clear()
            self._state_ctxs.clear()
            self._pending = 0
            self.has_args_waiters = False
            self.active = False
        for w in waiters:
            w.close()
        for ctx in ctxs:
            ctx.cancel()
        # when_disposed() closes last, with the machine's context (after on_dispose callbacks)
        self.mach.context().add_done_callback(self._disposed_waiter.close)


class WaitingMixin(ForksMixin):
    """``Machine``'s waiting API (spec §8, §9): every ``when*`` returns a :class:`Waiter`.

    A waiter is closed once: when its condition holds, when its ``ctx`` expired (lazily, at the
    next accepted transition), or when the machine is disposed. An already satisfied condition
    (and any call on a disposed machine) returns a shared, already closed waiter. ``await w`` from
    asyncio or ``w.wait(timeout)`` from a thread.
    """

    _subs: Subscriptions

    def when(self, states: str | Sequence[str], ctx: Ctx | None = None) -> Waiter:
        """All ``states`` active at the same time. Unknown states raise."""
        return self._subs.when([states] if isinstance(states, str) else states, ctx, False)

    def when1(self, state: str, ctx: Ctx | None = None) -> Waiter:
        """:meth:`when` for a single state."""
        return self._subs.when([state], ctx, False)

    def when_not(self, states: str | Sequence[str], ctx: Ctx | None = None) -> Waiter:
        """All ``states`` inactive at the same time. Unknown states raise."""
        return self._subs.when([states] if isinstance(states, str) else states, ctx, True)

    def when_not1(self, state: str, ctx: Ctx | None = None) -> Waiter:
        """:meth:`when_not` for a single state."""
        return self._subs.when([state], ctx, True)

    def when_err(self, ctx: Ctx | None = None) -> Waiter:
        """``Exception`` active."""
        return self._subs.when(["Exception"], ctx, False)

    def when_time(
        self, states: Sequence[str], times: Sequence[int], ctx: Ctx | None = None
    ) -> Waiter:
        """Every ``tick(states[i]) >= times[i]``; mismatched lengths add an error (spec §8)."""
        return self._subs.when_time(states, times, ctx)

    def when_time1(self, state: str, tick: int, ctx: Ctx | None = None) -> Waiter:
        """:meth:`when_time` for a single state."""
        return self._subs.when_time([state], [tick], ctx)

    def when_ticks(self, state: str, ticks: int, ctx: Ctx | None = None) -> Waiter:
        """``state`` ticked ``ticks`` more times from now (2 ticks = one full on/off cycle)."""
        mach = cast("Machine", self)
        return self._subs.when_time([state], [mach.tick(state) + ticks], ctx)

    def when_next_active(self, state: str, ctx: Ctx | None = None) -> Waiter:
        """The next activation of ``state`` (for an active one: after it deactivates first)."""
        mach = cast("Machine", self)
        return self.when_ticks(state, 2 if mach.is1(state) else 1, ctx)

    def when_args(self, state: str, args: ArgsIn, ctx: Ctx | None = None) -> Waiter:
        """An activation of ``state`` by a mutation whose args contain all of ``args`` (``==``);
        a typed-args instance stands for all of its fields."""
        return self._subs.when_args(state, to_args(args), ctx)

    def when_query(self, fn: Callable[[dict[str, int]], bool], ctx: Ctx | None = None) -> Waiter:
        """``fn(clock)`` returned True after an accepted transition (not checked at creation)."""
        return self._subs.when_query(fn, ctx)

    def when_queue(self, tick: int) -> Waiter:
        """The queue reached ``tick`` (e.g. a queued mutation's :class:`Result`)."""
        return self._subs.when_queue(int(tick), None)

    def when_queue_ends(self) -> Waiter:
        """The running queue drained (closed now when it is idle)."""
        return self._subs.when_queue_ends()

    def when_disposed(self) -> Waiter:
        """Closed at the very end of disposal."""
        return self._subs.when_disposed()

    def new_state_ctx(self, state: str, event: Any = None) -> Ctx:
        """The context of ``state``'s current tick: cancelled when the tick changes (spec §9)."""
        return self._subs.new_state_ctx(state, event)
