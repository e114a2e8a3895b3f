"""Mermaid, D2 and Graphviz DOT text of a `Diagram` (docs/diagrams.md "Formats").

Node ids are `s<k>` (the state's position in the diagram) so any state name is safe; the name
is the label. Node status and the transition overlay are classes (`active`, `multi`, `auto`,
`error`, `called`, `added`, `removed`, `canceled`); relation steps the transition resolved are
drawn thick (Mermaid `==>`, D2 class `step`, DOT `penwidth=3`).
"""

from __future__ import annotations

from am_dbg.model.diagram import Diagram, Network, Node

__all__ = ["classes_of", "network_mermaid", "to_d2", "to_dot", "to_mermaid"]

_FILL = {
    "error": "#f8d7da",
    "active": "#c8f7c5",
    "inactive": "#f4f4f4",
}
_STROKE = {"called": "#1f6feb", "added": "#1a7f37", "removed": "#cf222e", "canceled": "#9a6700"}
_EDGE = {"require": "#444444", "add": "#1a7f37", "remove": "#cf222e", "after": "#6e7781"}


def classes_of(d: Diagram, n: Node) -> list[str]:
    """Status then overlay classes, in a fixed order."""
    out = ["active" if n.active else "inactive"]
    out += [c for c, on in (("multi", n.multi), ("auto", n.auto), ("error", n.error)) if on]
    ov = d.overlay
    if ov is not None:
        for c, names in (
            ("called", ov.called),
            ("added", ov.added),
            ("removed", ov.removed),
            ("canceled", ov.canceled_by),
        ):
            if n.name in names:
                out.append(c)
    return out


def _ids(d: Diagram) -> dict[str, str]:
    return {n.name: f"s{k}" for k, n in enumerate(d.nodes)}


def _mm(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(d: Diagram) -> str:
    ids = _ids(d)
    out = ["flowchart LR"]
    out += [f'  {ids[n.name]}["{_mm(n.name)}"]' for n in d.nodes]
    steps = d.overlay.edges if d.overlay else frozenset()
    for e in d.edges:
        arrow = "==>" if e in steps else "-->"
        out.append(f"  {ids[e.src]} {arrow}|{e.rel}| {ids[e.dst]}")
    by_class: dict[str, list[str]] = {}
    for n in d.nodes:
        for c in classes_of(d, n):
            by_class.setdefault(c, []).append(ids[n.name])
    for c, fill in _FILL.items():
        out.append(f"  classDef {c} fill:{fill}")
    for c, stroke in _STROKE.items():
        out.append(f"  classDef {c} stroke:{stroke},stroke-width:3px")
    out += [f"  class {','.join(members)} {c}" for c, members in by_class.items()]
    return "\n".join(out) + "\n"


def _d2q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_d2(d: Diagram) -> str:
    ids = _ids(d)
    out = ["direction: right", "classes: {"]
    for c, fill in _FILL.items():
        out.append(f'  {c}: {{style.fill: "{fill}"}}')
    for c in ("multi", "auto"):
        out.append(f"  {c}: {{style.multiple: true}}" if c == "multi" else f"  {c}: {{}}")
    for c, stroke in _STROKE.items():
        out.append(f'  {c}: {{style.stroke: "{stroke}"; style.stroke-width: 3}}')
    out.append("  step: {style.stroke-width: 4}")
    out.append("}")
    for n in d.nodes:
        cls = "; ".join(classes_of(d, n))
        out.append(f"{ids[n.name]}: {_d2q(n.name)} {{class: [{cls}]}}")
    steps = d.overlay.edges if d.overlay else frozenset()
    for e in d.edges:
        extra = " {class: step}" if e in steps else ""
        out.append(f"{ids[e.src]} -> {ids[e.dst]}: {e.rel}{extra}")
    return "\n".join(out) + "\n"


def _dq(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Above this many edges, edge labels (virtual nodes for Graphviz) make `dot` take seconds to
# minutes (342 edges: 38 s labelled, 0.4 s not): the relation is then the colour and a tooltip,
# and the crossing minimisation is cut short (bench/diagrams.py, docs/diagrams.md).
LABELLED_EDGES_UPTO = 120


def to_dot(d: Diagram) -> str:
    """Graphviz input: plain boxes (polygons in the SVG, so their geometry is checkable)."""
    ids = _ids(d)
    big = len(d.edges) > LABELLED_EDGES_UPTO
    out = [
        f"digraph {_dq(d.mach_id)} {{",
        "  rankdir=LR; nodesep=0.3; ranksep=0.6;"
        + (" mclimit=0.1; nslimit=2; nslimit1=2;" if big else ""),
        '  node [shape=box, style=filled, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for n in d.nodes:
        cls = classes_of(d, n)
        fill = _FILL["error"] if n.error and n.active else _FILL[cls[0]]
        stroke = next((_STROKE[c] for c in reversed(cls) if c in _STROKE), "#333333")
        width = 3 if stroke != "#333333" else 1
        shape = ", peripheries=2" if n.multi else ""
        out.append(
            f"  {ids[n.name]} [label={_dq(n.name)}, id={_dq('state-' + n.name)}, "
            f'class="{" ".join(cls)}", fillcolor="{fill}", color="{stroke}", '
            f"penwidth={width}{shape}];"
        )
    steps = d.overlay.edges if d.overlay else frozenset()
    for e in d.edges:
        pen = 3 if e in steps else 1
        label = "tooltip" if big else "label"
        out.append(
            f'  {ids[e.src]} -> {ids[e.dst]} [{label}="{e.rel}", color="{_EDGE[e.rel]}", '
            f"penwidth={pen}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"


def network_mermaid(net: Network) -> str:
    ids = {m: f"m{k}" for k, m in enumerate(net.machines)}
    out = ["flowchart TB"]
    for m in net.machines:
        errs = net.errors.get(m, 0)
        label = f"{m} ({errs} err)" if errs else m
        out.append(f'  {ids[m]}["{_mm(label)}"]')
    for link in net.links:
        if link.kind == "parent":
            out.append(f"  {ids[link.src]} -->|parent| {ids[link.dst]}")
        else:
            out.append(f"  {ids[link.src]} -.->|pipe {_mm(link.label)}| {ids[link.dst]}")
    return "\n".join(out) + "\n"
