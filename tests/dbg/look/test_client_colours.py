"""The client list's colours (spec/debugger.md §4.3): a disconnected machine is grey, also when
it ended in an error; red / pink are for connected machines."""

from __future__ import annotations

from am_dbg.model.history import MachineHistory
from am_dbg.ui.client_list import client_label
from am_dbg.ui.theme import DARK
from am_rpc.dbg.protocol import SchemaMsg, StateDef, TxMsg


def _history(connected: bool) -> MachineHistory:
    names = ("Start", "Exception")
    schema = SchemaMsg(id="w", states_index=names, states={n: StateDef() for n in names})
    h = MachineHistory(schema, "c", connected=connected)
    h.append(TxMsg(mach_id="w", id="a", clocks=(1, 0)), 1)
    h.append(TxMsg(mach_id="w", id="b", clocks=(1, 1), called=(1,)), 2)  # +Exception
    return h


def _colour(h: MachineHistory, i: int) -> str:
    text = client_label(h, i, 0, 10, DARK, False)
    return str(text.spans[0].style.color.name)  # type: ignore[union-attr]


def test_connected_error_is_red_and_recent_error_pink() -> None:
    h = _history(connected=True)
    assert _colour(h, 1).upper() == DARK.err.upper()
    assert _colour(h, 0).upper() != DARK.grey.upper()


def test_disconnected_with_an_error_is_grey() -> None:
    h = _history(connected=False)
    assert _colour(h, 1).upper() == DARK.grey.upper()
    assert _colour(h, 0).upper() == DARK.grey.upper()
