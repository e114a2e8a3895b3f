"""A transition: resolution of one mutation and the handler phases that run it (spec §4-§5)."""

from __future__ import annotations

import builtins
import random
import time
import traceback
from collections.abc import Callable, Sequence
from inspect import iscoroutine
from typing import TYPE_CHECKING, Any

from .clock import Time, TimeIndex
from .errors import AsyncHandlerError, HandlerTimeoutError
from .event import Event
from .types import (
    ARG_EXCEPTION,
    MUTATION_STR,
    AException,
    ExceptionPanic,
    LogEntry,
    LogLevel,
    Mutation,
    MutationType,
    Result,
    Schema,
    Step,
    StepType,
)

if TYPE_CHECKING:
    from .handlers import Binding, HandlerFn
    from .machine import Machine

EXECUTED = Result.EXECUTED
CANCELED = Result.CANCELED
_ADD = MutationType.ADD
_REMOVE = MutationType.REMOVE
_SET = MutationType.SET
_CHANGES = int(LogLevel.CHANGES)
_OPS = int(LogLevel.OPS)
_DEC = int(LogLevel.DECISIONS)
_EVERY = int(LogLevel.EVERYTHING)
EXCEPTION = "Exception"
ANY = "Any"  # AnyEnter / AnyState steps: Handler(from=Any, to=Any) (spec §13 item 8)
_EMPTY: frozenset[str] = frozenset()
# shared empty lists: a transition replaces them before recording anything (never appended to)
NO_ENTRIES: list[LogEntry] = []
NO_STEPS: list[Step] = []

# handler kinds
K_EXIT, K_ENTER, K_SELF, K_PAIR, K_ANY_ENTER, K_END, K_STATE, K_ANY_STATE = range(8)
_FINAL_KINDS = (K_END, K_STATE, K_ANY_STATE)

_getrandbits = random.getrandbits
_perf = time.perf_counter
_PLANS_MAX = 4096


def _store(plans: dict[Any, Plan], key: Any, plan: Plan) -> None:
    """Memoise ``plan``; a full cache starts over (schemas are small, states repeat)."""
    if len(plans) > _PLANS_MAX:
        plans.clear()
    plans[key] = plan


def state_changes(
    before: tuple[str, ...],
    before_set: frozenset[str],
    target: list[str],
    called: Sequence[str],
    schema: Schema,
    is_auto: bool,
) -> tuple[list[str], list[str], list[str]]:
    """(removed, added, re-ticked multi states) when ``target`` replaces ``before``."""
    tset = frozenset(target)
    removed = [s for s in before if s not in tset]
    added = [s for s in target if s not in before_set]
    if is_auto:
        return removed, added, []
    reticked = [s for s in target if s in before_set and s in called and schema[s].multi]
    return removed, added, reticked


def changes_log(removed: list[str], added: list[str], reticked: list[str]) -> list[str]:
    """The ``+Added +ReTicked -Removed`` parts of a ``[state]`` log line."""
    return [f"+{s}" for s in added] + [f"+{s}" for s in reticked] + [f"-{s}" for s in removed]


class Plan:
    """Memoised resolution of (active states, called states, type, auto, check) for a schema."""

    __slots__ = (
        "accepted",
        "applied",
        "auto_pairs",
        "deltas",
        "enters",
        "exits",
        "finals",
        "flat_ver",
        "neg",
        "new_active",
        "new_active_set",
        "not_accepted",
        "res_logs",
        "res_steps",
        "state_log",
        "target",
    )

    def __init__(
        self,
        target: list[str],
        accepted: bool,
        not_accepted: list[str],
        exits: list[str],
        enters: list[str],
    ) -> None:
        self.target = target
        self.accepted = accepted
        self.not_accepted = not_accepted
        self.exits = exits
        self.enters = enters
        self.flat_ver = -1
        # filtered handler calls (name, kind, from, to), built per handler-table version
        self.neg: list[tuple[str, int, str, str]] = []
        self.finals: list[tuple[str, int, str, str]] = []
        # auto txs: state-state handler names that exist, (name, before, target), per table version
        self.auto_pairs: list[tuple[str, str, str]] | None = None
        # precomputed application (non-auto): tick deltas by index, new active tuple/set
        self.applied = False
        self.deltas: list[tuple[int, int]] = []
        self.new_active: tuple[str, ...] = ()
        self.new_active_set: frozenset[str] = frozenset()
        self.state_log = ""
        # with steps/logging on: what resolution recorded, replayed on a memo hit
        self.res_steps: tuple[Step, ...] = ()
        self.res_logs: tuple[tuple[int, str], ...] = ()


