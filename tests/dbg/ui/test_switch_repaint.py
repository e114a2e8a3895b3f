"""Every kind of switch leaves every pane as a full repaint would draw it (issue: the log kept the
previous machine's lines below a shorter frame). Steps on the Go fixture: go-to-address typed with
ctrl+g, the list (Enter), ctrl+↑/↓, history back/forward, filters, log levels, views, the reader,
resizes; and a clean-on-connect of a new run streamed live over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from am_core import LogLevel, Machine
from am_dbg.config import parse_args
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_rpc.dbg import connect

from .helpers import make_app
from .recorded import SCHEMA, fixture_session
from .screen_check import settle, stale_rows

START = "mach://sim/ad498c64abf3e98f25f529b9257d6617"


async def test_every_switch_repaints_every_pane_like_a_full_repaint() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        assert app.viewer.selected == "sim"
        stale: dict[str, list[str]] = {}

        async def step(name: str, act: Callable[[], Awaitable[object]]) -> None:
            await act()
            await settle(app, pilot)
            rows = await stale_rows(app, pilot)
            if rows:
                stale[name] = rows

        async def goto(url: str) -> None:
            await pilot.press("ctrl+g", "ctrl+u", *url, "enter")

        async def select_in_list(mach_id: str) -> None:
            app.client_list.focus()
            row = [m for m, _ in app.client_list.order].index(mach_id)
            app.client_list.move_to(row)
            await pilot.press("enter")

        async def tool(name: str) -> None:
            app.mach.add1(S.ToggleTool, {"tool": name})

        await step("ctrl+g casablanca", lambda: goto("mach://sim-t-casablanca"))
        assert app.viewer.selected == "sim-t-casablanca"
        await step("list Enter sim", lambda: select_in_list("sim"))
        assert app.viewer.selected == "sim"
        await step("ctrl+down", lambda: pilot.press("ctrl+down"))
        await step("ctrl+up", lambda: pilot.press("ctrl+up"))
        await step("ctrl+up again", lambda: pilot.press("ctrl+up"))
        await step("history back", lambda: pilot.press("ctrl+o"))
        await step("history back again", lambda: pilot.press("ctrl+o"))
        await step("history forward", lambda: pilot.press("ctrl+n"))
        await step("ctrl+g sim", lambda: goto(START))
        for name in ("canceled", "queued", "empty", "health", "canceled", "queued"):
            await step(f"filter {name}", lambda name=name: tool(name))  # type: ignore[misc]
        app.log_view.focus()
        for key in ("5", "1", "3", "2"):
            await step(f"log level {key}", lambda key=key: pilot.press(key))  # type: ignore[misc]
        await step("end", lambda: pilot.press("end"))
        await step("home", lambda: pilot.press("home"))
        await step("ctrl+g casablanca at home", lambda: goto("mach://sim-t-casablanca"))
        await step("ctrl+g sim again", lambda: goto(START))
        for k in range(5):
            await step(f"view {k + 1}", lambda: pilot.press("f2"))
        await step("reader off", lambda: pilot.press("f4"))
        await step("reader on", lambda: pilot.press("f4"))
        for size in ((120, 40), (90, 30), (160, 50)):
            await step(f"resize {size}", lambda size=size: pilot.resize_terminal(*size))  # type: ignore[misc]
            await step(f"switch at {size}", lambda: pilot.press("ctrl+down"))
        assert not stale, "\n".join(f"after {k}:\n" + "\n".join(v) for k, v in stale.items())


async def test_a_new_run_replacing_the_viewed_machine_repaints_every_pane() -> None:
    """Clean-on-connect: the second run of `run-a` (fewer log lines) replaces the first one."""
    cfg, _ = parse_args(["--test-mode", "-l", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:

        async def until(pred: Callable[[], bool], timeout: float = 30.0) -> None:
            for _ in range(int(timeout / 0.02)):
                if pred():
                    return
                await pilot.pause(0.02)
            raise AssertionError("timed out")

        await until(lambda: app.server is not None)
        addr = f"127.0.0.1:{app.server.addr[1]}"

        async def run(n: int) -> None:
            m = Machine(dict(SCHEMA), id="run-a", log_level=LogLevel.CHANGES)
            m.verify_states(list(SCHEMA))
            tracer = connect(m, addr, queued=False)
            m.add1("Start")
            m.add1("Ready")
            for _ in range(n):
                m.add1("Working")
                m.add1("Idle")
            total = 2 + 2 * n
            await until(
                lambda: (
                    (h := app.session.machines.get("run-a")) is not None
                    and len(h) == total
                    and app.viewer.history is h
                )
            )
            await asyncio.to_thread(tracer.close, 5.0)
            await until(lambda: not app.session.machines["run-a"].connected)

        await run(20)  # 42 transitions: the log is full
        app.mach.add1(S.ScrollToTx, {"cursor": len(app.session.machines["run-a"])})
        await settle(app, pilot)
        first = app.session.machines["run-a"]
        assert not await stale_rows(app, pilot)
        await run(1)  # 4 transitions: a short log
        assert app.session.machines["run-a"] is not first
        app.mach.add1(S.ScrollToTx, {"cursor": 4})
        rows = await stale_rows(app, pilot)
        assert not rows, "\n".join(rows)
