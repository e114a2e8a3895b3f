"""Every key binding does what the help says (the real app, driven by Pilot)."""

from __future__ import annotations

from rich.console import Console

from am_dbg.states import DbgStates as S
from am_dbg.ui.bindings import BINDINGS
from am_dbg.ui.help_screen import HelpScreen, keys_table
from am_dbg.ui.theme import DARK
from tests.waiting import pause_until

from .helpers import cursor, make_app
from .recorded import fixture_session

PS2 = ("ps-2", "ps-3", "sim")


async def _at(pilot, app, machine: str, tx: int) -> None:  # type: ignore[no-untyped-def]
    app.mach.add1(S.SelectingClient, {"id": machine})
    app.mach.add1(S.ScrollToTx, {"cursor": tx})
    await pilot.pause()


async def test_prev_next_tx() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await _at(pilot, app, "ps-2", 20)
        await pilot.press("right")
        assert cursor(app) == (21, 0)
        await pilot.press("left", "left")
        assert cursor(app) == (19, 0)
        app.mach.add1(S.TailMode)
        await pilot.press("left")  # a manual move leaves tail mode
        assert cursor(app) == (83, 0) and not app.mach.is1(S.TailMode)
        await pilot.press("right", "right")  # past the end: refused (a canceled transition)
        assert cursor(app) == (84, 0)


async def test_step_keys() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await _at(pilot, app, "ps-2", 20)
        for fwd, back in (("full_stop", "comma"), ("alt+k", "alt+j")):
            await pilot.press(fwd, fwd)
            assert cursor(app) == (20, 2)
            assert app.tl_steps.display and app.next_bar.display
            await pilot.press(back, back)
            assert cursor(app) == (20, 0)


async def test_fast_jump_keys_move_50_visible_txs() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await _at(pilot, app, "sim", 10)
        vis = app.viewer.current.visible  # type: ignore[union-attr]
        start = vis.count_upto(9)
        for fwd, back in (("right_square_bracket", "left_square_bracket"), ("alt+l", "alt+h")):
            await pilot.press(fwd)
            assert vis.count_upto(app.viewer.cursor.tx - 1) == start + 50
            await pilot.press(back)
            assert cursor(app) == (10, 0)


async def test_first_and_last() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await _at(pilot, app, "ps-2", 20)
        for first, last in (("less_than_sign", "greater_than_sign"), ("home", "end")):
            await pilot.press(first)
            assert cursor(app) == (0, 0)
            assert app.tx_bar._left.plain == "Initial machine schema"
            await pilot.press(last)
            assert cursor(app) == (84, 0)
            assert app.tx_bar._left.plain.startswith("Paused | tx: 83")


async def test_space_plays_every_500ms_and_pauses() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await _at(pilot, app, "ps-2", 10)
        app.action_play()  # what space runs, called directly to see the immediate first advance
        assert app.mach.is1(S.Playing) and cursor(app) == (11, 0)
        await pause_until(pilot, lambda: cursor(app)[0] >= 12, what="the next 500 ms step")
        await pilot.press("space")
        assert app.mach.is1(S.Paused) and not app.mach.is1(S.Playing)
        at = cursor(app)
        await pilot.pause(0.6)  # a negative check: a whole play interval passes, nothing moves
        assert cursor(app) == at
        await pilot.press("space")
        assert app.mach.is1(S.Playing) and cursor(app)[0] > at[0]
        await pilot.press("space")
        assert app.mach.is1(S.Paused)


async def test_tail_toggle() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        for key in ("ctrl+t", "alt+v"):
            await _at(pilot, app, "ps-2", 10)
            await pilot.press(key)
            assert app.mach.is1(S.TailMode) and cursor(app) == (84, 0)
            await pilot.press(key)
            assert app.mach.is1(S.Paused)


async def test_tab_cycles_panes_and_escape_returns_to_the_list() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.focused is app.client_list and app.mach.is1(S.ClientListFocused)
        await pilot.press("tab")
        if app.focused is not app.states_tree:  # the group dropdown sits before the tree
            assert app.mach.is1(S.TreeGroupsFocused)
            await pilot.press("tab")
        assert app.focused is app.states_tree and app.mach.is1(S.TreeFocused)
        await pilot.press("tab")
        assert app.focused is app.log_view and app.mach.is1(S.LogFocused)
        await pilot.press("shift+tab")
        assert app.focused is app.states_tree
        await pilot.press("escape")
        assert app.focused is app.client_list


