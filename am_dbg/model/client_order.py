"""Order of the client list (docs/architecture.md): human sort, children nested under their parent.

Human sort: skip the common prefix; when the first differing characters are digits in both ids,
compare the embedded numbers (`w-2` < `w-10`), else compare lexically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cmp_to_key

__all__ = ["client_tree", "human_cmp", "human_sorted"]


def _number_at(s: str, i: int) -> int:
    j = i
    while j > 0 and s[j - 1].isdigit():
        j -= 1
    k = i
    while k < len(s) and s[k].isdigit():
        k += 1
    return int(s[j:k])


def human_cmp(a: str, b: str) -> int:
    if a == b:
        return 0
    i = 0
    n = min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    if i < n and a[i].isdigit() and b[i].isdigit():
        na, nb = _number_at(a, i), _number_at(b, i)
        if na != nb:
            return -1 if na < nb else 1
    return -1 if a < b else 1


def human_sorted(ids: Iterable[str]) -> list[str]:
    return sorted(ids, key=cmp_to_key(human_cmp))


def client_tree(parents: Mapping[str, str]) -> list[tuple[str, int]]:
    """`{id: parent_id}` -> `[(id, depth)]` in display order. A parent that is not a known client
    makes the machine top-level; cycles are broken (each machine appears exactly once)."""
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for mid, parent in parents.items():
        if parent and parent in parents and parent != mid:
            children.setdefault(parent, []).append(mid)
        else:
            roots.append(mid)
    out: list[tuple[str, int]] = []
    seen: set[str] = set()

    def walk(mid: str, depth: int) -> None:
        if mid in seen:
            return
        seen.add(mid)
        out.append((mid, depth))
        for child in human_sorted(children.get(mid, ())):
            walk(child, depth + 1)

    for root in human_sorted(roots):
        walk(root, 0)
    for mid in human_sorted(parents):  # members of a parent cycle: no root leads to them
        walk(mid, 0)
    return out
