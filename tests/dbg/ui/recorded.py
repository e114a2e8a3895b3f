"""Test data for the UI: the Go fixture, and histories recorded from real am_core machines.

`record_live()` runs real machines with the real telemetry sender against a real ingest server on
127.0.0.1, then replays what the server stored into a fresh `Session` through its live API
(`on_schema` / `on_txs` / `on_disconnect`) with fixed receive times, so snapshots are deterministic
(transition ids are seeded through `random`, which am_core uses for them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from am_core import LogLevel, Machine, State
from am_dbg.model.session import Session
from am_dbg.recordings.gob_import import read_gob_dump
from am_dbg.server import IngestServer
from am_rpc.dbg import connect
from am_rpc.dbg.protocol import SchemaMsg, TxMsg

FIXTURE = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"
T0 = 1_750_000_000_000_000_000  # fixed receive time of the first recorded transition

Recorded = list[tuple[SchemaMsg, list[TxMsg]]]


@cache
def go_fixture() -> Recorded:
    return [(s, list(t)) for s, t in read_gob_dump(FIXTURE)]  # type: ignore[misc]


def fixture_session(only: tuple[str, ...] | None = None) -> Session:
    s = Session()
    data = go_fixture()
    s.load([(sc, txs) for sc, txs in data if only is None or sc.id in only])
    return s


SCHEMA = {
    "Start": State(),
    "Ready": State(require=["Start"]),
    "Working": State(multi=True, require=["Ready"]),
    "Idle": State(require=["Ready"], remove=["Working"]),
    "Exception": State(multi=True),
}


def _workers(addr: str) -> tuple[list[Machine], list[Any]]:
    """Three machines: w-1 ends with an error, w-2 (child of w-1) recovered from one, w-3 is healthy."""
    ops = LogLevel.OPS
    # no stack traces: their file paths would differ from one checkout to another
    nt = {"log_level": ops, "dont_log_stack_trace": True}
    w1 = Machine(dict(SCHEMA), id="w-1", tags=["role:worker"], **nt)  # type: ignore[arg-type]
    w2 = Machine(dict(SCHEMA), id="w-2", parent=w1, tags=["child"], **nt)  # type: ignore[arg-type]
    w3 = Machine(dict(SCHEMA), id="w-3", **nt)  # type: ignore[arg-type]
    machs = [w1, w2, w3]
    for m in machs:
        m.verify_states(list(SCHEMA))
    tracers = [connect(m, addr) for m in machs]
    for m in machs:
        m.add1("Start")
        m.add1("Ready")
        for _ in range(3):
            m.add1("Working")
        m.add1("Idle")
        m.add1("Working")
    w1.add_err(ValueError("disk full"))
    w2.add_err(ValueError("timeout"))
    w2.remove1("Exception")
    w2.add1("Idle")
    w3.remove1("Start")  # Ready and Idle need Start: removed with it
    for m in (w3, w3):  # w-3 runs on after w-2 recovered: at its moment w-2 shows a recent error
        m.add1("Start")
        m.add1("Ready")
        m.remove1("Start")
    return machs, tracers


async def record_live(
    scenario: Callable[[str], tuple[list[Machine], list[Any]]] = _workers,
    disconnect: tuple[str, ...] = ("w-3",),
    seed: int = 7,
) -> Session:
    random.seed(seed)
    live = Session()
    srv = IngestServer(live, host="127.0.0.1", port=0, batch_interval=0.02)
    _host, port = await srv.start()
    try:
        machs, tracers = scenario(f"127.0.0.1:{port}")
        for t in tracers:
            await asyncio.to_thread(t.close, 5.0)
        await srv.settle()
    finally:
        await srv.close()
    out = Session()
    for m in machs:
        t = T0  # every machine's k-th message at the same moment: time travel lines them up
        hist = live.machines[m.id]
        conn = f"conn-{m.id}"
        out.on_schema(hist.schema, conn, now_ns=t)
        msgs = []
        for i in range(len(hist)):
            t += 1_000_000
            # fixed receive time, no sender time: the wall clock must not reach a snapshot
            msgs.append((conn, dataclasses.replace(hist.tx(i), time=t, sender_time=0)))
        out.on_txs(msgs, now_ns=t)
        if m.id in disconnect:
            out.on_disconnect(conn, now_ns=t)
    return out
