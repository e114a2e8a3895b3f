"""The history tracer: turns finished transitions into records (docs/telemetry.md#history).

It runs on the machine's thread, so it only builds a small record and hands it to the backend;
the SQLite backend writes on its own thread.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..tracer import Tracer
from .records import Record

if TYPE_CHECKING:
    from ..machine import Machine
    from ..transition import Transition
    from .base import History


class HistoryTracer(Tracer):
    """Records every accepted transition that changed or called a tracked state.

    Checks are never recorded; canceled transitions only with ``track_rejected=True``.
    """

    def __init__(
        self,
        history: History,
        machine: Machine,
        states: list[str] | None = None,
        store_transitions: bool = True,
        track_rejected: bool = False,
    ) -> None:
        self.history = history
        self.machine = machine
        self.store_transitions = store_transitions
        self.track_rejected = track_rejected
        self._requested = list(states) if states is not None else None
        self._tracked: list[tuple[str, int]] = []
        self._tracked_set: frozenset[str] = frozenset()
        self._index()

    def tracer_id(self) -> str:
        return f"history-{self.history.machine_id}"

    @property
    def tracked(self) -> list[str]:
        return [n for n, _ in self._tracked]

    def _index(self, names: list[str] | None = None) -> None:
        if names is None:
            names = self.machine.state_names()
        wanted = names if self._requested is None else self._requested
        missing = [s for s in wanted if s not in names]
        if missing:
            from .base import HistoryError

            raise HistoryError(
                f"history of {self.machine.id}: unknown states: {', '.join(missing)}"
            )
        pos = {n: i for i, n in enumerate(names)}
        self._tracked = [(n, pos[n]) for n in wanted]
        self._tracked_set = frozenset(wanted)

    def verify_states(self, machine: Machine) -> None:
        self._index()
        self.history._names_changed(machine.state_names(), self.tracked, list(machine.time()))

    def schema_change(self, machine: Machine, old_schema: object) -> None:
        self.verify_states(machine)

    def transition_end(self, tx: Transition) -> None:
        mut = tx.mutation
        accepted = tx.is_accepted
        if mut.is_check or (not accepted and not self.track_rejected):
            return
        tb = tx.time_before
        ta = tx.time_after
        activated: list[str] = []
        deactivated: list[str] = []
        ticks: dict[str, int] = {}
        for name, i in self._tracked:
            a = ta[i]
            ticks[name] = a
            if a != tb[i]:
                (activated if a % 2 else deactivated).append(name)
        called = mut.called
        mach = self.machine
        if not activated and not deactivated:
            ts = self._tracked_set
            if not any(c in ts for c in called):
                if accepted:
                    # not recorded, but the machine record (what a restore uses) moves on
                    self.history._sync(list(ta), mach.queue_tick(), mach.machine_tick())
                return
        rec = Record(
            id=0,
            machine_id=mach.id,
            wall_time=time.time(),
            machine_time=sum(ta),
            machine_tick=mach.machine_tick(),
            mutation_type=int(mut.type),
            activated=activated,
            deactivated=deactivated,
            ticks=ticks,
        )
        if self.store_transitions:
            rec.tx_id = tx.id
            rec.called = list(called)
            rec.is_auto = mut.is_auto
            rec.is_accepted = accepted
            rec.queue_tick = mut.queue_tick
            src = mut.source
            if src is not None:
                rec.source_tx = src.tx_id
                rec.source_machine = src.mach_id
        self.history._append(rec, list(ta), mach.queue_tick())
