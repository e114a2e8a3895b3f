"""Pipes: mirror states of one machine into another (Go ``pkg/states/pipes``).

A pipe is a **final handler** bound on the source: ``add`` gives a ``XState``-style handler that adds
the target state on the target machine, ``remove`` a ``XEnd``-style one that removes it. The
``bind_*`` functions build and bind those handlers for you and return the binding id (detach it
with ``source.handlers_detach(id)``). Both machines register the pipe in their semantic loggers
(``[pipe-out:add] A to <target>`` on the source, ``[pipe-in:add] A from <source>`` on the target)
and forget it when the other one is disposed (``[pipe:gc] <id>``).

Delivery: the non-flat pipes run the target mutation off the source's queue, in one background
thread per source machine, in the source's order (so a fast add/remove never arrives reversed);
they are traced (``ev_add``) and carry the event's args. The ``*_flat`` variants mutate directly,
skip when the target already is in that state and drop the args.
"""

from __future__ import annotations

import threading
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import StateMissingError
from .types import LogLevel

if TYPE_CHECKING:
    from .event import Event
    from .machine import Machine

__all__ = [
    "PipeRunner",
    "add",
    "add_flat",
    "bind",
    "bind_any",
    "bind_connected",
    "bind_err",
    "bind_many",
    "bind_ready",
    "bind_start",
    "remove",
    "remove_flat",
    "sync",
]

EXCEPTION = "Exception"
PREFIX_ERR = "Err"
PipeHandler = Callable[["Event"], None]
_OPS = int(LogLevel.OPS)


