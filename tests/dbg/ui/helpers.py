"""Building the real app for Pilot and snapshot tests."""

from __future__ import annotations

from typing import Any

from am_dbg.config import parse_args
from am_dbg.model.session import Session
from am_dbg.ui.app import DbgApp
from tests.waiting import pause_until


def make_app(session: Session, *args: str) -> DbgApp:
    """The app in test mode (fixed port text, memory figure, no spinner), not listening."""
    cfg, _ = parse_args(["--test-mode", "-l", "-1", *args])
    return DbgApp(cfg, session=session)


async def settle(pilot: Any, app: DbgApp) -> None:
    """Pause until the app has nothing left to draw (no redraw or throttle timer pending), then
    once more so the compositor paints it: what a fixed pause hoped for, on a box of any speed."""
    await pause_until(
        pilot,
        lambda: not app._redraw_pending and app._clients_timer is None and app._hot_timer is None,
        what="the app to settle",
    )
    await pilot.pause()


def cursor(app: DbgApp) -> tuple[int, int]:
    c = app.viewer.cursor
    return c.tx, c.step
