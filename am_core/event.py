"""The ``Event`` a handler receives."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .typed_args import args_of

if TYPE_CHECKING:
    from .ctx import Ctx
    from .machine import Machine
    from .transition import Transition
    from .types import Mutation

T = TypeVar("T")


class Event:
    """A handler call: its name, the transition and the mutation's args."""

    __slots__ = ("_mach", "_tx", "args", "ctx", "is_check", "name")

    def __init__(
        self,
        name: str,
        mach: Machine | None,
        tx: Transition | None,
        args: dict[str, Any],
        ctx: Ctx | None = None,
        is_check: bool = False,
    ) -> None:
        self.name = name
        self._mach = mach
        self._tx = tx
        self.args = args
        self.ctx = ctx
        self.is_check = is_check

    @property
    def machine_id(self) -> str:
        return self._mach.id if self._mach is not None else ""

    @property
    def transition_id(self) -> str:
        return self._tx.id if self._tx is not None else ""

    def args_of(self, t: type[T]) -> T:
        """The args typed as the dataclass or ``TypedDict`` ``t`` (mypy checks the use):
        ``e.args_of(ConnectArgs).port`` (docs/typed-args.md)."""
        return args_of(self.args, t)

    def machine(self) -> Machine | None:
        return self._mach

    def transition(self) -> Transition | None:
        return self._tx

    def mutation(self) -> Mutation | None:
        return self._tx.mutation if self._tx is not None else None

    def is_valid(self) -> bool:
        """The machine's current transition is this one, not completed and still accepted."""
        if self.ctx is not None and self.ctx.done():
            return False
        m, tx = self._mach, self._tx
        if m is None or tx is None:
            return False
        cur = m._tx
        return cur is tx and not tx.is_completed and tx.is_accepted

    def export(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "machine_id": self.machine_id,
            "transition_id": self.transition_id,
            "is_check": self.is_check,
        }

    def clone(self) -> Event:
        return Event(self.name, self._mach, self._tx, dict(self.args), self.ctx, self.is_check)

    def swap_args(self, args: dict[str, Any]) -> Event:
        return Event(self.name, self._mach, self._tx, args, self.ctx, self.is_check)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, mach={self.machine_id!r})"


def ev_to_ctx(ctx: Ctx | None, e: Event) -> Ctx:
    """A child context carrying the event ``e`` (Go's ``EvToCtx``)."""
    from .ctx import Ctx as _Ctx

    return _Ctx(ctx, value={"event": e})


def ctx_to_ev(ctx: Ctx | None) -> Event | None:
    """The event carried by ``ctx`` or one of its parents (``ev_to_ctx``, state contexts)."""
    c = ctx
    while c is not None:
        v = c.value
        if isinstance(v, dict):
            ev = v.get("event")
            if isinstance(ev, Event):
                return ev
        c = c.parent()
    return None
