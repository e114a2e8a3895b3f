"""SVG snapshots of every part-1 screen at 160x50 and 90x30 (narrow), in test mode.

Data: the Go fixture (`tests/data/am-dbg-sim.gob.br`), and machines recorded live from real am_core
machines over a real socket (`recorded.record_live`) for errors and disconnections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from am_dbg.model.session import Session
from am_dbg.states import DbgStates as S

from .helpers import make_app, settle
from .recorded import fixture_session, record_live

SIZES = [pytest.param((160, 50), id="160x50"), pytest.param((90, 30), id="90x30")]
PS2_URL = "mach://ps-2/a59d994dd6efb726a1cd3ef1b7f384fd"
Snap = Callable[..., bool]


@pytest.fixture(scope="module")
def workers() -> Session:
    return asyncio.run(record_live())


def _go() -> Session:
    return fixture_session(("ps-2", "ps-2-disc", "ps-3", "sim", "sim-p1", "sim-p11"))


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_go_fixture(snap_compare: Snap, size: tuple[int, int]) -> None:
    """ps-2 at the Go integration tests' start address; below 100 columns: the narrow layout."""
    assert snap_compare(make_app(_go(), PS2_URL), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_stepping_overlay(snap_compare: Snap, size: tuple[int, int]) -> None:
    """Three steps into the next transition: markers in the tree, steps timeline, step text."""
    assert snap_compare(
        make_app(_go(), PS2_URL), press=["full_stop", "full_stop", "full_stop"], terminal_size=size
    )


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare: Snap, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(_go(), PS2_URL), press=["question_mark"], terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_filters_on(snap_compare: Snap, size: tuple[int, int]) -> None:
    """`sim` with canceled transitions hidden: two counters in the timeline title, toolbar boxes."""
    app = make_app(_go(), "mach://sim", "--filter-canceled", "--filter-log-level", "3")

    async def go(pilot: Any) -> None:
        await pilot.pause()
        app.mach.add1(S.ScrollToTx, {"cursor": 60})
        await pilot.pause()

    assert snap_compare(app, run_before=go, terminal_size=size)


def _select_last(app: Any, machine: str) -> Callable[[Any], Any]:
    async def go(pilot: Any) -> None:
        await pilot.pause()  # after startup selected the first machine
        app.mach.add1(S.SelectingClient, {"id": machine})
        await pilot.pause()
        app.action_last()
        await settle(pilot, app)  # the client list relabelled for the last moment

    return go


@pytest.mark.parametrize("size", SIZES)
def test_error_highlighted_machine(
    snap_compare: Snap, workers: Session, size: tuple[int, int]
) -> None:
    """w-1 ends in Exception (red), w-2 (its child) too at that moment, w-3 disconnected (grey)."""
    app = make_app(workers, "--no-view-tail")
    assert snap_compare(app, run_before=_select_last(app, "w-1"), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_disconnected_machine(snap_compare: Snap, workers: Session, size: tuple[int, int]) -> None:
    """w-3 disconnected (grey address and list entry); at its last moment w-2 had a recent error."""
    app = make_app(workers, "--no-view-tail", "--filter-log-level", "5")
    assert snap_compare(app, run_before=_select_last(app, "w-3"), terminal_size=size)
