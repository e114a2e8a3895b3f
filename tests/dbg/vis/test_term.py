"""The terminal layout: every state gets a box, no two boxes overlap, every edge path runs from
its source's right side to an arrowhead at its target's left side, and lines never cross a box."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from am_dbg.model.diagram import build, machine_diagram
from am_dbg.model.session import Session
from am_dbg.recordings.io import load
from am_dbg.vis.term import TermLayout

ROOT = Path(__file__).resolve().parents[3]


def _bench_module(name: str) -> Any:
    """A bench script as a module, loaded by path: putting bench/ on sys.path would shadow
    libraries by the scripts' names (bench/nats.py hid nats-py from every later test)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


schema = _bench_module("diagrams").schema


def _check(lay: TermLayout, names: set[str]) -> None:
    assert set(lay.boxes) == names
    cells: dict[tuple[int, int], str] = {}
    for n, (top, left, w) in lay.boxes.items():
        assert lay.lines[top + 1][left + 1 : left + 1 + len(n)] == n
        for y in range(top, top + 3):
            for x in range(left, left + w):
                assert (y, x) not in cells, f"{n} overlaps {cells[(y, x)]}"
                cells[(y, x)] = n
    for e, runs in lay.paths.items():
        stop, sleft, sw = lay.boxes[e.src]
        dtop, dleft, _ = lay.boxes[e.dst]
        covered = {(y, x) for y, a, b in runs for x in range(a, b)}
        assert (stop + 1, sleft + sw) in covered  # leaves the source's right side
        assert (dtop + 1, dleft - 1) in covered  # reaches the target's arrowhead
        assert lay.lines[dtop + 1][dleft - 1] == "▶"
        hit = covered & cells.keys()
        assert not hit, f"{e} crosses a box at {sorted(hit)[:3]}"


@pytest.mark.parametrize("n", [10, 100])
def test_synthetic(n: int) -> None:
    sc = schema(n)
    d = build(sc)
    _check(TermLayout.of(d), set(sc.states_index))


def test_demo_machines_and_overlay_styles() -> None:
    s = Session(clean_on_connect=False, max_mem_bytes=2**62)
    s.load(load(ROOT / "recordings" / "demo.amdbg").machines)
    for h in s.machines.values():
        d = machine_diagram(h, len(h) - 1 if len(h) else None)
        lay = TermLayout.of(d)
        _check(lay, set(h.state_names))
    h = s.machines["editor"]
    d = machine_diagram(h, len(h) - 1)
    lay = TermLayout.of(d)
    assert d.overlay is not None
    called = sorted(d.overlay.called)[0]
    top, left, _ = lay.boxes[called]
    runs = [r for r in lay.styles(d) if r.row == top and r.x0 == left]
    assert any("blue" in r.style for r in runs)  # the called state's border is lit
    plain = lay.styles(machine_diagram(h, len(h) - 1, with_overlay=False))
    assert not any(r.row == top and r.x0 == left and "blue" in r.style for r in plain)
