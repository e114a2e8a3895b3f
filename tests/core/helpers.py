"""Test helpers: a handler object that records every handler event it receives; a machine whose
queue another thread is busy draining."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from am_core import Event, Machine

SUFFIXES = ("Enter", "Exit", "State", "End")


def seq(text: str) -> list[str]:
    """``"A B C"`` -> ``["A", "B", "C"]``: handler orders read like the spec."""
    return text.split()


def recorder(
    mach: Machine,
    log: list[str],
    overrides: dict[str, Callable[[Event], Any]] | None = None,
    skip: Iterable[str] = (),
) -> Any:
    """An object with a method for every handler name of ``mach``'s schema, appending to ``log``."""
    names = mach.state_names()
    handler_names = {"AnyEnter", "AnyState"}
    for s in names:
        for suf in SUFFIXES:
            handler_names.add(s + suf)
        for t in names:
            handler_names.add(s + t)
    overrides = overrides or {}
    skipped = set(skip)

    def make(name: str) -> Callable[[Any, Event], Any]:
        def fn(self: Any, e: Event) -> Any:
            log.append(name)
            if name in overrides:
                return overrides[name](e)
            return None

        return fn

    attrs = {n: make(n) for n in handler_names if n not in skipped}
    return type("Recorder", (), attrs)()


@contextmanager
def queue_held(mach: Machine, state: str) -> Iterator[threading.Thread]:
    """Inside the block another thread (yielded) drains ``mach``'s queue: it runs
    ``add1(state)`` and ``<state>State`` blocks until the block ends; then it is joined."""
    entered, release = threading.Event(), threading.Event()

    def hold(self: Any, e: Event) -> None:
        entered.set()
        release.wait(5)

    mach.handlers_bind(type("Hold", (), {state + "State": hold})())
    drainer = threading.Thread(target=mach.add1, args=(state,))
    drainer.start()
    assert entered.wait(5)
    try:
        yield drainer
    finally:
        release.set()
        drainer.join(5)
