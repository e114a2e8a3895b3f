"""The telemetry sender against the real ingest server and a real Session, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from am_core import Machine, State, new_log_args_mapper
from am_dbg.model.session import Session
from am_dbg.server import IngestServer
from am_rpc.dbg import DbgTracer, connect, connect_env
from tests.dbg.ingest.machines import machine, work
from tests.waiting import await_until


@pytest.fixture
async def server() -> AsyncIterator[IngestServer]:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    yield srv
    await srv.close()


async def in_thread(fn: Callable[[], Any]) -> Any:
    """Run blocking machine code off the server's loop (like a real program's thread)."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)


def _history(srv: IngestServer, mid: str) -> Any:
    return srv.session.machines[mid]  # type: ignore[attr-defined]


async def test_every_transition_arrives_with_clocks_steps_and_logs(server: IngestServer) -> None:
    def run() -> tuple[Any, DbgTracer]:
        m, produced = machine("m1")
        t = connect(m, f"127.0.0.1:{server.port}")
        for i in range(30):
            work(m, i)
        assert t.close()
        return produced, t

    produced, tracer = await in_thread(run)
    await server.settle()
    h = _history(server, "m1")
    txs = [h.tx(i) for i in range(len(h)) if not h.info(i).is_queued]
    assert [(t.id, t.clocks) for t in txs] == produced.txs
    assert len(txs) >= 90 and tracer.stats().dropped == 0
    assert h.schema.token == tracer.token and len(h.state_names) == 20
    with_steps = [t for t in txs if t.steps]
    assert with_steps and all(t.log for t in txs if t.accepted)
    first = txs[0]
    assert first.called == (h.state_names.index("Start"), h.state_names.index("S0"))
    assert any("[add] Start S0" in e.text for e in first.log)


async def test_queued_mutations_are_sent_with_last_tx_ids(server: IngestServer) -> None:
    def run() -> None:
        m, _ = machine("m1")
        t = connect(m, f"127.0.0.1:{server.port}")
        m.add1("Start")
        m.add1("Busy")
        m2, _ = machine("m2")  # following the flag, which is off: executed transitions only
        t2 = connect(m2, f"127.0.0.1:{server.port}", queued=None)
        m2.add1("Start")
        t2.close()
        t.close()

    await in_thread(run)
    await server.settle()
    h = _history(server, "m1")
    infos = [h.info(i) for i in range(len(h))]
    queued = [i for i in infos if i.is_queued]
    done = [i for i in infos if not i.is_queued]
    assert queued and done and queued[0].id == "init-0"  # nothing finished yet: never "-0"
    # a queued mutation is named after the last finished tx: "<lastTxId>-<n>"
    busy = h.state_names.index("Busy")
    i = next(i for i, info in enumerate(infos) if info.is_queued and info.called == (busy,))
    last_done = [x for x in infos[:i] if not x.is_queued][-1]
    assert infos[i].id == f"{last_done.id}-0"
    assert all(q.mut_queue_tick > 0 for q in queued if not q.is_auto)
    h2 = _history(server, "m2")
    assert len(h2) > 0 and not any(h2.info(i).is_queued for i in range(len(h2)))


async def test_args_go_through_the_args_mapper(server: IngestServer) -> None:
    def run() -> None:
        m, _ = machine("m1")
        m.semlogger().set_args_mapper(new_log_args_mapper(5, ["id"]))
        t = connect(m, f"127.0.0.1:{server.port}", queued=False)
        m.add1("Start", {"id": "abcdefgh", "secret": 1})
        t.close()

    await in_thread(run)
    await server.settle()
    assert _history(server, "m1").tx(0).args == {"id": "ab..."}


