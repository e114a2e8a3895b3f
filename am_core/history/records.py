"""History records: one per tracked transition, one per machine (docs/telemetry.md#history)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Record:
    """A tracked transition: when it ended (wall and machine time) and what it changed.

    ``ticks`` holds the clock of every tracked state after the transition, so "was X active at t"
    is answered by the last record at or before t. The transition fields are empty when the
    history was built with ``store_transitions=False``.
    """

    id: int
    machine_id: str
    # wall time (seconds since the epoch, UTC) when the transition ended
    wall_time: float
    # machine time: the sum of all ticks after the transition (monotonic)
    machine_time: int
    machine_tick: int
    mutation_type: int
    activated: list[str]
    deactivated: list[str]
    ticks: dict[str, int]
    # transition part (store_transitions)
    tx_id: str = ""
    called: list[str] = field(default_factory=list)
    is_auto: bool = False
    is_accepted: bool = True
    queue_tick: int = 0
    source_tx: str = ""
    source_machine: str = ""

    def touches(self, state: str) -> bool:
        return state in self.activated or state in self.deactivated or state in self.called


@dataclass(slots=True)
class MachineRecord:
    """The machine as of its last tracked transition: enough to ``import_`` it after a restart."""

    machine_id: str
    state_names: list[str]
    time: list[int]
    queue_tick: int
    machine_tick: int
    # wall times: first time tracked, last tracking start, last record written
    first_tracking: float
    last_tracking: float
    last_sync: float
    next_id: int
