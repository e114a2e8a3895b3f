"""SVG layout engine, measured: Graphviz `dot` vs grandalf's pure-Python Sugiyama layout.

docs/diagrams.md "SVG engine" asks to pick the engine on measured quality and speed. Both engines
lay out the same graphs in the same run: the synthetic 10 / 50 / 200-state schemas of
`bench/diagrams.py`, plus the real schemas of `recordings/demo.amdbg` and the Go fixture when
present. Both get the same boxes: the node sizes `dot` computed for the labels are given to
grandalf, left-to-right like `rankdir=LR` (grandalf lays out top-down; its axes are swapped), with
dot's node / rank separation. Per engine and graph:

- `dot full`: above `LABELLED_EDGES_UPTO` edges to_dot cuts dot's crossing minimisation short;
  this row is dot without that cut;
- layout ms: `dot -Tplain` (a child process: wall time, spawn included) vs grandalf in-process
  (`SugiyamaLayout.init_all` + `draw`, CPU time), best of 3;
- overlaps: pairs of node boxes that intersect;
- crossings: proper intersections between the drawn lines of two edges (dot's Bezier splines
  sampled, grandalf's polylines through its dummy nodes) outside the boxes;
- through boxes: edge segments that cross a node box other than their own two ends;
- edge length: total drawn length of all edges, in points; area: the drawing's bounding box, in
  square inches.

Usage: `python bench/diagram_engines.py` (needs Graphviz and `pip install grandalf`).
"""

from __future__ import annotations

import itertools
import math
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diagrams import schema  # noqa: E402 (the sibling bench's synthetic schemas)

from am_dbg.model.diagram import Diagram, build  # noqa: E402
from am_dbg.vis.text import to_dot  # noqa: E402

Pt = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1
CUT = " mclimit=0.1; nslimit=2; nslimit1=2;"  # to_dot's cut-short crossing minimisation
NODESEP, RANKSEP = 0.3 * 72, 0.6 * 72  # to_dot's nodesep / ranksep, in points


@dataclass
class Drawing:
    """Boxes by node id and each edge's drawn polyline (points), endpoints by node id."""

    boxes: dict[str, Box]
    edges: list[tuple[str, str, list[Pt]]]


def _plain(dot_text: str) -> str:
    run = subprocess.run(
        ["dot", "-Tplain"], input=dot_text.encode(), capture_output=True, check=True
    )
    return run.stdout.decode()


def _bezier(ctrl: list[Pt], per: int = 6) -> list[Pt]:
    out = [ctrl[0]]
    for k in range(0, len(ctrl) - 3, 3):
        p0, p1, p2, p3 = ctrl[k : k + 4]
        for s in range(1, per + 1):
            t = s / per
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            out.append(
                (
                    a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
                )
            )
    return out


def parse_plain(text: str) -> Drawing:
    boxes: dict[str, Box] = {}
    edges: list[tuple[str, str, list[Pt]]] = []
    for line in text.splitlines():
        f = shlex.split(line)
        if not f:
            continue
        if f[0] == "node":
            x, y, w, h = (float(v) * 72 for v in f[2:6])
            boxes[f[1]] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        elif f[0] == "edge":
            n = int(f[3])
            vals = [float(v) * 72 for v in f[4 : 4 + 2 * n]]
            ctrl = list(zip(vals[::2], vals[1::2], strict=True))
            edges.append((f[1], f[2], _bezier(ctrl)))
    return Drawing(boxes, edges)


