"""Long log lines can be read (spec/debugger.md §4.5, §5.2): wrapped (`--view-log-wrap`, F6 /
Alt+W), or cut at the edge and scrolled sideways with → / ← while the log is focused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from am_dbg.ui.app import DbgApp

from .helpers import cursor, make_app
from .recorded import fixture_session
from .screen_check import screen_lines, settle

START = "mach://sim/ad498c64abf3e98f25f529b9257d6617"
Snap = Callable[..., bool]


def _log_rows(app: DbgApp) -> list[str]:
    r = app.log_view.content_region
    return [line[r.x : r.right] for line in screen_lines(app)[r.y : r.bottom]]


def _long_lines(app: DbgApp) -> list[str]:
    """Plain text of the log lines on screen that are wider than the pane (whole blocks)."""
    log = app.log_view
    blocks = list(dict.fromkeys(i for i, _ in log._frame))[1:-1]  # the first and last may be cut
    lines = [t.plain for i in blocks for t in log._format(i)]
    return [t for t in lines if len(t) > log.size.width]


def _flat(text: str) -> str:
    return " ".join(text.split())


async def test_the_wrap_flag_wraps_long_lines() -> None:
    app = make_app(fixture_session(), START, "--view-log-wrap")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        long = _long_lines(app)
        assert long  # "[state] +JoinRandomTopic (Peer.id=... Topic.id=...)" at ~40 columns
        shown = _flat(" ".join(_log_rows(app)))
        for line in long:
            assert _flat(line) in shown


async def test_the_wrap_key_toggles_wrapping() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        long = _long_lines(app)
        assert long and not any(_flat(t) in _flat(" ".join(_log_rows(app))) for t in long)
        await pilot.press("f6")
        await settle(app, pilot)
        assert app.log_view.wrap
        long = _long_lines(app)  # fewer blocks fit now
        assert long and all(_flat(t) in _flat(" ".join(_log_rows(app))) for t in long)
        await pilot.press("alt+w")
        await settle(app, pilot)
        assert not app.log_view.wrap
        assert not any(_flat(t) in _flat(" ".join(_log_rows(app))) for t in long)


async def test_right_and_left_scroll_the_focused_log_sideways() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        log = app.log_view
        line = _long_lines(app)[0]
        y = next(k for k, row in enumerate(_log_rows(app)) if line.startswith(row.rstrip()))
        before = cursor(app)
        log.focus()
        await settle(app, pilot)
        w = log.size.width
        await pilot.press("right")
        await settle(app, pilot)
        assert cursor(app) == before  # the transition did not move
        assert _log_rows(app)[y].rstrip() == line[8 : 8 + w].rstrip()
        await pilot.press("right", "right", "right", "right", "right", "right", "right")
        await settle(app, pilot)
        widest = max(t.cell_len for _, t in log._frame)
        assert log.hscroll == max(0, widest - w)  # no further than the widest line on screen
        for _ in range(20):
            await pilot.press("left")
        await settle(app, pilot)
        assert log.hscroll == 0 and _log_rows(app)[y].rstrip() == line[:w].rstrip()
        assert cursor(app) == before
        app.tl_tx.focus()  # elsewhere → moves the transition, as before
        await pilot.press("right")
        assert cursor(app) != before


def test_wrapped_log_snapshot(snap_compare: Snap) -> None:
    app = make_app(fixture_session(), START, "--view-log-wrap")

    async def go(pilot: Any) -> None:
        await settle(app, pilot)

    assert snap_compare(app, run_before=go, terminal_size=(160, 50))
