"""SVG snapshots of the part-2 screens at 160x50 and 90x30 (narrow), in test mode, on real data:
the Go fixture (`tests/data/am-dbg-sim.gob.br`) and the orders network recorded from real machines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ui.helpers import make_app

from .data import PS2_URL, first_with, go_session, orders_session

SIZES = [pytest.param((160, 50), id="160x50"), pytest.param((90, 30), id="90x30")]
Snap = Callable[..., bool]


@pytest.mark.parametrize("size", SIZES)
def test_tree_matrix_view(snap_compare: Snap, size: tuple[int, int]) -> None:
    app = make_app(go_session(), PS2_URL, "--view", "tree-matrix")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_matrix_view_stepping(snap_compare: Snap, size: tuple[int, int]) -> None:
    """Full-width matrix, two steps into the next transition (steps truncated to the cursor)."""
    app = make_app(go_session(), PS2_URL, "--view", "matrix")
    assert snap_compare(app, press=["full_stop", "full_stop"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_rain_view(snap_compare: Snap, size: tuple[int, int]) -> None:
    """tree + rain on `sim` with a state selected (its column highlighted)."""
    app = make_app(go_session(), "mach://sim?t=60&state=Ready", "--view-rain")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_matrix_rain_view_tail(snap_compare: Snap, size: tuple[int, int]) -> None:
    """Full-width rain in tail mode: the newest transition on the last line."""
    app = make_app(go_session(), "--view", "matrix", "--view-rain")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_reader_cross_machine_source(snap_compare: Snap, size: tuple[int, int]) -> None:
    """shipping's Ship came from payments' Pay, which came from orders' Order: Source, State
    Trace, Queue and the pipes open at that moment."""
    s = orders_session()
    i = first_with(s, "shipping", "[source] payments")
    url = f"mach://shipping/{s.machines['shipping'].info(i).id}"
    app = make_app(s, url, "--filter-log-level", "3")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_reader_open_subscriptions(snap_compare: Snap, size: tuple[int, int]) -> None:
    s = orders_session()
    h = s.machines["orders"]
    url = f"mach://orders/{h.info(len(h) - 1).id}"
    app = make_app(s, url, "--filter-log-level", "3")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_export_dialog(snap_compare: Snap, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(go_session(), PS2_URL), press=["f5"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_light_theme(snap_compare: Snap, size: tuple[int, int]) -> None:
    app = make_app(go_session(), PS2_URL, "--view-theme", "light")
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_full_url_at_start(snap_compare: Snap, size: tuple[int, int]) -> None:
    """A copied address with every parameter: human time, state, no tx id (another machine's run)."""
    url = "mach://ps-3?ht=2024-07-22T13:29:43.85Z&state=PeersPending"
    assert snap_compare(make_app(go_session(), url), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_address_prompt(snap_compare: Snap, size: tuple[int, int]) -> None:
    app = make_app(go_session(), PS2_URL)

    async def go(pilot: Any) -> None:
        await pilot.pause()  # ctrl+g is a priority key now: let the start address land first
        await pilot.press("ctrl+g")
        await pilot.pause()

    assert snap_compare(app, run_before=go, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_damaged_import_says_what_was_lost(snap_compare: Snap, size: tuple[int, int]) -> None:
    """A damaged `-i` file: the toast and the status-bar marker say what the import lost."""
    from am_dbg.config import parse_args
    from am_dbg.ui.app import DbgApp

    cfg, _ = parse_args(["--test-mode", "-l", "-1", PS2_URL])
    warning = "'am-dbg-sim.gob.br' is truncated: kept the 21 complete machine(s) of 107, lost 86"
    app = DbgApp(cfg, session=go_session(), load_warnings=[warning])
    assert snap_compare(app, terminal_size=size)
