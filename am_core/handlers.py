"""Handler bindings: objects or maps whose callables are named after handler events (spec §5.1).

The lookup table ``event name -> ((binding, fn), ...)`` is built at bind time (and on schema
change), so a transition only does dict lookups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

HandlerFn = Callable[..., Any]

_SANITIZE = re.compile(r"[^A-Za-z0-9\-_.]")


def sanitize_id(bid: str) -> str:
    return _SANITIZE.sub("", bid)


def candidate_names(states: Iterable[str]) -> set[str]:
    """Every handler event name a transition can emit for these states."""
    names = list(states)
    out = {"AnyEnter", "AnyState"}
    for s in names:
        out.add(s + "Enter")
        out.add(s + "Exit")
        out.add(s + "State")
        out.add(s + "End")
        for t in names:
            out.add(s + t)
    return out


@dataclass(slots=True, eq=False)
class Binding:
    """One bound handler object (or pair of maps)."""

    id: str
    num: int
    obj: Any
    prefix: str
    maps: dict[str, HandlerFn] | None = None

    def methods(self, candidates: set[str]) -> dict[str, HandlerFn]:
        """Event name -> callable, for events this binding handles."""
        out: dict[str, HandlerFn] = {}
        if self.maps is not None:
            for name, fn in self.maps.items():
                ev = self.prefix + name
                if ev in candidates and callable(fn):
                    out[ev] = fn
            return out
        obj = self.obj
        for attr in dir(obj):
            if attr.startswith("_"):
                continue
            ev = self.prefix + attr
            if ev not in candidates:
                continue
            meth = getattr(obj, attr, None)
            if callable(meth):
                out[ev] = meth
        return out


HandlerTable = dict[str, tuple[tuple[Binding, HandlerFn], ...]]


Wrap = Callable[[Binding, str, HandlerFn], HandlerFn]


def build_table(
    bindings: list[Binding], candidates: set[str], wrap: Wrap | None = None
) -> HandlerTable:
    """``wrap(binding, event, fn)`` replaces a callable (async handlers, am_core/async_handlers.py)."""
    tmp: dict[str, list[tuple[Binding, HandlerFn]]] = {}
    for b in bindings:
        for ev, fn in b.methods(candidates).items():
            tmp.setdefault(ev, []).append((b, wrap(b, ev, fn) if wrap is not None else fn))
    return {k: tuple(v) for k, v in tmp.items()}
