"""`MachineApi` is what `Machine` and `NetMachine` share (mypy checks the signatures in
am_rpc/machine_api.py; this checks the names and the one-line docs at run time)."""

from __future__ import annotations

import inspect

from am_core import Machine, MachineApi
from am_rpc.netmach import NetMachine


def _members() -> dict[str, object]:
    return {n: v for n, v in vars(MachineApi).items() if not n.startswith("_")}


def test_every_member_exists_on_both_machines() -> None:
    names = set(_members())
    assert len(names) > 80
    assert names - set(dir(Machine)) == set()
    assert names - set(dir(NetMachine)) == set()


def test_every_member_has_a_one_line_docstring() -> None:
    bad = []
    for name, member in _members().items():
        fn = member.fget if isinstance(member, property) else member
        doc = inspect.getdoc(fn) or ""
        if not doc or "\n" in doc:
            bad.append(name)
    assert bad == []
