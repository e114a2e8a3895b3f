"""Work forked under a context: ``fork`` / ``go`` / ``go_after`` / ``pool_fork`` (docs/waiting.md).

A coroutine function runs as an asyncio task on the machine's loop and is cancelled as soon as its
context is done. A plain callable runs in a daemon thread; threads cannot be cancelled, so it should
check ``ctx.done()`` itself. Either way ``fn`` receives the context when it takes a positional
argument (``fn(ctx)``), otherwise it is called with none. An exception raised by ``fn`` becomes the
machine's ``Exception`` state with that error (unless the machine was built with
``dont_panic_to_exception=True``: then it propagates to the thread / task as usual).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .ctx import Ctx
from .errors import AmError

if TYPE_CHECKING:
    from .event import Event
    from .machine import Machine

__all__ = ["DEFAULT_POOL_LIMIT", "ForkPool", "ForksMixin", "NoLoopError"]

DEFAULT_POOL_LIMIT = 10
ForkFn = Callable[..., Any]


class NoLoopError(AmError, RuntimeError):
    """A coroutine function was forked (or an async handler bound) but the machine has no asyncio
    loop to run it on. Still a `RuntimeError`, as before it joined the `AmError` tree."""

    sentinel = "no asyncio loop"

    def __init__(self, detail: str = "", *, raw: bool = True) -> None:
        super().__init__(detail, raw=raw)


def _wants_ctx(fn: ForkFn) -> bool:
    """True when ``fn`` takes a required positional argument (the context)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            return True
    return False


