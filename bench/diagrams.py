"""Diagram layout and drawing time for 10, 50 and 200 states (run: python bench/diagrams.py).

Synthetic schemas (seeded): every state has 0-2 requires, ~1/3 an add, ~1/4 a remove, ~1/10 an
after, all to random other states. Measured (best of several rounds, CPU time of this process):

- terminal layout: `TermLayout.of` (once per schema in am-dbg);
- terminal cursor move: what the diagram pane does per cursor move, without its strip cache (an
  upper bound): build the diagram of that moment (states' status + overlay), its colour runs,
  and the segments of the 37 x 120 cells a 160x50 pane shows;
- SVG: the DOT text plus Graphviz's `dot -Tsvg` (skipped without Graphviz);
- Mermaid text.

Prints ms per operation and the cursor move's ratio to the 30 ms target (docs/diagrams.md).

In the real app (headless Textual, 160x50, `--app-only` runs just this part): am-dbg on one
machine with each schema (10, 50, 100, 200 states) and 200 transitions (a state toggled, one
relation step each), key-press-to-frame latency of next / prev tx (`bench/ui.py`'s `FrameWatch`:
key -> handlers -> redraw -> the screen's compositor refresh), median and p99, with the diagram
pane shown and, in the same run as the baseline, with the log pane instead; the diagram's share is
the difference.
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.style import Style

from am_dbg.model.diagram import Overlay, build
from am_dbg.ui.diagram_view import row_segments
from am_dbg.vis.svg import to_svg
from am_dbg.vis.term import Run, TermLayout
from am_dbg.vis.text import to_mermaid
from am_rpc.dbg.protocol import SchemaMsg, StateDef, Step, TxMsg

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
        called, added, removed, canceled = names + [frozenset()] * (4 - len(names))
        ov = Overlay(0, "x", called, added, removed, canceled, True, edges)
        moments.append((clocks, ov))
    k = [0]
    styles: dict[str, Style] = {}

    def parse(runs: list[Run]) -> dict[int, list[tuple[int, int, Style]]]:
        rows: dict[int, list[tuple[int, int, Style]]] = {}
        for r in runs:
            st = styles.get(r.style) or styles.setdefault(r.style, Style.parse(r.style))
            rows.setdefault(r.row, []).append((r.x0, r.x1, st))
        return rows

    static = parse(lay.edge_runs())  # once per layout, like the pane

    def move() -> None:
        """The pane's work without its strip cache: the moment's runs, 37 rows x 120 columns."""
        clocks, ov = moments[k[0] % len(moments)]
        k[0] += 1
        rows = parse(lay.moment_runs(build(sc, clocks, overlay=ov)))
        for y in range(min(37, len(lay.lines))):
            runs = [r for r in static.get(y, ()) if r[0] < 120] + rows.get(y, [])
            row_segments(lay.lines[y][:120].ljust(120), runs)

    t_layout = best(lambda: TermLayout.of(base), 3, 1 if n > 50 else 5)
    t_move = best(move, 5, 10)
    # dot runs in a child process: wall time, not this process's CPU time
    t_svg = best(lambda: to_svg(base), 3, 1, time.perf_counter) if has_dot else float("nan")
    t_mm = best(lambda: to_mermaid(base), 3, 20)
    return len(base.edges), t_layout, t_move, t_svg, t_mm


def _txs(sc: SchemaMsg, n: int, seed: int = 2) -> list[TxMsg]:
    """`n` transitions: one state toggled each, with one relation step of its schema."""
    rnd = random.Random(seed)
    names = sc.states_index
    clocks = [0] * len(names)
    rel_types = {"after": 0, "add": 1, "require": 2, "remove": 3}
    out = []
    for i in range(n):
        k = rnd.randrange(len(names))
        clocks[k] += 1
        d = sc.states[names[k]]
        steps = [Step(type=32, to_idx=k), Step(type=4 if clocks[k] % 2 else 8, to_idx=k)]
        for rel, code in rel_types.items():
            if getattr(d, rel):
                dst = names.index(getattr(d, rel)[0])
                steps.append(Step(type=1, from_idx=k, to_idx=dst, rel_type=code))
                break
        out.append(
            TxMsg(
                mach_id=sc.id,
                id=f"{i:016x}",
                clocks=tuple(clocks),
                called=(k,),
                steps=tuple(steps),
                time=1_700_000_000_000_000_000 + i * 1000,
            )
        )
    return out


class _PaneClock:
    """CPU time (this thread's: steady on a busy box) spent in the diagram pane's own code
    (`update_view` + `render_line`)."""

    NAMES = ("update_view", "render_line")

    def __init__(self) -> None:
        from am_dbg.ui.diagram_view import DiagramView

        self.cls = DiagramView
        self.spent = 0.0
        self.orig = {n: getattr(DiagramView, n) for n in self.NAMES}
        for name, orig in self.orig.items():

            def timed(*a: object, _orig: Callable[..., object] = orig, **kw: object) -> object:
                t = time.thread_time()
                try:
                    return _orig(*a, **kw)
                finally:
                    self.spent += time.thread_time() - t

            setattr(DiagramView, name, timed)

    def close(self) -> None:
        for name, orig in self.orig.items():
            setattr(self.cls, name, orig)


async def _app_latency(n: int, presses: int, diagram: bool) -> tuple[float, float, float]:
    """Median and p99 ms of next / prev tx presses, with the diagram pane (or the log pane),
    and the median ms per press spent in the pane's own code."""
    from ui import FrameWatch, _pct  # bench/ui.py

    from am_dbg.config import parse_args
    from am_dbg.model.session import Session
    from am_dbg.states import DbgStates as St
    from am_dbg.ui.app import DbgApp

    sc = schema(n)
    session = Session()
    session.load([(sc, _txs(sc, 200))])
    cfg, _ = parse_args(["--test-mode", "-l", "-1", "--no-view-tail"])
    app = DbgApp(cfg, session=session)
    clock = _PaneClock()
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            while not (app.viewer.selected and app.frames):
                await pilot.pause(0.001)
            await pilot.pause()
            if diagram:
                await pilot.press("f7")
                await pilot.pause()
                assert app.part2.diagram.display
            app.mach.add1(St.ScrollToTx, {"cursor": 100})
            await pilot.pause()
            watch = FrameWatch(app)
            lat, own = [], []
            for k in range(presses):
                clock.spent = 0.0
                lat.append(await watch.press("right" if k % 2 == 0 else "left"))
                own.append(clock.spent)
                await pilot.pause()
            if watch.timeouts:
                print(f"  {watch.timeouts} presses produced no frame within 10 s", flush=True)
    finally:
        clock.close()
    return statistics.median(lat) * 1000, _pct(lat, 99) * 1000, statistics.median(own) * 1000


def app_main(presses: int) -> None:
    import asyncio

    print(f"\nin the app (160x50), key-press-to-frame of next / prev tx, {presses} presses:")
    print(f"{'states':>6} {'log pane':>18} {'diagram pane':>18} {'pane code':>10}")
    own50 = total50 = 0.0
    for n in (10, 50, 100, 200):
        lm, lp, _ = asyncio.run(_app_latency(n, presses, False))
        dm, dp, own = asyncio.run(_app_latency(n, presses, True))
        print(
            f"{n:>6} {lm:>7.1f} / {lp:>5.1f} ms {dm:>7.1f} / {dp:>5.1f} ms {own:>7.1f} ms",
            flush=True,
        )
        if n == 50:
            own50, total50 = own, dm
    print(
        f"diagram pane at 50 states: its code {own50:.1f} ms per cursor move = "
        f"{own50 / TARGET_MS:.2f}x the {TARGET_MS:.0f} ms target; whole key-to-frame {total50:.1f} ms "
        f"(log pane instead: the baseline row)"
    )
    print(
        "(median / p99 per press, wall time; pane code: median CPU ms per press in update_view +"
        " render_line)"
    )


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--app-only", action="store_true", help="only the in-app measurement")
    args = ap.parse_args()
    if not args.app_only:
        offline()
    app_main(args.presses)


def offline() -> None:
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
