"""The ingest server over real sockets: what reaches the model, and bad clients hurting nobody."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator
from itertools import pairwise

import msgpack
import pytest

from am_dbg.model.session import Session
from am_dbg.server import IngestBatch, IngestServer, ListenError
from am_rpc.codec import encode_frame, encode_preamble
from am_rpc.dbg.frames import MAGIC
from tests.waiting import await_until

from .helpers import RawClient, schema, schema_frame, tx, txs_frame


@pytest.fixture
async def server() -> AsyncIterator[IngestServer]:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    yield srv
    await srv.close()


async def _stream(srv: IngestServer, mid: str, n: int, token: str = "tok") -> RawClient:
    c = await RawClient.open(srv.port)
    await c.send(schema_frame(schema(mid, token)))
    await c.send(txs_frame([tx(mid, i) for i in range(1, n + 1)], seq=1))
    await c.read_ack(n)
    return c


async def test_schema_and_txs_reach_the_session_in_order(server: IngestServer) -> None:
    c = await _stream(server, "m1", 50)
    await server.settle()
    h = server.session.machines["m1"]  # type: ignore[attr-defined]
    assert len(h) == 50
    assert [h.tx(i).id for i in range(50)] == [f"m1-tx{i}" for i in range(1, 51)]
    assert h.clocks(49)[0] == 50 and h.tx(0).time > 0
    assert h.connected and server.stats.transitions == 50 and server.stats.clients == 1
    await c.close()
    await await_until(lambda: not h.connected, what="the disconnect")
    await server.settle()
    assert not h.connected


async def test_server_sends_its_preamble_first(server: IngestServer) -> None:
    c = await RawClient.open(server.port)
    assert await asyncio.wait_for(c.reader.readexactly(8), 2) == encode_preamble(magic=MAGIC)
    await c.close()


async def test_reconnect_with_overlapping_seq_stores_nothing_twice(server: IngestServer) -> None:
    c = await _stream(server, "m1", 10)
    await c.close()
    c2 = await RawClient.open(server.port)
    await c2.send(schema_frame(schema("m1")))  # same token: the same run continues
    await c2.send(txs_frame([tx("m1", i) for i in range(6, 16)], seq=6))
    await c2.read_ack(15)
    await server.settle()
    h = server.session.machines["m1"]  # type: ignore[attr-defined]
    assert [h.tx(i).id for i in range(len(h))] == [f"m1-tx{i}" for i in range(1, 16)]
    assert server.stats.duplicates == 5
    await c2.close()


async def test_new_token_replaces_the_history(server: IngestServer) -> None:
    c = await _stream(server, "m1", 10)
    await c.close()
    c2 = await _stream(server, "m1", 3, token="other")
    await server.settle()
    assert len(server.session.machines["m1"]) == 3  # type: ignore[attr-defined]
    await c2.close()


async def test_dropped_count_is_shown_in_the_log_of_the_next_tx(server: IngestServer) -> None:
    c = await RawClient.open(server.port)
    await c.send(schema_frame(schema("m1")))
    await c.send(txs_frame([tx("m1", 1)], seq=1))
    await c.send(txs_frame([tx("m1", 40)], seq=40, dropped=38))
    await c.read_ack(40)
    await server.settle()
    h = server.session.machines["m1"]  # type: ignore[attr-defined]
    assert server.stats.dropped == 38
    assert any("38 telemetry messages dropped" in e.text for e in h.log_entries(1))
    await c.close()


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"aRPC\x01\x01\x00\x00", id="arpc-magic"),
        pytest.param(b"amDB\x02\x01\x00\x00", id="wrong-version"),
        pytest.param(b"amDB\x01\x02\x00\x00", id="wrong-codec"),
        pytest.param(encode_preamble(magic=MAGIC) + struct.pack(">I", 2**31), id="oversize"),
        pytest.param(encode_preamble(magic=MAGIC) + struct.pack(">I", 0), id="zero-length"),
        pytest.param(encode_preamble(magic=MAGIC) + b"\x00\x00\x00\x02\xc1\xc1", id="bad-msgpack"),
        pytest.param(encode_preamble(magic=MAGIC) + encode_frame([1, 2]), id="not-a-map"),
        pytest.param(encode_preamble(magic=MAGIC) + encode_frame({"k": "nope"}), id="unknown-kind"),
        pytest.param(
            encode_preamble(magic=MAGIC) + encode_frame({"k": "txs", "seq": 1, "txs": [{"m": 1}]}),
            id="txs-not-bin",
        ),
        pytest.param(
            encode_preamble(magic=MAGIC) + encode_frame({"k": "schema", "schema": {"id": 3}}),
            id="bad-schema",
        ),
    ],
)
async def test_bad_input_closes_only_that_connection(
    server: IngestServer, bad: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    good = await _stream(server, "good", 5)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    with caplog.at_level(logging.WARNING, logger="am_dbg.server"):
        writer.write(bad)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 3)  # the server closes it
    assert data.startswith(encode_preamble(magic=MAGIC))
    assert any(r.getMessage().startswith("closing connection") for r in caplog.records)
    writer.close()
    # the good client is unaffected and keeps streaming
    await good.send(txs_frame([tx("good", i) for i in range(6, 9)], seq=6))
    await good.read_ack(8)
    await server.settle()
    assert len(server.session.machines["good"]) == 8  # type: ignore[attr-defined]
    assert server.stats.closed_bad == 1
    await good.close()


async def test_sender_killed_mid_frame_hurts_nobody(server: IngestServer) -> None:
    good = await _stream(server, "good", 5)
    c = await RawClient.open(server.port)
    await c.send(schema_frame(schema("victim")))
    frame = txs_frame([tx("victim", i) for i in range(1, 20)], seq=1)
    await c.send(frame[: len(frame) // 2])
    c.writer.transport.abort()
    machines = server.session.machines  # type: ignore[attr-defined]
    await await_until(
        lambda: "victim" in machines and not machines["victim"].connected, what="the hang-up"
    )
    await good.send(txs_frame([tx("good", 6)], seq=6))
    await good.read_ack(6)
    await server.settle()
    machines = server.session.machines  # type: ignore[attr-defined]
    assert len(machines["good"]) == 6 and machines["good"].connected
    assert len(machines["victim"]) == 0 and not machines["victim"].connected
    await good.close()


async def test_max_clients_refuses_with_an_error_frame() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, max_clients=2)
    await srv.start()
    try:
        a = await _stream(srv, "a", 1)
        b = await _stream(srv, "b", 1)
        c = await RawClient.open(srv.port)
        frames = await c.read_until_closed()
        assert frames and frames[-1]["k"] == "error" and "too many clients" in frames[-1]["msg"]
        assert srv.stats.refused == 1
        await a.close()
        await b.close()
    finally:
        await srv.close()


async def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        srv = IngestServer(Session(), host="127.0.0.1", port=port)
        with pytest.raises(ListenError) as info:
            await srv.start()
        assert info.value.strerror == f"cannot listen on 127.0.0.1:{port}: address already in use"
        assert str(info.value) == info.value.strerror  # no "[Errno 98]" in a UI notification


async def test_bind_errors_say_the_reason_once() -> None:
    # asyncio's own message repeats the address ("error while attempting to bind on ...")
    srv = IngestServer(Session(), host="192.0.2.1", port=0, insecure=True)  # TEST-NET-1
    with pytest.raises(ListenError) as info:
        await srv.start()
    assert str(info.value) == "cannot listen on 192.0.2.1:0: cannot assign requested address"


async def test_on_batch_is_throttled_while_streams_are_hot() -> None:
    batches: list[IngestBatch] = []
    srv = IngestServer(
        Session(), host="127.0.0.1", port=0, on_batch=batches.append, batch_interval=0.1
    )
    await srv.start()
    c = await RawClient.open(srv.port)
    await c.send(schema_frame(schema("m")))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    seq = 1
    while loop.time() - t0 < 0.5:
        await c.send(txs_frame([tx("m", i) for i in range(seq, seq + 10)], seq=seq))
        seq += 10
        await asyncio.sleep(0.002)
    await c.read_ack(seq - 1)
    await srv.settle()
    await await_until(lambda: sum(b.n_txs for b in batches) == seq - 1, what="the last batch")
    elapsed = loop.time() - t0
    assert sum(b.n_txs for b in batches) == seq - 1
    # one batch per interval at most: a slow box only lengthens `elapsed` and thins out batches
    assert len(batches) <= elapsed / 0.1 + 2
    assert batches[0].schemas[0].kind == "new"
    await c.close()
    await srv.close()


async def test_forwarding_keeps_original_conn_ids_and_disconnects() -> None:
    from am_dbg.server import Forwarder

    target = IngestServer(Session(), host="127.0.0.1", port=0)
    await target.start()
    fwd = Forwarder([f"127.0.0.1:{target.port}"])
    await fwd.start()
    src = IngestServer(Session(), host="127.0.0.1", port=0, forward=fwd)
    await src.start()
    try:
        c = await _stream(src, "m1", 20)
        await src.settle()
        await await_until(
            lambda: len(target.session.machines.get("m1") or ()) == 20,  # type: ignore[attr-defined]
            what="20 forwarded transitions",
        )
        await target.settle()
        hs, ht = src.session.machines["m1"], target.session.machines["m1"]  # type: ignore[attr-defined]
        assert ht.conn_id == hs.conn_id
        assert [ht.tx(i).id for i in range(20)] == [hs.tx(i).id for i in range(20)]
        await c.close()
        await await_until(lambda: not ht.connected, what="the forwarded disconnect")
        await target.settle()
        assert not ht.connected
    finally:
        await src.close()
        fwd.close()
        await target.close()


async def test_forward_target_loss_is_logged_but_not_our_own_hang_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from am_dbg.server import Forwarder

    target = IngestServer(Session(), host="127.0.0.1", port=0)
    await target.start()
    mine, theirs = Forwarder([f"127.0.0.1:{target.port}"]), Forwarder([f"127.0.0.1:{target.port}"])
    await mine.start()
    await theirs.start()
    with caplog.at_level(logging.WARNING, logger="am_dbg.server"):
        mine.close()  # a clean shutdown of this instance
        await asyncio.sleep(0.1)
        assert "closed the connection" not in caplog.text
        await target.close()  # the target goes away: worth a warning
        await await_until(lambda: "closed the connection" in caplog.text, what="the warning")
        assert f"forward target 127.0.0.1:{target.port} closed the connection" in caplog.text
    theirs.close()


def test_frames_are_msgpack_maps() -> None:
    # The documented example shape decodes as documented.
    body = msgpack.unpackb(txs_frame([tx("m", 1)], seq=1)[4:])
    assert body["k"] == "txs" and body["seq"] == 1 and isinstance(body["txs"][0], bytes)


async def test_a_flood_is_applied_in_slices_with_the_loop_turning_between_them(
    server: IngestServer,
) -> None:
    """A flood goes to the model one slice at a time, and other tasks run between slices.

    ``tick_time=0`` makes every tick stop after one slice, whatever the box's speed, so the test
    checks the mechanism (bounded slices, the loop yielded between them), not a time budget.
    """
    server.tick_time = 0.0
    c = await RawClient.open(server.port)
    await c.send(schema_frame(schema("flood")))
    machines = server.session.machines  # type: ignore[attr-defined]
    for _ in range(500):
        if "flood" in machines:
            break
        await asyncio.sleep(0.01)
    # read it, as a UI on this loop would: the model then derives at ingest (the slower path)
    assert machines["flood"].errors == []
    n = 40_000
    frames = b"".join(
        txs_frame([tx("flood", i) for i in range(s, s + 2000)], seq=s) for s in range(1, n, 2000)
    )
    seen: list[int] = []

    async def ticker() -> None:
        # another task on the loop, as the UI would be: it records the model's size at each turn
        while True:
            seen.append(len(machines["flood"]))
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        await c.send(frames)
        await c.read_ack(n)
        await server.settle(20)
    finally:
        task.cancel()
    assert len(machines["flood"]) == n
    growth = [b - a for a, b in pairwise(seen) if b > a]
    # the model grew in many steps, none larger than a couple of slices between two turns
    assert len(growth) >= n // server.tick_slice // 2
    assert max(growth) <= 2 * server.tick_slice
    await c.close()


async def test_max_clients_refuses_one_channel_of_a_shared_connection_not_its_neighbours() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, max_clients=2)
    await srv.start()
    try:
        c = await RawClient.open(srv.port)
        for ch in ("ch-a", "ch-b", "ch-c"):
            await c.send(encode_frame({"k": "schema", "schema": schema(ch).to_wire(), "conn": ch}))
            await c.send(txs_frame([tx(ch, 1)], seq=1, conn=ch))
        error = await c.read_until(lambda f: f.get("k") == "error")
        assert error["conn"] == "ch-c" and "too many clients" in error["msg"]
        await c.read_until(lambda f: f.get("conn") == "ch-b" and f.get("seq") == 1)
        await srv.settle()
        machines = srv.session.machines  # type: ignore[attr-defined]
        assert sorted(machines) == ["ch-a", "ch-b"] and all(len(h) == 1 for h in machines.values())
        # a channel that leaves makes room
        await c.send(encode_frame({"k": "disc", "conn": "ch-a"}))
        await c.send(
            encode_frame({"k": "schema", "schema": schema("ch-d").to_wire(), "conn": "ch-d"})
        )
        await await_until(lambda: "ch-d" in machines, what="ch-d admitted")
        await srv.settle()
        assert "ch-d" in machines and srv.stats.refused == 1
        await c.close()
    finally:
        await srv.close()
