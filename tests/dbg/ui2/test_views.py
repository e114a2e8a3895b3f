"""Views, the reader, export and the files in --dir, in the real app (Pilot)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui.helpers import cursor, make_app

from am_dbg.model.session import Session
from am_dbg.model.urls import MachUrl
from am_dbg.recordings import load
from am_dbg.states import DbgStates as S
from am_dbg.ui.part2 import VIEWS, initial_view
from am_dbg.ui.rain import rain_chars
from am_dbg.ui.theme import DARK, LIGHT, Palette

from .data import PS2_URL, first_with, go_session, orders_session, wait_for

SIZE = (160, 50)


async def test_view_key_cycles_every_view_and_panes_follow() -> None:
    app = make_app(go_session(), PS2_URL)
    p2 = app.part2
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seen = []
        for _ in VIEWS:
            seen.append(p2.view)
            panes = (app.query_one("#tree-col"), app.log_view, p2.matrix, p2.rain, p2.reader_view)
            shown = {w.id for w in panes if w.display}
            expected = {
                "tree-log": {"tree-col", "log", "reader"},
                "tree-matrix": {"tree-col", "matrix"},
                "tree-rain": {"tree-col", "rain"},
                "matrix": {"matrix"},
                "matrix-rain": {"rain"},
            }[p2.view]
            assert shown == expected, p2.view
            await pilot.press("f2")
        assert seen == list(VIEWS) and p2.view == "tree-log"
        assert app.mach.is1(S.TreeLogView)


@pytest.mark.parametrize(
    ("flags", "view"),
    [
        ((), "tree-log"),
        (("--view", "tree-matrix"), "tree-matrix"),
        (("--view", "matrix"), "matrix"),
        (("--view-rain",), "tree-rain"),
        (("--view", "matrix", "--view-rain"), "matrix-rain"),
    ],
)
def test_view_flags(flags: tuple[str, ...], view: str) -> None:
    app = make_app(go_session(), *flags)
    assert app.part2.view == view == initial_view(app.cfg.view, app.cfg.view_rain)


async def test_rain_click_selects_state_and_transition() -> None:
    s = go_session()
    app = make_app(s, "mach://sim?t=60", "--view-rain")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rain = app.part2.rain
        hist = s.machines["sim"]
        row = 3
        i = rain.row_at(row)
        assert i is not None
        await pilot.click("#rain", offset=(1 + 2, 1 + row))  # border, then column 2
        await pilot.pause()
        assert cursor(app)[0] == i + 1
        assert app.viewer.state_name == hist.state_names[2]


def test_rain_characters_follow_the_legend() -> None:
    s = go_session()
    hist = s.machines["sim"]
    cols = range(len(hist.state_names))
    for i in range(1, len(hist)):
        info, chars = hist.info(i), rain_chars(hist, i, cols)
        clocks = hist.clocks(i)
        for k, ch in enumerate(chars):
            active = clocks[k] % 2 == 1
            if ch in "12":
                assert active
            if ch == "|":
                assert k in info.removed and info.accepted
            if ch == "c":
                assert k in info.called and not info.accepted
            if k in info.removed and info.accepted:
                assert ch == "|"


async def test_rain_follows_tail_on_the_last_line() -> None:
    app = make_app(go_session(), "--view", "matrix", "--view-rain")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rain = app.part2.rain
        assert app.mach.is1(S.TailMode)
        h = rain.size.height
        assert rain.row_at(h - 1) == cursor(app)[0] - 1


async def test_reader_link_navigates_across_machines() -> None:
    s = orders_session()
    i = first_with(s, "shipping", "[source] payments")
    app = make_app(s, f"mach://shipping/{s.machines['shipping'].info(i).id}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        reader = app.part2.reader_view
        row = next(k for k, r in enumerate(reader.row_meta) if r.text.startswith("add Pay"))
        link = reader.row_meta[row].link
        assert link is not None and link.mach_id == "payments"
        reader.focus()
        reader.move_to(row)
        await pilot.pause()
        assert app.viewer.state_name == "Pay"  # the node's state is selected
        await pilot.press("enter")
        await pilot.pause()
        assert app.viewer.selected == "payments"
        assert app.viewer.history.info(cursor(app)[0] - 1).id == link.tx_id  # type: ignore[union-attr]


async def test_reader_toggle_and_section_collapse() -> None:
    s = orders_session()
    h = s.machines["orders"]
    app = make_app(s, f"mach://orders/{h.info(len(h) - 1).id}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        reader = app.part2.reader_view
        assert reader.display
        names = [r.section for r in reader.row_meta if r.header]
        assert names[:1] == ["Queue"] and "When" in names and "StateCtx" in names
        reader.focus()
        reader.move_to(0)
        await pilot.press("enter")  # collapse Queue
        assert [r.section for r in reader.row_meta if not r.header].count("Queue") == 0
        await pilot.press("equals_sign")  # expand/collapse all: the reader's sections
        assert all(r.header for r in reader.row_meta)
        await pilot.press("equals_sign")
        assert not all(r.header for r in reader.row_meta)
        await pilot.press("f4")
        assert not reader.display and not app.mach.is1(S.LogReaderEnabled)
        await pilot.press("f4")
        assert reader.display


async def test_export_single_moment_reimports_to_that_moment_for_every_machine(
    tmp_path: Path,
) -> None:
    s = go_session()
    app = make_app(s, PS2_URL, "-d", str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right", "right")
        moment = app.viewer.moment_ns()
        assert moment is not None
        await pilot.press("f5")
        await pilot.pause()
        assert app.mach.is1(S.ExportDialog)
        app.screen.query_one("#export-name").value = "moment"  # type: ignore[attr-defined]
        await pilot.click("#export-single")
        await pilot.click("#export-save")
        assert await wait_for(pilot, lambda: not app.mach.is1(S.ExportDialog))
        assert "a single moment of 6 machines" in app.part2.last_export
    got = load(tmp_path / "moment.amdbg")
    loaded = {sc.id: list(txs) for sc, txs in got.machines}
    assert set(loaded) == set(s.machines)
    for mid, hist in s.machines.items():
        i = hist.tx_at_human_time(moment)
        txs = loaded[mid]
        if i < 0:
            assert txs == []
            continue
        assert len(txs) == 1
        tx = txs[0]
        assert (tx.id, tx.clocks, tx.time) == (
            hist.info(i).id,
            hist.tx(i).clocks,
            hist.info(i).time_ns,
        )
    # re-imported, the viewed moment is the (only) transition of every machine that had one
    again = Session()
    again.load(got.machines)
    for hist in again.machines.values():
        assert hist.tx_at_human_time(moment) == len(hist) - 1


async def test_export_everything_and_bad_names_stay_in_the_dialog(tmp_path: Path) -> None:
    s = go_session()
    app = make_app(s, PS2_URL, "-d", str(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        name = app.screen.query_one("#export-name")
        name.value = "../escape"  # type: ignore[attr-defined]
        await pilot.click("#export-save")
        await pilot.pause()
        assert "not a file name" in str(app.screen.query_one("#export-status").render())
        assert app.mach.is1(S.ExportDialog)
        name.value = "all"  # type: ignore[attr-defined]
        name.focus()
        await pilot.press("enter")  # Enter in the name field saves
        assert await wait_for(pilot, lambda: not app.mach.is1(S.ExportDialog))
    got = load(tmp_path / "all.amdbg")
    assert {sc.id: len(t) for sc, t in got.machines} == {k: len(h) for k, h in s.machines.items()}
    assert list(tmp_path.iterdir()) == [tmp_path / "all.amdbg"]


async def test_output_files_only_when_asked(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    app = make_app(go_session(), PS2_URL, "-d", str(quiet))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right")
    assert list(quiet.iterdir()) == []
    loud = tmp_path / "loud"
    app = make_app(
        go_session(), PS2_URL, "-d", str(loud), "--output-tx", "--output-log", "--output-clients"
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right")
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None
        info = hist.info(cursor(app)[0] - 1)
    tx = (loud / "tx.md").read_text().splitlines()
    assert tx[0] == f"mach://ps-2/{info.id}" and tx[1].endswith("Z") and tx[2] == ""
    assert tx[3].startswith("[")
    assert "[state]" in (loud / "log.md").read_text()
    clients = (loud / "clients.txt").read_text()
    assert "ps-2" in clients and "sim-p1" in clients


async def test_light_theme_toggle_repaints_with_the_light_palette() -> None:
    app = make_app(go_session(), PS2_URL, "--view-rain")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f9")
        await pilot.pause()
        assert app.pal == LIGHT and app.theme == "textual-light"
        assert app.part2.rain.pal == LIGHT and app.states_tree.pal == LIGHT
        await pilot.press("f9")
        assert app.theme == "textual-dark"


async def test_theme_toggle_recolours_the_machine_labels() -> None:
    """The list keeps labels between frames (decoding clocks is costly): a new palette is a new
    label, or the names stay in dark-theme grey on the light background."""
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        def colours() -> set[str]:
            return {
                str(sp.style.color.name).lower()
                for row in app.client_list.rows
                for sp in row.spans
                if not isinstance(sp.style, str) and sp.style.color is not None
            }

        def roles(pal: Palette) -> set[str]:
            return {c.lower() for c in (pal.grey, pal.active, pal.err, pal.err_recent)}

        assert colours() and colours() <= roles(DARK)
        await pilot.press("f9")
        await pilot.pause()
        assert colours() and colours() <= roles(LIGHT)


async def test_paste_goes_to_the_clipboard_address() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.copy_to_clipboard("mach://sim?t=60")
        await pilot.press("ctrl+v")
        await pilot.pause()
        assert app.viewer.selected == "sim"
        hist = app.viewer.history
        assert hist is not None and hist.info(cursor(app)[0] - 1).time_sum == 60
        assert MachUrl.parse(app.part2.copy_url()).t == 60


async def test_times_toolbar_button_adds_per_second_time_lines() -> None:
    import re

    app = make_app(go_session(), "mach://sim?t=60")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        stamp = re.compile(r"^\d\d:\d\d:\d\d\.\d{9} t\d+$")

        def stamps() -> int:
            return sum(1 for _, t in app.log_view._frame if stamp.match(t.plain))

        assert stamps() == 0 and app.mach.is1(S.LogTimestamps)
        app.mach.add1(S.ToggleTool, {"tool": "toggle_timestamps"})
        await pilot.pause()
        assert stamps() > 0 and not app.mach.is1(S.LogTimestamps)
        assert app.tool_value("toggle_timestamps") == "X"
        app.mach.add1(S.ToggleTool, {"tool": "toggle_timestamps"})
        await pilot.pause()
        assert stamps() == 0


async def test_address_bar_buttons_by_mouse_and_keys() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = cursor(app)
        await pilot.press("right")
        middle = cursor(app)
        await pilot.press("right")
        assert cursor(app) != middle
        await pilot.click("#address", offset=(7, 0))  # ◀
        await pilot.pause()
        assert cursor(app) == middle and app.viewer.addresses.pos == 1
        app.address.focus()
        await pilot.press("right")  # moves between the buttons while the bar is focused
        before = app.address.selected
        await pilot.press("left")
        assert app.address.selected == (before - 1) % 6
        for _ in range(6):
            if app.address.selected == 1:  # ◀
                break
            await pilot.press("right")
        await pilot.press("enter")
        await pilot.pause()
        assert cursor(app) == start


async def test_rain_cost_follows_the_screen_not_the_history() -> None:
    """20,000+ transitions (the fixture's `sim`, repeated with new ids): only the rows on screen
    are ever built."""
    import dataclasses

    src = go_session().machines["sim"]
    base = [src.tx(i) for i in range(len(src))]
    step = base[-1].time - base[0].time + 1
    txs = [
        dataclasses.replace(tx, id=f"{tx.id}-{k}", time=tx.time + k * step)
        for k in range(100)
        for tx in base
    ]
    s = Session()
    s.load([(src.schema, txs)])
    app = make_app(s, "mach://sim", "--view", "matrix", "--view-rain")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rain = app.part2.rain
        h = rain.size.height
        assert len(s.machines["sim"]) == 21_900
        # a screen (or two, while the first layout settles), never the history
        assert 0 < len(rain._rows) <= 2 * (h + 1)
        await pilot.press("home")
        await pilot.pause()
        assert rain.row_at(0) is not None and len(rain._rows) <= 3 * (h + 1)


async def test_reader_off_by_flag() -> None:
    app = make_app(go_session(), PS2_URL, "--view-reader=false")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.part2.reader_view.display and app.log_view.display


def test_boolean_flag_before_the_start_address_keeps_both() -> None:
    """`am-dbg --view-rain mach://sim` (a Go-style boolean takes an optional value)."""
    from am_dbg.config import parse_args

    cfg, _ = parse_args(["--view-rain", "mach://sim?t=60"])
    assert cfg.view_rain and cfg.start_url == "mach://sim?t=60" and not cfg.view_tail


async def test_back_after_following_a_reader_link_returns_to_the_first_machine() -> None:
    s = orders_session()
    i = first_with(s, "shipping", "[source] payments")
    start = f"mach://shipping/{s.machines['shipping'].info(i).id}"
    app = make_app(s, start)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        reader = app.part2.reader_view
        row = next(k for k, r in enumerate(reader.row_meta) if r.text.startswith("add Pay"))
        reader.focus()
        reader.move_to(row)
        await pilot.press("enter")
        await pilot.pause()
        assert app.viewer.selected == "payments"
        await pilot.press("ctrl+o")  # one press: back where the link was followed
        await pilot.pause()
        assert str(app.viewer.url()) == start
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.viewer.selected == "payments"
