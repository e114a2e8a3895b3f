"""`am-dbg --headless` as a real subprocess: listening, recording, signals, SIGKILL, conversion."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from am_dbg.recordings import RecordingError, load
from am_rpc.dbg import DbgTracer, connect
from tests.waiting import wait_until

from .machines import Produced, machine, work

ROOT = Path(__file__).resolve().parents[3]


def _start(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", "--headless", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    assert m, f"unexpected first line {line!r}"
    return proc, int(m.group(1))


def _stream(port: int, n_machs: int, rounds: int) -> dict[str, tuple[Produced, DbgTracer]]:
    out = {}
    for k in range(n_machs):
        m, p = machine(f"h{k}")
        out[m.id] = (p, connect(m, f"127.0.0.1:{port}"))
        for i in range(rounds):
            work(m, i)
    return out


def _executed(txs: list) -> list[tuple[str, tuple[int, ...]]]:
    return [(t.id, t.clocks) for t in txs if not t.is_queued]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_headless_records_everything_and_exits_cleanly_on_signals(
    tmp_path: Path, sig: signal.Signals
) -> None:
    rec = tmp_path / "live.amdbg"
    proc, port = _start("--listen-addr", "127.0.0.1:0", "--record", str(rec))
    streams = _stream(port, 3, 20)
    assert all(t.close(5.0) for _, t in streams.values())
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    txs_total = sum(len(p.txs) for p, _ in streams.values())  # queued msgs are no transitions
    assert "Clients: 3\n" in err and f"Transitions: {txs_total}\n" in err
    loaded = {schema.id: txs for schema, txs in load(rec).machines}
    for mid, (produced, _) in streams.items():
        assert _executed(loaded[mid]) == produced.txs


def test_exit_after_stops_by_itself(tmp_path: Path) -> None:
    proc, _ = _start("--listen-addr", "127.0.0.1:0", "--exit-after", "0.3")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Clients: 0\n" in err and "Transitions: 0\n" in err


def test_sigkill_of_a_recording_server_keeps_what_it_flushed_while_running(
    tmp_path: Path,
) -> None:
    """The periodic flush puts acked messages on disk while the server runs and the stream goes
    on; a SIGKILL then loses none of them (the flush interval itself: bench/recording_flush.py)."""
    rec = tmp_path / "killed.amdbg"
    proc, port = _start("--listen-addr", "127.0.0.1:0", "--record", str(rec))
    m, _ = machine("victim")
    t = connect(m, f"127.0.0.1:{port}")
    stop = threading.Event()

    def run() -> None:
        i = 0
        while not stop.is_set():
            work(m, i)
            i += 1
            time.sleep(0.002)  # a steady stream, not a synchronisation

    def on_disk() -> int:
        try:
            got = {schema.id: txs for schema, txs in load(rec).machines}
        except RecordingError:
            return 0  # nothing flushed yet
        return len(got.get("victim", []))

    th = threading.Thread(target=run, daemon=True)
    th.start()
    wait_until(lambda: t.stats().acked > 50, what="the server to confirm 50 messages")
    safe = t.stats().acked
    wait_until(lambda: on_disk() >= safe, what="the confirmed messages on disk", interval=0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(20)
    stop.set()
    th.join(20)
    t.close(0.1)
    result = load(rec)
    loaded = {schema.id: txs for schema, txs in result.machines}
    assert len(loaded["victim"]) >= safe, result.warnings


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "am_dbg", "--headless", "--listen-addr", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=20,
        )
    assert proc.returncode == 2
    assert proc.stderr == f"am-dbg: cannot listen on 127.0.0.1:{port}: address already in use\n"


def test_import_then_export_converts_and_exits(tmp_path: Path) -> None:
    rec = tmp_path / "src.amdbg"
    proc, port = _start("--listen-addr", "127.0.0.1:0", "--record", str(rec))
    streams = _stream(port, 2, 10)
    assert all(t.close(5.0) for _, t in streams.values())
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    out = tmp_path / "out.amdbg"
    conv = subprocess.run(
        [sys.executable, "-m", "am_dbg", "-i", str(rec), "--headless", "--export-data", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=20,
        env={**os.environ},
    )
    assert conv.returncode == 0, conv.stderr
    assert "Clients: 2\n" in conv.stderr
    a = {s.id: [x.id for x in txs] for s, txs in load(rec).machines}
    b = {s.id: [x.id for x in txs] for s, txs in load(out).machines}
    assert a == b and all(a.values())


def test_port_in_use_with_import_goes_on_offline(tmp_path: Path) -> None:
    rec = tmp_path / "src.amdbg"
    proc, port = _start("--listen-addr", "127.0.0.1:0", "--record", str(rec))
    streams = _stream(port, 1, 5)
    assert all(t.close(5.0) for _, t in streams.values())
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        args = ["-i", str(rec), "--listen-addr", f"127.0.0.1:{busy}", "--exit-after", "0.2"]
        res = subprocess.run(
            [sys.executable, "-m", "am_dbg", "--headless", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=20,
        )
    assert res.returncode == 0, res.stderr
    assert "address already in use; going on offline" in res.stderr
    assert "Clients: 1\n" in res.stderr


def test_unreachable_forward_target_is_announced_and_retried() -> None:
    """Not up yet is no reason to exit (issue: `-f` exited); it is said once, then retried."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # bound, never listening: connection refused
        args = ["--listen-addr", "127.0.0.1:0", "--fwd-data", f"127.0.0.1:{dead}"]
        res = subprocess.run(
            [sys.executable, "-m", "am_dbg", "--headless", *args, "--exit-after", "1"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=20,
        )
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith(f"am-dbg: forward target 127.0.0.1:{dead} is not up yet ")
    assert res.stderr.count("not up yet") == 1 and "retrying with backoff" in res.stderr
