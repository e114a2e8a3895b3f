"""A 100-state machine for the diagram pane: a relation graph larger than the pane both ways.

`S<k>` (k >= 10) requires `S<k % 10>`, and (k >= 20) adds `S<k - 10>`: ten layers of ten states.
`big_session()` runs a real `am_core` machine through the real telemetry sender and ingest server
(`recorded.record_live`), so the pane draws what am-dbg would receive.
"""

from __future__ import annotations

import asyncio
from typing import Any

from am_core import LogLevel, Machine, State
from am_dbg.model.session import Session

from .recorded import record_live

N = 100
NAMES = [f"S{k:02d}" for k in range(N)]
# what the scenario calls, in order: the view follows these
CALLS = ["S05", "S15", "S95", "S47", "S03", "S13", "S83"]


def schema() -> dict[str, State]:
    out: dict[str, State] = {}
    for k, name in enumerate(NAMES):
        req = [NAMES[k % 10]] if k >= 10 else []
        add = [NAMES[k - 10]] if k >= 20 else []
        out[name] = State(require=req, add=add)
    return out


def _scenario(addr: str) -> tuple[list[Machine], list[Any]]:
    from am_rpc.dbg import connect

    m = Machine(schema(), id="big-100", log_level=LogLevel.OPS)
    m.verify_states([*NAMES, "Exception"])
    tracer = connect(m, addr)
    for name in CALLS:
        m.add1(name)
    return [m], [tracer]


def big_session() -> Session:
    return asyncio.run(record_live(_scenario, disconnect=()))