class Transition:
    """One transition of a machine. Attributes are the telemetry contract (see am_core_ready.md)."""

    __slots__ = (
        "_before_set",
        "_called_set",
        "_id",
        "_panic_state",
        "_plan",
        "_rec_handlers",
        "_rec_steps",
        "_ta",
        "_tb",
        "before",
        "enters",
        "exits",
        "is_accepted",
        "is_completed",
        "log_entries",
        "machine",
        "mutation",
        "not_accepted",
        "pre_log_entries",
        "queue_len",
        "queue_tick",
        "steps",
        "target",
    )

    def __init__(self, mach: Machine, mut: Mutation) -> None:
        mach._tx = self
        self.machine = mach
        self.mutation = mut
        self._id: str | None = None
        # shared empty lists until something is recorded (see Machine._log)
        self.steps: list[Step] = NO_STEPS
        self.log_entries: list[LogEntry] = NO_ENTRIES
        self.pre_log_entries: list[LogEntry] = NO_ENTRIES
        self.queue_len = 0
        self.queue_tick = mach._queue_tick
        self.is_completed = False
        self._panic_state: tuple[int, str] | None = None
        before = mach._active
        self.before = before  # the machine replaces (never mutates) its active tuple
        self._before_set = mach._active_set
        self._called_set: set[str] | frozenset[str] = _EMPTY
        tb = mach._ticks[:]
        self._tb = tb
        self._ta = tb
        called = mut.called
        lvl = mach._log_level
        if mach._fast:
            self._rec_steps = self._rec_handlers = False
            key = (before, tuple(called), mut.type, mut.is_auto, mut.is_check)
            plan = mach._plans.get(key)
            if plan is None:
                if lvl >= _CHANGES:
                    self._log_header(lvl)
                plan = self._resolve()
                _store(mach._plans, key, plan)
            elif lvl >= _CHANGES:
                self._log_header(lvl)
            if plan.flat_ver != mach._table_ver and not mut.is_auto:
                # flat handler lists are only valid for non-auto txs (auto txs shrink targets)
                self._flatten(plan)
        else:
            steps_on = mach._semlog._steps
            if steps_on and mut.is_check and not mach._semlog._can:
                # [quirk] checks record handler steps (and Add steps) even with `can` off
                self._rec_steps = False
                self._rec_handlers = True
            else:
                self._rec_steps = self._rec_handlers = steps_on
            if steps_on:
                self.steps = []
            self._log_header(lvl)
            if mach._memo:
                rec = (self._rec_steps, self._rec_handlers)
                mkey: Any = (before, tuple(called), mut.type, mut.is_auto, mut.is_check, lvl, rec)
                plan = self._recorded(mkey, self._resolve)
            else:
                plan = self._resolve()
        self._plan = plan
        self.target = list(plan.target) if mut.is_auto else plan.target
        self.is_accepted = plan.accepted
        self.not_accepted = plan.not_accepted
        self.exits = plan.exits
        self.enters = plan.enters
        if not plan.accepted and lvl >= _OPS and plan.not_accepted:
            mach._log(_OPS, "[cancel:reject] " + " ".join(plan.not_accepted))
        if mach._traced:
            for h in mach._hk_tx_init:
                h(self)

    def _log_header(self, lvl: int) -> None:
        if lvl < _OPS:
            return
        mach = self.machine
        mut = self.mutation
        if mut.is_auto:
            if lvl >= _DEC:
                mach._log(_DEC, "[add:auto] " + " ".join(mut.called))
        else:
            mach._log(
                _OPS,
                f"[{MUTATION_STR[mut.type]}] {' '.join(mut.called)}{mach._args_suffix(mut.args)}",
            )
        if mut.source is not None:
            src = mut.source
            mach._log(_OPS, f"[source] {src.mach_id}/{src.tx_id}/{src.mach_time}")

    @property
    def time_before(self) -> Time:
        """Clocks before the tx, in state-index order."""
        return Time(self._tb)

    @property
    def time_after(self) -> Time:
        """Clocks after the tx (== before for a canceled tx)."""
        return Time(self._ta)

    # -- identity / accessors ------------------------------------------------------------------

    @property
    def id(self) -> str:
        tid = self._id
        if tid is None:
            tid = self._id = f"{_getrandbits(64):016x}"
        return tid

    def type(self) -> MutationType:
        return self.mutation.type

    def args(self) -> dict[str, Any]:
        return self.mutation.args

    def is_auto(self) -> bool:
        return self.mutation.is_auto

    @property
    def is_check(self) -> bool:
        return self.mutation.is_check

    def is_health(self) -> bool:
        m = self.mutation
        return m.type == _ADD and len(m.called) == 1 and m.called[0] in ("Healthcheck", "Heartbeat")

    def called_states(self) -> list[str]:
        return list(self.mutation.called)

    def called_indexes(self) -> list[int]:
        idx = self.machine._idx
        return [idx.get(s, -1) for s in self.mutation.called]

    def states_before(self) -> list[str]:
        return list(self.before)

    def target_states(self) -> list[str]:
        return list(self.target)

    def target_indexes(self) -> list[int]:
        idx = self.machine._idx
        return [idx.get(s, -1) for s in self.target]

    def clock_before(self) -> dict[str, int]:
        return dict(zip(self.machine._names, self.time_before, strict=False))

    def clock_after(self) -> dict[str, int]:
        return dict(zip(self.machine._names, self.time_after, strict=False))

    def time_index_before(self) -> TimeIndex:
        return TimeIndex(self.machine._names, self.time_before)

    def time_index_after(self) -> TimeIndex:
        return TimeIndex(self.machine._names, self.time_after)

    def time_index_called(self) -> TimeIndex:
        """The called states marked active (tick 1) over the machine's names (spec §5.1)."""
        names = self.machine._names
        called = set(self.mutation.called)
        return TimeIndex(names, [1 if n in called else 0 for n in names])

    def time_index_diff(self) -> tuple[TimeIndex, TimeIndex]:
        """(added incl. re-ticked multi, removed) as time indexes with those states marked active."""
        names = self.machine._names
        added, removed = self.diff()
        a, r = set(added), set(removed)
        return (
            TimeIndex(names, [1 if n in a else 0 for n in names]),
            TimeIndex(names, [1 if n in r else 0 for n in names]),
        )

    def time_index_time_diff(self) -> TimeIndex:
        """States whose tick changed, marked active."""
        names = self.machine._names
        d = self.time_diff()
        return TimeIndex(names, [1 if i < len(d) and d[i] else 0 for i in range(len(names))])

    def time_index_touched(self) -> TimeIndex:
        """States named in any step, marked active (needs steps on)."""
        names = self.machine._names
        t = set(self.touched())
        return TimeIndex(names, [1 if n in t else 0 for n in names])

    def diff(self) -> tuple[list[str], list[str]]:
        """(added incl. re-ticked multi, removed) by comparing clocks."""
        names = self.machine._names
        added: list[str] = []
        removed: list[str] = []
        for i, n in enumerate(names):
            b = self.time_before[i] if i < len(self.time_before) else 0
            a = self.time_after[i] if i < len(self.time_after) else 0
            if a == b:
                continue
            if a % 2 == 1:
                added.append(n)
            else:
                removed.append(n)
        return added, removed

    def time_diff(self) -> Time:
        return Time(self.time_after).diff_since(self.time_before)

    def touched(self) -> list[str]:
        """States named in any step (unique, first seen)."""
        out: dict[str, None] = {}
        for st in self.steps:
            if st.from_state:
                out[st.from_state] = None
            if st.to_state:
                out[st.to_state] = None
        return list(out)

    # -- resolution ----------------------------------------------------------------------------

    def _resolve(self) -> Plan:
        """Run relation resolution (with steps/logs) and build a plan."""
        mach = self.machine
        mut = self.mutation
        self._called_set = set(mut.called)
        called = mut.called
        before = self.before
        before_set = self._before_set
        rec = self._rec_steps
        steps = self.steps
        if rec:
            for c in called:
                steps.append(Step(StepType.REQUESTED, "", c))
        typ = mut.type
        if typ == _REMOVE:
            if rec:
                for c in called:
                    steps.append(Step(StepType.REMOVE, "", c))
            cs = self._called_set
            to_set = [s for s in before if s not in cs]
        elif typ == _ADD:
            if rec:
                for c in called:
                    if c not in before_set:
                        steps.append(Step(StepType.SET, "", c))
            to_set = [*called, *before]
        else:
            if rec:
                for c in called:
                    if c not in before_set:
                        steps.append(Step(StepType.SET, "", c))
                cs = self._called_set
                for s in before:
                    if s not in cs:
                        steps.append(Step(StepType.REMOVE, "", s))
            to_set = list(called)
        target = mach._resolver.target_states(self, to_set)
        if mach._log_level >= _OPS:
            # Go: target minus states_to_set, whatever the resolver
            tss = set(to_set)
            implied = [n for n in target if n not in tss]
            if implied:
                mach._log(_OPS, "[implied] " + " ".join(implied))
        accepted, not_accepted = self._setup_accepted(target)
        if accepted:
            exits, enters = self._exits_enters(target)
        else:
            exits, enters = [], []  # Go sets up exits / enters (and sorts) only when accepted
        return Plan(target, accepted, not_accepted, exits, enters)

    def _recorded(self, key: Any, resolve: Callable[[], Plan]) -> Plan:
        """Memoised resolution with steps/logging on: replay what the first run recorded."""
        mach = self.machine
        plan: Plan | None = mach._plans.get(key)
        if plan is not None:
            if plan.res_steps:
                if self.steps is NO_STEPS:
                    self.steps = list(plan.res_steps)
                else:
                    self.steps.extend(plan.res_steps)
            for level, msg in plan.res_logs:
                mach._log(level, msg)
            return plan
        n0 = len(self.steps)
        cap: list[tuple[int, str]] = []
        mach._log_capture = cap
        try:
            plan = resolve()
        finally:
            mach._log_capture = None
        plan.res_steps = tuple(self.steps[n0:])
        plan.res_logs = tuple(cap)
        _store(mach._plans, key, plan)
        return plan

    def _setup_accepted(self, target: list[str]) -> tuple[bool, list[str]]:
        mut = self.mutation
        if mut.type == _REMOVE:
            return True, []
        tset = set(target)
        not_accepted = [c for c in mut.called if c not in tset]
        if mut.is_auto and len(not_accepted) < len(mut.called):
            return True, []  # partially accepted
        if not_accepted:
            schema = self.machine._schema
            if mut.is_check and any(schema[c].multi for c in mut.called):
                return True, []
            if self._rec_steps:
                for s in not_accepted:
                    self.steps.append(Step(StepType.CANCEL, "", s))
            return False, not_accepted
        return True, []

    def _exits_enters(self, target: list[str]) -> tuple[list[str], list[str]]:
        mach = self.machine
        tset = set(target)
        exits = [s for s in self.before if s not in tset]
        mach._resolver.sort_states(exits, self)
        before_set = self._before_set
        cs = self._called_set
        schema = mach._schema
        if self.mutation.is_auto:
            enters = [s for s in target if s not in before_set]
        else:
            enters = [s for s in target if s not in before_set or (s in cs and schema[s].multi)]
        return exits, enters

    def _flatten(self, plan: Plan) -> None:
        """Build the handler call lists of a non-auto plan, filtered by the handler table."""
        mach = self.machine
        table = mach._table
        neg: list[tuple[str, int, str, str]] = []
        for s in plan.exits:
            n = s + "Exit"
            if n in table:
                neg.append((n, K_EXIT, s, ""))
        for s in plan.enters:
            n = s + "Enter"
            if n in table:
                neg.append((n, K_ENTER, "", s))
        before = self.before
        bset = self._before_set
        if self.mutation.type != _REMOVE:
            for s in plan.target:
                if s in bset:
                    n = s + s
                    if n in table:
                        neg.append((n, K_SELF, "", s))
        for b in before:
            for a in plan.target:
                if a != b:
                    n = b + a
                    if n in table:
                        neg.append((n, K_PAIR, b, a))
        if "AnyEnter" in table:
            neg.append(("AnyEnter", K_ANY_ENTER, "", ""))
        finals: list[tuple[str, int, str, str]] = []
        for s in plan.exits:
            n = s + "End"
            if n in table:
                finals.append((n, K_END, "", s))
        for s in plan.enters:
            n = s + "State"
            if n in table:
                finals.append((n, K_STATE, "", s))
        plan.neg = neg
        plan.finals = finals
        plan.flat_ver = mach._table_ver

    # -- running -------------------------------------------------------------------------------

    def run(self) -> Result:
        """Emit the handler phases and apply the states (spec §5.2)."""
        mach = self.machine
        mut = self.mutation
        result = EXECUTED if self.is_accepted else CANCELED
        traced = mach._traced
        if traced:
            for h in mach._hk_tx_start:
                h(self)
        is_auto = mut.is_auto
        lvl = mach._log_level
        plan = self._plan
        flat = mach._fast and not is_auto and plan.flat_ver == mach._table_ver
        handlers_on = mach._ever_bound or lvl >= _EVERY

        # negotiation
        if handlers_on and result is EXECUTED:
            if flat:
                if plan.neg and not self._call_flat(plan.neg):
                    result = CANCELED
            else:
                result = self._negotiate()

        if not mut.is_check:
            subs = mach._subs
            if is_auto:
                got = self._resolve_auto_again()
                if got is not None:
                    self.target = list(got.target)
                    self.exits, self.enters = got.exits, got.enters
            changed = False
            if result is EXECUTED:
                if flat:
                    if not plan.applied:
                        self._precompute_apply(plan)
                    ticks = mach._ticks
                    for i, d in plan.deltas:
                        ticks[i] += d
                    mach._active = plan.new_active
                    mach._active_set = plan.new_active_set
                    if lvl >= _CHANGES and plan.state_log:
                        mach._log(_CHANGES, plan.state_log + mach._args_suffix(mut.args))
                    changed = bool(plan.deltas)
                else:
                    changed = mach._set_active_states(mut.called, self.target, is_auto, mut.args)
                self._ta = mach._ticks[:]
                if subs.active:  # checked after applying: see subscriptions.py
                    if is_auto:
                        bset = self._before_set
                        activated = [s for s in mach._active if s not in bset]
                        aset = mach._active_set
                        deactivated = [s for s in self.before if s not in aset]
                    else:
                        activated, deactivated = self.enters, self.exits
                    subs.on_states_applied(self, activated, deactivated)
                if traced:
                    for h in mach._hk_tx_finals:
                        h(self)
                subs_args = subs.has_args_waiters
                if handlers_on or subs_args:
                    if flat and not subs_args:
                        if plan.finals and not self._call_flat(plan.finals):
                            result = CANCELED
                    else:
                        result = self._finals()
                if result is CANCELED:
                    changed = self._recover_final_phase() or changed
                    self._ta = mach._ticks[:]
            if result is EXECUTED and handlers_on:
                fns = mach._table.get("AnyState")
                if (fns is not None or lvl >= _EVERY) and not self._call(
                    "AnyState", fns or (), K_ANY_STATE, "", ""
                ):
                    result = CANCELED
            if mach._on_change is not None:
                mach._on_change(mach, self.time_before, self.time_after)
            if result is CANCELED:
                self.is_accepted = False
            elif (
                changed
                and not is_auto
                and mach._auto_states
                and not mach._disposing
                and not self.is_health()
            ):
                auto = mach._resolver.new_auto_mutation()
                if auto:
                    if lvl >= _OPS:
                        mach._log(_OPS, "[auto] " + " ".join(auto))
                    mach._prepend_in_tx(Mutation(_ADD, auto, {}, is_auto=True))
        elif result is CANCELED:
            self.is_accepted = False

        if mach._pre_log:
            self.pre_log_entries = mach._take_pre_log()
        self.queue_len = len(mach._queue)
        self.is_completed = True
        if traced:
            for h in mach._hk_tx_end:
                h(self)
        if result is CANCELED or not self.is_accepted:
            return CANCELED
        if flat and mut.type != _REMOVE:
            return EXECUTED  # the precomputed target is exactly what was applied
        return self._final_result()

    def _resolve_auto_again(self) -> Plan | None:
        """An auto tx's target after negotiation: resolved again without the rejected states."""
        mach = self.machine
        mut = self.mutation
        cs = set(self.target)
        clean = [c for c in mut.called if c in cs]
        if mach._fast and len(clean) == len(mut.called):
            return None

        def second() -> Plan:
            self._called_set = set(mut.called)
            if self._rec_steps:
                # Go re-runs states_to_set(add, clean): its Set steps appear again too
                bset = self._before_set
                for c in clean:
                    if c not in bset:
                        self.steps.append(Step(StepType.SET, "", c))
            tgt = mach._resolver.target_states(self, [*clean, *mach._active])
            return Plan(tgt, True, [], *self._exits_enters(tgt))

        if mach._fast:
            # memoised second resolution (Add of rejected states dropped)
            key: Any = (self.before, tuple(clean), _ADD, True, 2)
            got = mach._plans.get(key)
            if got is None:
                got = second()
                _store(mach._plans, key, got)
            return got
        # Go resolves an auto tx twice: steps and logs appear twice, keep that
        self._called_set = set(mut.called)
        if not mach._memo:
            return second()
        rec = (self._rec_steps, self._rec_handlers)
        lvl = mach._log_level
        key = (self.before, tuple(clean), tuple(mut.called), "auto2", lvl, rec)
        return self._recorded(key, second)

    def _precompute_apply(self, plan: Plan) -> None:
        mach = self.machine
        idx = mach._idx
        removed, added, reticked = state_changes(
            self.before, self._before_set, plan.target, self.mutation.called, mach._schema, False
        )
        plan.deltas = (
            [(idx[s], 1) for s in removed]
            + [(idx[s], 1) for s in added]
            + [(idx[s], 2) for s in reticked]
        )
        plan.new_active = tuple(plan.target)
        plan.new_active_set = frozenset(plan.target)
        parts = changes_log(removed, added, reticked)
        plan.state_log = f"[state] {' '.join(parts)}" if parts else ""
        plan.applied = True

    def _final_result(self) -> Result:
        """The result of an accepted tx whose handlers all passed: did the states stick?"""
        mut = self.mutation
        if mut.is_check:
            return EXECUTED
        mach = self.machine
        active = mach._active_set
        if mut.type == _REMOVE:
            for c in mut.called:
                if c in active:
                    return CANCELED
            return EXECUTED
        if mut.is_auto:
            return EXECUTED if len(mach._active) > len(self.before) else CANCELED
        for s in self.target:
            if s not in active:
                return CANCELED
        return EXECUTED

    def _negotiate(self) -> Result:
        """The general (phase by phase) negotiation, incl. partial auto acceptance."""
        mach = self.machine
        schema = mach._schema
        mut = self.mutation
        is_auto = mut.is_auto
        get = mach._table.get
        every = mach._log_level >= _EVERY
        call = self._call
        # exits
        for s in self.exits:
            n = s + "Exit"
            fns = get(n)
            if (fns or every) and not call(n, fns or (), K_EXIT, s, ""):
                return CANCELED
        # enters
        for s in list(self.enters):
            n = s + "Enter"
            fns = get(n)
            if (fns or every) and not call(n, fns or (), K_ENTER, "", s):
                if is_auto and schema[s].auto and s in self.target:
                    self.target.remove(s)
                    continue
                return CANCELED
        # self
        if mut.type != _REMOVE:
            res = EXECUTED
            tgt = self.target
            bset = self._before_set
            i = 0
            while i < len(tgt):
                s = tgt[i]
                i += 1
                if s not in bset:
                    continue
                n = s + s
                fns = get(n)
                if not fns and not every:
                    continue
                ok = call(n, fns or (), K_SELF, "", s)
                res = EXECUTED if ok else CANCELED
                if not ok:
                    if is_auto and schema[s].auto:
                        tgt.remove(s)  # [quirk] the next element is skipped
                        continue
                    return CANCELED
            if res is CANCELED:
                return CANCELED  # [quirk] the last self handler's result wins
        # state-state
        plan = self._plan
        if is_auto and not every and mach._fast:
            # memoised per plan and handler table: only the pairs that have handlers
            if plan.auto_pairs is None or plan.flat_ver != mach._table_ver:
                plan.auto_pairs = [
                    (b + a, b, a)
                    for b in self.before
                    for a in plan.target
                    if a != b and (b + a) in mach._table
                ]
                plan.flat_ver = mach._table_ver
            tgt = self.target
            for n, b, a in plan.auto_pairs:
                if a not in tgt:
                    continue
                if not call(n, get(n, ()), K_PAIR, b, a):
                    if schema[a].auto:
                        tgt.remove(a)
                        continue
                    return CANCELED
        else:
            for b in self.before:
                for a in list(self.target) if is_auto else self.target:
                    if a == b:
                        continue
                    n = b + a
                    fns = get(n)
                    if not fns and not every:
                        continue
                    if is_auto and a not in self.target:
                        continue
                    if not call(n, fns or (), K_PAIR, b, a):
                        if is_auto and schema[a].auto:
                            self.target.remove(a)
                            continue
                        return CANCELED
        if is_auto and not self.target:
            return CANCELED
        fns = get("AnyEnter")
        if (fns or every) and not call("AnyEnter", fns or (), K_ANY_ENTER, "", ""):
            return CANCELED
        return EXECUTED

    def _call_flat(self, calls: list[tuple[str, int, str, str]]) -> bool:
        """Run a plan's pre-filtered handler calls in order; False at the first cancel."""
        table = self.machine._table
        call = self._call
        for name, kind, frm, to in calls:  # noqa: SIM110 (no generator on the hot path)
            if not call(name, table[name], kind, frm, to):
                return False
        return True

    def _finals(self) -> Result:
        mach = self.machine
        get = mach._table.get
        subs = mach._subs
        for s in self.exits:
            n = s + "End"
            if not self._call(n, get(n, ()), K_END, "", s):
                return CANCELED
        for s in self.enters:
            n = s + "State"
            if not self._call(n, get(n, ()), K_STATE, "", s):
                return CANCELED
            if subs.has_args_waiters:
                subs.on_handler_event(n, self)
        return EXECUTED

    def _recover_final_phase(self) -> bool:
        """Deactivate the state whose State handler failed and every later enter (spec §5.5)."""
        ps = self._panic_state
        self._panic_state = None
        if ps is None:
            return False
        kind, state = ps
        if kind != K_STATE or state not in self.enters:
            return False  # [quirk] failures in End handlers leave the target applied
        mach = self.machine
        drop = set(self.enters[self.enters.index(state) :])
        keep = [s for s in mach._active if s not in drop]
        if mach._log_level >= _OPS:
            mach._log(_OPS, f"[recover] partial final states as ({' '.join(keep)})")
        return mach._set_active_states((), keep, True, {})

    def _call(
        self,
        name: str,
        fns: tuple[tuple[Binding, HandlerFn], ...],
        kind: int,
        frm: str,
        to: str,
    ) -> bool:
        """Run every binding's handler ``name``; False = canceled (rejection, timeout, exception)."""
        mach = self.machine
        lvl = mach._log_level
        if lvl >= _EVERY:
            for b in mach._bindings:
                if name.startswith(b.prefix):
                    mach._log(_EVERY, f"[handle:{b.id}] {name}")
        if not fns:
            return True
        step = self._rec_handlers  # recorded once, after the first call (Go's order)
        ev = Event(name, mach, self, self.mutation.args)
        traced = mach._traced
        timeout = mach.handler_timeout
        for b, fn in fns:
            if lvl >= _OPS:
                mach._log(_OPS, f"[handler:{b.num}] {name}")
            if traced:
                for h in mach._hk_handler_start:
                    h(self, b.id, name)
            t0 = _perf()
            try:
                ret = fn(ev)
                if ret is not None and ret is not True and ret is not False and iscoroutine(ret):
                    ret.close()
                    raise AsyncHandlerError(
                        f"handler {name} of binding {b.id} returned a coroutine: declare it "
                        "async def (final handlers only) so that the machine runs it as a task"
                    )
            except Exception as err:
                if step:
                    self._handler_step(kind, frm, to)
                if not mach.panic_to_exception:
                    raise
                if traced:
                    for h in mach._hk_handler_end:
                        h(self, b.id, name)
                self._on_exception(err, name, kind, to)
                return False
            elapsed = _perf() - t0
            if step:
                step = False
                self._handler_step(kind, frm, to)
            if traced:
                for h in mach._hk_handler_end:
                    h(self, b.id, name)
            if lvl >= _EVERY:
                mach._log(_EVERY, f"[handler:end] {name} from {b.id}")
            if timeout and elapsed > timeout:
                if lvl >= _OPS:
                    mach._log(_OPS, f"[cancel] ({' '.join(self.target)}) by timeout")
                mach._err_internal.append(HandlerTimeoutError(f"{name} from {b.id}"))
                if kind >= K_END:
                    self._panic_state = (kind, to)
                return False
            if ret is False and kind < K_END:
                if lvl >= _OPS:
                    tag = "[cancel:self]" if kind == K_SELF else "[cancel]"
                    mach._log(_OPS, f"{tag} ({' '.join(self.target)}) by {name}")
                return False
        return True

    def _handler_step(self, kind: int, frm: str, to: str) -> None:
        H = StepType.HANDLER
        if kind == K_EXIT:
            st = Step(H, frm, "")
        elif kind == K_ENTER:
            st = Step(H, "", to, is_enter=True)
        elif kind == K_SELF:
            st = Step(H, "", to, is_self=True)
        elif kind == K_PAIR:
            st = Step(H, frm, to)
        elif kind == K_ANY_ENTER:
            st = Step(H, ANY, ANY, is_enter=True)
        elif kind == K_ANY_STATE:
            st = Step(H, ANY, ANY, is_final=True, is_enter=True)
        else:
            st = Step(H, "", to, is_final=True, is_enter=kind == K_STATE)
        self.steps.append(st)

    def _on_exception(self, err: Exception, name: str, kind: int, state: str) -> None:
        """A handler raised: recover into the Exception state (spec §5.5)."""
        mach = self.machine
        mut = self.mutation
        if kind >= K_END:
            self._panic_state = (kind, state)
        if EXCEPTION in mut.called:
            return  # no nesting
        mach._err = err
        trace = ""
        if mach.log_stack_trace:
            trace = "".join(traceback.format_exception(err))
        lvl = mach._log_level
        if lvl >= _OPS:
            mach._log(_OPS, "[recover] handling panic...")
            mach._log(_OPS, f"[cancel] ({' '.join(self.target)}) by recover")
        panic = ExceptionPanic(list(mut.called), list(self.before), self, name)
        args = {ARG_EXCEPTION: AException(err=err, err_trace=trace, panic=panic)}
        mach._prepend_in_tx(Mutation(_ADD, [EXCEPTION], args))

    def str(self) -> str:
        lines = [f"tx#{self.id}", self.mutation.string()]
        names = self.machine._names
        lines += [f"- {s.string_from_index(names)}" for s in self.steps]
        src = self.mutation.source
        if src is not None:
            lines.append(f"- source: {src.mach_id}/{src.tx_id}/{src.mach_time}")
        return "\n".join(lines)

    def __str__(self) -> builtins.str:
        return self.str()

    def __repr__(self) -> builtins.str:
        return f"Transition({self.mutation.string()!r}, accepted={self.is_accepted})"
