"""mypy --strict rejects this: a wrong field type, an unknown field, a wrong attribute."""

from __future__ import annotations

from dataclasses import dataclass

from am_core import Event, Machine, State


@dataclass
class ConnectArgs:
    addr: str
    port: int = 6831


def handler(e: Event) -> None:
    a = e.args_of(ConnectArgs)
    name: str = a.port  # BAD-1: int is not str
    print(name)
    print(a.host)  # BAD-2: no such field


def run() -> None:
    m = Machine({"Connect": State(args=ConnectArgs)}, id="bad")
    m.add1("Connect", ConnectArgs(addr="x", port="1"))  # BAD-3: port is int