async def test_schema_change_is_sent_in_order(server: IngestServer) -> None:
    def run() -> None:
        m = Machine({"A": State()}, id="grow")
        t = connect(m, f"127.0.0.1:{server.port}", queued=False)
        m.add1("A")
        m.set_schema(
            {"A": State(), "B": State(), "Exception": State(multi=True)}, ["A", "B", "Exception"]
        )
        m.add1("B")
        assert t.close()

    await in_thread(run)
    await server.settle()
    h = _history(server, "grow")
    assert h.state_names == ("A", "B", "Exception")
    assert len(h) == 2 and h.clocks(1) == (1, 1, 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_no_debugger_never_blocks_and_overflow_is_reported() -> None:
    port = _free_port()

    def run() -> DbgTracer:
        m, _ = machine("m1")
        t = connect(m, f"127.0.0.1:{port}", outbox_limit=100, queued=False)
        for i in range(200):
            work(m, i)
        return t

    tracer = await in_thread(run)
    stats = tracer.stats()
    lost = stats.produced - 100
    # nobody listening: the outbox keeps the newest 100 and counts the rest, nothing waits
    # (the cost of a transition with an unreachable debugger is in bench/senders.py)
    assert stats.produced >= 600 and stats.dropped == lost and stats.queued == 100
    srv = IngestServer(Session(), host="127.0.0.1", port=port)
    await srv.start()
    try:
        assert await in_thread(lambda: tracer.close(5.0))
        await srv.settle()
        h = _history(srv, "m1")
        assert len(h) == 100 and srv.stats.dropped == lost
        assert f"{lost} telemetry messages dropped" in h.log_entries(0)[0].text
    finally:
        await srv.close()


async def test_sender_works_from_asyncio_on_the_running_loop(server: IngestServer) -> None:
    m, produced = machine("aio")
    t = connect(m, f"127.0.0.1:{server.port}")
    assert t.link.loop is asyncio.get_running_loop()
    for i in range(20):
        work(m, i)
        await asyncio.sleep(0)
    assert await t.aclose()
    await server.settle()
    h = _history(server, "aio")
    assert [h.tx(i).id for i in range(len(h)) if not h.info(i).is_queued] == [
        tx_id for tx_id, _ in produced.txs
    ]


async def test_attaching_twice_to_the_same_address_is_a_no_op(server: IngestServer) -> None:
    m, _ = machine("m1")
    addr = f"127.0.0.1:{server.port}"
    t1 = connect(m, addr)
    assert connect(m, addr) is t1
    assert sum(isinstance(t, DbgTracer) for t in m.tracers()) == 1
    await t1.aclose()


async def test_connect_env_reads_am_dbg_addr_and_log_flags(server: IngestServer) -> None:
    m, _ = machine("env", level=0)
    assert connect_env(m, {"AM_LOG": "3"}) is None
    assert int(m.semlogger().level()) == 3 and not m.semlogger().is_steps()
    env = {"AM_DBG_ADDR": f"127.0.0.1:{server.port}", "AM_LOG_FULL": "1"}
    t = connect_env(m, env)
    assert isinstance(t, DbgTracer)
    slog = m.semlogger()
    assert slog.is_steps() and slog.is_can() and slog.is_queued() and slog.is_args()
    await t.aclose()


def test_connect_env_with_a_bad_address_warns_and_does_not_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    m, _ = machine("typo")
    assert connect_env(m, {"AM_DBG_ADDR": "localhost"}) is None
    assert capsys.readouterr().err == (
        "am_rpc.dbg: AM_DBG_ADDR: expected HOST:PORT, got 'localhost'; not streaming typo\n"
    )
    assert not any(isinstance(t, DbgTracer) for t in m.tracers())


def test_default_address_is_localhost_6831() -> None:
    # a loop that never runs: the test never dials (and never pollutes) a real am-dbg on 6831
    loop = asyncio.new_event_loop()
    try:
        for addr in ("1", None, ""):
            m, _ = machine("d")
            assert connect(m, addr, loop=loop).addr == "localhost:6831"
        with pytest.raises(ValueError):
            connect(m, "nope", loop=loop)
    finally:
        loop.close()


def test_close_from_another_thread_waits_for_the_acks() -> None:
    # the shared background loop is used when there is no running loop
    m, _ = machine("t")
    t = connect(m, f"127.0.0.1:{_free_port()}")
    assert t.link.loop is not None and t.link.loop.is_running()
    assert threading.current_thread() is threading.main_thread()
    m.add1("Start")
    assert t.close(0.2) is False  # nobody listening: not delivered, said so


async def test_pipes_present_at_attach_are_seeded_as_a_semlogger_tx(server: IngestServer) -> None:
    m, _ = machine("piped")
    m.semlogger().add_pipe_out(True, "Ready", "other")
    t = connect(m, f"127.0.0.1:{server.port}")
    assert await t.aclose()
    await server.settle()
    h = _history(server, "piped")
    assert h.tx(0).id == "semlogger" and h.tx(0).is_check
    assert h.tx(0).log[0].text == "[pipe-out:add] Ready to other"


def test_public_api() -> None:
    import am_rpc.dbg

    assert am_rpc.dbg.__all__ == [
        "DEFAULT_DBG_ADDR",
        "DbgTracer",
        "RawSender",
        "StateDef",
        "connect",
        "connect_env",
    ]


def test_a_loop_that_is_not_running_yet_is_used_once_it_runs() -> None:
    loop = asyncio.new_event_loop()
    try:

        async def main() -> int:
            srv = IngestServer(Session(), host="127.0.0.1", port=port)
            await srv.start()
            m.add1("Start")
            assert await t.aclose()
            await srv.settle()
            n = len(srv.session.machines["late"])  # type: ignore[attr-defined]
            await srv.close()
            return n

        port = _free_port()
        m, _ = machine("late")
        t = connect(m, f"127.0.0.1:{port}", loop=loop)  # dials once the loop runs
        assert loop.run_until_complete(main()) >= 1
    finally:
        loop.close()


async def test_disposing_the_machine_flushes_and_disconnects(server: IngestServer) -> None:
    def run() -> None:
        m, _ = machine("disposed")
        connect(m, f"127.0.0.1:{server.port}")
        m.add1("Start")
        m.dispose()

    await in_thread(run)

    def disconnected() -> bool:
        h = server.session.machines.get("disposed")  # type: ignore[attr-defined]
        return h is not None and not h.connected

    await await_until(disconnected, what="the disposed machine's disconnect")
    await server.settle()
    h = _history(server, "disposed")
    assert not h.connected and len(h) >= 2


async def test_machines_of_a_process_share_one_connection_as_channels(
    server: IngestServer,
) -> None:
    addr = f"127.0.0.1:{server.port}"
    (a, _), (b, _) = machine("a"), machine("b")
    ta, tb = connect(a, addr), connect(b, addr)
    a.add1("Start")
    b.add1("Start")
    assert await ta.aclose()  # "a" leaves: a disc frame for its channel, the connection stays
    b.add1("Busy")
    await await_until(
        lambda: (
            "a" in server.session.machines  # type: ignore[attr-defined]
            and not _history(server, "a").connected
        ),
        what="a's disc frame",
    )
    await server.settle()
    ha, hb = _history(server, "a"), _history(server, "b")
    assert server.stats.connections == 1 and server.stats.connected == 1
    assert not ha.connected and hb.connected and ha.conn_id != hb.conn_id
    assert await tb.aclose()
    await await_until(lambda: server.stats.connected == 0, what="the hang-up")
    await server.settle()
    assert not hb.connected and server.stats.connected == 0  # the last one hung up


async def test_a_giant_log_line_costs_its_details_not_the_connection(
    server: IngestServer,
) -> None:
    m, _ = machine("big")
    t = connect(m, f"127.0.0.1:{server.port}", queued=False)
    m.log("x" * (2 << 20))  # a 2 MiB external log line (level OPS keeps it)
    m.add1("Start")
    m.add1("Busy")
    assert await t.aclose()
    await server.settle()
    h = _history(server, "big")
    assert len(h) >= 2 and server.stats.closed_bad == 0
    assert h.tx(0).pre_log[0].text.startswith("[dbg:too-big]") and not h.tx(0).log
    assert h.tx(1).log  # the next one is whole again
