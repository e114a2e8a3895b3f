"""The stack-trace overlay: a sender with stack traces on, a mutation queued from a handler; the
reader's Source section offers the trace and Enter shows it (spec §4.6, §4.12)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ui.helpers import cursor, make_app
from ui.recorded import record_live

from am_core import Machine, State
from am_dbg.model.session import Session
from am_dbg.ui.trace_overlay import TraceOverlay
from am_rpc.dbg import connect

from .data import wait_for


class _Handlers:
    def StartState(self, e: Any) -> None:
        e.machine().add1("Ready")  # queued from a handler: its queued message carries a trace


def queue_from_a_handler_here(addr: str) -> tuple[list[Machine], list[Any]]:
    m = Machine({"Start": State(), "Ready": State(), "Exception": State(multi=True)}, id="tr")
    m.verify_states(["Start", "Ready", "Exception"])
    tracers = [connect(m, addr, stack_traces=True)]
    m.handlers_bind(_Handlers())
    m.add1("Start")
    return [m], tracers


@pytest.fixture(scope="module")
def traced() -> Session:
    return asyncio.run(record_live(queue_from_a_handler_here, disconnect=()))


async def test_queued_mutation_trace_opens_in_the_overlay(traced: Session) -> None:
    h = traced.machines["tr"]
    q = next(i for i in range(len(h)) if h.info(i).is_queued and h.tx(i).stack_trace)
    app = make_app(traced, f"mach://tr/{h.info(q).id}")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert cursor(app)[0] == q + 1
        reader = app.part2.reader_view
        row = next(k for k, r in enumerate(reader.row_meta) if r.text == "stack trace")
        reader.focus()
        reader.move_to(row)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, TraceOverlay))
        text = str(app.screen.query_one("Static").render())
        assert "queue_from_a_handler_here" in text
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, TraceOverlay))