def grandalf_layout(boxes: dict[str, Box], pairs: list[tuple[str, str]]) -> Drawing:
    """grandalf's Sugiyama layout of `pairs` with the given box sizes, left to right."""
    from grandalf.graphs import Edge as GEdge
    from grandalf.graphs import Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    class View:
        def __init__(self, w: float, h: float) -> None:
            self.w, self.h = w, h
            self.xy: Pt = (0.0, 0.0)

    class EView:
        def __init__(self) -> None:
            self.pts: list[Pt] = []

        def setpath(self, pts: list[Pt]) -> None:
            self.pts = pts

    vs: dict[str, Vertex] = {}
    for name, (x0, y0, x1, y1) in boxes.items():
        v = Vertex(name)
        v.view = View(y1 - y0, x1 - x0)  # swapped: grandalf's layers run down, ours right
        vs[name] = v
    es = []
    for a, b in pairs:
        if a == b:
            continue
        e = GEdge(vs[a], vs[b])
        e.view = EView()
        es.append(e)
    g = Graph(list(vs.values()), es)
    out_boxes: dict[str, Box] = {}
    out_edges: list[tuple[str, str, list[Pt]]] = []
    offset = 0.0  # components side by side along the in-layer axis
    for comp in g.C:
        sug = SugiyamaLayout(comp)
        sug.xspace, sug.yspace = NODESEP, RANKSEP
        sug.init_all()
        sug.draw()
        lo = min(v.view.xy[0] - v.view.w / 2 for v in comp.sV)
        hi = max(v.view.xy[0] + v.view.w / 2 for v in comp.sV)

        def tr(p: Pt, lo: float = lo, offset: float = offset) -> Pt:  # (in-layer, layer) -> (x, y)
            return (p[1], p[0] - lo + offset)

        for v in comp.sV:
            x, y = tr(v.view.xy)
            w, h = v.view.h, v.view.w
            out_boxes[v.data] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        for e in comp.sE:
            out_edges.append((e.v[0].data, e.v[1].data, [tr(p) for p in e.view.pts]))
        offset += hi - lo + NODESEP
    return Drawing(out_boxes, out_edges)


def _inside(p: Pt, b: Box) -> bool:
    return b[0] < p[0] < b[2] and b[1] < p[1] < b[3]


def _clip(pts: list[Pt], src: Box, dst: Box) -> list[Pt]:
    """The polyline without the parts inside its own end boxes (grandalf runs center to center)."""
    out = [p for p in pts if not (_inside(p, src) or _inside(p, dst))]
    return out if len(out) >= 2 else pts[:1] + pts[-1:]


def _cross(a: Pt, b: Pt, c: Pt, d: Pt) -> Pt | None:
    r = (b[0] - a[0], b[1] - a[1])
    s = (d[0] - c[0], d[1] - c[1])
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-9:
        return None
    qp = (c[0] - a[0], c[1] - a[1])
    t = (qp[0] * s[1] - qp[1] * s[0]) / den
    u = (qp[0] * r[1] - qp[1] * r[0]) / den
    if 1e-9 < t < 1 - 1e-9 and 1e-9 < u < 1 - 1e-9:
        return (a[0] + t * r[0], a[1] + t * r[1])
    return None


def _seg_box(a: Pt, b: Pt, box: Box) -> bool:
    """Does segment a-b pass through the box's interior (shrunk by 1 pt)?"""
    x0, y0, x1, y1 = box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1
    if _inside(a, (x0, y0, x1, y1)) or _inside(b, (x0, y0, x1, y1)):
        return True
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return any(_cross(a, b, corners[k], corners[(k + 1) % 4]) for k in range(4))


@dataclass
class Quality:
    overlaps: int
    crossings: int
    through_boxes: int
    length: float
    area: float


