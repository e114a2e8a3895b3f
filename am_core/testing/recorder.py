"""A tracer that keeps a machine's last transitions as text, for assertion messages and failure
reports (the log lines are the ones am-dbg's log view shows for the same transitions; see
docs/testing.md). Depends on am_core only."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..tracer import Tracer
from ..types import LogLevel

if TYPE_CHECKING:
    from ..machine import Machine
    from ..transition import Transition

__all__ = ["TxRecord", "TxRecorder", "recorder_of", "render_last"]


@dataclass(slots=True, frozen=True)
class TxRecord:
    """One finished transition, rendered when it ended (later changes cannot alter it)."""

    tx_id: str
    mutation: str
    accepted: bool
    auto: bool
    active: tuple[str, ...]
    log: tuple[str, ...]

    def render(self) -> str:
        """``tx#ID [add] A  -> accepted`` then the transition's log lines and the active states."""
        flags = "accepted" if self.accepted else "CANCELED"
        auto = " (auto)" if self.auto else ""
        lines = [f"tx#{self.tx_id} {self.mutation}{auto} -> {flags}"]
        lines += [f"    {line}" for line in self.log]
        lines.append(f"    active: {' '.join(self.active) or '-'}")
        return "\n".join(lines)


class TxRecorder(Tracer):
    """Keeps the last ``keep`` transitions of one machine (checks excluded).

    When the machine logs nothing (level 0) it is raised to ``LogLevel.CHANGES`` with a silent
    sink, so the records carry the ``[add]`` / ``[state]`` / ``[cancel]`` lines am-dbg shows.
    """

    def __init__(self, mach: Machine, keep: int = 20) -> None:
        self.mach = mach
        self.records: deque[TxRecord] = deque(maxlen=keep)
        if int(mach.log_level()) == 0:
            mach.semlogger().set_logger(lambda _lvl, _msg: None)
            mach.set_log_level(LogLevel.CHANGES)
        mach.tracer_bind(self)

    def tracer_id(self) -> str:
        return f"am-testing:{self.mach.id}"

    def transition_end(self, tx: Transition) -> None:
        mut = tx.mutation
        if mut.is_check or int(mut.type) == 3:  # dry runs and evals are not transitions
            return
        self.records.append(
            TxRecord(
                tx_id=tx.id,
                mutation=mut.string(),
                accepted=bool(tx.is_accepted),
                auto=bool(mut.is_auto),
                active=tuple(self.mach.active_states()),
                log=tuple(e.text for e in tx.pre_log_entries + tx.log_entries),
            )
        )

    def render(self, last: int | None = None) -> str:
        recs = list(self.records)[-last:] if last else list(self.records)
        head = f"machine {self.mach.id}: last {len(recs)} transitions"
        if not recs:
            return f"machine {self.mach.id}: no transitions recorded"
        return "\n".join([head, *(r.render() for r in recs)])


def recorder_of(mach: Machine) -> TxRecorder | None:
    """The :class:`TxRecorder` bound to ``mach``, if any."""
    for t in mach.tracers():
        if isinstance(t, TxRecorder):
            return t
    return None


def render_last(mach: Machine, last: int = 10) -> str:
    """The last transitions of ``mach`` if a recorder watches it, else its current states."""
    rec = recorder_of(mach)
    if rec is None:
        return f"machine {mach.id} (no recorder): {mach.string_all()}"
    return rec.render(last)
