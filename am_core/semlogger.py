"""The semantic logger: level, sink, args mapper and the step/can/args/id flags (spec §11)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .types import ARG_EXCEPTION, AException, LogEntry, LogLevel

if TYPE_CHECKING:
    from .machine import Machine

LoggerFn = Callable[[LogLevel, str], None]
ArgsMapper = Callable[[dict[str, Any]], dict[str, str] | None]

LOG_ARGS = ("name", "id", "port", "addr", "err", "path", "url", "uri")


def new_log_args_mapper(max_len: int = 20, names: Sequence[str] | None = None) -> ArgsMapper:
    """Map the listed keys present in args to ``str(value)``, truncated to ``max_len``."""
    keys = list(names) if names is not None else list(LOG_ARGS)

    def cut(v: str) -> str:
        if len(v) <= max_len:
            return v
        if max_len < 5:
            return v[:max_len]
        return v[: max_len - 3] + "..."

    def mapper(args: dict[str, Any]) -> dict[str, str] | None:
        out: dict[str, str] = {}
        for k in keys:
            if k in args:
                out[k] = cut(str(args[k]))
        if "err" in keys and "err" not in out:
            exc = args.get(ARG_EXCEPTION)
            if isinstance(exc, AException):
                out["err"] = cut(str(exc.err))
        return out or None

    return mapper


def args_suffix(mapper: ArgsMapper | None, args: dict[str, Any]) -> str:
    """``" (k1=v1 k2=v2)"`` with keys sorted, or ``""``."""
    if mapper is None or not args:
        return ""
    mapped = mapper(args)
    if not mapped:
        return ""
    return " (" + " ".join(f"{k}={mapped[k]}" for k in sorted(mapped)) + ")"


def _print_logger(level: LogLevel, msg: str) -> None:
    sys.stdout.write(msg + "\n")


class SemLogger:
    """Per-machine logging configuration; ``Machine.semlogger()`` returns it."""

    __slots__ = (
        "_args",
        "_args_mapper",
        "_can",
        "_graph",
        "_id",
        "_logger",
        "_mach",
        "_pipes",
        "_queued",
        "_steps",
    )

    def __init__(self, mach: Machine) -> None:
        self._mach = mach
        self._logger: LoggerFn | None = None
        self._args_mapper: ArgsMapper | None = None
        self._steps = False
        self._can = False
        self._graph = False
        self._queued = False
        self._args = False
        self._id = True
        self._pipes: list[LogEntry] = []

    # level
    def level(self) -> LogLevel:
        return LogLevel(self._mach._log_level)

    def set_level(self, level: int) -> None:
        self._mach._set_log_level(int(level))

    # sink
    def set_logger(self, fn: LoggerFn | None) -> None:
        """``fn(level, msg)`` receives every finished line; None restores printing to stdout."""
        self._logger = fn

    def logger(self) -> LoggerFn:
        return self._logger or _print_logger

    def set_simple(self, printf: Callable[[str], None], level: int) -> None:
        self._logger = lambda _lvl, msg: printf(msg)
        self.set_level(level)

    def set_empty(self, level: int) -> None:
        """Keep log entries (for telemetry) at ``level`` without printing anything."""
        self._logger = lambda _lvl, _msg: None
        self.set_level(level)

    # args
    def set_args_mapper(self, fn: ArgsMapper | None) -> None:
        self._args_mapper = fn

    def args_mapper(self) -> ArgsMapper | None:
        return self._args_mapper

    # flags
    def enable_steps(self, on: bool = True) -> None:
        self._steps = on
        self._mach._refresh_fast()

    def is_steps(self) -> bool:
        return self._steps

    def enable_can(self, on: bool = True) -> None:
        self._can = on

    def is_can(self) -> bool:
        return self._can

    def enable_graph(self, on: bool = True) -> None:
        self._graph = on

    def is_graph(self) -> bool:
        return self._graph

    def enable_queued(self, on: bool = True) -> None:
        self._queued = on

    def is_queued(self) -> bool:
        return self._queued

    def enable_args(self, on: bool = True) -> None:
        self._args = on

    def is_args(self) -> bool:
        return self._args

    def enable_id(self, on: bool = True) -> None:
        self._id = on

    def is_id(self) -> bool:
        return self._id

    # pipes registry (filled by am_core.states.pipes)
    def add_pipe_out(self, is_add: bool, source_state: str, target_mach: str) -> None:
        kind = "add" if is_add else "remove"
        self._pipes.append(
            LogEntry(LogLevel.OPS, f"[pipe-out:{kind}] {source_state} to {target_mach}")
        )

    def add_pipe_in(self, is_add: bool, target_state: str, source_mach: str) -> None:
        kind = "add" if is_add else "remove"
        self._pipes.append(
            LogEntry(LogLevel.OPS, f"[pipe-in:{kind}] {target_state} from {source_mach}")
        )

    def remove_pipes(self, mach_id: str) -> None:
        self._pipes = [p for p in self._pipes if not p.text.endswith(" " + mach_id)]

    def pipes(self) -> list[LogEntry]:
        return list(self._pipes)
