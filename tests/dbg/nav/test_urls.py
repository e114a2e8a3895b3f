"""mach:// URLs and the address history (spec/debugger.md §5.11)."""

from __future__ import annotations

import pytest

from am_dbg.model.urls import HISTORY_CAP, AddressHistory, MachUrl, UrlError, normalise_group


def test_round_trip_with_sorted_params() -> None:
    text = "mach://ps-2/a59d994dd6efb726a1cd3ef1b7f384fd/3?group=self&ht=2024-07-22T13%3A29%3A46Z&q=7&state=Foo&t=12"
    url = MachUrl.parse(text)
    assert url.mach_id == "ps-2" and url.step == 3 and url.t == 12 and url.q == 7
    assert url.state == "Foo" and url.group == "self" and url.ht == "2024-07-22T13:29:46Z"
    assert str(url) == text
    assert str(MachUrl.parse("mach://x?t=5&state=A")) == "mach://x?state=A&t=5"
    assert MachUrl.parse(str(url)) == url


def test_bare_machine_and_base() -> None:
    url = MachUrl.parse("mach://sim")
    assert url.tx_id == "" and str(url) == "mach://sim" == url.base
    assert MachUrl.parse("mach://sim/tx1/0?t=3").base == "mach://sim/tx1"


@pytest.mark.parametrize(
    "bad",
    ["http://x", "mach://", "mach://a/b/c/d", "mach://a/b/x", "mach://a?t=x", "mach://a?zz=1"],
)
def test_bad_addresses_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(UrlError):
        MachUrl.parse(bad)


def test_group_normalisation() -> None:
    assert normalise_group("- BasicStatesDef:5") == "Basic"
    assert normalise_group("self:3") == "self"


def _u(m: str, tx: str = "") -> MachUrl:
    return MachUrl(mach_id=m, tx_id=tx)


def test_history_push_dedupes_on_base_and_caps_keeping_the_newest() -> None:
    h = AddressHistory()
    assert h.push(_u("a", "1"))
    assert not h.push(MachUrl(mach_id="a", tx_id="1", t=5))  # same base: refreshed, not added
    assert h.entries[0].t == 5
    for k in range(HISTORY_CAP + 10):
        h.push(_u("a", str(k + 2)))
    assert len(h.entries) == HISTORY_CAP and h.entries[0].tx_id == str(HISTORY_CAP + 11)


def test_back_forward_and_no_push_while_browsing() -> None:
    h = AddressHistory()
    for tx in "123":
        h.push(_u("a", tx))
    assert h.back() == _u("a", "2")
    assert not h.push(_u("a", "2"))  # landing on the entry browsed to records nothing
    assert not h.push(MachUrl(mach_id="a"))  # ...nor does selecting its machine
    assert h.forward() == _u("a", "3")
    assert h.forward() is None
    h.back()
    h.back()
    assert h.back() is None
    h.trim()  # a jump while browsing back drops the forward entries
    assert h.entries == [_u("a", "1")] and h.pos == 0


def test_a_new_visit_while_browsed_back_drops_the_forward_entries_and_is_recorded() -> None:
    h = AddressHistory()
    for tx in "123":
        h.push(_u("a", tx))
    h.back()
    h.back()
    assert h.push(_u("b"))  # a browser: the visit is the newest entry, "2" and "3" are gone
    assert h.entries == [_u("b"), _u("a", "1")] and h.pos == 0
    assert h.back() == _u("a", "1")


def test_machine_skipping_and_removal() -> None:
    h = AddressHistory()
    for m, tx in (("a", "1"), ("b", "1"), ("b", "2"), ("c", "1")):
        h.push(_u(m, tx))
    assert h.back_mach() == _u("b", "2")
    assert h.back_mach() == _u("a", "1")
    assert h.back_mach() is None
    assert h.forward_mach() == _u("b", "1")
    h.remove_machine("b")
    assert [u.mach_id for u in h.entries] == ["c", "a"]
