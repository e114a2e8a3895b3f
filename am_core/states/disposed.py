"""Graceful disposal as states (Go ``states.DisposedSchema`` and ``DisposedHandlers``).

Add ``RegisterDisposal`` with ``{DISPOSED_ARG_HANDLER: fn}`` to register ``fn(machine_id, ctx)``;
add ``Disposing`` to run them (off the queue, stopping early if ``Disposing`` is removed), after
which ``Disposed`` is added and its handler disposes the machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgsError
from ..schema import StatesBase
from ..types import State

if TYPE_CHECKING:
    from ..ctx import Ctx
    from ..event import Event

DISPOSED_ARG_HANDLER = "DisposedArgHandler"
DisposeFn = Callable[[str, "Ctx"], Any]


class DisposedStates(StatesBase):
    """``RegisterDisposal`` (multi, takes the handler in its args), ``Disposing``, ``Disposed``."""

    RegisterDisposal = State(multi=True)
    Disposing = State(remove=["Start", "Exception"])
    Disposed = State(remove=["Start", "Exception", "Disposing"])


class DisposedHandlers:
    """Handler mixin for :class:`DisposedStates`: inherit it in your handler class."""

    def _am_disposers(self) -> list[DisposeFn]:
        fns: list[DisposeFn] | None = self.__dict__.get("_am_disposed_handlers")
        if fns is None:
            fns = []
            self.__dict__["_am_disposed_handlers"] = fns
        return fns

    def RegisterDisposalEnter(self, e: Event) -> bool:
        fn = e.args.get(DISPOSED_ARG_HANDLER)
        ok = callable(fn)
        if not ok and not e.is_check:
            mach = e.machine()
            if mach is not None:
                mach.add_err(InvalidArgsError(f"{DISPOSED_ARG_HANDLER} invalid"))
        return ok

    def RegisterDisposalState(self, e: Event) -> None:
        self._am_disposers().append(e.args[DISPOSED_ARG_HANDLER])

    def DisposingState(self, e: Event) -> None:
        mach = e.machine()
        if mach is None:
            return
        ctx = mach.new_state_ctx("Disposing")
        fns = list(self._am_disposers())

        def run() -> None:
            for fn in fns:
                if ctx.done():
                    return  # Disposing was removed: stop
                fn(mach.id, ctx)
            mach.add1("Disposed")

        # off the queue: disposal handlers may wait for other machines
        threading.Thread(target=run, name=f"am-disposing-{mach.id}", daemon=True).start()

    def DisposedState(self, e: Event) -> None:
        mach = e.machine()
        if mach is not None:
            mach.dispose()
