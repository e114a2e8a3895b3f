"""Small real histories for navigation tests: a `MachineHistory` fed with `TxMsg`s built step by step."""

from __future__ import annotations

from am_dbg.model.history import MachineHistory
from am_rpc.dbg.protocol import LogEntry, SchemaMsg, StateDef, Step, TxMsg

NAMES = ("A", "B", "C", "Healthcheck", "Exception")


class HistoryBuilder:
    """Appends transitions the way a machine would report them (clocks after each tx)."""

    def __init__(
        self, names: tuple[str, ...] = NAMES, mach_id: str = "m1", multi: tuple[str, ...] = ()
    ) -> None:
        states = {n: StateDef(multi=n in multi or n in ("Healthcheck", "Exception")) for n in names}
        self.names = names
        self.schema = SchemaMsg(
            id=mach_id,
            states_index=names,
            states=states,
            groups={"first": (0, 1)},
            groups_order=("first",),
        )
        self.hist = MachineHistory(self.schema, "c1")
        self.clocks = [0] * len(names)
        self.t = 1_700_000_000_000_000_000
        self.n = 0

    def idx(self, name: str) -> int:
        return self.names.index(name)

    def tx(
        self,
        called: str = "A",
        *,
        add: tuple[str, ...] = (),
        remove: tuple[str, ...] = (),
        accepted: bool = True,
        auto: bool = False,
        check: bool = False,
        queued: bool = False,
        steps: int = 0,
        type: int = 0,
        queue_tick: int = 0,
        mut_queue_tick: int = 0,
    ) -> int:
        """Append one message; returns its 0-based index."""
        if accepted and not queued and not check:
            for s in add:
                if self.clocks[self.idx(s)] % 2 == 0:
                    self.clocks[self.idx(s)] += 1
            for s in remove:
                if self.clocks[self.idx(s)] % 2 == 1:
                    self.clocks[self.idx(s)] += 1
        c = self.idx(called)
        self.n += 1
        self.t += 1_000_000
        msg = TxMsg(
            mach_id=self.schema.id,
            id=f"tx{self.n}",
            clocks=tuple(self.clocks),
            type=type,
            called=(c,),
            accepted=accepted,
            is_auto=auto,
            is_check=check,
            is_queued=queued,
            queue_tick=queue_tick,
            mut_queue_tick=mut_queue_tick,
            steps=tuple(Step(type=32, to_idx=c) for _ in range(steps)),
            log=(LogEntry(2, f"[state] +{called}"),),
            time=self.t,
        )
        self.hist.append(msg, self.t)
        return len(self.hist) - 1

    def toggles(self, n: int, state: str = "A") -> None:
        """`n` accepted transitions flipping `state` on and off."""
        for _ in range(n):
            if self.clocks[self.idx(state)] % 2 == 0:
                self.tx(state, add=(state,))
            else:
                self.tx(state, remove=(state,), type=1)