class ForkPool:
    """Per-machine runner: live tasks (asyncio keeps only weak references) and the bounded pool."""

    __slots__ = ("_loop", "limit", "lock", "mach", "pending", "running", "tasks")

    def __init__(self, mach: Machine) -> None:
        self.mach = mach
        self.lock = threading.Lock()
        self.tasks: set[asyncio.Task[None]] = set()
        self.limit = DEFAULT_POOL_LIMIT
        self.running = 0
        self.pending: deque[tuple[Ctx, ForkFn, float]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- loop --------------------------------------------------------------------------------

    def loop(self) -> asyncio.AbstractEventLoop:
        """The machine's ``loop=``, else the running loop (remembered for later forks)."""
        loop = self.mach.loop
        if loop is not None and not loop.is_closed():
            return loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            self._loop = running
            return running
        if self._loop is not None and not self._loop.is_closed() and self._loop.is_running():
            return self._loop
        raise NoLoopError(
            f"cannot fork a coroutine function on machine {self.mach.id}: no asyncio loop; "
            "pass loop= to Machine(...) or fork from code running in a loop"
        )

    # -- starting -------------------------------------------------------------------------------

    def start(
        self,
        ctx: Ctx | None,
        fn: ForkFn,
        delay: float = 0.0,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        mach = self.mach
        if ctx is None:
            ctx = mach.context()
        if ctx.done():
            if on_finish is not None:
                on_finish()
            return
        pass_ctx = _wants_ctx(fn)
        if inspect.iscoroutinefunction(fn):
            try:
                loop = self.loop()
            except NoLoopError:
                if on_finish is not None:
                    on_finish()
                raise
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                self._create_task(loop, ctx, fn, pass_ctx, delay, on_finish)
            else:
                loop.call_soon_threadsafe(
                    self._create_task, loop, ctx, fn, pass_ctx, delay, on_finish
                )
            return
        t = threading.Thread(
            target=self._thread_main,
            args=(ctx, fn, pass_ctx, delay, on_finish),
            name=f"am-go-{mach.id}",
            daemon=True,
        )
        t.start()

    def _thread_main(
        self,
        ctx: Ctx,
        fn: ForkFn,
        pass_ctx: bool,
        delay: float,
        on_finish: Callable[[], None] | None,
    ) -> None:
        try:
            if delay > 0 and ctx.wait(delay):
                return
            if ctx.done():
                return
            res = fn(ctx) if pass_ctx else fn()
            if inspect.iscoroutine(res):
                res.close()
                raise TypeError(
                    f"{getattr(fn, '__name__', fn)!s} returned a coroutine in a thread: pass the "
                    "coroutine function itself (functools.partial for arguments)"
                )
        except Exception as err:
            if not self.mach.panic_to_exception:
                raise
            self.mach.add_err(err)
        finally:
            if on_finish is not None:
                on_finish()

    def _create_task(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: Ctx,
        fn: ForkFn,
        pass_ctx: bool,
        delay: float,
        on_finish: Callable[[], None] | None,
    ) -> None:
        if ctx.done():
            if on_finish is not None:
                on_finish()
            return
        task = loop.create_task(self._task_main(ctx, fn, pass_ctx, delay))
        self.track(loop, task, ctx, on_finish)

    def track(
        self,
        loop: asyncio.AbstractEventLoop,
        task: asyncio.Task[None],
        ctx: Ctx,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        """Keep ``task`` in this pool until it ends, and cancel it when ``ctx`` expires (from
        any thread); forks and async handlers both run this way."""
        self.tasks.add(task)

        def cancel() -> None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # loop closed

        token = ctx.add_done_callback(cancel)

        def finished(_t: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            ctx.remove_done_callback(token)
            if on_finish is not None:
                on_finish()

        task.add_done_callback(finished)

    async def _task_main(self, ctx: Ctx, fn: ForkFn, pass_ctx: bool, delay: float) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            if ctx.done():
                return
            await (fn(ctx) if pass_ctx else fn())
        except asyncio.CancelledError:
            if ctx.done():
                return  # expired context: a normal end for forked work
            raise
        except Exception as err:
            if not self.mach.panic_to_exception:
                raise
            self.mach.add_err(err)

    # -- bounded pool -----------------------------------------------------------------------------

    def submit(self, ctx: Ctx | None, fn: ForkFn) -> None:
        if ctx is None:
            ctx = self.mach.context()
        with self.lock:
            if self.limit > 0 and self.running >= self.limit:
                self.pending.append((ctx, fn, 0.0))
                return
            self.running += 1
        self.start(ctx, fn, 0.0, self._release)

    def _release(self) -> None:
        while True:
            with self.lock:
                if not self.pending or (self.limit > 0 and self.running > self.limit):
                    self.running -= 1
                    return
                ctx, fn, delay = self.pending.popleft()
            if ctx.done():
                continue  # expired while waiting: skip, keep the slot for the next one
            self.start(ctx, fn, delay, self._release)
            return

    def set_limit(self, limit: int) -> None:
        starts: list[tuple[Ctx, ForkFn, float]] = []
        with self.lock:
            self.limit = limit
            while self.pending and (limit <= 0 or self.running < limit):
                starts.append(self.pending.popleft())
                self.running += 1
        for ctx, fn, delay in starts:
            self.start(ctx, fn, delay, self._release)


class ForksMixin:
    """``Machine`` methods that run work under a context."""

    def _forks(self) -> ForkPool:
        mach = cast("Machine", self)
        return mach._subs.forks()

    def go(self, ctx: Ctx | None, fn: ForkFn) -> None:
        """Run ``fn`` now, under ``ctx`` (None: the machine's context); errors → ``Exception``."""
        self._forks().start(ctx, fn)

    def go_after(self, ctx: Ctx | None, delay: float, fn: ForkFn) -> None:
        """Like :meth:`go` after ``delay`` seconds; skipped if ``ctx`` expired meanwhile."""
        self._forks().start(ctx, fn, delay)

    def fork(self, ctx: Ctx | None, event: Event | None, fn: ForkFn) -> None:
        """:meth:`go` from a handler: only while ``event`` is still valid (its transition runs)."""
        if event is not None and not event.is_valid():
            return
        self._forks().start(ctx, fn)

    def pool_fork(self, ctx: Ctx | None, event: Event | None, fn: ForkFn) -> None:
        """:meth:`fork` bounded by the machine's pool limit (extra work waits for a free slot)."""
        if event is not None and not event.is_valid():
            return
        self._forks().submit(ctx, fn)

    def pool_set_limit(self, limit: int) -> None:
        """Max concurrent ``pool_fork`` jobs (default 10; ``<= 0``: unlimited)."""
        self._forks().set_limit(limit)
