"""Navigation rules in the real app, driven like the Go integration tests: by adding states of the
debugger's own machine (spec/debugger.md §9), plus tail mode over a real socket."""

from __future__ import annotations

import asyncio

import pytest

from am_core import LogLevel, Machine, Result
from am_dbg.config import parse_args
from am_dbg.states import DbgStates as S
from am_dbg.ui import line_list
from am_dbg.ui.app import DbgApp
from am_rpc.dbg import connect
from tests.waiting import pause_until

from .helpers import cursor, make_app, settle
from .recorded import SCHEMA, fixture_session

MACHS = ("ps-2", "sim", "sim-p1")


async def _switch(pilot, app: DbgApp, machine: str, tx: int) -> None:  # type: ignore[no-untyped-def]
    """Go's scripted "switch to machine X at tx N"."""
    app.mach.add1(S.SelectingClient, {"id": machine})
    app.mach.add1(S.ScrollToTx, {"cursor": tx, "trim": True})
    await pilot.pause()


async def test_user_fwd_back_like_go() -> None:
    app = make_app(fixture_session(MACHS))
    async with app.run_test(size=(100, 50)) as pilot:
        await _switch(pilot, app, "sim", 20)
        assert app.mach.add1(S.UserFwd) != Result.CANCELED
        assert cursor(app) == (21, 0)
        await _switch(pilot, app, "sim", 20)
        assert app.mach.add1(S.UserBack) != Result.CANCELED
        assert cursor(app) == (19, 0)
        await _switch(pilot, app, "sim", 20)
        for _ in range(100):
            app.mach.add1(S.UserFwd)
        assert cursor(app)[0] >= 120  # filters (health) skip some transitions


async def test_state_jump_resets_the_step() -> None:
    app = make_app(fixture_session(MACHS))
    async with app.run_test(size=(100, 50)) as pilot:
        await _switch(pilot, app, "ps-2", 20)
        app.mach.add1(S.StateNameSelected, {"state": "PublishMessage"})
        app.mach.add1(S.UserFwdStep)
        app.mach.add1(S.UserFwdStep)
        assert cursor(app) == (20, 2)
        await pilot.press("right_square_bracket")  # state jump forward
        tx, step = cursor(app)
        assert step == 0 and tx > 21
        hist = app.viewer.history
        assert hist is not None
        info = hist.info(tx - 1)
        k = hist.state_names.index("PublishMessage")
        assert k in info.added or k in info.removed or k in info.called
        touching = [
            i + 1
            for i in range(len(hist))
            if k in hist.info(i).added or k in hist.info(i).removed or k in hist.info(i).called
        ]
        assert tx == min(t for t in touching if t > 20)
        await pilot.press("left_square_bracket")  # back: the previous touching tx, if any
        earlier = [t for t in touching if t < tx]
        assert cursor(app) == ((earlier[-1], 0) if earlier else (tx, 0))


async def test_stepping_wraps_into_the_adjacent_transitions() -> None:
    app = make_app(fixture_session(MACHS))
    async with app.run_test(size=(100, 50)) as pilot:
        await _switch(pilot, app, "ps-2", 20)
        hist = app.viewer.history
        assert hist is not None
        n = hist.info(20).n_steps  # steps of the next transition (21)
        for _ in range(n):
            app.mach.add1(S.UserFwdStep)
        assert cursor(app) == (20, n)
        await pilot.pause()
        assert app.tl_steps.border_title == f"Next mutation step {n} / {n}"
        app.mach.add1(S.UserFwdStep)
        assert cursor(app) == (21, 0)
        app.mach.add1(S.UserBackStep)  # back from step 0: previous tx, all steps of 21 shown
        assert cursor(app) == (20, n)


async def test_filter_toggle_snaps_the_cursor_back_and_counts() -> None:
    app = make_app(fixture_session(MACHS))
    async with app.run_test(size=(100, 50)) as pilot:
        await _switch(pilot, app, "sim", 1)
        hist = app.viewer.history
        assert hist is not None
        canceled = next(i for i in range(len(hist)) if not hist.info(i).accepted)
        await _switch(pilot, app, "sim", canceled + 1)
        assert cursor(app) == (canceled + 1, 0)
        app.mach.add1(S.ToggleTool, {"tool": "canceled"})
        await pilot.pause()
        await pilot.pause()
        tx = cursor(app)[0]
        assert tx <= canceled and hist.info(tx - 1).accepted
        vis = app.viewer.current.visible  # type: ignore[union-attr]
        n_canceled = sum(not hist.info(i).accepted for i in range(len(hist)))
        assert f"/ {len(vis)}" in str(app.tl_tx.border_title) and len(vis) <= len(hist) - n_canceled
        # moving with the filter on never lands on a canceled transition
        for _ in range(30):
            app.mach.add1(S.UserFwd)
            assert hist.info(cursor(app)[0] - 1).accepted


