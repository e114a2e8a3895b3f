"""A machine's relation graph at one moment, and the network of machines (docs/diagrams.md).

Pure data, no Textual: the renderers in `am_dbg.vis` (Mermaid, D2, DOT/SVG, terminal) and the
am-dbg diagram view all draw a `Diagram`. Nodes are the schema's states with their status after
transition `i` (active / multi / auto / error); edges are the schema's relations; a transition's
steps are overlaid (called, added, removed, canceled-by, and the relation steps it resolved).
Filters as in asyncmachine-go's am-vis: a group, a distance from a state, only what the
transition touched.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from am_dbg.errors import DbgError
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

if TYPE_CHECKING:
    from am_dbg.model.history import MachineHistory
    from am_dbg.model.session import Session

__all__ = [
    "RELATIONS",
    "Diagram",
    "DiagramError",
    "Edge",
    "Link",
    "Network",
    "Node",
    "Overlay",
    "build",
    "machine_diagram",
    "network",
]

Rel = Literal["require", "add", "remove", "after"]
RELATIONS: tuple[Rel, ...] = ("require", "add", "remove", "after")
# Step.rel_type (am_core.types.Relation) -> relation name
_REL_OF_STEP: dict[int, Rel] = {0: "after", 1: "add", 2: "require", 3: "remove"}
_STEP_RELATION, _STEP_CANCEL = 1, 64
_PIPE = re.compile(r"^\[pipe-(in|out):(add|remove)\]\s+(\S+)\s+(?:from|to)\s+(\S+)\s*$")


class DiagramError(DbgError, ValueError):
    """A filter names a state or group the schema does not have, or a bad transition index."""


@dataclass(frozen=True, slots=True)
class Node:
    """One state; `active` etc. describe the moment the diagram was built for."""

    name: str
    active: bool = False
    multi: bool = False
    auto: bool = False
    error: bool = False  # `Exception` or an `Err*` state
    tick: int = 0


@dataclass(frozen=True, slots=True)
class Edge:
    """A relation of the schema: `src` <rel> `dst` (e.g. Ready require Connected)."""

    src: str
    dst: str
    rel: Rel


@dataclass(frozen=True, slots=True)
class Overlay:
    """What one transition did, by state name; `edges`: relation steps it resolved."""

    tx_index: int
    tx_id: str
    called: frozenset[str] = frozenset()
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    canceled_by: frozenset[str] = frozenset()
    accepted: bool = True
    edges: frozenset[Edge] = frozenset()

    @property
    def touched(self) -> frozenset[str]:
        names = self.called | self.added | self.removed | self.canceled_by
        return names.union(*({e.src, e.dst} for e in self.edges))


@dataclass(frozen=True, slots=True)
class Diagram:
    """Nodes in schema order, edges in schema order, and an optional transition overlay."""

    mach_id: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    overlay: Overlay | None = None
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise DiagramError(f"no state {name!r} in the diagram of {self.mach_id!r}")


def _is_error(name: str) -> bool:
    return name == "Exception" or (name.startswith("Err") and name[3:4].isupper())


def _edges(schema: SchemaMsg) -> list[Edge]:
    out: list[Edge] = []
    for name in schema.states_index:
        d = schema.states.get(name)
        if d is None:
            continue
        for rel in RELATIONS:
            out.extend(Edge(name, dst, rel) for dst in getattr(d, rel))
    return out


def _overlay(schema: SchemaMsg, tx: TxMsg, i: int, prev: Sequence[int]) -> Overlay:
    names = schema.states_index

    def name(k: int) -> str | None:
        return names[k] if 0 <= k < len(names) else None

    def active(c: Sequence[int], k: int) -> bool:
        return k < len(c) and c[k] % 2 == 1

    added, removed = set(), set()
    for k, n in enumerate(names):
        now, was = active(tx.clocks, k), active(prev, k)
        tick_now = tx.clocks[k] if k < len(tx.clocks) else 0
        tick_was = prev[k] if k < len(prev) else 0
        if now and (not was or tick_now != tick_was):
            added.add(n)
        elif was and not now:
            removed.add(n)
    edges, canceled = set(), set()
    for s in tx.steps:
        src, dst = name(s.from_idx), name(s.to_idx)
        if s.type & _STEP_RELATION and src and dst:
            edges.add(Edge(src, dst, _REL_OF_STEP.get(s.rel_type, "after")))
        if s.type & _STEP_CANCEL and (src or dst):
            canceled.add(src or dst or "")
    called = frozenset(c for k in tx.called if (c := name(k)))
    return Overlay(
        i,
        tx.id,
        called,
        frozenset(added),
        frozenset(removed),
        frozenset(canceled),
        tx.accepted,
        frozenset(edges),
    )


def build(
    schema: SchemaMsg,
    clocks: Sequence[int] = (),
    *,
    overlay: Overlay | None = None,
    group: str | None = None,
    state: str | None = None,
    distance: int | None = None,
    touched_only: bool = False,
) -> Diagram:
    """The diagram of `schema` with the states' status from `clocks` (machine time), filtered.

    `group`: only the states of that schema group; `state` + `distance`: only states within
    `distance` relation hops of `state` (either direction; no distance = 1); `touched_only`:
    only what `overlay`'s transition touched. Unknown names raise `DiagramError` naming them.
    """
    names = schema.states_index
    keep = set(names)
    if group is not None:
        if group not in schema.groups:
            known = ", ".join(schema.groups) or "none"
            raise DiagramError(f"no group {group!r} in {schema.id!r} (groups: {known})")
        keep &= {names[k] for k in schema.groups[group] if 0 <= k < len(names)}
    edges = _edges(schema)
    if state is not None:
        if state not in names:
            raise DiagramError(f"no state {state!r} in {schema.id!r}")
        keep &= _near(state, edges, 1 if distance is None else distance)
    elif distance is not None:
        raise DiagramError("--distance needs --state")
    if touched_only:
        if overlay is None:
            raise DiagramError("only-touched needs a transition (mach://ID/tN)")
        keep &= overlay.touched
    nodes = []
    for k, n in enumerate(names):
        if n not in keep:
            continue
        d = schema.states.get(n)
        tick = clocks[k] if k < len(clocks) else 0
        multi, auto = (d.multi, d.auto) if d else (False, False)
        nodes.append(Node(n, tick % 2 == 1, multi, auto, _is_error(n), tick))
    kept = tuple(e for e in edges if e.src in keep and e.dst in keep)
    groups = {
        g: tuple(names[k] for k in idx if 0 <= k < len(names) and names[k] in keep)
        for g, idx in schema.groups.items()
    }
    return Diagram(schema.id, tuple(nodes), kept, overlay, groups)


def _near(state: str, edges: Iterable[Edge], distance: int) -> set[str]:
    adj: dict[str, set[str]] = {}
    for e in edges:
        adj.setdefault(e.src, set()).add(e.dst)
        adj.setdefault(e.dst, set()).add(e.src)
    seen = {state: 0}
    todo = deque([state])
    while todo:
        cur = todo.popleft()
        if seen[cur] >= distance:
            continue
        for nxt in adj.get(cur, ()):
            if nxt not in seen:
                seen[nxt] = seen[cur] + 1
                todo.append(nxt)
    return set(seen)


def machine_diagram(
    hist: MachineHistory,
    i: int | None = None,
    *,
    with_overlay: bool = True,
    group: str | None = None,
    state: str | None = None,
    distance: int | None = None,
    touched_only: bool = False,
) -> Diagram:
    """The diagram of a machine after its transition `i` (None: the schema alone, all inactive)."""
    overlay = None
    clocks: Sequence[int] = ()
    if i is not None:
        n = len(hist)
        if not -n <= i < n:
            raise DiagramError(f"{hist.id!r} has no transition {i} (it has {n})")
        i %= n
        clocks = hist.clocks(i)
        if with_overlay:
            prev = hist.clocks(i - 1) if i else ()
            overlay = _overlay(hist.schema, hist.tx(i), i, prev)
    return build(
        hist.schema,
        clocks,
        overlay=overlay,
        group=group,
        state=state,
        distance=distance,
        touched_only=touched_only,
    )


LinkKind = Literal["parent", "pipe"]


@dataclass(frozen=True, slots=True)
class Link:
    """`src` -> `dst` between machines: a parent of a child, or a pipe (label: the state)."""

    src: str
    dst: str
    kind: LinkKind
    label: str = ""


@dataclass(frozen=True, slots=True)
class Network:
    """Every machine of a session and how they are linked."""

    machines: tuple[str, ...]
    links: tuple[Link, ...]
    errors: dict[str, int]  # machine -> transitions after which an error state is active


def network(session: Session) -> Network:
    """Parent/child links from the schemas and pipes from the machines' logs."""
    ids = tuple(session.machines)
    links: dict[Link, None] = {}
    for mid, h in session.machines.items():
        if h.parent_id and h.parent_id in session.machines:
            links[Link(h.parent_id, mid, "parent")] = None
    for mid, h in session.machines.items():
        for i in range(len(h)):
            for entry in h.log_entries(i):
                m = _PIPE.match(entry.text)
                if m is None or m[2] != "add":
                    continue
                direction, st, other = m[1], m[3], m[4]
                if other not in session.machines:
                    continue
                src, dst = (other, mid) if direction == "in" else (mid, other)
                links[Link(src, dst, "pipe", st)] = None
    return Network(ids, tuple(links), {m: len(h.errors) for m, h in session.machines.items()})
