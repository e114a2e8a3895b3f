"""The complicated example (spec/examples.md §2): wait on several machines with a 1 s timeout, on
top of a state context.

A worker machine is served over aRPC. The client reaches it through a NetMachine (``rnm-client``)
and receives its results as payloads (``ServerPayload`` → ``WorkerPayload`` on the client). A
second local machine, ``mach2``, becomes ``Ready`` on its own a little later. The client then:

1. takes the state context of ``WorkerReady`` (it expires as soon as that state's tick changes);
2. subscribes to the next activation of ``WorkerPayload`` (a clock-based subscription);
3. mutates the remote worker: ``add1("WorkRequested", {"input": 2})``;
4. waits for both the payload and ``mach2``'s ``Ready`` with one call and a 1 s timeout;
5. stops quietly if the state context expired meanwhile;
6. on a timeout, adds the error to the client (which activates ``Exception``);
7. otherwise prints the result.

Run: ``python examples/complicated.py`` (``--no-ready`` shows the timeout path: ``mach2`` never
becomes Ready; ``--drop-worker`` removes ``WorkerReady`` during the wait: the context expires).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from am_core import (
    AmTimeoutError,
    CtxCanceledError,
    Event,
    Machine,
    State,
    wait_for_all,
)
from am_core.states import BasicStates
from am_rpc import Payload, connect_async, serve_async


class WorkerStates(BasicStates):
    """The remote worker: a work request carries its input in the mutation's args."""

    ErrOnClient = State(require=["Exception"])  # required by aRPC for a source with handlers
    WorkRequested = State(multi=True, require=["Start"])


class ClientStates(BasicStates):
    """The client: ``ServerPayload`` is where aRPC delivers payloads (spec/rpc.md §6)."""

    ServerPayload = State(multi=True)
    WorkerReady = State()
    WorkerPayload = State(multi=True)


class WorkerHandlers:
    def __init__(self, mux: Any) -> None:
        self.mux = mux

    def WorkRequestedState(self, e: Event) -> None:
        mach = e.machine()
        assert mach is not None
        n = int(e.args["input"])

        def work() -> None:
            # off the queue (a thread): compute and push the result to the client
            self.mux.send_payload(Payload(name="WorkerPayload", data={"input": n, "result": n * 2}))

        mach.fork(mach.new_state_ctx("Start"), e, work)


class ClientHandlers:
    def __init__(self) -> None:
        self.result: Any = None

    def ServerPayloadState(self, e: Event) -> None:
        payload = e.args["payload"]
        self.result = payload.data
        mach = e.machine()
        assert mach is not None
        mach.add1("WorkerPayload", {"result": payload.data})  # queued after this transition


async def run(timeout: float = 1.0, ready: bool = True, drop_worker: bool = False) -> str:
    """Returns ``"ok: ..."``, ``"expired"`` or ``"timeout"``."""
    worker = Machine(WorkerStates.schema(), id="worker")
    worker.verify_states(WorkerStates.names())
    mux = await serve_async(worker, "127.0.0.1:0")
    worker.handlers_bind(WorkerHandlers(mux))
    worker.add1("Start")

    client = Machine(ClientStates.schema(), id="client")
    handlers = ClientHandlers()
    client.handlers_bind(handlers)
    conn = await connect_async(mux.addr, id="client", consumer=client)
    nm = conn.mach  # the remote worker, with the same API as a local machine

    mach2 = Machine(BasicStates.schema(), id="mach2")
    if ready:
        # with --drop-worker, mach2 is slower than the worker going away
        mach2.go_after(None, 0.5 if drop_worker else 0.1, lambda: mach2.add(["Start", "Ready"]))
    client.add1("WorkerReady")
    if drop_worker:
        client.go_after(None, 0.05, lambda: client.remove1("WorkerReady"))

    try:
        # 1. the state context: valid while WorkerReady keeps its current tick
        ctx = client.new_state_ctx("WorkerReady")
        # 2. the next activation of WorkerPayload (clock-based)
        w_payload = client.when_ticks("WorkerPayload", 1, ctx)
        # 3. mutate the remote worker, with args (a blocking round trip: run it off the loop)
        await asyncio.to_thread(nm.add1, "WorkRequested", {"input": 2})
        # 4. wait for both machines at once, 1 s at most
        try:
            await wait_for_all(ctx, timeout, w_payload, mach2.when1("Ready"))
        except CtxCanceledError:
            return "expired"  # 5. the state changed meanwhile: not an error, just stop
        except AmTimeoutError as err:
            client.add_err(err)  # 6. the client goes into Exception
            assert client.is_err()
            return "timeout"
        # 7. both conditions hold
        return f"ok: {handlers.result}"
    finally:
        await asyncio.to_thread(conn.close)
        await mux.close_async()
        for m in (worker, client, mach2):
            m.dispose()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--no-ready", action="store_true", help="mach2 never becomes Ready")
    p.add_argument("--drop-worker", action="store_true", help="remove WorkerReady during the wait")
    a = p.parse_args(argv)
    out = asyncio.run(run(a.timeout, ready=not a.no_ready, drop_worker=a.drop_worker))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
