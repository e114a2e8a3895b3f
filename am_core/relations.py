"""Relation resolution (spec §4): target states from Add/Require/Remove, sorting by Require/After."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import StateMissingError
from .types import LogLevel, MutationType, Relation, Schema, Step, StepType

if TYPE_CHECKING:
    from .machine import Machine
    from .transition import Transition

_REL = StepType.RELATION
_ADD = Relation.ADD
_REQ = Relation.REQUIRE
_RM = Relation.REMOVE
_AFTER = Relation.AFTER
_OPS = int(LogLevel.OPS)
_DEC = int(LogLevel.DECISIONS)
_EVERY = int(LogLevel.EVERYTHING)
_REMOVE = MutationType.REMOVE


def _uniq(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class DefaultResolver:
    """The reference resolver. Deterministic where Go is not (state-index order)."""

    def __init__(self, mach: Machine) -> None:
        self.mach = mach
        self.topology: dict[str, int] = {}

    # -- schema
    def new_schema(self, schema: Schema, names: list[str]) -> None:
        """Topologically sort the Require graph (DFS post-order, state-index order)."""
        graph: dict[str, list[str]] = {}
        for n in names:
            st = schema.get(n)
            if st is None or not st.require:
                continue
            graph.setdefault(n, [])
            for r in st.require:
                graph[n].append(r)
                graph.setdefault(r, [])
        order: list[str] = []
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(v: str) -> bool:
            st = state.get(v, 0)
            if st == 2:
                return True
            if st == 1:
                self.mach._log(
                    LogLevel.CHANGES,
                    f"[resolver] relation error: state {v} has a Require cycle for {self.mach.id}",
                )
                return False
            state[v] = 1
            for r in graph.get(v, ()):
                if not visit(r):
                    return False
            state[v] = 2
            order.append(v)
            return True

        roots = [n for n in names if n in graph] + [n for n in graph if n not in schema]
        for v in roots:
            if not visit(v):
                return  # topology stays the previous one
        self.topology = {v: i for i, v in enumerate(order)}

    # -- resolution
    def target_states(self, tx: Transition, states_to_set: list[str]) -> list[str]:
        mach = self.mach
        schema = mach._schema
        rec = tx._rec_steps
        lvl = mach._log_level
        s = _uniq([n for n in states_to_set if n in schema])
        s = _uniq(self._parse_add(tx, s))
        s = self._parse_require(tx, s)

        active = tx._before_set
        blocked: set[str] = set()
        kept: list[str] = []
        for name in reversed(s):
            blockers = [b for b in s if name in schema[b].remove]
            if rec:
                # Go records every blocking relation, also of states blocked themselves
                for b in blockers:
                    tx.steps.append(Step(_REL, b, name, _RM))
            if blocked and blockers:
                blockers = [b for b in blockers if b not in blocked]
            if blockers:
                blocked.add(name)
                if rec:
                    tx.steps.append(
                        Step(
                            StepType.REMOVE if name in active else StepType.REMOVE_NOT_ACTIVE,
                            "",
                            name,
                        )
                    )
                if lvl >= _OPS:
                    level = _OPS if name in active else _DEC
                    mach._log(level, f"[rel:remove] {name} by {' '.join(blockers)}")
                continue
            kept.append(name)
        to_remove: set[str] = set()
        for n in kept:
            to_remove.update(schema[n].remove)
        kept = _uniq([n for n in self._parse_add(tx, kept) if n not in to_remove])
        kept.reverse()
        target = self._parse_require(tx, kept)
        self.sort_states(target, tx)
        return target

    def _parse_add(self, tx: Transition, states: list[str]) -> list[str]:
        schema = self.mach._schema
        before = tx._before_set
        is_remove = tx.mutation.type == _REMOVE
        called = tx._called_set
        rec = tx._rec_handlers  # [quirk] checks record Add steps even with `can` off
        out = list(states)
        for name in states:
            st = schema[name]
            if not st.add or (name in before and not st.multi):
                continue
            adds = [a for a in st.add if a in schema and not (is_remove and a in called)]
            if not adds:
                continue
            out += adds
            if rec:
                for a in adds:
                    tx.steps.append(Step(_REL, name, a, _ADD))
                for a in adds:
                    tx.steps.append(Step(StepType.SET, "", a))
        return out

    def _parse_require(self, tx: Transition, states: list[str]) -> list[str]:
        schema = self.mach._schema
        rec = tx._rec_steps
        called = tx._called_set
        missing: dict[str, list[str]] = {}
        prev_len = -1
        while prev_len != len(states):
            prev_len = len(states)
            present = set(states)
            keep: list[str] = []
            for x in states:
                req = schema[x].require
                if not req:
                    keep.append(x)
                    continue
                miss: list[str] = []
                for r in req:
                    if rec:
                        tx.steps.append(Step(_REL, x, r, _REQ))
                    if r not in present:
                        miss.append(r)
                        if rec:
                            # per missing requirement, right after its relation step (as Go)
                            tx.steps.append(Step(StepType.REMOVE_NOT_ACTIVE, x, ""))
                            if x in called:
                                tx.steps.append(Step(StepType.CANCEL, "", r))
                if miss:
                    missing[x] = miss
                else:
                    keep.append(x)
            states = keep
        if missing and self.mach._log_level >= _OPS:
            idx = self.mach._idx
            names = sorted(missing, key=lambda n: idx.get(n, -1))
            text = " ".join(f"{x}(-{' -'.join(missing[x])})" for x in names)
            if tx.is_auto():
                self.mach._log(_DEC, "[reject:auto] " + text)
            else:
                self.mach._log(_OPS, "[reject] " + text)
        return states

    def sort_states(self, states: list[str], tx: Transition | None = None) -> None:
        """Stable sort by Require topology (-1 first), then Go's insertion sort on After."""
        if len(states) < 2:
            return
        topo = self.topology
        if topo:
            states.sort(key=lambda n: topo.get(n, -1))
        schema = self.mach._schema
        rec = tx is not None and tx._rec_steps
        # only states with After relations can move
        if not any(schema[n].after for n in states if n in schema):
            return
        for i in range(1, len(states)):
            j = i
            while j > 0:
                x, y = states[j], states[j - 1]
                sx, sy = schema[x], schema[y]
                if y in sx.after:
                    less = False
                    if rec and tx is not None:
                        tx.steps.append(Step(_REL, y, x, _AFTER))
                elif x in sy.after:
                    less = True
                    if rec and tx is not None:
                        tx.steps.append(Step(_REL, x, y, _AFTER))
                else:
                    less = False
                if not less:
                    break
                states[j], states[j - 1] = y, x
                j -= 1

    # -- auto
    def new_auto_mutation(self) -> list[str]:
        """Inactive auto states not blocked by an active state's Remove, in state-index order."""
        mach = self.mach
        memo = mach._log_level < _EVERY
        if memo:
            # depends only on the active states (and the schema, which clears the memo)
            key = ("auto", mach._active)
            got = mach._plans.get(key)
            if got is not None:
                return list(got)
        schema = mach._schema
        active = mach._active_set
        out: list[str] = []
        for name in mach._auto_states:
            if name in active:
                continue
            blockers = [a for a in mach._active if name in schema[a].remove]
            if blockers:
                if mach._log_level >= _EVERY:
                    mach._log(_EVERY, f"[auto:rel:remove] {name} by {' '.join(blockers)}")
                continue
            out.append(name)
        if memo:
            mach._plans[key] = tuple(out)
        return out

    # -- introspection
    def _state(self, name: str) -> Any:
        st = self.mach._schema.get(name)
        if st is None:
            raise StateMissingError(f"{name} not defined in schema for {self.mach.id}")
        return st

    def relations_of(self, state: str) -> list[Relation]:
        st = self._state(state)
        out: list[Relation] = []
        if st.add:
            out.append(Relation.ADD)
        if st.require:
            out.append(Relation.REQUIRE)
        if st.remove:
            out.append(Relation.REMOVE)
        if st.after:
            out.append(Relation.AFTER)
        return out

    def relations_between(self, a: str, b: str) -> list[Relation]:
        st = self._state(a)
        self._state(b)
        out: list[Relation] = []
        if b in st.add:
            out.append(Relation.ADD)
        if b in st.require:
            out.append(Relation.REQUIRE)
        if b in st.remove:
            out.append(Relation.REMOVE)
        if b in st.after:
            out.append(Relation.AFTER)
        return out

    def inbound_relations_of(self, state: str) -> list[str]:
        """States which have any relation pointing at ``state``."""
        self._state(state)
        out: list[str] = []
        for n, st in self.mach._schema.items():
            if state in st.add or state in st.require or state in st.remove or state in st.after:
                out.append(n)
        return out
