"""A process recording live and killed with SIGKILL loses at most the last second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from am_dbg.recordings import load

WRITER = r"""
import sys, time
from am_dbg.model.session import Session
from am_dbg.recordings import RecordingWriter
from am_rpc.dbg.protocol import LogEntry, SchemaMsg, StateDef, TxMsg

names = ("A", "B")
s = Session(recorder=RecordingWriter(sys.argv[1]))
s.on_schema(SchemaMsg(id="m", states_index=names, states={n: StateDef() for n in names}), "c1")
i = 0
while True:
    tx = TxMsg(mach_id="m", id=f"t{i}", clocks=(i, 0), log=(LogEntry(2, f"[state] {i}"),))
    s.on_txs([("c1", tx)], time.time_ns())
    print(i, flush=True)
    i += 1
    time.sleep(0.005)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_loses_at_most_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "crash.amdbg"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[tuple[float, int]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append((time.monotonic(), int(line)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while (not seen or seen[-1][0] - seen[0][0] < 2.5) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(5)
    assert seen, "the writer process never started"
    got = load(path)
    ids = [t.id for t in got.machines[0][1]]
    assert ids == [f"t{i}" for i in range(len(ids))]  # a prefix, in order
    # every tx stored more than a second (plus scheduling slack) before the kill is in the file
    sure = [i for t, i in seen if t < killed_at - 1.5]
    assert sure and len(ids) > sure[-1]
    for w in got.warnings:  # a chunk cut by the kill is reported, never fatal
        assert "is truncated after" in w


def test_normal_exit_without_close_completes_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "exit.amdbg"
    code = WRITER.replace("while True:", "for _ in range(50):").replace("time.sleep(0.005)", "")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
    got = load(path)
    assert got.warnings == []
    assert [t.id for t in got.machines[0][1]] == [f"t{i}" for i in range(50)]
