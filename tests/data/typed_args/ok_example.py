"""mypy --strict accepts this: typed args declared on a state, passed and read typed."""

from __future__ import annotations

from dataclasses import dataclass

from am_core import Event, Machine, State, StatesBase


@dataclass
class ConnectArgs:
    addr: str
    port: int = 6831


class NetStates(StatesBase):
    Connect = State(args=ConnectArgs)


class Handlers:
    def ConnectState(self, e: Event) -> None:
        a = e.args_of(ConnectArgs)
        port: int = a.port
        addr: str = a.addr
        print(addr, port)


def run() -> None:
    m = Machine(NetStates.schema(), id="ok")
    m.handlers_bind(Handlers())
    m.add1(NetStates.Connect, ConnectArgs(addr="localhost", port=1))
    m.add1(NetStates.Connect, {"addr": "localhost"})
