"""End-to-end delivery (docs/protocol.md, "Delivery"): an ack means recorded, and a recorder
restart loses nothing acked and records nothing twice. Real `am-dbg --headless` processes,
real sockets, SIGKILL."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from am_dbg.recordings import load
from am_rpc.dbg import connect
from tests.waiting import wait_until

from .machines import machine, work

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int, rec: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "am_dbg",
            "--headless",
            "--listen-addr",
            f"127.0.0.1:{port}",
            "--record",
            str(rec),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert re.fullmatch(rf"listening on 127\.0\.0\.1:{port}\n", line), line
    return proc


def _wait(cond: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_sigkill_and_restart_lose_nothing_acked_and_record_nothing_twice(tmp_path: Path) -> None:
    rec = tmp_path / "live.amdbg"
    port = _free_port()
    proc = _start(port, rec)
    machs = [machine(f"d{k}") for k in range(3)]
    tracers = [connect(m, f"127.0.0.1:{port}") for m, _ in machs]
    stop = threading.Event()

    def run() -> None:
        i = 0
        while not stop.is_set():
            for m, _ in machs:
                work(m, i)
            i += 1
            time.sleep(0.001)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    _wait(lambda: min(t.stats().acked for t in tracers) > 300)
    acked_at_kill = [t.stats().acked for t in tracers]  # read *before* the kill: all confirmed
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    first = tmp_path / "first.amdbg"
    shutil.copy(rec, first)  # what the killed recorder left
    proc = _start(port, rec)  # the same command again: continues the recording
    _wait(
        lambda: all(t.stats().acked > a + 300 for t, a in zip(tracers, acked_at_kill, strict=True))
    )
    stop.set()
    th.join(10)
    assert all(t.close(30.0) for t in tracers)  # every tx acked by the second recorder
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err

    # the killed recorder's file alone holds everything it had acked
    before = {s.id: txs for s, txs in load(first).machines}
    for (m, _), acked in zip(machs, acked_at_kill, strict=True):
        # seq counts every message (queued-mutation ones too), from 1
        assert len(before[m.id]) >= acked, (m.id, len(before[m.id]), acked)

    # both runs of the recorder together: every transition exactly once, in order
    got = load(rec)
    after = {s.id: txs for s, txs in got.machines}
    assert sorted(after) == sorted(m.id for m, _ in machs), list(after)  # one run each, no "~1"
    for (m, produced), t in zip(machs, tracers, strict=True):
        msgs = after[m.id]
        assert len(msgs) == t.stats().produced  # every message sent: none lost, none twice
        ids = [x.id for x in msgs]
        assert len(set(ids)) == len(ids)
        assert [(x.id, x.clocks) for x in msgs if not x.is_queued] == produced.txs


def test_a_batch_of_records_is_never_split_across_chunks(tmp_path: Path) -> None:
    """What a restarted recorder trusts: a model update's txs and their SEQ record are in one
    chunk, even while the background thread flushes as often as it can (chunk_bytes=1)."""
    import zlib

    import msgpack

    from am_dbg.recordings import RecordingWriter
    from am_dbg.recordings.amdbg import CHUNK_HEAD, HEADER, SEQ, TX

    path = tmp_path / "b.amdbg"
    w = RecordingWriter(path, chunk_bytes=1, flush_interval=0.0005)
    for k in range(300):
        with w.batch():
            for i in range(20):
                w.write_tx("c", msgpack.packb({"m": "m", "id": f"{k}-{i}", "c": [1]}), k)
            w.write_seq("m", "tok", (k + 1) * 20, k)
        if k % 100 == 99:  # let the background thread flush in between, however fast this runs
            # every record so far (META + 21 per batch) is in a chunk: a flush can't be missed by
            # happening before we look, as a file-size check could
            written = 1 + 21 * (k + 1)
            wait_until(lambda n=written: w.records >= n, what="a background flush")
    w.close()
    data = path.read_bytes()
    pos, chunks = HEADER.size, 0
    while pos < len(data):
        length, _ = CHUNK_HEAD.unpack_from(data, pos)
        recs = msgpack.unpackb(zlib.decompress(data[pos + 8 : pos + 8 + length]))
        pos += 8 + length
        chunks += 1
        kinds = [r[0] for r in recs if r[0] in (TX, SEQ)]
        # whole batches only: 20 txs then their SEQ, repeated
        assert len(kinds) % 21 == 0 and all(
            kinds[j] == (SEQ if j % 21 == 20 else TX) for j in range(len(kinds))
        )
    assert chunks > 2  # the thread did flush in between
