"""Fixtures of the Go aRPC tests (spec/rpc.md §11.1) and small helpers for real-socket tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from am_core import Machine, Schema, State
from am_rpc import Client, Mux, connect, serve
from am_rpc.server import Server
from tests import waiting

NAMES = ["Exception", "A", "B", "C", "D", "ErrOnClient"]


def rels() -> Schema:
    """A: auto, req C; B: multi, add C; C: after D; D: add C, B."""
    return {
        "A": State(auto=True, require=["C"]),
        "B": State(multi=True, add=["C"]),
        "C": State(after=["D"]),
        "D": State(add=["C", "B"]),
        "ErrOnClient": State(require=["Exception"]),
    }


def norels() -> Schema:
    return {n: State() for n in ["A", "B", "C", "D"]} | {
        "ErrOnClient": State(require=["Exception"])
    }


def custom(schema: Schema) -> Schema:
    return {**schema, "ErrOnClient": State(require=["Exception"])}


def wait_until(cond: Callable[[], bool], timeout: float = 3.0, what: str = "condition") -> None:
    """Poll ``cond``; a timeout under ``waiting.TIMEOUT`` is raised to it: on a busy box a wait
    is a guard against a hang, never a speed budget."""
    timeout = max(timeout, waiting.TIMEOUT)
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


@dataclass
class Pair:
    src: Machine
    mux: Mux
    client: Client
    extra: list[Client] = field(default_factory=list)

    @property
    def nm(self) -> Any:
        return self.client.mach

    @property
    def server(self) -> Server:
        return self.mux.servers[0]

    def assert_no_errors(self) -> None:
        """The harness's checkErrs: Exception never activated on the client or server machine."""
        assert self.client.client_mach.tick("Exception") == 0, self.client.client_mach.string_all()
        for srv in self.mux.servers:
            assert srv.mach.tick("Exception") == 0, srv.mach.string_all()


class PairFactory:
    """Builds connected (source, mux, client) triples and closes them all at teardown."""

    def __init__(self) -> None:
        self.made: list[tuple[list[Client], Mux]] = []

    def __call__(
        self,
        schema: Schema | None = None,
        names: Sequence[str] = NAMES,
        *,
        preset: Sequence[str] = (),
        push_interval: float = 0.25,
        client_id: str = "t1",
        handlers: Any = None,
        server_kw: dict[str, Any] | None = None,
        **client_kw: Any,
    ) -> Pair:
        src = Machine(schema if schema is not None else rels(), id=f"ns-{client_id}")
        src.verify_states(list(names))
        if handlers is not None:
            src.handlers_bind(handlers)
        if preset:
            src.add(list(preset))
        mux = serve(src, "127.0.0.1:0", push_interval=push_interval, **(server_kw or {}))
        client_kw.setdefault("conn_retry_delay", 0.05)
        client = connect(mux.addr, id=client_id, **client_kw)
        clients = [client]
        self.made.append((clients, mux))
        wait_until(lambda: bool(mux.servers) and mux.servers[0].ready, what="server Ready")
        return Pair(src, mux, client, clients)

    def close(self) -> None:
        for clients, mux in self.made:
            for c in clients:
                c.close()
            mux.close()
