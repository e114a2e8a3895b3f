"""Small parsers of the Mermaid and D2 text the renderers write, so tests read diagrams back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MM_NODE = re.compile(r'^\s*(s\d+)\["(.*)"\]$')
_MM_EDGE = re.compile(r"^\s*(s\d+) (-->|==>)\|(\w+)\| (s\d+)$")
_MM_CLASS = re.compile(r"^\s*class ([\w,]+) (\w+)$")
_D2_NODE = re.compile(r'^(s\d+): "((?:[^"\\]|\\.)*)" \{class: \[([\w; ]*)\]\}$')
_D2_EDGE = re.compile(r"^(s\d+) -> (s\d+): (\w+)( \{class: step\})?$")


@dataclass
class Parsed:
    names: dict[str, str] = field(default_factory=dict)  # id -> label
    edges: set[tuple[str, str, str]] = field(default_factory=set)  # (src, dst, rel) by name
    thick: set[tuple[str, str, str]] = field(default_factory=set)
    classes: dict[str, set[str]] = field(default_factory=dict)  # name -> classes

    def with_class(self, c: str) -> set[str]:
        return {n for n, cs in self.classes.items() if c in cs}


def mermaid(text: str) -> Parsed:
    lines = text.splitlines()
    assert lines[0] == "flowchart LR", lines[0]
    p = Parsed()
    raw_edges = []
    for line in lines[1:]:
        if m := _MM_NODE.match(line):
            p.names[m[1]] = m[2].replace("#quot;", '"')
        elif m := _MM_EDGE.match(line):
            raw_edges.append((m[1], m[4], m[3], m[2] == "==>"))
        elif m := _MM_CLASS.match(line):
            for i in m[1].split(","):
                p.classes.setdefault(p.names[i], set()).add(m[2])
        elif not line.strip().startswith("classDef "):
            raise AssertionError(f"unparsed Mermaid line: {line!r}")
    for a, b, rel, thick in raw_edges:
        e = (p.names[a], p.names[b], rel)
        p.edges.add(e)
        if thick:
            p.thick.add(e)
    return p


def d2(text: str) -> Parsed:
    p = Parsed()
    depth = 0
    for line in text.splitlines():
        if depth or line == "classes: {":
            depth += line.count("{") - line.count("}")
            continue
        if line == "direction: right":
            continue
        if m := _D2_NODE.match(line):
            name = re.sub(r"\\(.)", r"\1", m[2])
            p.names[m[1]] = name
            p.classes[name] = {c.strip() for c in m[3].split(";") if c.strip()}
        elif m := _D2_EDGE.match(line):
            e = (p.names[m[1]], p.names[m[2]], m[3])
            p.edges.add(e)
            if m[4]:
                p.thick.add(e)
        else:
            raise AssertionError(f"unparsed D2 line: {line!r}")
    return p
