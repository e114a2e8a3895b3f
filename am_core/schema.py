"""Schema parsing/sanitising (spec §1.4) and ``StatesBase`` typed state sets (spec §1, design §2)."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .types import Schema, State

EXCEPTION = "Exception"


def parse_schema(schema: Schema) -> tuple[Schema, str | None]:
    """Sanitised deep copy of ``schema`` plus ``Exception`` when missing, and an optional error text."""
    known = set(schema)
    out: Schema = {}
    errs: list[str] = []
    for name, st in schema.items():
        if not isinstance(st, State):
            raise TypeError(f"schema value for {name!r} must be a State, got {type(st).__name__}")
        remove = [r for r in st.remove if r != name]
        add: list[str] = []
        for a in st.add:
            if a in remove:
                remove = [r for r in remove if r != a]
                add.append(a)
            elif a in known:
                add.append(a)
        after = [a for a in st.after if a != name]
        for r in st.require:
            if r in remove:
                errs.append(f"schema error: require-remove conflict for {name} to {r}")
        remove = [r for r in remove if r in known]
        after = [a for a in after if a in known]
        out[name] = State(
            auto=st.auto,
            multi=st.multi,
            require=list(st.require),
            add=add,
            remove=remove,
            after=after,
            tags=list(st.tags),
            args=st.args,
        )
    if EXCEPTION not in out:
        out[EXCEPTION] = State(multi=True)
    return out, ("\n".join(errs) if errs else None)


def states_by_tag(schema: Schema, tag: str) -> list[str]:
    """States with tag ``tag`` or ``tag:<anything>``."""
    pre = tag + ":"
    return [n for n, st in schema.items() if any(t == tag or t.startswith(pre) for t in st.tags)]


def string_all(names: Sequence[str], ticks: Sequence[int], active: Container[str]) -> str:
    """``(A:1 B:1) [C:0 D:0 Exception:0]``: active, then inactive states with their ticks."""
    on = [f"{n}:{ticks[i]}" for i, n in enumerate(names) if n in active]
    off = [f"{n}:{ticks[i]}" for i, n in enumerate(names) if n not in active]
    return f"({' '.join(on)}) [{' '.join(off)}]"


def inspect_states(
    names: Iterable[str],
    active: Container[str],
    tick: Callable[[str], int],
    schema: Mapping[str, State] | None,
) -> str:
    """Go's ``Inspect``: per state the active flag, name, tick and (when known) relations."""
    out: list[str] = []
    for n in names:
        out.append(f"{1 if n in active else 0} {n}\n    |{'Tick':<9}{tick(n)}\n")
        st = schema.get(n) if schema else None
        if st is None:
            continue
        if st.auto:
            out.append(f"    |{'Auto':<9}true\n")
        if st.multi:
            out.append(f"    |{'Multi':<9}true\n")
        for label, rel in (
            ("Add", st.add),
            ("Require", st.require),
            ("Remove", st.remove),
            ("After", st.after),
        ):
            if rel:
                out.append(f"    |{label:<9}{' '.join(rel)}\n")
    return "".join(out)


class StatesBase:
    """Typed state names: subclass attributes are ``State(...)`` definitions, read back as names.

    ::

        class Basic(StatesBase):
            Start = State()
            Ready = State(require=["Start"])

        class Worker(Basic):
            Working = State(require=[Basic.Ready])

        Worker.Ready == "Ready"; Worker.schema(); Worker.names()  # base names first
    """

    _am_schema: ClassVar[dict[str, State]] = {}
    _am_own: ClassVar[list[str]] = []
    _am_groups: ClassVar[dict[str, list[str]]] = {}
    _am_groups_order: ClassVar[list[str]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        schema: dict[str, State] = {}
        groups: dict[str, list[str]] = {}
        order: list[str] = []
        # inherited sets first, in MRO order from the most basic
        for base in reversed(cls.__mro__[1:]):
            if not (isinstance(base, type) and issubclass(base, StatesBase)):
                continue
            if base is StatesBase:
                continue
            own = base.__dict__.get("_am_own", [])
            for n in own:
                schema[n] = base._am_schema[n]
            if own and base.__name__ not in groups:
                groups[base.__name__] = list(own)
                order.append(base.__name__)
        own_names: list[str] = []
        for name, val in list(cls.__dict__.items()):
            if isinstance(val, State):
                own_names.append(name)
                schema[name] = val
                setattr(cls, name, name)
        cls._am_own = own_names
        cls._am_schema = schema
        # own states first in the groups order ("self"), then inherited sets
        cls._am_groups = {"self": list(own_names), **groups}
        cls._am_groups_order = ["self", *order]

    @classmethod
    def schema(cls) -> Schema:
        """A copy of the schema: inherited definitions first, overridden by own ones."""
        return {n: st.copy() for n, st in cls._am_schema.items()}

    @classmethod
    def names(cls) -> list[str]:
        """State names in definition order (inherited first)."""
        return list(cls._am_schema)

    @classmethod
    def groups(cls) -> tuple[dict[str, list[str]], list[str]]:
        """``(group -> names, order)``: own states as ``"self"``, inherited sets by class name."""
        return {k: list(v) for k, v in cls._am_groups.items()}, list(cls._am_groups_order)
