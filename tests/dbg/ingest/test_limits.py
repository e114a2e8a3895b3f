"""Resource limits and bad input on the ingest port (docs/protocol.md, "Limits").

Real sockets and processes: idle floods against `am-dbg --headless` (one with a descriptor limit
of 256), deep nesting, poisoned batches, malformed messages, timeouts, the partial-frame bound."""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest

from am_dbg.model.session import Session
from am_dbg.recordings import RecordingWriter, load
from am_dbg.server import IngestServer
from am_rpc.codec import encode_frame, pack
from am_rpc.dbg import connect
from am_rpc.dbg.protocol import SchemaMsg, StateDef

from .helpers import RawClient, schema, schema_frame, tx, txs_frame
from .machines import machine, work

ROOT = Path(__file__).resolve().parents[3]


def _wait(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


async def _until(cond: Any, timeout: float = 20.0) -> None:
    async def run() -> None:
        while not cond():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(run(), timeout)


def _headless(rec: Path, nofile: int | None) -> tuple[subprocess.Popen[str], int]:
    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "am_dbg",
            "--headless",
            "--listen-addr",
            "127.0.0.1:0",
            "--record",
            str(rec),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=limit,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    assert m, line
    return proc, int(m.group(1))


def _raise_own_nofile(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip(f"needs {n} descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


@pytest.mark.parametrize(
    ("idle", "nofile"), [(1000, 256), (5000, None), (300, 48)], ids=["fd256", "default", "emfile"]
)
def test_idle_connections_never_lock_a_real_sender_out(
    tmp_path: Path, idle: int, nofile: int | None
) -> None:
    _raise_own_nofile(idle + 500)
    rec = tmp_path / "idle.amdbg"
    started = time.monotonic()
    proc, port = _headless(rec, nofile)
    socks: list[socket.socket] = []
    flooding = threading.Event()

    def flood() -> None:
        for _ in range(idle):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
            except OSError:
                pass
            if len(socks) == idle // 10:
                flooding.set()
        flooding.set()

    th = threading.Thread(target=flood, daemon=True)
    th.start()
    flooding.wait(60)
    m, produced = machine("real")
    t = connect(m, f"127.0.0.1:{port}")
    for i in range(200):
        work(m, i)
    th.join(120)
    assert len(socks) > idle // 2  # the flood did connect
    try:
        assert t.close(60.0)  # every transition acked, with the idle sockets still open
    finally:
        for s in socks:
            s.close()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    seconds = int(time.monotonic() - started) + 1
    assert proc.returncode == 0, err[-2000:]
    assert "Clients: 1\n" in err
    # no log flood: connection lines are rate-limited (5 a second plus one line counting the rest),
    # so the log is bounded by the run's length, not by the number of connections (a slow box
    # makes the flood longer, and the bound with it)
    assert len(err.splitlines()) <= 20 + 6 * seconds, err[-3000:]
    print(f"{len(err.splitlines())} log lines in {seconds} s for {idle} idle connections")
    assert err.count("cannot accept connections") <= 1  # out of descriptors: one line, counted
    if nofile == 48:  # 300 sockets against 48 descriptors: it did run out
        assert err.count("cannot accept connections") == 1, err[-3000:]
    got = {s.id: txs for s, txs in load(rec).machines}
    assert [(x.id, x.clocks) for x in got["real"] if not x.is_queued] == produced.txs


async def test_silent_connections_are_closed_after_the_handshake_timeout() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, handshake_timeout=0.3)
    await srv.start()
    peer = await RawClient.open(srv.port)  # a preamble, then nothing
    frames = await peer.read_until_closed(10)
    assert frames and "no machine announced after 0.3 s" in frames[-1]["msg"]
    assert srv.admission.timed_out == 1
    await srv.close()


async def test_not_established_connections_have_their_own_small_cap() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, max_unestablished=4)
    await srv.start()
    idle = [await RawClient.open(srv.port) for _ in range(10)]
    await _until(lambda: srv.admission.evicted >= 6)
    real = await RawClient.open(srv.port)
    await real.send(schema_frame(schema("a")) + txs_frame([tx("a", 1)], seq=1))
    await real.read_ack(1)
    await _until(lambda: len(srv.admission.pending) <= 4)
    for c in [*idle, real]:
        await c.close()
    await srv.close()


def _nested(depth: int) -> Any:
    v: Any = "x"
    for _ in range(depth):
        v = [v]
    return v


@pytest.mark.parametrize("depth", [20, 600, 990])
async def test_a_deeply_nested_tx_is_refused_and_the_recording_stays_readable(
    tmp_path: Path, depth: int
) -> None:
    path = tmp_path / "deep.amdbg"
    rec = RecordingWriter(path)
    srv = IngestServer(Session(recorder=rec), host="127.0.0.1", port=0)
    await srv.start()
    honest = await RawClient.open(srv.port)
    await honest.send(schema_frame(schema("h")) + txs_frame([tx("h", 1)], seq=1))
    await honest.read_ack(1)
    bad = await RawClient.open(srv.port)
    deep = msgpack.packb({**tx("d", 1).to_wire(), "args": {"k": _nested(depth)}})
    frame = encode_frame({"k": "txs", "seq": 1, "txs": [deep]})
    await bad.send(schema_frame(schema("d")) + frame)
    frames = await bad.read_until_closed(10)
    assert not any(f["k"] == "ack" and f.get("seq") == 1 for f in frames)
    assert frames[-1]["k"] == "error" and "nested" in frames[-1]["msg"]
    await honest.send(txs_frame([tx("h", 2)], seq=2))
    await honest.read_ack(2)
    await honest.close()
    await srv.close()
    rec.close()
    got = {s.id: txs for s, txs in load(path).machines}
    assert [x.id for x in got["h"]] == ["h-tx1", "h-tx2"]
    assert got["d"] == []


async def test_a_deeply_nested_frame_is_refused() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    peer = await RawClient.open(srv.port)
    await peer.send(encode_frame({"k": "schema", "schema": _nested(100)}))
    frames = await peer.read_until_closed(10)
    assert "nested deeper than 64" in frames[-1]["msg"]
    await srv.close()


async def test_a_poisoned_batch_never_duplicates_another_machines_transitions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "poison.amdbg"
    rec = RecordingWriter(path)
    session = Session(recorder=rec)
    # a long tick delay: the honest and the poisoned frames land in one model update
    srv = IngestServer(session, host="127.0.0.1", port=0, tick_delay=0.3)
    await srv.start()
    honest = await RawClient.open(srv.port)
    poison = await RawClient.open(srv.port)
    await honest.send(schema_frame(schema("honest")))
    await poison.send(schema_frame(schema("poison")))
    await honest.read_ack(0)
    await poison.read_ack(0)
    deep = msgpack.packb({**tx("poison", 9).to_wire(), "args": {"k": _nested(995)}})
    seq = 1
    for k in range(4):
        await honest.send(txs_frame([tx("honest", seq + i) for i in range(25)], seq=seq))
        seq += 25
        good = [pack(tx("poison", 3 * k + i).to_wire()) for i in range(2)]
        await poison.send(encode_frame({"k": "txs", "seq": 3 * k + 1, "txs": [*good, deep]}))
    await honest.read_ack(100, timeout=10)
    await poison.read_until_closed(10)
    await honest.close()
    await srv.close()
    rec.close()
    h = session.machines["honest"]
    ids = [h.tx(i).id for i in range(len(h))]
    assert ids == [f"honest-tx{i}" for i in range(1, 101)]  # 100 sent, 100 stored
    got = {s.id: txs for s, txs in load(path).machines}
    assert [x.id for x in got["honest"]] == ids


@pytest.mark.parametrize(
    ("tx_bytes", "reason"),
    [
        (msgpack.packb({"m": "w", "id": "x", "c": "not-a-list"}), "invalid tx message"),
        (msgpack.packb([1, 2, 3]), "must be a map"),
    ],
    ids=["wrong-type", "non-map"],
)
async def test_a_malformed_tx_is_refused_never_acked_never_recorded(
    tmp_path: Path, tx_bytes: bytes, reason: str
) -> None:
    path = tmp_path / "bad.amdbg"
    rec = RecordingWriter(path)
    srv = IngestServer(Session(recorder=rec), host="127.0.0.1", port=0)
    await srv.start()
    peer = await RawClient.open(srv.port)
    await peer.send(
        schema_frame(schema("w")) + encode_frame({"k": "txs", "seq": 1, "txs": [tx_bytes]})
    )
    frames = await peer.read_until_closed(10)
    assert not any(f["k"] == "ack" and f.get("seq") == 1 for f in frames)
    assert frames[-1]["k"] == "error" and reason in frames[-1]["msg"]
    assert srv.stats.closed_bad == 1
    await srv.close()
    rec.close()
    got = {s.id: txs for s, txs in load(path).machines}
    assert got["w"] == []


async def test_txs_on_a_channel_without_a_schema_are_refused() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    peer = await RawClient.open(srv.port)
    await peer.send(txs_frame([tx("ghost", 1)], seq=1))
    frames = await peer.read_until_closed(10)
    assert [f["k"] for f in frames] == ["error"]
    assert "before its schema" in frames[0]["msg"]
    await srv.close()


async def test_a_schema_with_relations_to_undefined_states_is_refused() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    peer = await RawClient.open(srv.port)
    bad = SchemaMsg(
        id="r",
        states_index=("A", "B"),
        states={"A": StateDef(require=("Nope",)), "B": StateDef(add=("Gone", "A"))},
    )
    await peer.send(schema_frame(bad))
    frames = await peer.read_until_closed(10)
    msg = frames[-1]["msg"]
    assert "'Nope'" in msg and "'Gone'" in msg and "A.require" in msg and "B.add" in msg
    await srv.close()
    assert srv.session.machines == {}  # type: ignore[attr-defined]


async def test_partial_frames_have_a_total_bound() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, max_buffered=1 << 20)
    await srv.start()
    peers = []
    for k in range(3):
        p = await RawClient.open(srv.port)
        await p.send(schema_frame(schema(f"b{k}")))
        await p.read_ack(0)
        peers.append(p)
    # each announces a 4 MiB frame and sends 400 KiB of it
    for p in peers:
        await p.send((4 << 20).to_bytes(4, "big") + b"\x00" * (400 << 10))
    await _until(lambda: srv.stats.closed_bad >= 1)
    assert srv.buffered <= 1 << 20
    closed = 0
    for p in peers:
        with contextlib.suppress(TimeoutError, ConnectionError):
            frames = await p.read_until_closed(0.5)
            if frames and frames[-1]["k"] == "error" and "buffers full" in frames[-1]["msg"]:
                closed += 1
    assert closed >= 1
    await srv.close()


async def test_a_big_frame_right_after_the_schema_is_fine_before_it_is_not() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, max_pending_frame=64 << 10)
    await srv.start()
    honest = await RawClient.open(srv.port)
    big = [tx("big", i) for i in range(1, 4001)]  # ~150 KiB: over the not-established limit
    await honest.send(schema_frame(schema("big")) + txs_frame(big, seq=1))  # one write
    await honest.read_ack(4000, timeout=20)
    early = await RawClient.open(srv.port)
    await early.send((1 << 20).to_bytes(4, "big") + b"\0" * (100 << 10))
    frames = await early.read_until_closed(10)
    assert "before any machine was announced" in frames[-1]["msg"]
    await honest.close()
    await srv.close()
