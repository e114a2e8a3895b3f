"""The status bar's spinner while a long machine is selected (its first frame replays history)."""

from __future__ import annotations

from rich.console import RenderableType
from ui.recorded import fixture_session

from am_dbg.config import parse_args
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp
from am_dbg.ui.status_bar import SPINNER
from tests.waiting import pause_until

MACHS = ("ps-2", "sim-p1")


def _app(*flags: str) -> DbgApp:
    cfg, _ = parse_args(["-l", "-1", *flags])
    return DbgApp(cfg, session=fixture_session(MACHS))


def _spinning(app: DbgApp) -> bool:
    return app.status._left.plain[:1] in SPINNER


async def test_selecting_a_long_machine_spins_until_its_first_frame_is_drawn() -> None:
    app = _app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.viewer.selected == "ps-2" and not _spinning(app)
        app.busy_txs = 1  # every machine counts as long
        frames = app.frames
        app.mach.add1(S.SelectingClient, {"id": "sim-p1"})
        # shown before the (slow) selection, which waits so the screen can show the spinner
        assert _spinning(app) and app.busy == 1 and app.viewer.selected == "ps-2"
        await pause_until(
            pilot, lambda: app.viewer.selected == "sim-p1" and app.busy == 0, what="the selection"
        )
        assert app.frames > frames and app.viewer.selected == "sim-p1"
        assert app.busy == 0 and not _spinning(app)
        assert app.status._left.plain.startswith("Graph:t")
        app.busy_txs = 10**9  # short machines: no spinner, selected at once
        app.mach.add1(S.SelectingClient, {"id": "ps-2"})
        assert not _spinning(app) and app.viewer.selected == "ps-2"


async def test_the_spinner_turns_while_busy_and_stops_after() -> None:
    app = _app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.busy_start()
        first = app.status._left.plain[0]
        await pause_until(pilot, lambda: app.status._left.plain[0] != first, what="a turn")
        assert _spinning(app) and app.status._left.plain[0] != first
        app.busy_end()
        await pilot.pause()
        assert not _spinning(app) and app._spin_timer is None


async def test_no_spinner_in_test_mode() -> None:
    app = _app("--test-mode")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.busy_txs = 1
        app.mach.add1(S.SelectingClient, {"id": "sim-p1"})
        assert not _spinning(app) and app.busy == 0
        await pilot.pause()
        assert app.viewer.selected == "sim-p1" and not _spinning(app)


async def test_a_long_import_spins_on_screen_before_its_first_frame() -> None:
    app = _app()
    app.busy_txs = 1  # every loaded machine counts as long
    painted: list[tuple[int, str]] = []  # (frames drawn, status text) at each status render
    render = app.status.render

    def spy() -> RenderableType:
        painted.append((app.frames, app.status._left.plain))
        return render()

    app.status.render = spy  # type: ignore[method-assign]
    async with app.run_test(size=(160, 50)) as pilot:
        await pause_until(
            pilot,
            lambda: app.frames > 0 and app.viewer.selected == "ps-2" and app.busy == 0,
            what="the first frame",
        )
        assert app.frames > 0 and app.viewer.selected == "ps-2"
        assert painted[0][0] == 0 and painted[0][1][:1] in SPINNER  # on screen before frame 1
        assert app.busy == 0 and not _spinning(app)
