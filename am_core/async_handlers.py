"""``async def`` final handlers: run as asyncio tasks on the machine's loop (docs/api.md, "Async handlers").

A transition stays synchronous (docs/waiting.md): when it reaches an async ``FooState`` / ``FooEnd`` /
``AnyState``, the handler's coroutine is started as a task and the transition goes on. A ``FooState``
task runs under ``Foo``'s state context (``e.ctx``) and is cancelled when that context ends (Foo
deactivated, re-activated if multi, or the machine disposed); ``FooEnd`` and ``AnyState`` tasks run
under the machine's context. An exception raised by the task becomes the ``Exception`` state, with the
handler's name and the traceback in its args, like a sync handler's (spec §5.5).

Negotiation handlers (``FooEnter``, ``FooExit``, ``FooBar``, ``AnyEnter``) must answer before the
transition goes on, so declaring one ``async def`` is refused at bind time.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from typing import TYPE_CHECKING, Any

from .errors import AsyncHandlerError
from .event import Event
from .forks import NoLoopError
from .types import (
    ARG_EXCEPTION,
    AException,
    ExceptionPanic,
    LogLevel,
    Mutation,
    MutationType,
    MutSource,
)

if TYPE_CHECKING:
    from .ctx import Ctx
    from .handlers import Binding, HandlerFn
    from .machine import Machine

__all__ = ["AsyncFinal", "check_binding", "is_async", "is_final_name", "wrap_handler"]

_OPS = int(LogLevel.OPS)
EXCEPTION = "Exception"


def is_async(fn: Any) -> bool:
    """``fn`` is a coroutine function (also through ``functools.partial`` / ``__call__``)."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 (an async __call__ of an object)
    return call is not None and inspect.iscoroutinefunction(call)


def is_final_name(event: str) -> bool:
    """Final handler events end with ``State`` or ``End`` (spec §5.1); the rest negotiate."""
    return event.endswith(("State", "End"))


def _refusal(binding: Binding, event: str) -> AsyncHandlerError:
    return AsyncHandlerError(
        f"handler {event} of binding {binding.id} is async: negotiation handlers (Enter, Exit, "
        "state-state, AnyEnter) decide the transition and must return a bool synchronously; "
        f"make {event} a plain def and start async work from a final handler (FooState)"
    )


def check_binding(mach: Machine, binding: Binding, methods: dict[str, HandlerFn]) -> None:
    """Refuse a binding with an async negotiation handler, or async finals without a loop."""
    finals: list[str] = []
    for event, fn in methods.items():
        if not is_async(fn):
            continue
        if not is_final_name(event):
            raise _refusal(binding, event)
        finals.append(event)
    if not finals:
        return
    try:
        mach._subs.forks().loop()
    except NoLoopError:
        raise NoLoopError(
            f"cannot bind async handler {finals[0]} of binding {binding.id} on machine {mach.id}: "
            "no asyncio loop; pass loop= to Machine(...) or bind from code running in a loop"
        ) from None


def wrap_handler(mach: Machine, binding: Binding, event: str, fn: HandlerFn) -> HandlerFn:
    """The callable a transition runs for ``fn``: ``fn`` itself unless it is async."""
    if not is_async(fn):
        return fn
    if not is_final_name(event):
        # only reachable when a schema change made an existing async method a handler
        err = _refusal(binding, event)

        def refused(_e: Event) -> None:
            raise err

        return refused
    return AsyncFinal(mach, binding, event, fn)


class AsyncFinal:
    """A sync stand-in for an async final handler: starts its task from the transition."""

    __slots__ = ("binding", "event", "fn", "mach", "state")

    def __init__(self, mach: Machine, binding: Binding, event: str, fn: HandlerFn) -> None:
        self.mach = mach
        self.binding = binding
        self.event = event
        self.fn = fn
        # FooState runs under Foo's state context; FooEnd and AnyState under the machine's
        is_state = event.endswith("State") and event != "AnyState"
        self.state = event[: -len("State")] if is_state else ""

    def __call__(self, e: Event) -> None:
        mach = self.mach
        ctx = mach.new_state_ctx(self.state, e) if self.state else mach.context()
        tx = e.transition()
        ev = Event(e.name, mach, tx, e.args, ctx)
        pool = mach._subs.forks()
        loop = pool.loop()
        if mach._log_level >= _OPS:
            mach._log(_OPS, f"[handler:async] {self.event} from {self.binding.id}")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._start(loop, ctx, ev)
        else:
            loop.call_soon_threadsafe(self._start, loop, ctx, ev)

    def _start(self, loop: asyncio.AbstractEventLoop, ctx: Ctx, ev: Event) -> None:
        if ctx.done():
            self._log_canceled()
            return
        task = loop.create_task(self._main(ctx, ev), name=f"am-{self.mach.id}-{self.event}")
        self.mach._subs.forks().track(loop, task, ctx)

    def _log_canceled(self) -> None:
        if self.mach._log_level >= _OPS:
            self.mach._log(_OPS, f"[handler:async:canceled] {self.event} from {self.binding.id}")

    async def _main(self, ctx: Ctx, ev: Event) -> None:
        mach = self.mach
        try:
            await self.fn(ev)
        except asyncio.CancelledError:
            if ctx.done():
                self._log_canceled()
                return  # the state ended: a normal end for its handler
            raise
        except Exception as err:
            if not mach.panic_to_exception:
                raise
            self._failed(err, ev)

    def _failed(self, err: Exception, ev: Event) -> None:
        """The task raised: ``Exception`` with the handler's name and traceback (spec §5.5)."""
        mach = self.mach
        if mach._log_level >= _OPS:
            mach._log(
                _OPS,
                f"[handler:async:error] {self.event} from {self.binding.id}: "
                f"{type(err).__name__}: {err}",
            )
        if mach._refuses():
            return  # disposing, in backoff or a full queue: as add_err
        mach._err = err
        trace = "".join(traceback.format_exception(err)) if mach.log_stack_trace else ""
        if mach._on_error is not None:
            mach._on_error(mach, err)
        tx = ev.transition()
        called = tx.mutation.called if tx is not None else []
        panic = ExceptionPanic(
            list(called),
            tx.states_before() if tx is not None else [],
            tx,
            self.event,
        )
        args = {ARG_EXCEPTION: AException(err=err, err_trace=trace, panic=panic)}
        mut = Mutation(MutationType.ADD, [EXCEPTION], args)
        if tx is not None:
            # the debugger links the error to the transition that started the handler
            mut.source = MutSource(mach.id, tx.id, sum(tx.time_before))
        mach._run(mut)
