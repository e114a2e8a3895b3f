"""Every public method and property of `Machine` says in one docstring what it does."""

from __future__ import annotations

import inspect

from am_core import Machine


def test_every_public_member_of_machine_has_a_docstring() -> None:
    missing = []
    for name, member in inspect.getmembers(Machine):
        if name.startswith("_"):
            continue
        fn = member.fget if isinstance(member, property) else member
        if callable(fn) and not (fn.__doc__ or "").strip():
            missing.append(name)
    assert missing == []