async def test_switching_machine_keeps_the_moment() -> None:
    app = make_app(fixture_session(MACHS))
    async with app.run_test(size=(100, 50)) as pilot:
        await _switch(pilot, app, "sim", 40)
        moment = app.viewer.moment_ns()
        assert moment is not None
        app.mach.add1(S.SelectingClient, {"id": "sim-p1"})
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None and hist.id == "sim-p1"
        tx = cursor(app)[0]
        assert hist.info(tx - 1).time_ns <= moment
        assert tx == len(hist) or hist.info(tx).time_ns > moment


async def test_tail_follows_new_batches_from_live_machines() -> None:
    cfg, _ = parse_args(["--test-mode", "-l", "127.0.0.1:0"])
    app = DbgApp(cfg)
    async with app.run_test(size=(160, 50)) as pilot:
        await pause_until(pilot, lambda: app.server is not None, what="the server")
        assert app.server is not None
        port = app.server.addr[1]
        mach = Machine(dict(SCHEMA), id="live-1", log_level=LogLevel.CHANGES)
        mach.verify_states(list(SCHEMA))
        tracer = connect(mach, f"127.0.0.1:{port}", queued=False)

        async def until(pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
            await pause_until(pilot, pred, timeout)

        mach.add1("Start")
        mach.add1("Ready")
        mach.add1("Working")
        await until(lambda: app.viewer.history is not None and len(app.viewer.history) >= 3)
        await until(lambda: cursor(app) == (len(app.viewer.history), 0))  # type: ignore[arg-type]
        assert app.viewer.selected == "live-1" and app.mach.is1(S.TailMode)  # first machine: tail
        await pilot.press("left", "left")
        assert not app.mach.is1(S.TailMode)
        await pilot.press("ctrl+t")
        assert app.mach.is1(S.TailMode) and cursor(app) == (3, 0)
        for _ in range(5):
            mach.add1("Working")
        await until(lambda: cursor(app) == (8, 0))
        assert app.tl_tx.border_title == "Transition 8 / 8"
        await pilot.press("left")  # leave tail: new batches no longer move the cursor
        mach.add1("Working")
        await until(lambda: len(app.viewer.history) == 9)  # type: ignore[arg-type]
        await settle(pilot, app)  # the batch is drawn: the cursor stayed
        assert cursor(app) == (7, 0)
        await asyncio.to_thread(tracer.close, 2.0)
        await until(lambda: not app.session.machines["live-1"].connected)


async def test_tree_enter_on_a_reference_jumps_to_that_state_and_search_selects() -> None:
    app = make_app(fixture_session(MACHS), "mach://sim-p1")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        tree = app.states_tree
        tree.focus()
        await pilot.press("r")  # search-as-you-type: the first state after the cursor with "r"
        assert app.viewer.state_name == "Ready"
        await pilot.press("enter")  # expand: Require -> Start, Connected
        rows = tree.row_meta
        ref = next(k for k, r in enumerate(rows) if r.kind == "ref" and r.state == "Connected")
        tree.move_to(ref)
        await pilot.pause()
        assert app.viewer.state_name == "Connected"  # a reference selects its state too
        await pilot.press("enter")
        row = tree.row_meta[tree.cursor_row]
        assert row.kind == "state" and row.state == "Connected"
        assert app.viewer.state_name == "Connected"


async def test_search_as_you_type_takes_names_as_they_are_spelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """State names are CamelCase: typing them with Shift must find them, in the tree and the list."""
    # the typed buffer resets 1.5 s after its first key: on a busy box nine key presses can take
    # longer, so the buffer lives for a minute here (this test is about case, not about time)
    monkeypatch.setattr(line_list, "SEARCH_RESET_S", 60.0)
    app = make_app(fixture_session(MACHS), "mach://sim-p1")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.states_tree.focus()
        await pilot.press("C", "o", "n", "n", "e", "c", "t", "e", "d")
        assert app.viewer.state_name == "Connected"
        app.client_list.focus()
        app.client_list.move_to(0)
        await pilot.press("S", "I", "M", "minus")  # downward from the top row, no wrap-around
        assert app.client_list.hovered() == "sim-p1"


async def test_steps_overlay_marks_touched_states_and_draws_relation_lines() -> None:
    app = make_app(fixture_session(("sim-p1",)), "--no-view-tail")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None
        i = next(i for i in range(len(hist)) if sum(s.type & 1 for s in hist.tx(i).steps) >= 2)
        app.mach.add1(S.ScrollToTx, {"cursor": i})
        for _ in range(hist.info(i).n_steps):
            app.mach.add1(S.UserFwdStep)
        await pilot.pause()
        tree = app.states_tree
        touched = {hist.state_names[k] for k in hist.info(i).touched}
        tops = [r.state for r in tree.row_meta if r.kind == "state"]
        assert set(tops[: len(touched)]) == touched  # touched states first, expanded
        plain = [t.plain for t in tree.rows]
        marked = [
            r.state for r, p in zip(tree.row_meta, plain, strict=True) if " +" in p or " *" in p
        ]
        assert marked and set(marked) <= touched  # `+` / `*` markers only on touched states
        green = app.pal.green
        starts = [t for t in tree.rows if any(str(sp.style).find(green) >= 0 for sp in t.spans)]
        assert starts, "a relation line starts (green) at a reference row"
        assert any("...." in p for p in plain)  # dotted leaders to the line columns


async def test_narrow_layout_follows_the_terminal_width_after_a_resize() -> None:
    app = make_app(fixture_session(("ps-2",)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.client_list.display and not app.mach.is1(S.NarrowLayout)
        await pilot.resize_terminal(90, 30)
        await pause_until(pilot, lambda: app.mach.is1(S.NarrowLayout), what="the narrow layout")
        await pilot.pause()
        assert app.mach.is1(S.NarrowLayout) and not app.client_list.display
        await pilot.resize_terminal(160, 50)
        await pause_until(pilot, lambda: app.mach.not1(S.NarrowLayout), what="the wide layout")
        await pilot.pause()
        assert not app.mach.is1(S.NarrowLayout) and app.client_list.display


async def test_a_resize_reaches_the_screen_before_the_narrow_layout_debounce() -> None:
    """The screen is laid out for the new size right away (Textual's own resize timer); only the
    narrow-layout decision waits 300 ms. The app's debounce timer once shared the attribute name
    of Textual's and stopped it: a terminal kept the old frame until the next key press."""
    app = make_app(fixture_session(("ps-2",)))
    async with app.run_test(size=(90, 30)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(160, 50)
        # with no key pressed: the bug kept the old frame until the next key press
        await pause_until(
            pilot,
            lambda: (
                app.screen.size == (160, 50) and len(app.screen._compositor.render_strips()) == 50
            ),
            what="the screen laid out for 160x50",
        )
        await pause_until(pilot, lambda: app.mach.not1(S.NarrowLayout), what="the wide layout")
        await pilot.pause()
        assert not app.mach.is1(S.NarrowLayout) and app.client_list.display
        lines = [s.text for s in app.screen._compositor.render_strips()]
        assert len(lines) == 50 and lines[2].startswith("╭─ Machines:1")


async def test_heartbeat_gc_drops_old_transitions_but_keeps_the_viewed_one() -> None:
    session = fixture_session(("sim", "ps-2"))
    session.max_mem_bytes = session.stored_bytes // 3
    app = make_app(session, "--no-view-tail")
    async with app.run_test(size=(160, 50)) as pilot:
        app.mach.add1(S.SelectingClient, {"id": "sim"})
        app.mach.add1(S.ScrollToTx, {"cursor": 200})
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None
        viewed = hist.info(199).id
        app.mach.add1(S.Heartbeat)
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None and len(hist) < 219
        tx = cursor(app)[0]
        assert hist.info(tx - 1).id == viewed  # same transition, shifted index
        assert f"/ {len(hist)}" in str(app.tl_tx.border_title)  # counters follow the new length