class PipeRunner:
    """Runs one source machine's pipe mutations in order, in a thread that lives while busy."""

    __slots__ = ("_busy", "_jobs", "_lock", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._jobs: deque[Callable[[], Any]] = deque()
        self._busy = False

    def submit(self, job: Callable[[], Any]) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._busy:
                return
            self._busy = True
        threading.Thread(target=self._drain, name=self.name, daemon=True).start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._busy = False
                    return
                job = self._jobs.popleft()
            try:
                job()
            except Exception:
                # the target raised (e.g. unknown state): the pipe is misconfigured; report it
                # on stderr and keep delivering the rest
                traceback.print_exc()


def _log(mach: Any, msg: str) -> None:
    log = getattr(mach, "_log", None)
    if log is not None and getattr(mach, "_log_level", 0) >= _OPS:
        log(_OPS, msg)


def _register(source: Machine, target: Any, is_add: bool, src_state: str, tgt_state: str) -> None:
    """Put the pipe in both semantic loggers and drop it when either side is disposed."""
    kind = "add" if is_add else "remove"
    source.semlogger().add_pipe_out(is_add, src_state, target.id)
    _log(source, f"[pipe-out:{kind}] {src_state} to {target.id}")
    t_semlog = getattr(target, "semlogger", None)
    if t_semlog is not None:
        t_semlog().add_pipe_in(is_add, tgt_state, source.id)
    _log(target, f"[pipe-in:{kind}] {tgt_state} from {source.id}")

    def gc_on(mach: Any) -> Callable[[str, Any], None]:
        def gc(disposed_id: str, _ctx: Any) -> None:
            semlog = getattr(mach, "semlogger", None)
            if semlog is not None:
                semlog().remove_pipes(disposed_id)
            _log(mach, f"[pipe:gc] {disposed_id}")

        return gc

    source.on_dispose(gc_on(target))
    if hasattr(target, "on_dispose"):
        target.on_dispose(gc_on(source))


def _check_target(target: Any, names: Sequence[str]) -> None:
    """Refuse a pipe into states the target does not have (instead of failing at delivery)."""
    has1 = getattr(target, "has1", None)
    if has1 is None:
        return
    missing = [n for n in names if not has1(n)]
    if missing:
        raise StateMissingError(f"{' '.join(missing)} not defined in schema for {target.id}")


def _runner(source: Machine) -> PipeRunner:
    return source._subs.pipe_runner()


def _make(
    is_add: bool,
    flat: bool,
    source: Machine,
    target: Any,
    source_state: str,
    target_state: str | None,
) -> PipeHandler:
    """The handler of an add or remove pipe (``flat``: direct, skipped when already there)."""
    if not source_state:
        raise ValueError("pipes: source_state is required")
    tgt = target_state or source_state
    source._parse_called([source_state])
    # adding an error state also adds Exception
    names = [EXCEPTION, tgt] if is_add and tgt.startswith(PREFIX_ERR) else [tgt]
    _check_target(target, names)
    _register(source, target, is_add, source_state, tgt)
    runner = _runner(source)
    handler: PipeHandler
    if flat:
        already, mutate = (target.is_, target.add) if is_add else (target.not_, target.remove)

        def handler(e: Event) -> None:
            if not already(names):
                mutate(names)

    else:
        ev_mutate = target.ev_add if is_add else target.ev_remove

        def handler(e: Event) -> None:
            args = dict(e.args)
            runner.submit(lambda: ev_mutate(e, names, args))

    handler.__name__ = f"pipe_{'add' if is_add else 'remove'}_{source_state}_{tgt}"
    return handler


def add(
    source: Machine, target: Any, source_state: str, target_state: str | None = None
) -> PipeHandler:
    """A final handler (bind it as ``<source_state>State``) adding ``target_state`` on ``target``.

    ``target_state`` defaults to ``source_state``; a target name starting with ``Err`` also adds
    ``Exception``.
    """
    return _make(True, False, source, target, source_state, target_state)


def add_flat(
    source: Machine, target: Any, source_state: str, target_state: str | None = None
) -> PipeHandler:
    """:func:`add`, synchronous, without args, skipped when the target state is already active."""
    return _make(True, True, source, target, source_state, target_state)


def remove(
    source: Machine, target: Any, source_state: str, target_state: str | None = None
) -> PipeHandler:
    """A final handler (bind it as ``<source_state>End``) removing ``target_state`` on ``target``."""
    return _make(False, False, source, target, source_state, target_state)


def remove_flat(
    source: Machine, target: Any, source_state: str, target_state: str | None = None
) -> PipeHandler:
    """:func:`remove`, synchronous, without args, skipped when the target state is inactive."""
    return _make(False, True, source, target, source_state, target_state)


def _bind(source: Machine, finals: dict[str, PipeHandler]) -> str:
    return source.handlers_bind_maps(finals=finals)


def bind(
    source: Machine,
    target: Any,
    state: str,
    active: str | None = None,
    inactive: str | None = None,
) -> str:
    """When ``state`` activates add ``active``, when it deactivates remove ``inactive`` on
    ``target``. ``active`` defaults to ``state`` and ``inactive`` to ``active`` (so
    ``bind(src, dst, "Foo", "Bar")`` mirrors Foo into Bar). Returns the binding id."""
    active = active or state
    return _bind(
        source,
        {
            state + "State": add(source, target, state, active),
            state + "End": remove(source, target, state, inactive or active),
        },
    )


def bind_many(
    source: Machine,
    target: Any,
    states: Sequence[str],
    target_states: Sequence[str] | None = None,
) -> str:
    """:func:`bind` for several states at once (``target_states`` pairs by position)."""
    tgts = list(target_states) if target_states is not None else list(states)
    if len(tgts) != len(states):
        raise ValueError("pipes.bind_many: states and target_states differ in length")
    finals: dict[str, PipeHandler] = {}
    for s, t in zip(states, tgts, strict=True):
        finals[s + "State"] = add(source, target, s, t)
        finals[s + "End"] = remove(source, target, s, t)
    return _bind(source, finals)


def bind_err(source: Machine, target: Any, target_err: str | None = None) -> str:
    """Pipe ``Exception`` into ``target_err`` (default ``Exception``; an ``Err*`` state also adds
    ``Exception`` on the target)."""
    return _bind(
        source, {"ExceptionState": add(source, target, EXCEPTION, target_err or EXCEPTION)}
    )


def bind_start(
    source: Machine, target: Any, active: str | None = None, inactive: str | None = None
) -> str:
    """Pipe ``Start`` (add on activation, remove on deactivation)."""
    return bind(source, target, "Start", active, inactive)


def bind_ready(
    source: Machine, target: Any, active: str | None = None, inactive: str | None = None
) -> str:
    """Pipe ``Ready`` (add on activation, remove on deactivation)."""
    return bind(source, target, "Ready", active, inactive)


def bind_connected(
    source: Machine,
    target: Any,
    disconnected: str | None = None,
    connecting: str | None = None,
    connected: str | None = None,
    disconnecting: str | None = None,
) -> str:
    """Pipe the connected-schema states (``am_core.states.ConnectedStates``) into custom target
    states; each one is optional and skipped when None."""
    finals: dict[str, PipeHandler] = {}
    for src, tgt in (
        ("Disconnected", disconnected),
        ("Connecting", connecting),
        ("Connected", connected),
        ("Disconnecting", disconnecting),
    ):
        if tgt:
            finals[src + "State"] = add(source, target, src, tgt)
            finals[src + "End"] = remove(source, target, src, tgt)
    return _bind(source, finals)


def bind_any(source: Machine, target: Any, states: Sequence[str] | None = None) -> str:
    """Mirror ``states`` (default: every source state the target also has, except
    ``Exception``) after every transition of ``source``: ``target.set(active ones, args)``
    unless the target already has exactly those active. Use it for a target that only mirrors."""
    if states is None:
        t_has = getattr(target, "has1", None)
        states = [s for s in source.state_names() if s != EXCEPTION and (t_has is None or t_has(s))]
    watched = list(states)
    source._parse_called(watched)
    _check_target(target, watched)
    for s in watched:
        _register(source, target, True, s, s)
    runner = _runner(source)

    def any_state(e: Event) -> None:
        want = [s for s in watched if source.is1(s)]
        args = dict(e.args)

        def job() -> None:
            if sorted(target.active_states(watched)) == sorted(want):
                return
            target.set(want, args)

        runner.submit(job)

    return _bind(source, {"AnyState": any_state})


def sync(
    source: Machine,
    target: Any,
    states: Sequence[str],
    target_states: Sequence[str] | None = None,
) -> None:
    """One-off: make each target state's activity match its source state (add or remove)."""
    tgts = list(target_states) if target_states is not None else list(states)
    if len(tgts) != len(states):
        raise ValueError("pipes.sync: states and target_states differ in length")
    to_add = [t for s, t in zip(states, tgts, strict=True) if source.is1(s)]
    to_remove = [t for s, t in zip(states, tgts, strict=True) if not source.is1(s)]
    if to_remove:
        target.remove(to_remove)
    if to_add:
        target.add(to_add)
