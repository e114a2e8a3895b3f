"""Errors raised by am_core.

Where the Go reference returns an ``error``, am_core raises a subclass of :class:`AmError` whose
message is the reference's text (``str(err)`` starts with the sentinel text, e.g. ``"missing states: ..."``).
Mutations themselves never raise for relation or handler outcomes; they return a :class:`Result`.

Every error class am_core defines is in this tree (``tests/core/test_core_errors.py`` checks it);
the ones defined outside this module are importable from ``am_core`` and from where they live.

Tree::

    AmError
    ├── StateMissingError     "missing states: X not defined in schema for <id>"
    ├── StateUnknownError     "state unknown"
    ├── StateInactiveError    "state not active"
    ├── SchemaError           "schema error: ..." (parse conflicts, set_schema, verify_states, export)
    ├── RelationError         "relation error: ..." (relations_of / relations_between)
    ├── InvalidArgsError      "invalid arguments: ..."
    ├── CanceledError         "transition canceled"
    ├── QueuedError           "transition queued"
    ├── HandlerTimeoutError   "handler timeout: <method> from <binding>"
    ├── EvalTimeoutError      "eval timeout: <source>"
    ├── NestedEvalError       "eval nested in handler or eval: <source>"
    ├── AmTimeoutError        "timeout"
    ├── DisposedError         "machine disposed"
    ├── NotBoundError         "handlers not bound" / "tracer not bound"
    ├── ImportMismatchError   "import ID mismatch" / state count mismatch
    ├── AsyncHandlerError     an ``async def`` negotiation handler (also a ``TypeError``)
    ├── CtxCanceledError      "context canceled" (am_core.ctx; a stale state context)
    │   └── CtxDeadlineError  "context deadline exceeded" (a context's timeout passed)
    ├── ExceptionStateError   "Exception: <err>" (am_core.helpers, ``wait_for_err_*``)
    ├── HistoryError          "history: ..." (am_core.history, bad time or query)
    ├── LoopError             a ``StateLoop`` ran too often in its window (am_core.loops)
    └── NoLoopError           a coroutine forked / async handler bound without an asyncio loop
                              (am_core.forks; also a ``RuntimeError``)
"""

from __future__ import annotations


class AmError(Exception):
    """Base of every error am_core raises. ``sentinel`` is the Go sentinel text."""

    sentinel = "asyncmachine error"

    def __init__(self, detail: str = "", *, raw: bool = False) -> None:
        self.detail = detail
        msg = detail if raw else f"{self.sentinel}: {detail}" if detail else self.sentinel
        super().__init__(msg)


class StateMissingError(AmError):
    sentinel = "missing states"


class StateUnknownError(AmError):
    sentinel = "state unknown"


class StateInactiveError(AmError):
    sentinel = "state not active"


class SchemaError(AmError):
    sentinel = "schema error"


class RelationError(AmError):
    sentinel = "relation error"


class InvalidArgsError(AmError):
    sentinel = "invalid arguments"


class CanceledError(AmError):
    sentinel = "transition canceled"


class QueuedError(AmError):
    sentinel = "transition queued"


class HandlerTimeoutError(AmError):
    sentinel = "handler timeout"


class EvalTimeoutError(AmError):
    sentinel = "eval timeout"


class NestedEvalError(AmError):
    sentinel = "eval nested in handler or eval"


class AmTimeoutError(AmError):
    sentinel = "timeout"


class DisposedError(AmError):
    sentinel = "machine disposed"


class NotBoundError(AmError):
    """Detaching a handler binding or tracer that is not bound."""

    sentinel = "not bound"

    def __init__(self, what: str) -> None:
        self.detail = what
        Exception.__init__(self, f"{what} not bound")


class ImportMismatchError(AmError):
    sentinel = "import ID mismatch"


class AsyncHandlerError(AmError, TypeError):
    """An ``async def`` negotiation handler: they must return a bool synchronously (docs/api.md)."""

    sentinel = "async negotiation handler"
