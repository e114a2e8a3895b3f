"""A program with a parent and a child machine, streaming with `connect_env` (run as a process)."""

from __future__ import annotations

import sys

from am_core import Machine, State
from am_rpc.dbg import connect_env

SCHEMA = {"Start": State(), "Ready": State(require=["Start"]), "Work": State(multi=True)}


def main() -> None:
    parent = Machine(dict(SCHEMA), id="family")
    tracers = [connect_env(parent)]
    child = Machine(dict(SCHEMA), id="family-child", parent=parent)
    tracers.append(connect_env(child))
    for m in (parent, child):
        m.add(["Start", "Ready"])
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        child.add1("Work")
        parent.add1("Work")
    for t in tracers:
        assert t is not None and t.close(10)


if __name__ == "__main__":
    main()
