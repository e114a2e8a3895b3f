"""Client list order (spec/debugger.md §4.3): human sort, children nested under parents."""

from __future__ import annotations

from am_dbg.model.client_order import client_tree, human_sorted


def test_human_sort_compares_embedded_numbers() -> None:
    ids = ["w-10", "w-2", "w-1", "a", "w-2-disc", "sim", "ps-10", "ps-9"]
    assert human_sorted(ids) == ["a", "ps-9", "ps-10", "sim", "w-1", "w-2", "w-2-disc", "w-10"]


def test_tree_nests_children_and_keeps_orphans_top_level() -> None:
    parents = {"root": "", "c-10": "root", "c-2": "root", "gc": "c-2", "orphan": "gone"}
    assert client_tree(parents) == [("orphan", 0), ("root", 0), ("c-2", 1), ("gc", 2), ("c-10", 1)]


def test_parent_cycles_still_list_every_machine_once() -> None:
    out = client_tree({"a": "b", "b": "a", "c": ""})
    assert sorted(m for m, _ in out) == ["a", "b", "c"] and len(out) == 3
