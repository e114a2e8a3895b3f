"""The default ``ExceptionState`` handler: logs the error (spec §5.5). Inherit it in handler classes."""

from __future__ import annotations

from .event import Event
from .types import ARG_EXCEPTION, MUTATION_STR, AException, LogLevel


class ExceptionHandler:
    """Mixin providing ``ExceptionState``: ``[error] <msg>`` or ``[error:<type>] <called> (<err>)``."""

    def ExceptionState(self, e: Event) -> None:
        mach = e.machine()
        if mach is None:
            return
        exc = e.args.get(ARG_EXCEPTION)
        if not isinstance(exc, AException):
            err = mach.err()
            if err is not None:
                mach._log(int(LogLevel.CHANGES), f"[error] {err}")
            return
        trace = exc.err_trace if mach.log_stack_trace else ""
        if exc.panic is not None:
            tx = exc.panic.transition
            typ = MUTATION_STR[tx.mutation.type] if tx is not None else "add"
            msg = f"[error:{typ}] {' '.join(exc.panic.called_states)} ({exc.err})"
        else:
            msg = f"[error] {exc.err}"
        if trace:
            msg += "\n" + trace.rstrip("\n")
        mach._log(int(LogLevel.CHANGES), msg)
