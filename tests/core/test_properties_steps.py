"""Property tests: steps and DECISIONS-level log lines of random schemas, against the spec's rules.

The reference below is written from the spec (relation resolution §4, handler order §5.2, steps
§13, log lines §11.2, auto states §6), not from am_core: every transition of a random mutation
sequence must record exactly the steps, and log exactly the resolution lines, that it derives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from am_core import Event, LogLevel, Machine, Relation, State, Step, StepType, Transition

from .test_properties import NAMES, SETTINGS, _Txs, schemas

REL, HANDLER, SET, REMOVE, RNA, REQUESTED, CANCEL = (
    StepType.RELATION,
    StepType.HANDLER,
    StepType.SET,
    StepType.REMOVE,
    StepType.REMOVE_NOT_ACTIVE,
    StepType.REQUESTED,
    StepType.CANCEL,
)
# the log lines relation resolution writes (§11.2), in the order they are written
RESOLUTION_TAGS = (
    "[add] ",
    "[remove] ",
    "[set] ",
    "[add:auto] ",
    "[implied] ",
    "[rel:remove] ",
    "[reject] ",
    "[reject:auto] ",
    "[cancel:reject] ",
)

S = tuple[Any, ...]


def _step(s: Step) -> S:
    return (s.type, s.from_state, s.to_state, s.rel_type, s.is_final, s.is_self, s.is_enter)


def st_(typ: StepType, frm: str = "", to: str = "", rel: Relation | None = None, **kw: bool) -> S:
    return (
        typ,
        frm,
        to,
        rel,
        kw.get("final", False),
        kw.get("self", False),
        kw.get("enter", False),
    )


@dataclass
class Ref:
    """Spec §4 / §13 for one machine: its parsed schema, names order and Require topology."""

    schema: dict[str, State]
    names: list[str]
    steps: list[S] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    topo: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # §1.5: DFS post-order over Require edges, in state-index order; a cycle: no topology
        graph = {n: list(self.schema[n].require) for n in self.names if self.schema[n].require}
        for reqs in list(graph.values()):
            for r in reqs:
                graph.setdefault(r, [])
        order: list[str] = []
        mark: dict[str, int] = {}

        def visit(v: str) -> bool:
            if mark.get(v) == 2:
                return True
            if mark.get(v) == 1:
                return False
            mark[v] = 1
            if not all(visit(r) for r in graph.get(v, ())):
                return False
            mark[v] = 2
            order.append(v)
            return True

        if all(visit(v) for v in [n for n in self.names if n in graph]):
            self.topo = {v: i for i, v in enumerate(order)}

    # -- §4 ------------------------------------------------------------------------------------
    def parse_add(self, states: list[str], before: list[str], typ: str, called: list[str]) -> list:
        out = list(states)
        for name in states:
            stt = self.schema[name]
            if name in before and not stt.multi:
                continue
            adds = [a for a in stt.add if not (typ == "remove" and a in called)]
            if not adds:
                continue
            self.steps += [st_(REL, name, a, Relation.ADD) for a in adds]
            self.steps += [st_(SET, "", a) for a in adds]
            out += adds
        return out

    def parse_require(self, states: list[str], called: list[str], auto: bool) -> list[str]:
        missing: dict[str, list[str]] = {}
        prev = -1
        while prev != len(states):
            prev = len(states)
            keep = []
            for x in states:
                miss = []
                for r in self.schema[x].require:
                    self.steps.append(st_(REL, x, r, Relation.REQUIRE))
                    if r not in states:
                        miss.append(r)
                        self.steps.append(st_(RNA, x, ""))
                        if x in called:
                            self.steps.append(st_(CANCEL, "", r))
                if miss:
                    missing[x] = miss
                else:
                    keep.append(x)
            states = keep
        if missing:
            order = sorted(missing, key=self.names.index)
            text = " ".join(f"{x}(-{' -'.join(missing[x])})" for x in order)
            self.logs.append(("[reject:auto] " if auto else "[reject] ") + text)
        return states

    def sort(self, states: list[str]) -> None:
        states.sort(key=lambda n: self.topo.get(n, -1))
        for i in range(1, len(states)):
            j = i
            while j > 0:
                x, y = states[j], states[j - 1]
                if y in self.schema[x].after:
                    self.steps.append(st_(REL, y, x, Relation.AFTER))
                    break
                if x not in self.schema[y].after:
                    break
                self.steps.append(st_(REL, x, y, Relation.AFTER))
                states[j], states[j - 1] = y, x
                j -= 1

    def target(
        self, to_set: list[str], before: list[str], typ: str, called: list[str], auto: bool
    ) -> list[str]:
        s = list(dict.fromkeys(to_set))
        s = list(dict.fromkeys(self.parse_add(s, before, typ, called)))
        s = self.parse_require(s, called, auto)
        blocked: set[str] = set()
        kept: list[str] = []
        for name in reversed(s):
            blockers = [b for b in s if name in self.schema[b].remove]
            self.steps += [st_(REL, b, name, Relation.REMOVE) for b in blockers]
            blockers = [b for b in blockers if b not in blocked]
            if blockers:
                blocked.add(name)
                self.logs.append(f"[rel:remove] {name} by {' '.join(blockers)}")
                self.steps.append(st_(REMOVE if name in before else RNA, "", name))
                continue
            kept.append(name)
        to_remove = {r for n in kept for r in self.schema[n].remove}
        kept = list(
            dict.fromkeys(
                n for n in self.parse_add(kept, before, typ, called) if n not in to_remove
            )
        )
        out = self.parse_require(list(reversed(kept)), called, auto)
        self.sort(out)
        return out

    def states_to_set(self, typ: str, called: list[str], before: list[str]) -> list[str]:
        if typ == "remove":
            self.steps += [st_(REMOVE, "", c) for c in called]
            return [s for s in before if s not in called]
        self.steps += [st_(SET, "", c) for c in called if c not in before]
        if typ == "add":
            return [*called, *before]
        self.steps += [st_(REMOVE, "", s) for s in before if s not in called]
        return list(called)

    # -- one transition --------------------------------------------------------------------------
    def transition(
        self,
        typ: str,
        called: list[str],
        before: list[str],
        auto: bool,
        any_handlers: bool,
        check: bool = False,
        reject: frozenset[str] = frozenset(),
    ) -> tuple[list[str], bool]:
        """Record the steps and resolution logs of a tx whose bound handlers are ``AnyEnter`` /
        ``AnyState`` (``any_handlers``) and ``XEnter`` returning False for X in ``reject``;
        returns (target, still accepted after negotiation)."""
        self.steps, self.logs = [], []
        self.logs.append(
            f"[{typ}:auto] {' '.join(called)}" if auto else f"[{typ}] {' '.join(called)}"
        )
        self.steps += [st_(REQUESTED, "", c) for c in called]
        to_set = self.states_to_set(typ, called, before)
        tgt = self.target(to_set, before, typ, called, auto)
        implied = [n for n in tgt if n not in to_set]
        if implied:
            self.logs.append("[implied] " + " ".join(implied))
        accepted = True
        if typ != "remove":
            not_acc = [c for c in called if c not in tgt]
            # §4.1: partial auto acceptance; [quirk] a check calling a multi state is accepted
            partial = auto and len(not_acc) < len(called)
            multi_check = check and any(self.schema[c].multi for c in called)
            if not_acc and not partial and not multi_check:
                accepted = False
                self.logs.append("[cancel:reject] " + " ".join(not_acc))
                self.steps += [st_(CANCEL, "", c) for c in not_acc]
        ok = accepted
        if accepted:
            exits = [s for s in before if s not in tgt]
            self.sort(exits)
            enters = [
                s
                for s in tgt
                if s not in before or (not auto and s in called and self.schema[s].multi)
            ]
            tgt = list(tgt)
            for s in enters:  # §5.2: the Enter phase (no Exit / self / state-state handlers)
                if s not in reject:
                    continue
                self.steps.append(st_(HANDLER, "", s, enter=True))
                if auto and self.schema[s].auto:
                    tgt.remove(s)  # partial auto acceptance: only this state is dropped
                    continue
                ok = False
                break
            if ok and auto and not tgt:
                ok = False
            if ok and any_handlers:
                self.steps.append(st_(HANDLER, "Any", "Any", enter=True))
        if auto:
            # §13: an auto tx resolves again (from the surviving called states)
            clean = [c for c in called if c in tgt]
            self.steps += [st_(SET, "", c) for c in clean if c not in before]
            tgt = self.target([*clean, *before], before, "add", called, auto)
            self.sort([s for s in before if s not in tgt])
        if ok and any_handlers and not check:
            self.steps.append(st_(HANDLER, "Any", "Any", final=True, enter=True))
        return tgt, ok


class AnyHandlers:
    def AnyEnter(self, e: Event) -> None:
        pass

    def AnyState(self, e: Event) -> None:
        pass


def _resolution_lines(tx: Transition) -> list[str]:
    return [e.text for e in tx.log_entries if e.text.startswith(RESOLUTION_TAGS)]


def _state_line(
    before: list[str], after: list[str], called: list[str], auto: bool, schema: Any
) -> str:
    removed = [s for s in before if s not in after]
    added = [s for s in after if s not in before]
    if not auto:
        added += [s for s in after if s in before and s in called and schema[s].multi]
    parts = [f"+{s}" for s in added] + [f"-{s}" for s in removed]
    return f"[{'auto_' if auto else 'state'}] {' '.join(parts)}" if parts else ""


@st.composite
def sparse_schemas(draw: Any) -> dict[str, State]:
    """Fewer relations and more auto states than test_properties' schemas: more txs activate
    something, so auto txs, partial acceptance and implied states show up often."""
    one = st.lists(st.sampled_from(NAMES), max_size=1)
    two = st.lists(st.sampled_from(NAMES), max_size=2, unique=True)
    out: dict[str, State] = {}
    for n in NAMES:
        require = draw(one)
        out[n] = State(
            auto=draw(st.booleans()),
            multi=draw(st.integers(0, 3)) == 0,
            require=require,
            add=draw(two),
            remove=[r for r in draw(one) if r not in require],
            after=draw(one),
        )
    return out


ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "set", "toggle", "can_add", "can_remove"]),
        st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
    ),
    min_size=1,
    max_size=10,
)


@st.composite
def schema_and_rejects(draw: Any) -> tuple[dict[str, State], frozenset[str]]:
    """A schema and the states whose Enter handler refuses: mostly auto ones, whose refusals
    are partial acceptance in auto txs (§5.2), plus any other state."""
    schema = draw(st.one_of(schemas(), sparse_schemas()))
    autos = [n for n in NAMES if schema[n].auto]
    picked = draw(st.lists(st.sampled_from(autos), max_size=2)) if autos else []
    other = draw(st.lists(st.sampled_from(NAMES), max_size=1))
    return schema, frozenset(picked + other)


@settings(SETTINGS, max_examples=200)
@given(schema_and_rejects(), ops, st.booleans())
def test_steps_and_decisions_logs_follow_the_spec(
    schema_rejects: tuple[dict[str, State], frozenset[str]],
    muts: list[tuple[str, list[str]]],
    any_handlers: bool,
) -> None:
    schema, reject = schema_rejects
    m = Machine(schema, id="steps", log_level=LogLevel.DECISIONS)
    m.semlogger().set_logger(lambda lvl, msg: None)
    m.semlogger().enable_steps(True)
    m.semlogger().enable_can(True)  # checks record all their steps too (§13)
    if any_handlers:
        m.handlers_bind(AnyHandlers(), id="any")
    if reject:
        m.handlers_bind_maps({f"{x}Enter": lambda e: False for x in reject}, id="rejects")
    txs = _Txs()
    m.tracer_bind(txs)
    ref = Ref(m.schema(), m.state_names())
    for typ, called in muts:
        n = len(txs.all)
        getattr(m, typ)(called)
        for tx in txs.all[n:]:
            mut = tx.mutation
            before = tx.states_before()
            got_tgt, accepted = ref.transition(
                str(mut.type),
                list(mut.called),
                before,
                mut.is_auto,
                any_handlers,
                mut.is_check,
                reject,
            )
            ctx = f"{mut.string()} before={before} auto={mut.is_auto} check={mut.is_check}"
            assert [_step(s) for s in tx.steps] == ref.steps, ctx
            assert _resolution_lines(tx) == ref.logs, ctx
            assert tx.is_accepted == accepted, ctx
            texts = [e.text for e in tx.log_entries]
            line = _state_line(before, got_tgt, list(mut.called), mut.is_auto, ref.schema)
            if accepted:
                assert tx.target_states() == got_tgt, ctx
            if accepted and not mut.is_check:
                assert [t for t in texts if t.startswith(("[state]", "[auto_]"))] == (
                    [line] if line else []
                ), ctx
            else:
                assert not any(t.startswith(("[state]", "[auto_]")) for t in texts), ctx
            # §6 / §11.2: an auto mutation is announced, prepended and postponed, then runs
            autos = [t for t in texts if t.startswith("[auto] ")]
            if autos:
                (auto_line,) = autos
                states = auto_line[len("[auto] ") :]
                i = texts.index(auto_line)
                assert texts[i + 1 : i + 3] == [
                    f"[prepend:add] {states}",
                    "[postpone] queue running (1 item)",
                ], ctx
                nxt = txs.all[txs.all.index(tx) + 1]
                assert nxt.mutation.is_auto and " ".join(nxt.mutation.called) == states, ctx
