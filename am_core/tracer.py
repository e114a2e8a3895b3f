"""Tracers: observers of a machine's lifecycle (spec §12). Every hook is optional."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ctx import Ctx
    from .machine import Machine
    from .transition import Transition
    from .types import Mutation, Schema

HOOKS = (
    "machine_init",
    "new_submachine",
    "mutation_queued",
    "transition_init",
    "transition_start",
    "handler_start",
    "handler_end",
    "transition_finals",
    "transition_end",
    "queue_end",
    "schema_change",
    "verify_states",
    "machine_dispose",
)


class Tracer:
    """No-op base class; subclass and override the hooks you need (any object works too)."""

    def tracer_id(self) -> str:
        return type(self).__name__

    def machine_init(self, machine: Machine) -> Ctx | None:
        return None

    def new_submachine(self, parent: Machine, machine: Machine) -> None:
        pass

    def mutation_queued(self, machine: Machine, mutation: Mutation) -> None:
        pass

    def transition_init(self, tx: Transition) -> None:
        pass

    def transition_start(self, tx: Transition) -> None:
        pass

    def handler_start(self, tx: Transition, binding_id: str, handler: str) -> None:
        pass

    def handler_end(self, tx: Transition, binding_id: str, handler: str) -> None:
        pass

    def transition_finals(self, tx: Transition) -> None:
        pass

    def transition_end(self, tx: Transition) -> None:
        pass

    def queue_end(self, machine: Machine) -> None:
        pass

    def schema_change(self, machine: Machine, old_schema: Schema) -> None:
        pass

    def verify_states(self, machine: Machine) -> None:
        pass

    def machine_dispose(self, machine_id: str) -> None:
        pass

    def inheritable(self) -> bool:
        return False


class LastTxTracer(Tracer):
    """Keeps the last finished transition."""

    def __init__(self) -> None:
        self.last: Transition | None = None

    def transition_end(self, tx: Transition) -> None:
        self.last = tx


def tracer_hooks(tracers: list[Any]) -> dict[str, list[Any]]:
    """Bound hook methods per hook name, skipping missing hooks and the base-class no-ops."""
    out: dict[str, list[Any]] = {h: [] for h in HOOKS}
    for t in tracers:
        cls = type(t)
        for h in HOOKS:
            fn = getattr(t, h, None)
            if fn is None or not callable(fn):
                continue
            if isinstance(t, Tracer) and getattr(cls, h, None) is getattr(Tracer, h):
                continue
            out[h].append(fn)
    return out
