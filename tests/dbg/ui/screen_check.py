"""What the screen shows against what a forced full repaint of every widget shows.

Panes repaint row by row (only what changed). A row that should have changed but was not repainted
keeps showing an older frame: another machine's log lines, a longer tree. `stale_rows` renders the
screen as painted, then drops every widget's caches and repaints every widget with layout, renders
again and returns the rows that differ. Waiting is on conditions (no redraw pending, no timer
armed), never on a fixed delay.
"""

from __future__ import annotations

from textual.pilot import Pilot

from am_dbg.ui.app import DbgApp

__all__ = ["screen_lines", "settle", "stale_rows"]


def screen_lines(app: DbgApp) -> list[str]:
    return [s.text for s in app.screen._compositor.render_strips()]


def _busy(app: DbgApp) -> bool:
    return (
        app._redraw_pending
        or app._narrow_timer is not None
        or app._clients_timer is not None
        or app._hot_timer is not None
    )


async def settle(app: DbgApp, pilot: Pilot[int], timeout: float = 30.0) -> None:
    """Until the app has nothing pending: no redraw queued, no debounce timer armed."""
    for _ in range(int(timeout / 0.01)):
        await pilot.pause()
        if not _busy(app):
            await pilot.pause()
            return
        await pilot.pause(0.01)  # a poll interval for the timers, not a synchronisation point
    raise AssertionError("the app never settled")


async def stale_rows(app: DbgApp, pilot: Pilot[int]) -> list[str]:
    """Rows the screen shows that a full repaint would not ("row: painted | repainted")."""
    await settle(app, pilot)
    painted = screen_lines(app)
    for w in app.screen.walk_children(with_self=True):
        w.notify_style_update()  # the widgets' own strip caches go too
        w.refresh(layout=True)
    await settle(app, pilot)
    truth = screen_lines(app)
    return [
        f"{y}: {a!r}\n  | {b!r}"
        for y, (a, b) in enumerate(zip(painted, truth, strict=True))
        if a != b
    ]
