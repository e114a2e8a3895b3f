"""The debugger debugging itself (`--dbg-am-dbg-addr`): one am-dbg (the real app, driven by Pilot)
streams its own state machine over a real socket to a second, headless am-dbg process, which records
it; the recording holds the debugger's schema and every UI transition the keys caused."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from ui.helpers import make_app

from am_dbg.recordings import load
from am_dbg.states import DbgStates as S

from .data import PS2_URL, go_session, wait_for


async def _start_headless(rec: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "am_dbg",
        "--headless",
        "-l",
        "127.0.0.1:0",
        "--record",
        str(rec),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "AM_DBG_ADDR": ""},
    )
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, "headless am-dbg exited before listening"
        if line.startswith("listening on "):
            return proc, line.split()[-1]


async def test_am_dbg_streams_its_own_machine_to_a_headless_am_dbg(tmp_path: Path) -> None:
    rec = tmp_path / "self.amdbg"
    proc, addr = await _start_headless(rec)
    try:
        app = make_app(go_session(), PS2_URL, "--dbg-am-dbg-addr", addr, "--dbg-id", "first")
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            await pilot.press("right", "right", "left", "f2")
            await pilot.pause()
            tracer = app.part2.tracer
            assert tracer is not None
            assert await wait_for(pilot, lambda: tracer.stats().acked >= 8, 10)
        assert app.part2.tracer is None  # closed (flushed) on exit
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0
    got = load(rec)
    machines = {sc.id: (sc, list(txs)) for sc, txs in got.machines}
    assert "d-first" in machines
    schema, txs = machines["d-first"]
    assert schema.states_index == tuple(S.names())
    called = [
        {schema.states_index[k] for k in tx.called} if tx.type == 0 else set()
        for tx in txs
        if not tx.is_queued
    ]
    flat = set().union(*called)
    for state in (S.Start, S.Ready, S.SelectingClient, S.UserFwd, S.UserBack, S.TreeMatrixView):
        assert state in flat, state  # called by the app: keys, the start address, F2
    fwd = [k for k, c in enumerate(called) if S.UserFwd in c]
    back = [k for k, c in enumerate(called) if S.UserBack in c]
    assert len(fwd) == 2 and len(back) == 1 and fwd[1] < back[0]
    # the moves themselves (added by the intents' relations), each on and off again
    last = txs[-1].clocks
    tick = {name: last[k] if k < len(last) else 0 for k, name in enumerate(schema.states_index)}
    assert tick[S.Fwd] >= 4 and tick[S.Back] >= 2
