"""Who may send, and what nobody can erase (docs/protocol.md, "Authentication", "Runs").

Real sockets and a real `IngestServer` + `Session` + live recording; a forger is a raw peer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from am_dbg.model.session import Session
from am_dbg.recordings import RecordingWriter, load
from am_dbg.server import Forwarder, IngestServer
from am_rpc.codec import encode_frame
from am_rpc.dbg import connect

from .helpers import RawClient, schema, schema_frame, tx, txs_frame
from .machines import machine, work

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cret-of-this-test"


async def _until(cond: object, timeout: float = 20.0) -> None:
    async def run() -> None:
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(run(), timeout)


def _hello(token: str) -> bytes:
    return encode_frame({"k": "hello", "token": token})


@pytest.mark.parametrize("hello", [b"", _hello("wrong")], ids=["no-secret", "wrong-secret"])
async def test_forged_schema_is_refused_without_the_secret(tmp_path: Path, hello: bytes) -> None:
    rec = RecordingWriter(tmp_path / "r.amdbg")
    session = Session(recorder=rec)
    srv = IngestServer(session, host="127.0.0.1", port=0, token=SECRET)
    await srv.start()
    m, produced = machine("victim")
    t = connect(m, f"127.0.0.1:{srv.port}", secret=SECRET)
    for i in range(10):
        work(m, i)
    await _until(lambda: t.stats().acked == t.stats().produced and t.stats().produced > 0)
    forger = await RawClient.open(srv.port)
    await forger.send(hello + schema_frame(schema("victim", token="forged")))
    frames = await forger.read_until_closed(10)
    assert [f["k"] for f in frames] == ["error"]
    assert "authentication" in frames[0]["msg"]
    assert srv.stats.auth_refused == 1
    for i in range(10, 20):
        work(m, i)
    assert await t.aclose(10)
    await srv.close()
    rec.close()
    assert list(session.machines) == ["victim"]  # no new run, nothing renamed
    h = session.machines["victim"]
    assert [(x.id, x.clocks) for x in map(h.tx, range(len(h))) if not x.is_queued] == produced.txs
    assert [s.id for s, _ in load(tmp_path / "r.amdbg").machines] == ["victim"]


async def test_a_sender_without_the_secret_is_never_acked() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, token=SECRET)
    await srv.start()
    peer = await RawClient.open(srv.port)
    await peer.send(schema_frame(schema("x")) + txs_frame([tx("x", 1)], seq=1))
    frames = await peer.read_until_closed(10)
    assert not any(f["k"] == "ack" for f in frames)
    await srv.close()
    assert srv.session.machines == {}  # type: ignore[attr-defined]


async def test_auth_failures_are_throttled() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0, token=SECRET)
    await srv.start()
    reasons = []
    for k in range(40):
        peer = await RawClient.open(srv.port)
        await peer.send(_hello(f"guess-{k}"))
        reasons.append((await peer.read_until_closed(10))[0]["msg"])
    await srv.close()
    # at most 10 guesses a second are even compared; the rest are refused unchecked
    assert srv.admission.auth_failures <= 10 * 5
    assert any("too many authentication failures" in r for r in reasons)


async def test_a_new_run_keeps_the_earlier_one_live_and_in_the_recording(tmp_path: Path) -> None:
    """No secret (loopback): anyone may announce a machine id already in use. The victim's
    history is kept as `victim~1` and keeps receiving its own channel's transitions."""
    path = tmp_path / "runs.amdbg"
    rec = RecordingWriter(path)
    session = Session(recorder=rec)
    srv = IngestServer(session, host="127.0.0.1", port=0)
    await srv.start()
    m, produced = machine("victim")
    t = connect(m, f"127.0.0.1:{srv.port}")
    for i in range(10):
        work(m, i)
    await _until(lambda: t.stats().acked == t.stats().produced and t.stats().produced > 0)
    forger = await RawClient.open(srv.port)
    await forger.send(schema_frame(schema("victim", token="forged")))
    await forger.read_ack(0)
    await forger.send(txs_frame([tx("victim", 1), tx("victim", 2)], seq=1))
    await forger.read_ack(2)
    for i in range(10, 20):  # the victim goes on streaming
        work(m, i)
    await _until(lambda: t.stats().acked == t.stats().produced)
    # its connection breaks: it reconnects (same session token) and continues its own run
    victim_conn = next(
        c for c in srv.conns.values() if t.token in [tok for _, tok in c.keys.values()]
    )
    assert victim_conn.transport is not None
    victim_conn.transport.close()
    await _until(lambda: t.link.connects >= 2)
    for i in range(20, 30):
        work(m, i)
    assert await t.aclose(10)
    await forger.close()
    await srv.close()
    rec.close()
    assert list(session.machines) == ["victim~1", "victim"]
    old, new = session.machines["victim~1"], session.machines["victim"]
    assert [(x.id, x.clocks) for x in map(old.tx, range(len(old))) if not x.is_queued] == (
        produced.txs
    )
    assert [new.tx(i).id for i in range(len(new))] == ["victim-tx1", "victim-tx2"]
    # re-opening the recording shows both runs, the same way
    got = {s.id: txs for s, txs in load(path).machines}
    assert list(got) == ["victim~1", "victim"]
    assert [(x.id, x.clocks) for x in got["victim~1"] if not x.is_queued] == produced.txs
    assert [x.id for x in got["victim"]] == ["victim-tx1", "victim-tx2"]


@pytest.mark.parametrize("secret", [SECRET, ""], ids=["with-secret", "without"])
async def test_forwarding_presents_the_secret(secret: str) -> None:
    target = IngestServer(Session(), host="127.0.0.1", port=0, token=SECRET)
    await target.start()
    fwd = Forwarder([f"127.0.0.1:{target.port}"], secret=secret)
    await fwd.start()
    fwd.schema("c1", schema("fw"))
    fwd.txs("c1", 1, [tx("fw", 1), tx("fw", 2)])
    if secret:
        await _until(
            lambda: "fw" in target.session.machines and len(target.session.machines["fw"]) == 2
        )  # type: ignore[attr-defined]
    else:
        await _until(lambda: target.stats.auth_refused == 1)
        assert target.session.machines == {}  # type: ignore[attr-defined]
    fwd.close()
    await target.close()


def test_non_loopback_listener_needs_a_secret_or_insecure() -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "am_dbg",
            "--headless",
            "--listen-addr",
            "0.0.0.0:0",
            "--exit-after",
            "0.2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert res.returncode == 2
    assert "not a loopback address" in res.stderr and "--insecure" in res.stderr
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "am_dbg",
            "--headless",
            "--listen-addr",
            "0.0.0.0:0",
            "--exit-after",
            "0.2",
            "--token",
            SECRET,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert res.returncode == 0, res.stderr
    assert "listening on 0.0.0.0:" in res.stderr
