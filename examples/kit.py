"""What the example programs share: their flags, log setup, streaming to am-dbg, a clean stop.

Every example is a plain asyncio program. ``Example.track(mach)`` is the one line that makes a
machine show up in am-dbg: it keeps the machine's log lines (at the given level) for the debugger,
prints them only with ``-v``, and calls ``am_rpc.dbg.connect_env``, which streams the machine when
``AM_DBG_ADDR`` is set (``AM_DBG_ADDR=1`` means ``localhost:6831``; ``AM_LOG=0..5`` overrides the
level). The program stops after ``--duration`` seconds (``0``: until Ctrl-C / SIGTERM) and flushes
what it streamed before exiting, so the debugger (or its recording) has every transition.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from am_core import LogLevel, Machine, new_log_args_mapper
from am_rpc.dbg import DbgTracer, connect_env

__all__ = ["PARENT_ENV", "Example", "run"]

PARENT_ENV = "AM_EXAMPLE_PARENT_PID"
"""Set by ``am-dbg --demo``: the example stops when that process is gone (even after a SIGKILL)."""


class Example:
    """The running program: its options, seeded randomness, tracked machines and stop signal."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.verbose: bool = args.verbose
        self.duration: float = args.duration
        self.rng = random.Random(args.seed)
        self.machines: list[Any] = []
        self.tracers: list[DbgTracer] = []
        self.stop = asyncio.Event()

    def _print(self, line: str) -> None:
        """Print a log line; when the reader is gone (``| head``), stop the program quietly."""
        try:
            print(line, flush=True)
        except BrokenPipeError:
            _stdout_to_devnull()
            self.verbose = False
            self.stop.set()

    @property
    def streaming(self) -> bool:
        return bool(self.tracers)

    def track(self, mach: Any, level: int = LogLevel.OPS, args: tuple[str, ...] = ()) -> Any:
        """Log ``mach`` at ``level`` (printed with ``-v``); stream it when ``AM_DBG_ADDR`` is set,
        trace it over OTLP when ``AM_OTEL_TRACE=1``.

        ``args`` names the mutation arguments shown in log lines and in am-dbg (besides the
        default ``name id port addr err path url uri``).
        """
        slog = mach.semlogger()
        if self.verbose:
            slog.set_simple(self._print, level)
        else:
            slog.set_empty(level)
        if isinstance(mach, Machine) and slog.args_mapper() is None:
            names = ["name", "id", "port", "addr", "err", "path", "url", "uri", *args]
            slog.set_args_mapper(new_log_args_mapper(24, names))
        tracer = connect_env(mach)
        if tracer is not None:
            self.tracers.append(tracer)
        if os.environ.get("AM_OTEL_TRACE") == "1":
            # OpenTelemetry over OTLP/HTTP (extra [otel]; docs/telemetry.md)
            from am_rpc.telemetry.otel import trace_env

            trace_env(mach)
        self.machines.append(mach)
        return mach

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless asked to stop; False when the program is stopping."""
        if self.stop.is_set():
            return False
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        """Flush every stream to am-dbg (2 s at most), then dispose the machines."""
        if self.tracers:
            await asyncio.gather(*(t.aclose(2.0) for t in self.tracers), return_exceptions=True)
        for mach in reversed(self.machines):
            dispose = getattr(mach, "dispose", None)
            if callable(dispose) and isinstance(mach, Machine):
                dispose()


def _parser(doc: str | None) -> argparse.ArgumentParser:
    first = (doc or "").strip().splitlines()[0] if doc else None
    p = argparse.ArgumentParser(description=first)
    p.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="stop after SECONDS (default 10; 0 = until Ctrl-C)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("-v", "--verbose", action="store_true", help="print the machines' log")
    return p


def run(
    main: Callable[[Example], Coroutine[Any, Any, str]],
    doc: str | None,
    argv: list[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Parse the flags, run ``main(example)`` until it returns, the duration ends or a signal.

    ``main`` returns a one-line report, printed at the end.
    """
    p = _parser(doc)
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    return asyncio.run(_run(main, args))


def _watch_parent(ex: Example) -> asyncio.Task[None]:
    parent = int(os.environ[PARENT_ENV])

    async def watch() -> None:
        while os.getppid() == parent:
            if not await ex.sleep(0.5):
                return
        ex.stop.set()

    return asyncio.create_task(watch())


async def _run(
    main: Callable[[Example], Coroutine[Any, Any, str]], args: argparse.Namespace
) -> int:
    ex = Example(args)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, ex.stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    if ex.duration > 0:
        loop.call_later(ex.duration, ex.stop.set)
    watch = _watch_parent(ex) if os.environ.get(PARENT_ENV) else None
    task = asyncio.create_task(main(ex))
    stopper = asyncio.create_task(ex.stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    ex.stop.set()
    report = ""
    try:
        # main() sees the stop event and winds down; give it a moment before cancelling it
        report = await asyncio.wait_for(task, 5.0)
    except (TimeoutError, asyncio.CancelledError):
        report = "stopped"
    finally:
        stopper.cancel()
        if watch is not None:
            watch.cancel()
        await ex.close()
    if not os.environ.get("AM_DBG_ADDR"):
        report += "  (set AM_DBG_ADDR=1 and run am-dbg to watch the machines)"
    try:
        print(report, file=sys.stdout, flush=True)
    except BrokenPipeError:
        _stdout_to_devnull()
    return 0


def _stdout_to_devnull() -> None:
    """Send what is still buffered for a closed pipe nowhere (else Python reports it at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
