"""Addresses in the real app (spec/debugger.md §5.10-§5.11): copy / reopen round trips, the go-to
prompt, browser-like history with back / forward, switching machine at the same human moment."""

from __future__ import annotations

from ui.helpers import cursor, make_app

from am_dbg.model.addr_history import format_ht, parse_ht
from am_dbg.model.urls import MachUrl
from am_dbg.states import DbgStates as S
from am_dbg.ui.app import DbgApp

from .data import PS2_TX, PS2_URL, go_session

SIZE = (160, 50)


def _moment(app: DbgApp) -> tuple[str, int, int, str]:
    """(machine, cursor tx, cursor step, selected state)"""
    tx, step = cursor(app)
    return app.viewer.selected, tx, step, app.viewer.state_name


async def test_url_round_trip_copy_and_reopen_lands_on_the_same_moment() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        hist = app.viewer.history
        assert hist is not None and cursor(app)[0] == hist.index_of(PS2_TX) + 1  # type: ignore[operator]
        for key in ("right", "right", "right", "full_stop"):
            await pilot.press(key)
        app.mach.add1(S.StateNameSelected, {"state": "PeersPending"})
        await pilot.pause()
        before = _moment(app)
        assert before[1:3] == (cursor(app)[0], 1)
        await pilot.press("alt+c")
        copied = app.clipboard
    url = MachUrl.parse(copied)
    assert url.mach_id == "ps-2" and url.step == 1 and url.state == "PeersPending"
    assert url.t is not None and url.ht and url.q is not None

    again = make_app(go_session(), copied)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert _moment(again) == before
        assert not again.mach.is1(S.TailMode)  # a start address disables tail mode


async def test_url_without_tx_id_resolves_by_machine_time_and_human_time() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right", "right")
        hist = app.viewer.history
        assert hist is not None
        info = hist.info(cursor(app)[0] - 1)
        want = cursor(app)
        for url in (
            MachUrl(mach_id="ps-2", t=info.time_sum),
            MachUrl(mach_id="ps-2", ht=format_ht(info.time_ns)),
        ):
            await pilot.press("home")
            assert app.part2.go_to_url(url)
            await pilot.pause()
            assert cursor(app) == want, url


async def test_go_to_prompt_opens_a_typed_address_on_another_machine() -> None:
    s = go_session()
    sim = s.machines["sim"]
    target = sim.info(99)
    app = make_app(s, PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+g")
        await pilot.pause()
        inp = app.screen.query_one("#addr-input")
        inp.value = f"mach://sim/{target.id}"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert app.viewer.selected == "sim"
        assert cursor(app)[0] == 100


async def test_bad_address_stays_in_the_prompt_with_the_reason() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = _moment(app)
        await pilot.press("ctrl+g")
        await pilot.pause()
        app.screen.query_one("#addr-input").value = "http://nope"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()
        assert "not a mach:// address" in str(app.screen.query_one("#addr-error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert _moment(app) == before


async def test_history_back_and_forward_like_a_browser() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        h = app.viewer.addresses
        visited = [cursor(app)[0]]
        for _ in range(3):
            await pilot.press("right")
            visited.append(cursor(app)[0])
        assert [u.mach_id for u in h.entries[:4]] == ["ps-2"] * 4
        assert app.address.enabled["back"] and not app.address.enabled["fwd"]
        await pilot.press("ctrl+o", "ctrl+o")
        assert cursor(app)[0] == visited[1]
        assert app.address.enabled["fwd"]
        await pilot.press("ctrl+n")
        assert cursor(app)[0] == visited[2]
        n = len(h.entries)
        await pilot.press("ctrl+o")  # browsing back does not record new entries
        assert len(h.entries) == n
        await pilot.press("ctrl+n", "ctrl+n")
        assert cursor(app)[0] == visited[3] and not app.address.enabled["fwd"]


async def test_history_buttons_skip_to_another_machine_and_jumps_trim_forward() -> None:
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right")
        ps2_at = cursor(app)[0]
        assert app.part2.go_to_url(MachUrl.parse("mach://sim?t=60"))
        await pilot.press("right", "right")
        assert app.viewer.selected == "sim"
        await pilot.pause()
        assert app.address.enabled["back_mach"]
        app.address.post_message(app.address.Pressed("back_mach"))
        await pilot.pause()
        assert app.viewer.selected == "ps-2" and cursor(app)[0] == ps2_at
        h = app.viewer.addresses
        assert h.pos > 0
        await pilot.press("end")  # a jump while browsing back drops the forward entries
        assert h.pos == 0 and all(u.mach_id == "ps-2" for u in h.entries[:2])
        assert not app.address.enabled["fwd"]


async def test_forward_after_back_returns_to_the_address_that_was_opened() -> None:
    """Opening `mach://sim?t=60` records the machine switch (`mach://sim`) and then the moment;
    ◀ then ▶ must land on that moment again, not on sim at ps-2's moment."""
    app = make_app(go_session(), PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start = _moment(app)
        assert app.part2.go_to_url(MachUrl.parse("mach://sim?t=60"))
        await pilot.pause()
        opened = _moment(app)
        assert opened[0] == "sim"
        await pilot.press("ctrl+o")
        assert _moment(app) == start
        await pilot.press("ctrl+n")
        assert _moment(app) == opened
        assert not app.address.enabled["fwd"]


async def test_history_is_capped_at_100_entries() -> None:
    app = make_app(go_session(), "mach://sim")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("home")
        for _ in range(130):
            app.mach.add1(S.UserFwd)
        await pilot.pause()
        assert len(app.viewer.addresses.entries) == 100
        assert app.viewer.addresses.entries[0] == app.viewer.url()


async def test_machine_switch_keeps_the_human_moment() -> None:
    s = go_session()
    app = make_app(s, PS2_URL)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right", "right", "right")
        moment = app.viewer.moment_ns()
        assert moment is not None
        for other in ("sim", "ps-3", "sim-p1"):
            app.mach.add1(S.SelectingClient, {"id": other})
            await pilot.pause()
            hist = s.machines[other]
            i = hist.tx_at_human_time(moment)
            vis = app.viewer.current.visible  # type: ignore[union-attr]
            tx = cursor(app)[0]
            # the transition at that moment, snapped back to a visible one
            assert tx - 1 <= i and (tx == 0 or hist.info(tx - 1).time_ns <= moment)
            assert all(not vis.is_visible(j) for j in range(tx, i + 1))
            moment = app.viewer.moment_ns() or moment
        # the client list labels show each machine at the viewed moment
        app.redraw(clients=True)
        await pilot.pause()
        labels = {
            mid: app.client_list.rows[k].plain for k, (mid, _) in enumerate(app.client_list.order)
        }
        n = s.machines["ps-2"].tx_at_human_time(app.viewer.moment_ns() or 0) + 1
        assert f"|{n}+" in labels["ps-2"]


def test_ht_parsing_accepts_offsets_and_short_fractions() -> None:
    assert parse_ht("1970-01-01T00:00:01Z") == 10**9
    assert parse_ht("1970-01-01T01:00:01.5+01:00") == 10**9 + 5 * 10**8
    assert parse_ht(format_ht(1_721_655_000_123_456_789)) == 1_721_655_000_123_456_789


async def test_clipboard_off_greys_copy_and_paste() -> None:
    app = make_app(go_session(), PS2_URL, "--enable-clipboard=false")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.address.enabled["copy"] and not app.address.enabled["paste"]
        app.copy_to_clipboard("mach://sim")
        app.address.post_message(app.address.Pressed("paste"))  # as a click would, if it could
        await pilot.pause()
        assert app.viewer.selected == "ps-2"
