"""Re-runs and first connects open where the action is (spec/debugger.md §3.5, §5.10): a new run
of the viewed program is followed in tail mode, like Go does for a new first client; a program's
parent machine is selected first, whatever order its machines connect in."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

from am_core import LogLevel, Machine
from am_dbg.config import parse_args
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_rpc.dbg import connect
from tests.dbg.ui.helpers import cursor
from tests.dbg.ui.recorded import SCHEMA

ROOT = Path(__file__).parents[3]


async def _until(pilot, pred: Callable[[], object], what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def _listening(pilot, app: DbgApp) -> int:  # type: ignore[no-untyped-def]
    await _until(pilot, lambda: app.server is not None, "the server")
    return int(app.server.addr[1])


def _start(port: int) -> tuple[Machine, object]:
    mach = Machine(dict(SCHEMA), id="prog", log_level=LogLevel.CHANGES)
    t = connect(mach, f"127.0.0.1:{port}", queued=False)
    mach.add1("Start")
    mach.add1("Ready")
    return mach, t


def _work(mach: Machine, t: object, n: int) -> None:
    for _ in range(n):
        mach.add1("Working")
    assert t.close(10)  # type: ignore[attr-defined]


def _run(port: int, n: int) -> None:
    _work(*_start(port), n)


async def test_a_new_run_with_tail_off_is_followed_in_tail_mode() -> None:
    cfg, _ = parse_args(["--test-mode", "-l", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        port = await _listening(pilot, app)
        await asyncio.to_thread(_run, port, 3)
        await _until(
            pilot, lambda: app.viewer.history is not None and len(app.viewer.history) == 5, "run 1"
        )
        await _until(pilot, lambda: not app.session.machines["prog"].connected, "run 1 gone")
        await pilot.press("left", "left")  # the user leaves tail mode
        assert not app.mach.is1(S.TailMode)
        await asyncio.to_thread(_run, port, 6)  # a new run: clean-on-connect replaces run 1
        await _until(
            pilot, lambda: app.viewer.history is not None and len(app.viewer.history) == 8, "run 2"
        )
        await _until(pilot, lambda: cursor(app) == (8, 0), "the cursor at run 2's newest tx")
        assert app.viewer.selected == "prog" and app.mach.is1(S.TailMode)
        assert "Initial machine schema" not in app.tx_bar._left.plain


async def test_the_parent_is_selected_on_first_connect_with_am_log_3() -> None:
    cfg, _ = parse_args(["--test-mode", "-l", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        port = await _listening(pilot, app)
        env = dict(os.environ, AM_DBG_ADDR=f"127.0.0.1:{port}", AM_LOG="3")
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("family.py")), "20",
            env=env, stdout=asyncio.subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        assert await proc.wait() == 0
        machines = app.session.machines
        await _until(pilot, lambda: {"family", "family-child"} <= set(machines), "both machines")
        await _until(pilot, lambda: app.viewer.selected != "", "a selection")
        assert app.viewer.selected == "family"


async def test_a_parent_connecting_after_its_child_takes_over_the_first_selection() -> None:
    """The race seen with AM_LOG=3 (the child's link won), made deterministic."""
    cfg, _ = parse_args(["--test-mode", "-l", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        port = await _listening(pilot, app)
        addr = f"127.0.0.1:{port}"
        parent = Machine(dict(SCHEMA), id="fam")
        child = Machine(dict(SCHEMA), id="fam-child", parent=parent)
        tc = connect(child, addr, queued=False)
        child.add1("Start")
        await _until(pilot, lambda: app.viewer.selected == "fam-child", "the child alone")
        tp = connect(parent, addr, queued=False)
        parent.add1("Start")
        await _until(pilot, lambda: "fam" in app.session.machines, "the parent")
        await _until(pilot, lambda: app.viewer.selected == "fam", "the parent selected")
        assert app.mach.is1(S.TailMode)
        # once the user picked a machine, a later parent does not take it away
        app.mach.add1(S.SelectingClient, {"id": "fam-child"})
        late = Machine(dict(SCHEMA), id="fam-late")
        grandchild = Machine(dict(SCHEMA), id="fam-late-child", parent=late)
        tg = connect(grandchild, addr, queued=False)
        tl = connect(late, addr, queued=False)
        await _until(pilot, lambda: "fam-late" in app.session.machines, "the late parent")
        await pilot.pause()
        assert app.viewer.selected == "fam-child"
        for t in (tc, tp, tg, tl):
            await asyncio.to_thread(t.close, 5)
