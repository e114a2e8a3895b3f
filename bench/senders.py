"""What the debugger's telemetry sender costs a machine, with am-dbg listening and with nobody there.

tests/rpc/test_dbg_sender.py checks that with no debugger the outbox keeps the newest messages and
counts the dropped ones; how long the machine's transitions take meanwhile is measured here, as a
ratio against the same transitions with no tracer at all, in the same run. Nobody listening must
cost no more than a listening am-dbg (no waiting on the network). Best of N rounds, CPU time of
this process (the sender's I/O thread included) and wall time.

    .venv/bin/python bench/senders.py [ROUNDS] [N]
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from am_core import LogLevel, Machine, State
from am_rpc.dbg import connect

SCHEMA = {
    **{f"S{i}": State() for i in range(14)},
    "Start": State(add=["Ready"]),
    "Ready": State(require=["Start"]),
    "Busy": State(remove=["Idle"]),
    "Idle": State(auto=True, remove=["Busy"]),
    "Heavy": State(require=["Busy"], after=["Busy"]),
}


def new_machine(mid: str) -> Machine:
    m = Machine(dict(SCHEMA), id=mid, log_level=LogLevel.OPS)
    m.semlogger().set_logger(lambda _lvl, _msg: None)
    return m


def work(m: Machine, n: int) -> None:
    for i in range(n):
        m.add(["Start", f"S{i % 14}"], {"id": i})
        m.add1("Busy") if i % 2 else m.add1("Heavy")
        m.remove1(f"S{i % 14}")


def best(rounds: int, fn: Callable[[int], None]) -> tuple[float, float]:
    wall, cpu = [], []
    for r in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(r)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", "--headless", "--listen-addr", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=root,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    assert found, f"am-dbg did not start: {line!r}"
    live = f"127.0.0.1:{found.group(1)}"
    dead = f"127.0.0.1:{free_port()}"
    tracers = []

    def plain(r: int) -> None:
        work(new_machine(f"plain-{r}"), n)

    def traced(addr: str, tag: str) -> Callable[[int], None]:
        def run(r: int) -> None:
            m = new_machine(f"{tag}-{r}")
            tracers.append(connect(m, addr, outbox_limit=100, queued=False))
            work(m, n)

        return run

    try:
        base = best(rounds, plain)
        listening = best(rounds, traced(live, "live"))
        nobody = best(rounds, traced(dead, "dead"))
    finally:
        for t in tracers:
            t.close(0.5)
        proc.terminate()
        proc.wait(10)

    txs = 3 * n
    print(f"{txs:,} transitions per round, best of {rounds} (wall / CPU)")
    for name, (wall, cpu) in (
        ("no tracer (baseline)", base),
        ("am-dbg listening", listening),
        ("nobody listening", nobody),
    ):
        print(
            f"{name:22} {wall * 1e3:8.1f} ms / {cpu * 1e3:8.1f} ms"
            f"   = {cpu / base[1]:.2f}x the baseline (CPU)"
        )
    print(f"nobody / listening (CPU): {nobody[1] / listening[1]:.2f}x")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
