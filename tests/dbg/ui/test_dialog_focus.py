"""Keys belong to the dialog that is open: typed straight after ctrl+g they fill the address box
(before it had even taken focus), and with help open →, Home, End and `.` leave the cursor be."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from am_dbg.ui.help_screen import HelpScreen
from am_dbg.ui.nav_bar import AddressPrompt

from .helpers import cursor, make_app
from .recorded import fixture_session
from .screen_check import settle

START = "mach://sim/ad498c64abf3e98f25f529b9257d6617"
_NAMES = {":": "colon", "/": "slash", "-": "minus", ".": "full_stop", "?": "question_mark"}


def _key(ch: str) -> events.Key:
    return events.Key(_NAMES.get(ch, ch), ch)


async def test_keys_typed_right_after_ctrl_g_go_to_the_address_box() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        app.client_list.focus()
        await settle(app, pilot)
        row, level, before = app.client_list.cursor_row, app.viewer.filters.log_level, cursor(app)
        # one burst, as a terminal delivers a fast typist or a paste: nothing waits in between
        app.post_message(events.Key("ctrl+g", None))  # the box opens with the address selected
        for ch in "mach://sim-p1":
            app.post_message(_key(ch))
        await settle(app, pilot)
        assert isinstance(app.screen, AddressPrompt)
        assert app.screen.query_one(Input).value == "mach://sim-p1"
        assert app.client_list.cursor_row == row  # the list behind did not search
        assert app.viewer.filters.log_level == level  # "1" did not set the log level
        assert cursor(app) == before
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.viewer.selected == "sim-p1"


async def test_keys_for_the_input_edit_the_address_not_the_cursor_behind() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        before = cursor(app)
        await pilot.press("ctrl+g")
        await settle(app, pilot)
        inp = app.screen.query_one(Input)
        end = len(inp.value)
        await pilot.press("home", "right", "right", "full_stop")
        await settle(app, pilot)
        assert cursor(app) == before
        assert (
            inp.value.startswith("ma.") and inp.cursor_position == 3 and len(inp.value) == end + 1
        )
        await pilot.press("end", "left")
        assert inp.cursor_position == end
        assert cursor(app) == before


async def test_with_help_open_home_end_and_arrows_do_not_move_the_cursor_behind() -> None:
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("right")
        before = cursor(app)
        assert before[0] > 1
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        for key in ("home", "end", "right", "left", "full_stop", "comma", "space"):
            await pilot.press(key)
            await settle(app, pilot)
            assert cursor(app) == before, key
        assert not app.mach.is1("Playing")
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("right")  # and the keys work again once it is closed
        assert cursor(app) != before


async def test_keys_that_reach_the_box_before_it_took_focus_are_not_lost() -> None:
    """What the app does with a key while no widget of the new screen has focus yet: it sends it
    to the screen itself. The box hands such keys to its input once the input has focus."""
    app = make_app(fixture_session(), START)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        prompt = AddressPrompt(app.pal, "")
        app.push_screen(prompt)
        assert prompt.focused is None  # not mounted yet
        for ch in "mach://sim-p1":
            prompt._forward_event(_key(ch))
        await settle(app, pilot)
        assert prompt.query_one(Input).value == "mach://sim-p1"
