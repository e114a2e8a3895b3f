"""A relation graph laid out in a character grid with box-drawing lines (docs/diagrams.md "Terminal").

Layered like Graphviz's LR layout: a state sits one layer right of every state with a relation to
it (cycles broken by DFS order), ordered within its layer by the barycentre of its sources. Boxes
sit in row bands 4 rows apart; an edge leaves its source's right side into the source's exit lane
(a column right of its layer), runs along the gap row under the source band to the target's entry
lane (a column left of the target's layer) and enters the target's left side. Gap rows and lane
columns never hold a box, so lines never cross a box.

`TermLayout.of(diagram)` is the expensive part and depends only on the nodes and edges: callers
cache it per schema, and its `edge_runs()` (the relation lines' colours) with it. `moment_runs(d)`
is cheap: the colour runs of one moment (status, the transition overlay), per cursor move.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from am_dbg.model.diagram import Diagram, Edge

__all__ = ["Run", "TermLayout"]

# connection bits of a cell
_U, _D, _L, _R = 1, 2, 4, 8
_CHARS = {
    0: " ",
    _U: "│",
    _D: "│",
    _U | _D: "│",
    _L: "─",
    _R: "─",
    _L | _R: "─",
    _D | _R: "┌",
    _D | _L: "┐",
    _U | _R: "└",
    _U | _L: "┘",
    _U | _D | _R: "├",
    _U | _D | _L: "┤",
    _D | _L | _R: "┬",
    _U | _L | _R: "┴",
    _U | _D | _L | _R: "┼",
}
REL_STYLE = {"require": "white", "add": "green", "remove": "red", "after": "grey50"}
_BAND = 4  # box rows + one gap row


@dataclass(frozen=True, slots=True)
class Run:
    """Style `style` on row `row`, columns [x0, x1)."""

    row: int
    x0: int
    x1: int
    style: str


@dataclass(slots=True)
class TermLayout:
    """Plain lines of the drawing plus where each node box and edge path lies."""

    lines: list[str]
    boxes: dict[str, tuple[int, int, int]]  # name -> (top row, left col, width)
    paths: dict[Edge, list[tuple[int, int, int]]] = field(default_factory=dict)  # row runs
    width: int = 0

    @classmethod
    def of(cls, d: Diagram) -> TermLayout:
        names = [n.name for n in d.nodes]
        layer = _layers(names, d.edges)
        n_layers = max(layer.values(), default=0) + 1
        cols: list[list[str]] = [[] for _ in range(n_layers)]
        for n in names:
            cols[layer[n]].append(n)
        _order(cols, d.edges)
        pos = {n: (layer[n], r) for L, col in enumerate(cols) for r, n in enumerate(col)}
        # lanes: exit lanes of sources right of their layer, entry lanes of targets left of theirs
        exits: list[list[str]] = [[] for _ in range(n_layers)]
        entries: list[list[str]] = [[] for _ in range(n_layers)]
        for e in d.edges:
            if e.src not in exits[layer[e.src]]:
                exits[layer[e.src]].append(e.src)
            if e.dst not in entries[layer[e.dst]]:
                entries[layer[e.dst]].append(e.dst)
        widths = [max((len(n) + 2 for n in col), default=2) for col in cols]
        x = 0
        col_x: list[int] = []
        entry_x: dict[str, int] = {}
        exit_x: dict[str, int] = {}
        for L in range(n_layers):
            for k, n in enumerate(entries[L]):
                entry_x[n] = x + 1 + k
            x += len(entries[L]) + 2 if entries[L] else 0
            col_x.append(x)
            x += widths[L]
            for k, n in enumerate(exits[L]):
                exit_x[n] = x + 1 + k
            x += len(exits[L]) + 1
        width = x + 1
        height = max((len(c) for c in cols), default=0) * _BAND
        bits = [[0] * width for _ in range(height)]
        boxes: dict[str, tuple[int, int, int]] = {}
        for n, (L, r) in pos.items():
            boxes[n] = (r * _BAND, col_x[L], widths[L])
        paths: dict[Edge, list[tuple[int, int, int]]] = {}
        for e in d.edges:
            top, left, w = boxes[e.src]
            dtop, dleft, _ = boxes[e.dst]
            y0, y1, gap = top + 1, dtop + 1, top + 3
            x0, xl, xe, x1 = left + w, exit_x[e.src], entry_x[e.dst], dleft - 1
            pts = [(y0, x0), (y0, xl), (gap, xl), (gap, xe), (y1, xe), (y1, x1)]
            runs: list[tuple[int, int, int]] = []
            for (ya, xa), (yb, xb) in itertools.pairwise(pts):
                _segment(bits, ya, xa, yb, xb, runs)
            paths[e] = runs
        grid = [[_CHARS[b] for b in row] for row in bits]
        for e in d.edges:  # arrowheads into the target's left side
            dtop, dleft, _ = boxes[e.dst]
            grid[dtop + 1][dleft - 1] = "▶"
        for n, (top, left, w) in boxes.items():
            inner = w - 2
            grid[top][left : left + w] = ["┌", *("─" * inner), "┐"]
            grid[top + 1][left : left + w] = ["│", *n.ljust(inner), "│"]
            grid[top + 2][left : left + w] = ["└", *("─" * inner), "┘"]
        return cls(["".join(r).rstrip() for r in grid], boxes, paths, width)

    def styles(self, d: Diagram) -> list[Run]:
        """Colour runs for the moment `d` shows: relations, node status, the overlay on top."""
        return self.edge_runs() + self.moment_runs(d)

    def edge_runs(self) -> list[Run]:
        """Every relation line in its relation's colour: the same at every moment (cache it)."""
        out: list[Run] = []
        for e, runs in self.paths.items():
            style = REL_STYLE[e.rel]
            out += [Run(y, a, b, style) for y, a, b in runs]
        return out

    def moment_runs(self, d: Diagram) -> list[Run]:
        """What depends on the moment, drawn over `edge_runs`: resolved steps, status, overlay."""
        out: list[Run] = []
        ov = d.overlay
        if ov is not None:
            for e in ov.edges:
                runs = self.paths.get(e)
                if runs:
                    style = REL_STYLE[e.rel] + " bold reverse"
                    out += [Run(y, a, b, style) for y, a, b in runs]
        for n in d.nodes:
            box = self.boxes.get(n.name)
            if box is None:
                continue
            top, left, w = box
            fill = "bold black on green" if n.active else ("red" if n.error else "")
            if n.active and n.error:
                fill = "bold white on red"
            if fill:
                out.append(Run(top + 1, left + 1, left + w - 1, fill))
            border = ""
            if ov is not None:
                for names, style in (
                    (ov.canceled_by, "bold yellow"),
                    (ov.removed, "bold red"),
                    (ov.added, "bold green"),
                    (ov.called, "bold bright_blue"),
                ):
                    if n.name in names:
                        border = style
            if border:
                out += [Run(top, left, left + w, border), Run(top + 2, left, left + w, border)]
                out += [
                    Run(top + 1, left, left + 1, border),
                    Run(top + 1, left + w - 1, left + w, border),
                ]
        return out


