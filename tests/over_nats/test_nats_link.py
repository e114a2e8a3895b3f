"""The NATS telemetry link keeps the TCP link's rules: it never blocks the machine, its outbox is
bounded and counts what it drops, and it delivers once NATS is there (a real nats-server)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from dbg.ingest.machines import machine, work

from am_dbg.model.session import Session
from am_dbg.server.nats_ingest import NatsIngestServer
from am_rpc.dbg import connect, connect_env
from am_rpc.nats.local_server import LocalNatsServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_no_server_yet_bounded_outbox_then_delivery(tmp_path: Path) -> None:
    port = _free_port()
    url = f"nats://127.0.0.1:{port}"
    m, produced = machine("early")
    tracer = connect(m, url, outbox_limit=50)
    assert tracer.link.__class__.__name__ == "NatsDbgLink"
    for i in range(100):  # nobody to publish to: the machine goes on regardless
        work(m, i)
    st = tracer.stats()
    assert not st.connected
    assert st.queued <= 50 and st.dropped == st.produced - st.queued > 0
    srv = LocalNatsServer(port=port, store_dir=tmp_path / "js")
    srv.start()
    try:
        session = Session()
        ingest = NatsIngestServer(session, url, batch_interval=0.0)
        await ingest.start()
        try:
            # the listener's hello brings the schema (its marker takes one of the 50 places);
            # the kept txs follow, then new ones
            await _until(lambda: tracer.stats().connected)
            await _until(
                lambda: "early" in session.machines and len(session.machines["early"]) >= 40
            )
            work(m, 100)
            assert await asyncio.to_thread(tracer.close, 10.0)
            end = tracer.stats()
            # the schema marker the hello queued took one more place
            assert end.dropped in (st.dropped, st.dropped + 1) and end.queued == 0
            await _until(lambda: ingest.stats.transitions >= end.produced - end.dropped)
            await ingest.settle()
            assert ingest.stats.dropped == end.dropped  # the gap is reported, not silent
            hist = session.machines["early"]
            assert len(hist) == end.produced - end.dropped > 40
            assert not session.machines["early"].connected  # the disc frame on close
            got = [hist.tx(i) for i in range(len(hist))]
            executed = [(t.id, tuple(t.clocks)) for t in got if not t.is_queued]
            # what was kept is the newest, in order, up to the last transition
            assert executed == produced.txs[-len(executed) :]
        finally:
            await ingest.close()
    finally:
        srv.cleanup()


async def test_am_dbg_addr_nats_and_bad_addresses(nats_server: LocalNatsServer) -> None:
    m, _ = machine("env")
    tracer = connect_env(m, {"AM_DBG_ADDR": nats_server.url + "?prefix=other"})
    assert tracer is not None and tracer.link.subject == "other.m.env"
    # nobody listens on that prefix: nothing is published, the outbox keeps it
    assert not await tracer.aclose(0.5)
    assert connect_env(machine("typo")[0], {"AM_DBG_ADDR": "nats://"}) is None
    with pytest.raises(ValueError, match="unknown option"):
        connect(machine("bad")[0], nats_server.url + "?color=red")
    with pytest.raises(ValueError, match="prefix"):
        connect(machine("bad2")[0], nats_server.url + "?prefix=a.*")
