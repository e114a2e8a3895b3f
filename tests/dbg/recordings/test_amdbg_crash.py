"""A process recording live and killed with SIGKILL keeps everything it flushed.

How long a message waits for its flush (at most a second) is measured in bench/recording_flush.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from am_dbg.recordings import RecordingError, load
from tests.waiting import wait_until

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
def test_sigkill_keeps_every_tx_flushed_before_the_kill(tmp_path: Path) -> None:
    path = tmp_path / "crash.amdbg"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(int(line))

    def on_disk() -> int:
        try:
            got = load(path)  # read while the writer runs
        except RecordingError:
            return 0  # not even the header yet
        return len(got.machines[0][1]) if got.machines else 0

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(seen) > 20, what="the writer process to record 20 txs")
        sure = seen[-1]
        # the periodic flush stores them while the process goes on recording
        wait_until(lambda: on_disk() > sure, what=f"t{sure} on disk", interval=0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(20)
    got = load(path)
    ids = [t.id for t in got.machines[0][1]]
    assert ids == [f"t{i}" for i in range(len(ids))]  # a prefix, in order
    assert len(ids) > sure  # nothing that was on disk before the kill is lost
    for w in got.warnings:  # a chunk cut by the kill is reported, never fatal
        assert "is truncated after" in w


def test_normal_exit_without_close_completes_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "exit.amdbg"
    code = WRITER.replace("while True:", "for _ in range(50):").replace("time.sleep(0.005)", "")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True)
    got = load(path)
    assert got.warnings == []
    assert [t.id for t in got.machines[0][1]] == [f"t{i}" for i in range(50)]
