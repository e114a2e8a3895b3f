"""A start address that names no machine is reported, not silently replaced (spec/debugger.md §5.11)."""

from __future__ import annotations

from tests.dbg.ui.helpers import make_app
from tests.dbg.ui.recorded import fixture_session

MACHS = ("ps-2", "sim", "sim-p1")


async def test_an_unknown_start_machine_is_an_error_naming_it() -> None:
    app = make_app(fixture_session(MACHS), "mach://nope/abc")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        toasts = [n for n in app._notifications if n.severity == "error"]
        assert toasts, "no error shown"
        assert "mach://nope/abc" in toasts[0].message and "'nope'" in toasts[0].message
        assert app.viewer.selected in MACHS  # something is still shown, and the toast says what
        assert app.viewer.selected in toasts[0].message


async def test_a_known_start_machine_opens_without_an_error() -> None:
    app = make_app(fixture_session(MACHS), "mach://sim")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.viewer.selected == "sim"
        assert not [n for n in app._notifications if n.severity == "error"]
