"""Mermaid and D2 of real recordings, read back: every state and relation of the schema, and
the transition overlay equal to what the transition's steps and clocks say (docs/diagrams.md)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from am_dbg.model.diagram import DiagramError, build, machine_diagram
from am_dbg.model.session import Session
from am_dbg.recordings.io import load
from am_dbg.vis.text import to_d2, to_mermaid
from tests.dbg.vis import parse

ROOT = Path(__file__).resolve().parents[3]
FILES = [ROOT / "recordings" / "demo.amdbg", ROOT / "tests" / "data" / "am-dbg-sim.gob.br"]


def _session(path: Path) -> Session:
    s = Session(clean_on_connect=False, max_mem_bytes=2**62)
    s.load(load(path).machines)
    return s


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name)
def session(request: pytest.FixtureRequest) -> Session:
    return _session(request.param)


def _schema_edges(h) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    out = set()
    for name, d in h.schema.states.items():
        for rel in ("require", "add", "remove", "after"):
            out |= {(name, dst, rel) for dst in getattr(d, rel)}
    return out


@pytest.mark.parametrize("fmt", ["mermaid", "d2"])
def test_every_state_and_relation(session: Session, fmt: str) -> None:
    render, read = (to_mermaid, parse.mermaid) if fmt == "mermaid" else (to_d2, parse.d2)
    seen_edges = 0
    for h in session.machines.values():
        got = read(render(machine_diagram(h, len(h) - 1 if len(h) else None)))
        assert sorted(got.names.values()) == sorted(h.state_names)
        assert got.edges == _schema_edges(h)
        seen_edges += len(got.edges)
        clocks = h.clocks(len(h) - 1) if len(h) else ()
        active = {n for k, n in enumerate(h.state_names) if k < len(clocks) and clocks[k] % 2}
        assert got.with_class("active") == active
        assert got.with_class("inactive") == set(h.state_names) - active
    assert seen_edges > 20


@pytest.mark.parametrize("fmt", ["mermaid", "d2"])
def test_overlay_matches_steps(session: Session, fmt: str) -> None:
    render, read = (to_mermaid, parse.mermaid) if fmt == "mermaid" else (to_d2, parse.d2)
    checked = 0
    for h in list(session.machines.values())[:12]:
        names = h.state_names
        for i in range(min(len(h), 40)):
            tx = h.tx(i)
            got = read(render(machine_diagram(h, i)))
            info = h.info(i)
            assert got.with_class("called") == {names[k] for k in tx.called}
            assert got.with_class("added") == {names[k] for k in info.added}
            assert got.with_class("removed") == {names[k] for k in info.removed}
            canceled = {
                names[s.from_idx if s.from_idx >= 0 else s.to_idx]
                for s in tx.steps
                if s.type & 64 and max(s.from_idx, s.to_idx) >= 0
            }
            assert got.with_class("canceled") == canceled
            rel = {0: "after", 1: "add", 2: "require", 3: "remove"}
            steps = {
                (names[s.from_idx], names[s.to_idx], rel[s.rel_type])
                for s in tx.steps
                if s.type & 1 and s.from_idx >= 0 and s.to_idx >= 0
            }
            # every relation step is a schema relation, drawn thick; nothing else is thick
            assert got.thick == steps & got.edges
            assert steps <= got.edges, steps - got.edges
            checked += bool(steps)
    assert checked > 0


def test_filters(session: Session) -> None:
    h = max(session.machines.values(), key=lambda h: len(_schema_edges(h)))
    edges = _schema_edges(h)
    src, dst, _ = sorted(edges)[0]
    near = machine_diagram(h, state=src, distance=1)
    names = {n.name for n in near.nodes}
    assert src in names and dst in names
    neighbours = {b for a, b, _ in edges if a == src} | {a for a, b, _ in edges if b == src}
    assert names == neighbours | {src}
    assert {n.name for n in machine_diagram(h, state=src, distance=0).nodes} == {src}
    touched = machine_diagram(h, len(h) - 1, touched_only=True)
    assert touched.overlay is not None
    assert {n.name for n in touched.nodes} <= touched.overlay.touched
    with pytest.raises(DiagramError, match="'NoSuchState'"):
        machine_diagram(h, state="NoSuchState")
    with pytest.raises(DiagramError, match="'nogroup'"):
        build(h.schema, group="nogroup")
    with pytest.raises(DiagramError, match="no transition"):
        machine_diagram(h, len(h) + 5)


def test_group_filter() -> None:
    """Neither fixture has schema groups: give one of its schemas a group."""
    h = next(iter(_session(FILES[0]).machines.values()))
    schema = replace(h.schema, groups={"Net": (0, 2, 3)}, groups_order=("Net",))
    got = {n.name for n in build(schema, group="Net").nodes}
    assert got == {h.state_names[k] for k in (0, 2, 3)}