async def test_prev_next_machine_follow_the_list_order() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.viewer.selected == "ps-2"
        await pilot.press("ctrl+down")
        assert app.viewer.selected == "ps-3"
        await pilot.press("ctrl+down")
        assert app.viewer.selected == "sim"
        await pilot.press("ctrl+up")
        assert app.viewer.selected == "ps-3"


async def test_switching_machines_keeps_tail_and_play() -> None:
    """§5.10: selecting another machine restores tail / play mode (leaving the old machine's
    `ClientSelected` drops both, which require it)."""
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await _at(pilot, app, "ps-2", 20)
        await pilot.press("ctrl+t")
        assert app.mach.is1(S.TailMode)
        await pilot.press("ctrl+down")
        await pilot.pause()
        vis = app.viewer.current.visible  # type: ignore[union-attr]
        assert app.viewer.selected == "ps-3" and app.mach.is1(S.TailMode)
        assert cursor(app) == (vis[-1] + 1, 0)  # the newest, not the moment ps-2 was at
        await pilot.press("home", "space")
        assert app.mach.is1(S.Playing)
        await pilot.press("ctrl+down")
        await pilot.pause()
        assert app.viewer.selected == "sim" and app.mach.is1(S.Playing)
        assert not app.mach.is1(S.TailMode)
        await pilot.press("space")


async def test_remove_hovered_machine() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("down", "backspace")  # hover ps-3, remove it
        await pilot.pause()
        assert set(app.session.machines) == {"ps-2", "sim"}
        assert [m for m, _ in app.client_list.order] == ["ps-2", "sim"]
        await pilot.press("up", "alt+d")  # the selected one: the next machine gets selected
        await pilot.pause()
        assert set(app.session.machines) == {"sim"} and app.viewer.selected == "sim"


async def test_expand_collapse_all() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        n = len(app.states_tree.rows)
        for key in ("equals_sign", "alt+e"):
            await pilot.press(key)
            assert len(app.states_tree.rows) > n
            await pilot.press(key)
            assert len(app.states_tree.rows) == n


async def test_toolbar_focus_and_keyboard() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+f")
        assert app.focused is app.toolbar and app.mach.is1(S.ToolbarFocused)
        await pilot.press("down", "right", "enter")  # row 2, 2nd button: canceled
        assert app.viewer.filters.canceled and app.mach.is1(S.FilterCanceledTx)
        await pilot.press("ctrl+f")
        assert app.focused is app.client_list
        await pilot.press("alt+f")
        assert app.focused is app.toolbar
        await pilot.press("alt+f")
        assert app.focused is app.client_list


async def test_log_level_keys() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for k in "543210":
            await pilot.press(k)
            assert app.viewer.filters.log_level == int(k)
        assert not app.log_view.display  # level 0 hides the log
        await pilot.press("ctrl+l")
        assert app.viewer.filters.log_level == 1 and app.log_view.display
        assert app.log_view.border_title.startswith("Log:external")


async def test_help_opens_and_closes() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.mach.is1(S.HelpDialog)
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen) and not app.mach.is1(S.HelpDialog)
        await pilot.press("f1", "escape")
        assert not isinstance(app.screen, HelpScreen) and not app.mach.is1(S.HelpDialog)


def test_help_lists_the_pane_keys_a_newcomer_needs() -> None:
    """Search-as-you-type and the state jump are not app bindings (no footer, no README row):
    the help is the only place a new user learns that typing a name finds it."""
    console = Console(width=100, record=True)
    console.print(keys_table(DARK))
    text = console.export_text()
    assert "a-z - _" in text and "search by name" in text
    assert "(state selected)" in text and "enter" in text


async def test_ctrl_q_quits() -> None:
    app = make_app(fixture_session(PS2))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


def test_every_part1_binding_is_covered_here() -> None:
    """Guard: the part-1 bindings tested above all exist (part 2's views, addresses and export
    bindings are tested with those features)."""
    tested = {
        "tx_fwd", "tx_back", "fwd_step", "back_step", "jump_fwd", "jump_back", "last", "first",
        "play", "tail", "focus_next_pane", "focus_prev_pane", "prev_machine", "next_machine",
        "remove_machine", "expand_all", "escape", "focus_toolbar", "log_level_key",
        "cycle_log_level", "help", "quit",
    }  # fmt: skip
    assert tested <= {b.action for b in BINDINGS}
