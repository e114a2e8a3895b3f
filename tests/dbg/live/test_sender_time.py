"""Each transition is shown at the sender's own time, not at the time its batch arrived
(docs/protocol.md "Sender time"); the receive time is kept beside it, old data still loads."""

from __future__ import annotations

import time

from am_core import Machine, State
from am_dbg.model.session import Session
from am_dbg.recordings import export, load
from am_dbg.server import IngestServer
from am_dbg.states import DbgStates as S
from am_dbg.ui.format import clock_time
from am_rpc.dbg import connect
from tests.dbg.ui.helpers import make_app

from .conftest import in_thread, wait_for

N = 300


def _burst(addr: str) -> list[int]:
    """N transitions in a tight loop: they leave in a few frames, received together."""
    m = Machine({"A": State(multi=True)}, id="burst")
    t = connect(m, addr)
    before = []
    for _ in range(N):
        before.append(time.time_ns())
        m.add1("A")
    assert t.close()
    return before


async def test_a_burst_gets_one_time_per_transition(server: IngestServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sent = await in_thread(lambda: _burst(f"127.0.0.1:{server.port}"))
    session = server.session
    await wait_for(
        lambda: "burst" in session.machines and len(session.machines["burst"]) >= N, "N txs"
    )
    h = session.machines["burst"]
    times = [h.time_ns(i) for i in range(len(h))]
    # each transition has its own (sender) time, in order
    assert len(set(times)) == len(times) and times == sorted(times)
    # though received in batches: many share a receive time
    recv = [h.recv_time_ns(i) for i in range(len(h))]
    assert len(set(recv)) < len(recv) // 2
    assert sent[0] <= times[0] and times[-1] <= recv[-1]  # type: ignore[index]
    assert all(t <= r for t, r in zip(times, recv, strict=True))
    assert [h.info(i).time_ns for i in range(len(h))] == times
    assert h.tx(5).sender_time == times[5] and h.tx(5).time == recv[5]

    # cross-machine time travel lands inside the burst
    mid = times[N // 2]
    assert h.tx_at_human_time(mid) == N // 2

    # a recording keeps both: the receive time in the record, the sender time in the message
    out = tmp_path / "burst.amdbg"
    export(session, out)
    again = Session()
    again.load(load(out).machines)
    h2 = again.machines["burst"]
    assert [h2.time_ns(i) for i in range(len(h2))] == times
    assert [h2.recv_time_ns(i) for i in range(len(h2))] == recv

    # the tx bar shows the sender time
    app = make_app(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(lambda: app.viewer.selected == "burst", "burst selected")
        app.mach.add1(S.ScrollToTx, {"cursor": 10})
        await pilot.pause()
        await wait_for(lambda: clock_time(times[9]) in app.tx_bar._right.plain, "tx 10's time")


def test_messages_without_sender_time_keep_their_receive_time() -> None:
    """Old recordings and Go dumps have no `st`: shown at their receive time, as before."""
    from am_dbg.model.history import MachineHistory
    from am_rpc.dbg.protocol import SchemaMsg, StateDef, TxMsg

    schema = SchemaMsg(id="old", states_index=("A",), states={"A": StateDef()})
    h = MachineHistory(schema, "c", connected=True)
    h.append(TxMsg(mach_id="old", id="a", clocks=(1,)), 1_000)
    h.append(TxMsg(mach_id="old", id="b", clocks=(2,), sender_time=1_500), 2_000)
    assert [h.time_ns(0), h.time_ns(1)] == [1_000, 1_500]
    assert [h.recv_time_ns(0), h.recv_time_ns(1)] == [1_000, 2_000]
    assert clock_time(h.info(1).time_ns).endswith(".000001500")
