"""Two supervisor processes for one pool: SIGKILL of the active one, the standby adopts the workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from am_rpc.node import Client
from am_rpc.node.__main__ import ADDR_LINE
from am_rpc.node.pool_file import PoolFile

from .conftest import kill_pool, pid_alive, wait_until

JOBS = "tests.node.jobs"


def start_sup(pool: Path, id: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "am_rpc.node", "supervisor", "--pool-dir", str(pool), "--id", id]
    cmd += [
        "--min",
        "2",
        "--heartbeat",
        "0.2",
        "--heartbeat-timeout",
        "1",
        "--orphan-timeout",
        "20",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    box: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(ADDR_LINE):
                box.append(line.split()[1])
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(30)
    assert box, f"supervisor {id} printed no address"
    return proc, box[0]


def test_standby_takes_over_and_clients_continue(tmp_path):
    pool, rec = tmp_path / "pool", tmp_path / "rec"
    state = PoolFile(pool)
    procs = []
    try:
        a, addr_a = start_sup(pool, "sup-a")
        procs.append(a)

        def pool_of(sup: str) -> list[int]:
            data = state.read()
            return (
                [w["pid"] for w in data.get("workers", [])] if data.get("supervisor") == sup else []
            )

        wait_until(lambda: len(pool_of("sup-a")) == 2, what="sup-a's pool")
        b, addr_b = start_sup(pool, "sup-b")  # the lock is taken: sup-b waits as standby
        procs.append(b)
        workers = pool_of("sup-a")
        with Client([addr_a, addr_b]) as c:
            assert c.submit(f"{JOBS}:square", str(rec), 1).result(30)[0] == 1
            a.send_signal(signal.SIGKILL)
            a.wait(10)
            # the client keeps its worker: no supervisor is on the path of a job
            futures = [c.submit(f"{JOBS}:square", str(rec), i) for i in range(2, 52)]
            assert [f.result(30)[0] for f in futures] == [i * i for i in range(2, 52)]
            # sup-b took the lock and adopted the very same worker processes
            wait_until(lambda: sorted(pool_of("sup-b")) == sorted(workers), what="adoption")
            assert all(pid_alive(p) for p in workers)
            # a lost worker is now replaced by sup-b, and the client gets its new worker from sup-b
            os.kill(c.worker["pid"], signal.SIGKILL)
            assert c.submit(f"{JOBS}:square", str(rec), 100).result(30)[0] == 10_000
            assert c.worker["sup"] == "sup-b"
            wait_until(lambda: len(pool_of("sup-b")) == 2, what="sup-b restores the pool")
            assert c.duplicates == 0
        runs = sorted(int(ln.split()[1]) for ln in rec.read_text().splitlines())
        assert runs == [1, *range(2, 52), 100]
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(15)
        kill_pool(pool)
