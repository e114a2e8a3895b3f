"""A ``transitions`` machine (a door: closed, open, locked) watched in am-dbg.

Run ``am-dbg`` in one terminal, then ``python examples/adapters/transitions_door.py``.
"""

from __future__ import annotations

import sys
import time

from transitions import Machine

from am_dbg.adapters.transitions import attach


class Door:
    def on_enter_locked(self) -> None:
        print("click")


def main(addr: str = "localhost:6831", rounds: int = 5, pause: float = 0.5) -> None:
    door = Door()
    machine = Machine(
        door,
        states=["closed", "open", "locked"],
        transitions=[
            ["open_", "closed", "open"],
            ["close", "open", "closed"],
            ["lock", "closed", "locked"],
            ["unlock", "locked", "closed"],
        ],
        initial="closed",
    )
    dbg = attach(machine, addr, id="door")
    for _ in range(rounds):
        for trigger in ("open_", "close", "lock", "open_", "unlock"):
            try:
                door.trigger(trigger)
            except Exception as e:  # "open_" while locked: shown in am-dbg as an error
                print(e)
            time.sleep(pause)
    dbg.close(5)


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["localhost:6831"]))
