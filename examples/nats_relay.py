"""A relay over NATS: processes pass a token around a ring and meet only through NATS.

Run one process per runner (``--index 0..N-1``, the same ``--count N``) against one NATS server:
each has a ``relay-<i>`` machine and joins the PubSub topic ``relay`` (`am_rpc.nats`). Runner
``i`` takes the token (``Holding``) once the *mirror* of runner ``i-1`` shows it has passed it on
as many times as needed (``when_time`` on the remote clock), holds it a moment and passes it on.
No process knows another's address; a runner that dies is marked gone by the others and the ring
waits for it to come back. Each machine is also exposed with Go's JSON messages
(`am_rpc.nats.expose`), so any NATS client can read or drive it::

    nats req relay.relay-1 '{"kind": "am_req_getter", "time": ["Holding"]}'

What it shows in am-dbg (``AM_DBG_ADDR=nats://...``, or ``am-dbg --demo --nats``): the runners'
machines and their PubSub member machines (``MemberJoined`` / ``MemberGone``), from several
processes, over NATS only.

Run: ``python examples/nats_relay.py --nats nats://127.0.0.1:4222 --index 0 --count 3`` (and 1, 2)
"""

from __future__ import annotations

import argparse
import asyncio

from kit import Example, run

from am_core import LogLevel, Machine, State
from am_core.states import BasicStates


class RelayStates(BasicStates):
    """One runner of the ring."""

    Holding = State(require=["Start"], remove=["Waiting"])
    """Has the token; every hold is one add and one remove, so after k holds the tick is 2k."""
    Waiting = State(require=["Start"], remove=["Holding"])
    """Waits for the runner before it to pass the token on."""


async def main(ex: Example) -> str:
    import nats

    from am_rpc.nats import expose, join

    i, n = ex.args.index, ex.args.count
    nc = await nats.connect(ex.args.nats)
    mach = ex.track(Machine(RelayStates.schema(), id=f"relay-{i}"), LogLevel.CHANGES)
    mach.add1("Start")
    ps = await join(nc, "relay", [mach], member_id=f"relay-member-{i}", heartbeat=0.5)
    ex.track(ps.mach, LogLevel.CHANGES)
    exposed = await expose(mach, nc, "relay")
    prev = f"relay-{(i - 1) % n}"
    holds = 0
    try:
        while not ex.stop.is_set():
            mach.add1("Waiting")
            # runner 0 starts the ring; the k-th hold of runner i follows the k-th (or, for
            # runner 0, the (k-1)-th) hold of the runner before it
            need = 2 * holds if i == 0 else 2 * (holds + 1)
            if need > 0 and not await _until_passed(ex, ps, prev, need):
                break
            mach.add1("Holding")
            holds += 1
            if not await ex.sleep(0.2 + ex.rng.random() * 0.3):
                break
            mach.remove1("Holding")
    finally:
        await exposed.close()
        await ps.close()
        await nc.close()
    return f"relay-{i}: held the token {holds} times"


async def _until_passed(ex: Example, ps: object, prev: str, tick: int) -> bool:
    """Wait until the mirror of ``prev`` shows ``Holding`` at ``tick`` or more (or a stop)."""
    from am_rpc.nats import PubSub

    assert isinstance(ps, PubSub)
    stop = asyncio.ensure_future(ex.stop.wait())
    try:
        while not ex.stop.is_set():
            mirror = ps.mirrors().get(prev)
            waiter = ps.when_mach(prev) if mirror is None else mirror.when_time(["Holding"], [tick])
            await asyncio.wait(
                [asyncio.ensure_future(_done(waiter)), stop], return_when=asyncio.FIRST_COMPLETED
            )
            mirror = ps.mirrors().get(prev)
            if mirror is not None and not mirror.gone and mirror.tick("Holding") >= tick:
                return True
        return False
    finally:
        stop.cancel()


async def _done(waiter: object) -> None:
    await waiter  # type: ignore[misc]


def _flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="the NATS server")
    p.add_argument("--index", type=int, default=0, help="this runner's place in the ring")
    p.add_argument("--count", type=int, default=3, help="runners in the ring")


if __name__ == "__main__":
    raise SystemExit(run(main, __doc__, extra=_flags))
