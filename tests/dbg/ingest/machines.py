"""Real am_core machines for the ingest tests, with a tracer that remembers what each one produced."""

from __future__ import annotations

from typing import Any

from am_core import LogLevel, Machine, State, Tracer

SCHEMA20 = {
    **{f"S{i}": State() for i in range(14)},
    "Start": State(add=["Ready"]),
    "Ready": State(require=["Start"]),
    "Busy": State(remove=["Idle"]),
    "Idle": State(auto=True, remove=["Busy"]),
    "Heavy": State(require=["Busy"], after=["Busy"]),
}
"""20 states (with Exception) with relations that produce steps and log lines."""


class Produced(Tracer):
    """Records (tx id, clocks after) of every finished transition, in order."""

    def __init__(self) -> None:
        self.txs: list[tuple[str, tuple[int, ...]]] = []

    def transition_end(self, tx: Any) -> None:
        if not tx.mutation.is_check:
            self.txs.append((tx.id, tuple(tx.time_after)))


def machine(mid: str, level: int = LogLevel.OPS) -> tuple[Machine, Produced]:
    m = Machine(SCHEMA20, id=mid, log_level=level)
    m.semlogger().set_logger(lambda _lvl, _msg: None)
    produced = Produced()
    m.tracer_bind(produced)
    return m, produced


def work(m: Machine, i: int) -> None:
    """One round of mutations: 3 transitions (one of them canceled every other round)."""
    m.add(["Start", f"S{i % 14}"], {"id": i})
    m.add1("Busy") if i % 2 else m.add1("Heavy")
    m.remove1(f"S{i % 14}")
