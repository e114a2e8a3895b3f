"""Building the real app for Pilot and snapshot tests."""

from __future__ import annotations

from am_dbg.config import parse_args
from am_dbg.model.session import Session
from am_dbg.ui.app import DbgApp


def make_app(session: Session, *args: str) -> DbgApp:
    """The app in test mode (fixed port text, memory figure, no spinner), not listening."""
    cfg, _ = parse_args(["--test-mode", "-l", "-1", *args])
    return DbgApp(cfg, session=session)


def cursor(app: DbgApp) -> tuple[int, int]:
    c = app.viewer.cursor
    return c.tx, c.step