def _segment(
    bits: list[list[int]], ya: int, xa: int, yb: int, xb: int, runs: list[tuple[int, int, int]]
) -> None:
    if ya == yb:
        if xa == xb:
            return
        lo, hi = min(xa, xb), max(xa, xb)
        for x in range(lo, hi + 1):
            bits[ya][x] |= (_L if x > lo else 0) | (_R if x < hi else 0)
        runs.append((ya, lo, hi + 1))
    else:
        lo, hi = min(ya, yb), max(ya, yb)
        for y in range(lo, hi + 1):
            bits[y][xa] |= (_U if y > lo else 0) | (_D if y < hi else 0)
            runs.append((y, xa, xa + 1))


def _layers(names: Sequence[str], edges: Sequence[Edge]) -> dict[str, int]:
    """Longest path from the sources over the edges, back edges (DFS order) ignored."""
    out_edges: dict[str, list[str]] = {n: [] for n in names}
    for e in edges:
        if e.src != e.dst:
            out_edges[e.src].append(e.dst)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    dag: dict[str, list[str]] = {n: [] for n in names}
    for root in names:
        if root in state:
            continue
        stack = [(root, iter(out_edges[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) != 1:  # not a back edge
                dag[node].append(nxt)
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(out_edges[nxt])))
    indeg = {n: 0 for n in names}
    for n in names:
        for m in dag[n]:
            indeg[m] += 1
    layer = dict.fromkeys(names, 0)
    todo = [n for n in names if indeg[n] == 0]
    while todo:
        n = todo.pop()
        for m in dag[n]:
            layer[m] = max(layer[m], layer[n] + 1)
            indeg[m] -= 1
            if indeg[m] == 0:
                todo.append(m)
    return layer


def _order(cols: list[list[str]], edges: Sequence[Edge]) -> None:
    """Two sweeps of barycentre ordering (fewer crossings, sources next to their targets)."""
    nbrs: dict[str, list[str]] = {}
    for e in edges:
        nbrs.setdefault(e.src, []).append(e.dst)
        nbrs.setdefault(e.dst, []).append(e.src)
    for _ in range(2):
        row = {n: r for col in cols for r, n in enumerate(col)}
        for col in cols:
            bary = {
                n: (sum(row[m] for m in nbrs[n]) / len(nbrs[n]) if nbrs.get(n) else row[n])
                for n in col
            }
            col.sort(key=lambda n: bary[n])
