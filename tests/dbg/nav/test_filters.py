"""Filters of spec/debugger.md §5.7: each predicate, the tri-state auto cycle and the side rules."""

from __future__ import annotations

import pytest

from am_dbg.config import parse_args
from am_dbg.model.filters import AutoFilter, Filters

from .helpers import HistoryBuilder


def _infos() -> tuple[HistoryBuilder, dict[str, int]]:
    b = HistoryBuilder()
    ids = {
        "plain": b.tx("A", add=("A",)),
        "canceled": b.tx("B", add=("B",), accepted=False),
        "queued": b.tx("C", queued=True),
        "auto": b.tx("C", add=("C",), auto=True),
        "auto_canceled": b.tx("B", accepted=False, auto=True),
        "empty": b.tx("A", add=("A",)),  # A already active: nothing changes
        "health": b.tx("Healthcheck", add=("Healthcheck",)),
        "check": b.tx("B", check=True),
        "out_of_group": b.tx("C", remove=("C",), type=1),
    }
    return b, ids


def _shown(f: Filters, group: tuple[int, ...] | None = None) -> set[str]:
    b, ids = _infos()
    return {k for k, i in ids.items() if f.accepts(b.hist.info(i), group)}


def test_defaults_hide_health_checks_and_canceled_auto() -> None:
    assert _shown(Filters()) == {"plain", "canceled", "queued", "auto", "empty", "out_of_group"}


def test_each_filter_hides_its_kind() -> None:
    everything = Filters(auto=AutoFilter.SHOW_ALL, health=False, checks=False)
    assert len(_shown(everything)) == 9
    for name, hidden in (
        ("canceled", {"canceled", "auto_canceled"}),
        ("queued", {"queued"}),
        ("empty", {"empty", "check"}),  # a check changes nothing: it is empty too
    ):
        f = everything.toggle(name)
        assert _shown(f) == _shown(everything) - hidden, name


def test_auto_tri_state_cycle() -> None:
    f = Filters(health=False, checks=False)
    assert f.auto == AutoFilter.HIDE_CANCELED
    assert "auto" in _shown(f) and "auto_canceled" not in _shown(f)
    f = f.toggle("auto")
    assert f.auto == AutoFilter.SHOW_ALL and {"auto", "auto_canceled"} <= _shown(f)
    f = f.toggle("auto")
    assert f.auto == AutoFilter.HIDE_ALL and not {"auto", "auto_canceled"} & _shown(f)
    assert f.toggle("auto").auto == AutoFilter.HIDE_CANCELED


def test_group_filter_hides_txs_without_a_called_state_in_the_group() -> None:
    shown = _shown(Filters(health=False, checks=False), group=(0, 1))
    assert "out_of_group" not in shown and "plain" in shown
    assert "out_of_group" in _shown(Filters(group=False), group=(0, 1))


def test_showing_canceled_or_queued_also_shows_empty() -> None:
    f = Filters(canceled=True, queued=True, empty=True)
    assert f.toggle("canceled").empty is False
    assert f.toggle("queued").empty is False
    assert f.toggle("health").empty is True  # other filters leave it alone
    assert Filters(empty=True).toggle("canceled").empty is True  # hiding canceled: no side effect


def test_log_level_cycles_and_validates() -> None:
    assert Filters(log_level=5).toggle("log_level").log_level == 0
    with pytest.raises(ValueError):
        Filters().with_log_level(6)
    with pytest.raises(ValueError, match="unknown filter"):
        Filters().toggle("nope")


def test_from_cli_flags() -> None:
    cfg, _ = parse_args(
        ["--filter-canceled", "--no-filter-health", "--filter-auto", "--filter-log-level", "4"]
    )
    f = Filters.from_config(cfg)
    assert f.canceled and not f.health and f.auto == AutoFilter.HIDE_ALL and f.log_level == 4
    cfg, _ = parse_args(["--no-filter-auto-canceled"])
    assert Filters.from_config(cfg).auto == AutoFilter.SHOW_ALL


def test_hides_txs_only_when_something_can_be_hidden() -> None:
    none = Filters(auto=AutoFilter.SHOW_ALL, health=False, checks=False)
    assert not none.hides_txs(group_selected=False)
    assert none.hides_txs(group_selected=True)  # group filter is on by default
    assert none.toggle("empty").hides_txs()
