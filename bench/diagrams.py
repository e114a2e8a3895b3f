"""Diagram layout and drawing time for 10, 50 and 200 states (run: python bench/diagrams.py).

Synthetic schemas (seeded): every state has 0-2 requires, ~1/3 an add, ~1/4 a remove, ~1/10 an
after, all to random other states. Measured (best of several rounds, CPU time of this process):

- terminal layout: `TermLayout.of` (once per schema in am-dbg);
- terminal cursor move: what the diagram pane does per cursor move: build the diagram of that
  moment (states' status + overlay), the colour runs, and the segments of 50 visible rows;
- SVG: the DOT text plus Graphviz's `dot -Tsvg` (skipped without Graphviz);
- Mermaid text.

Prints ms per operation and the cursor move's ratio to the 30 ms target (docs/diagrams.md).
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.style import Style

from am_dbg.model.diagram import Overlay, build
from am_dbg.ui.diagram_view import row_segments
from am_dbg.vis.svg import to_svg
from am_dbg.vis.term import TermLayout
from am_dbg.vis.text import to_mermaid
from am_rpc.dbg.protocol import SchemaMsg, StateDef

CLOCK = time.process_time
TARGET_MS = 30.0


def schema(n: int, seed: int = 1) -> SchemaMsg:
    rnd = random.Random(seed)
    names = [f"State{k:03d}" for k in range(n)]
    states = {}
    for k, name in enumerate(names):
        others = names[:k] + names[k + 1 :]

        def pick(p: float, others: list[str] = others) -> tuple[str, ...]:
            return (rnd.choice(others),) if rnd.random() < p and others else ()

        states[name] = StateDef(
            auto=rnd.random() < 0.1,
            multi=rnd.random() < 0.1,
            require=tuple(rnd.sample(others, rnd.randint(0, min(2, len(others))))),
            add=pick(1 / 3),
            remove=pick(1 / 4),
            after=pick(1 / 10),
        )
    return SchemaMsg(id=f"bench-{n}", states_index=tuple(names), states=states)


def best(
    fn: Callable[[], object], rounds: int, inner: int, clock: Callable[[], float] = CLOCK
) -> float:
    """Best ms per call over `rounds` rounds of `inner` calls."""
    out = float("inf")
    for _ in range(rounds):
        t = clock()
        for _ in range(inner):
            fn()
        out = min(out, (clock() - t) / inner * 1000)
    return out


def measure(n: int, has_dot: bool) -> tuple[int, float, float, float, float]:
    """(edges, layout ms, cursor move ms, svg ms, mermaid ms) for a schema of `n` states."""
    sc = schema(n)
    rnd = random.Random(n)
    base = build(sc)
    lay = TermLayout.of(base)
    moments = []
    for _ in range(20):
        clocks = [rnd.randint(0, 5) for _ in range(n)]
        names = [frozenset([x]) for x in rnd.sample(sc.states_index, min(4, n))]
        edges = frozenset(rnd.sample(base.edges, min(5, len(base.edges))))
        moments.append((clocks, Overlay(0, "x", *names, True, edges)))  # type: ignore[arg-type]
    k = [0]
    styles: dict[str, Style] = {}

    def move() -> None:
        clocks, ov = moments[k[0] % len(moments)]
        k[0] += 1
        d = build(sc, clocks, overlay=ov)
        rows: dict[int, list[tuple[int, int, Style]]] = {}
        for r in lay.styles(d):
            st = styles.get(r.style) or styles.setdefault(r.style, Style.parse(r.style))
            rows.setdefault(r.row, []).append((r.x0, r.x1, st))
        for y in range(min(50, len(lay.lines))):
            row_segments(lay.lines[y].ljust(lay.width), rows.get(y, ()))

    t_layout = best(lambda: TermLayout.of(base), 3, 1 if n > 50 else 5)
    t_move = best(move, 5, 10)
    # dot runs in a child process: wall time, not this process's CPU time
    t_svg = best(lambda: to_svg(base), 3, 1, time.perf_counter) if has_dot else float("nan")
    t_mm = best(lambda: to_mermaid(base), 3, 20)
    return len(base.edges), t_layout, t_move, t_svg, t_mm


def main() -> None:
    has_dot = shutil.which("dot") is not None
    print(
        f"{'states':>6} {'edges':>6} {'term layout':>12} {'term move':>10} {'svg':>9} {'mermaid':>8}"
    )
    move50 = 0.0
    for n in (10, 50, 200):
        edges, t_layout, t_move, t_svg, t_mm = measure(n, has_dot)
        print(
            f"{n:>6} {edges:>6} {t_layout:>10.2f}ms {t_move:>8.2f}ms {t_svg:>7.1f}ms {t_mm:>6.2f}ms"
        )
        if n == 50:
            move50 = t_move
    ratio = move50 / TARGET_MS
    print(f"cursor move at 50 states: {move50:.2f} ms = {ratio:.2f}x the {TARGET_MS:.0f} ms target")
    if not has_dot:
        print("(no Graphviz: SVG not measured)")


if __name__ == "__main__":
    main()
