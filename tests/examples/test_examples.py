"""Every example program, run as written (``python examples/x.py``) against a real ingest server.

Each example streams through ``AM_DBG_ADDR`` to an am-dbg ingest server on a real socket; the test
checks that its machines arrived (ids, parents, tags) and that together they show the debugger the
behaviour they promise (canceled transitions, queued mutations, auto, multi, errors with traces...).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import pytest

from am_dbg.model.session import Session
from am_dbg.server.ingest import IngestServer
from tests.examples.expected import EXPECTED
from tests.examples.kinds import kinds_of
from tests.waiting import await_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_FOR = 4.0  # seconds each example runs


async def run_example(name: str, addr: str, duration: float = RUN_FOR) -> tuple[int, str, str]:
    env = {**os.environ, "AM_DBG_ADDR": addr}
    env.pop("AM_LOG", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / f"{name}.py"),
        "--duration",
        str(duration),
        cwd=str(ROOT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), duration + 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_example_streams_its_machines_to_am_dbg(name: str) -> None:
    session = Session()
    srv = IngestServer(session, host="127.0.0.1", port=0)
    await srv.start()
    try:
        code, out, err = await run_example(name, f"127.0.0.1:{srv.port}")
        # the process has exited; its last bytes and hang-ups may still be in flight to the server
        with contextlib.suppress(AssertionError):  # the asserts below say what is missing
            await await_until(
                lambda: all(
                    mid in session.machines and not session.machines[mid].connected
                    for mid in EXPECTED[name][0]
                ),
                what="every machine of the example to hang up",
            )
        await srv.settle()
    finally:
        await srv.close()
    assert code == 0, f"{name} exited with {code}\n{err[-2000:]}"
    assert out.startswith(f"{name}: "), out  # the one-line report
    parents, kinds = EXPECTED[name]
    machines = session.machines
    assert set(parents) <= set(machines), f"missing: {set(parents) - set(machines)}"
    for mid, parent in parents.items():
        hist = machines[mid]
        assert hist.parent_id == parent, mid
        assert len(hist) > 0, f"{mid} sent no transitions"
        assert not hist.connected, f"{mid} did not disconnect at exit"
    data = [
        (h.schema, [h.tx(i) for i in range(len(h))])
        for mid, h in machines.items()
        if mid in parents
    ]
    found = kinds_of(data)
    assert kinds <= set(found), f"{name} lacks {sorted(kinds - set(found))}; has {found}"


async def test_example_without_am_dbg_runs_and_says_how_to_watch() -> None:
    code, out, err = await run_example("ui_input", "", duration=1.0)
    assert code == 0, err
    assert "set AM_DBG_ADDR=1 and run am-dbg" in out