def quality(dr: Drawing) -> Quality:
    boxes = list(dr.boxes.items())
    overlaps = sum(
        1
        for k, (_, a) in enumerate(boxes)
        for _, b in boxes[k + 1 :]
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    )
    segs: list[tuple[int, Pt, Pt]] = []
    ends: list[tuple[str, str]] = []
    length = 0.0
    for k, (src, dst, pts) in enumerate(dr.edges):
        pts = _clip(pts, dr.boxes[src], dr.boxes[dst])
        ends.append((src, dst))
        for a, b in itertools.pairwise(pts):
            segs.append((k, a, b))
            length += math.dist(a, b)
    # a uniform grid keeps the pair tests near-linear on the 200-state graphs
    cell = 36.0
    grid: dict[tuple[int, int], list[int]] = {}
    for i, (_, a, b) in enumerate(segs):
        for gx in range(int(min(a[0], b[0]) // cell), int(max(a[0], b[0]) // cell) + 1):
            for gy in range(int(min(a[1], b[1]) // cell), int(max(a[1], b[1]) // cell) + 1):
                grid.setdefault((gx, gy), []).append(i)
    seen: set[tuple[int, int]] = set()
    crossings = 0
    for members in grid.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                ki, kj = segs[i][0], segs[j][0]
                if ki == kj or (i, j) in seen:
                    continue
                seen.add((i, j))
                if set(ends[ki]) & set(ends[kj]):
                    continue  # edges of one node meet at it by design
                if _cross(segs[i][1], segs[i][2], segs[j][1], segs[j][2]):
                    crossings += 1
    through = 0
    for k, a, b in segs:
        src, dst = ends[k]
        through += sum(1 for n, box in boxes if n not in (src, dst) and _seg_box(a, b, box))
    xs = [v for b in dr.boxes.values() for v in (b[0], b[2])]
    ys = [v for b in dr.boxes.values() for v in (b[1], b[3])]
    for _, _, pts in dr.edges:
        xs += [p[0] for p in pts]
        ys += [p[1] for p in pts]
    area = (max(xs) - min(xs)) * (max(ys) - min(ys)) / 72 / 72
    return Quality(overlaps, crossings, through, length, area)


def best_ms(fn: Callable[[], object], clock: Callable[[], float], rounds: int = 3) -> float:
    out = float("inf")
    for _ in range(rounds):
        t = clock()
        fn()
        out = min(out, (clock() - t) * 1000)
    return out


def graphs() -> Iterable[tuple[str, Diagram]]:
    for n in (10, 50, 200):
        yield f"synthetic {n}", build(schema(n))
    from am_dbg.vis.cli import open_session

    for path in (ROOT / "recordings/demo.amdbg", ROOT / "tests/data/am-dbg-sim.gob.br"):
        if not path.exists():
            continue
        session = open_session(str(path))
        # the machine with the most relations of each file
        hist = max(session.machines.values(), key=lambda h: len(build(h.schema).edges))
        yield f"{path.name} {hist.id}", build(hist.schema)


def main() -> None:
    print(
        f"{'graph':<28} {'states':>6} {'edges':>5} {'engine':<9} {'layout':>9} {'overlaps':>8} "
        f"{'crossings':>9} {'thru box':>8} {'edge len':>9} {'area in²':>8}"
    )
    for name, d in graphs():
        dot_text = to_dot(d)
        plain = _plain(dot_text)
        dr_dot = parse_plain(plain)
        pairs = [(s, t) for s, t, _ in dr_dot.edges]
        t_dot = best_ms(lambda: _plain(dot_text), time.perf_counter)  # noqa: B023
        t_gd = best_ms(
            lambda: grandalf_layout(dr_dot.boxes, pairs),  # noqa: B023
            time.process_time,
            1 if len(d.nodes) > 50 else 3,
        )
        dr_gd = grandalf_layout(dr_dot.boxes, pairs)
        rows = [("dot", t_dot, dr_dot), ("grandalf", t_gd, dr_gd)]
        if CUT in dot_text:  # what the cut-short crossing minimisation of big graphs costs
            full = dot_text.replace(CUT, "")
            t_full = best_ms(lambda: _plain(full), time.perf_counter, 1)  # noqa: B023
            rows.insert(1, ("dot full", t_full, parse_plain(_plain(full))))
        for engine, t, dr in rows:
            q = quality(dr)
            print(
                f"{name:<28} {len(d.nodes):>6} {len(d.edges):>5} {engine:<9} {t:>7.0f}ms "
                f"{q.overlaps:>8} {q.crossings:>9} {q.through_boxes:>8} {q.length:>9.0f} "
                f"{q.area:>8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
