"""Telemetry over NATS with a real nats-server: several senders, several am-dbg, recorders.

The am-dbg instances are real ``am-dbg --headless --record`` processes; the senders are real
processes (tests/bus/sender_proc.py). Completion is waited for by reading the live recordings.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from am_dbg.recordings import load
from am_dbg.summary import summarize
from am_rpc.nats.local_server import LocalNatsServer

ROOT = Path(__file__).resolve().parents[2]
SENDER = Path(__file__).with_name("sender_proc.py")


def _am_dbg(url: str, rec: Path) -> subprocess.Popen[str]:
    # --no-clean-on-connect: the senders come and go; keep every machine in the session so the
    # exit summary counts all of them (the recording has them either way)
    cmd = ["--headless", "--listen", url, "--record", str(rec), "--no-clean-on-connect"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    lines = []
    while True:
        line = proc.stderr.readline()
        assert line, f"am-dbg ended: {lines}"
        lines.append(line)
        if line.startswith("listening on "):
            break
    proc.info = "".join(lines)  # type: ignore[attr-defined]
    return proc


def _senders(url: str, n_procs: int, n_machs: int, rounds: int) -> dict[str, int]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(SENDER), url, f"p{p}", str(n_machs), str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for p in range(n_procs)
    ]
    produced: dict[str, int] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        res = json.loads(out.strip().splitlines()[-1])
        assert res["ok"], res
        produced.update(res["produced"])
    return produced


def _recorded(rec: Path) -> dict[str, int]:
    """Executed transitions per machine in a (live) recording."""
    if not rec.exists():
        return {}
    try:
        got = load(rec)
    except Exception:
        return {}
    return {s.id: sum(1 for t in txs if not t.is_queued) for s, txs in got.machines}


def _wait_recorded(rec: Path, want: dict[str, int], timeout: float = 90.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    have: dict[str, int] = {}
    while time.monotonic() < deadline:
        have = _recorded(rec)
        if have == want:
            return have
        time.sleep(0.3)
    return have


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def _summary(rec: Path) -> list[Any]:
    summary, warnings = summarize(str(rec))
    assert not warnings, warnings
    return summary["machines"]


def test_50_machines_in_5_processes_reach_two_am_dbg_and_a_recorder_identically(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    url = nats_server.url
    recs = [tmp_path / "dbg1.amdbg", tmp_path / "dbg2.amdbg", tmp_path / "recorder.amdbg"]
    dbg1, dbg2 = _am_dbg(url, recs[0]), _am_dbg(url, recs[1])
    recorder = _am_dbg(f"{url}?durable=rec1", recs[2])
    assert "JetStream durable consumer 'rec1'" in recorder.info  # type: ignore[attr-defined]
    assert "JetStream" not in dbg1.info  # type: ignore[attr-defined]
    produced = _senders(url, 5, 10, 10)
    assert len(produced) == 50 and all(n > 0 for n in produced.values())
    for rec in recs:
        assert _wait_recorded(rec, produced) == produced
    errs = [_stop(p) for p in (dbg1, dbg2, recorder)]
    total = sum(produced.values())
    for err in errs:
        assert "Clients: 50\n" in err, err
    summaries = [_summary(r) for r in recs]
    assert summaries[0] == summaries[1] == summaries[2]
    assert {m["id"]: m["transitions"] for m in summaries[0]} == produced
    assert sum(m["transitions"] for m in summaries[0]) == total
    # the CLI's own --print-summary says the same (but for the file name)
    outs = []
    for rec in recs:
        out = subprocess.run(
            [sys.executable, "-m", "am_dbg", "-i", str(rec), "--print-summary"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        ).stdout
        outs.append({k: v for k, v in json.loads(out).items() if k != "file"})
    assert outs[0] == outs[1] == outs[2]


def test_a_late_am_dbg_gets_the_schemas_from_the_senders(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    url = nats_server.url
    sender = subprocess.Popen(
        [sys.executable, str(SENDER), url, "late", "3", "2", "--wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert sender.stdout is not None and sender.stdin is not None
    assert sender.stdout.readline() == "ready\n"
    rec = tmp_path / "late.amdbg"
    dbg = _am_dbg(url, rec)  # after the schemas were published: it asks for them (hello)
    for _ in range(3):
        sender.stdin.write("\n")
        sender.stdin.flush()
        assert sender.stdout.readline() == "ok\n"
    sender.stdin.close()
    res = json.loads(sender.stdout.read().strip().splitlines()[-1])
    sender.wait(30)
    # what it saw: every machine, with the 3 rounds after it joined (3 transitions a round)
    deadline = time.monotonic() + 60
    have: dict[str, int] = {}
    while time.monotonic() < deadline:
        have = _recorded(rec)
        if len(have) == 3 and all(n >= 9 for n in have.values()):
            break
        time.sleep(0.3)
    assert set(have) == set(res["produced"]) and all(n >= 9 for n in have.values()), have
    _stop(dbg)


def test_recorder_restart_under_jetstream_loses_nothing(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    url = nats_server.url
    rec1, rec2 = tmp_path / "before.amdbg", tmp_path / "after.amdbg"
    recorder = _am_dbg(f"{url}?durable=keeper", rec1)
    sender = subprocess.Popen(
        [sys.executable, str(SENDER), url, "js", "4", "5", "--wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert sender.stdout is not None and sender.stdin is not None
    assert sender.stdout.readline() == "ready\n"

    def rounds(n: int) -> None:
        for _ in range(n):
            sender.stdin.write("\n")  # type: ignore[union-attr]
            sender.stdin.flush()  # type: ignore[union-attr]
            assert sender.stdout.readline() == "ok\n"  # type: ignore[union-attr]

    rounds(5)
    _stop(recorder)
    rounds(10)  # nobody listens: JetStream keeps it for the durable consumer
    recorder = _am_dbg(f"{url}?durable=keeper", rec2)
    rounds(5)
    sender.stdin.close()
    res = json.loads(sender.stdout.read().strip().splitlines()[-1])
    sender.wait(30)
    produced = res["produced"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        before, after = _recorded(rec1), _recorded(rec2)
        if set(after) == set(produced) and all(
            before.get(m, 0) + after[m] >= n for m, n in produced.items()
        ):
            break
        time.sleep(0.3)
    _stop(recorder)
    # every transition is in one of the two recordings, in order, none lost
    got1 = {s.id: [t for t in txs if not t.is_queued] for s, txs in load(rec1).machines}
    got2 = {s.id: [t for t in txs if not t.is_queued] for s, txs in load(rec2).machines}
    for mid, n in produced.items():
        ids = [t.id for t in got1.get(mid, [])] + [t.id for t in got2.get(mid, [])]
        unique = list(dict.fromkeys(ids))
        assert len(unique) == n, (mid, len(unique), n)
        assert got1.get(mid), mid  # the first recorder had its share


def test_recorder_sigkill_under_jetstream_loses_nothing(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    # a frame is acked to JetStream only once it is in the recording on disk: a recorder killed
    # mid-stream leaves the frames it had not flushed unacked, and the next one reads them again
    url = f"{nats_server.url}?durable=killed"
    recs = [tmp_path / f"rec{i}.amdbg" for i in range(3)]
    recorder = _am_dbg(url, recs[0])  # creates the stream before anything is published
    sender = subprocess.Popen(
        [sys.executable, str(SENDER), url.split("?")[0], "kill", "4", "5", "--wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert sender.stdout is not None and sender.stdin is not None
    assert sender.stdout.readline() == "ready\n"

    def rounds(n: int) -> None:
        for _ in range(n):
            sender.stdin.write("\n")  # type: ignore[union-attr]
            sender.stdin.flush()  # type: ignore[union-attr]
            assert sender.stdout.readline() == "ok\n"  # type: ignore[union-attr]

    for i, rec in enumerate(recs[:2]):
        if i:
            recorder = _am_dbg(url, rec)
        rounds(3)
        deadline = time.monotonic() + 60
        while len(_recorded(rec)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # polls the recording; the kill below is what the test is about
        rounds(20)  # frames in flight: fetched, some applied, some flushed
        recorder.kill()
        recorder.wait(30)
        rounds(2)  # nobody listens
    recorder = _am_dbg(url, recs[2])
    rounds(3)
    sender.stdin.close()
    res = json.loads(sender.stdout.read().strip().splitlines()[-1])
    sender.wait(30)
    produced = res["produced"]

    def executed(rec: Path) -> dict[str, list[int]]:
        return {s.id: [t.id for t in txs if not t.is_queued] for s, txs in load(rec).machines}

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        last = _recorded(recs[2])
        if set(last) == set(produced) and all(
            sum(_recorded(r).get(m, 0) for r in recs) >= n for m, n in produced.items()
        ):
            break
        time.sleep(0.3)
    _stop(recorder)
    got = [executed(r) for r in recs]
    assert all(got[:2]), "each killed recorder had its share"
    for mid, n in produced.items():
        ids = [i for g in got for i in g.get(mid, [])]
        assert len(dict.fromkeys(ids)) == n, (mid, len(dict.fromkeys(ids)), n)


def test_no_jetstream_says_it_falls_back_to_core(
    nats_core_server: LocalNatsServer, tmp_path: Path
) -> None:
    recorder = _am_dbg(f"{nats_core_server.url}?durable=x", tmp_path / "r.amdbg")
    info = recorder.info  # type: ignore[attr-defined]
    assert re.search(r"no JetStream .*falling back to core NATS", info), info
    produced = _senders(nats_core_server.url, 1, 2, 3)
    assert _wait_recorded(tmp_path / "r.amdbg", produced) == produced
    _stop(recorder)


def test_bad_frames_on_the_subjects_are_ignored(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    import asyncio

    import nats

    rec = tmp_path / "r.amdbg"
    dbg = _am_dbg(nats_server.url, rec)

    async def junk() -> None:
        nc = await nats.connect(nats_server.url)
        for data in (b"", b"\xc1", b"\x93\x01\x02\x03", b"\x81\xa1k\xa4txs"):
            await nc.publish("amdbg.m.x", data)
        await nc.flush()
        await nc.close()

    asyncio.run(junk())
    produced = _senders(nats_server.url, 1, 2, 3)
    assert _wait_recorded(rec, produced) == produced
    _stop(dbg)


def test_a_sigkilled_sender_is_disconnected_by_its_silence(
    nats_server: LocalNatsServer, tmp_path: Path
) -> None:
    url = nats_server.url
    rec = tmp_path / "r.amdbg"
    dbg = _am_dbg(url, rec)
    sender = subprocess.Popen(
        [sys.executable, str(SENDER), url, "victim", "2", "3", "--wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert sender.stdout is not None
    assert sender.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 60
    while len(_recorded(rec)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [m["disconnected"] for m in summarize(str(rec))[0]["machines"]] == [False, False]
    sender.kill()  # SIGKILL: no disc frame
    sender.wait(10)
    # the listener marks its machines disconnected once its alive messages stop (3 intervals);
    # the live recording shows it
    deadline = time.monotonic() + 60
    gone: list[bool] = []
    while time.monotonic() < deadline:
        try:
            machines = summarize(str(rec))[0]["machines"]
        except Exception:
            machines = []
        gone = [m["disconnected"] for m in machines]
        if len(gone) == 2 and all(gone):
            break
        time.sleep(0.3)
    assert gone == [True, True]
    _stop(dbg)
