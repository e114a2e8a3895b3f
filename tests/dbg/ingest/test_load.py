"""Issue 5 must-shows: 200 machines in 20 threads at once, and a server restart mid-stream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from am_dbg.model.session import Session
from am_dbg.server import IngestServer
from am_rpc.dbg import DbgTracer, connect
from tests.waiting import await_until

from .machines import Produced, machine, work


def _executed(srv: IngestServer, mid: str) -> list[tuple[str, tuple[int, ...]]]:
    h = srv.session.machines[mid]  # type: ignore[attr-defined]
    return [(h.info(i).id, h.clocks(i)) for i in range(len(h)) if not h.info(i).is_queued]


async def _wait_threads(threads: list[threading.Thread], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while any(t.is_alive() for t in threads):
        assert loop.time() < end, "producer threads did not finish"
        await asyncio.sleep(0.02)


async def _all_connected(srv: IngestServer, n: int, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    hs = srv.session.machines  # type: ignore[attr-defined]
    while not (len(hs) == n and all(h.connected for h in hs.values())):
        assert loop.time() < end, f"{len(hs)} of {n} machines connected"
        await asyncio.sleep(0.02)


def _spawn(n: int, target: Callable[[int], None]) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


async def test_200_machines_in_20_threads_every_transition_in_order() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    addr = f"127.0.0.1:{srv.port}"
    produced: dict[str, Produced] = {}
    tracers: dict[str, DbgTracer] = {}
    delivered: dict[str, bool] = {}
    lock = threading.Lock()

    def run(thread_i: int) -> None:
        machs = []
        for k in range(10):
            mid = f"t{thread_i:02d}-m{k}"
            m, p = machine(mid)
            t = connect(m, addr, queued=True)
            with lock:
                produced[mid], tracers[mid] = p, t
            machs.append((mid, m, t))
        for i in range(12):  # interleave the 10 machines of this thread
            for _, m, _ in machs:
                work(m, i)
        for mid, _, t in machs:
            ok = t.close(10.0)
            with lock:
                delivered[mid] = ok

    try:
        await _wait_threads(_spawn(20, run))
        await srv.settle()
        assert len(produced) == 200 and all(delivered.values())
        for mid, p in produced.items():
            assert _executed(srv, mid) == p.txs, mid
            stats = tracers[mid].stats()
            assert stats.dropped == 0 and stats.acked == stats.produced
        total = sum(len(h) for h in srv.session.machines.values())  # type: ignore[attr-defined]
        assert srv.stats.transitions == total and srv.stats.dropped == 0
        assert srv.stats.duplicates == 0
    finally:
        await srv.close()


async def test_server_restart_mid_stream_loses_nothing_since_the_restart() -> None:
    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    port = srv.port
    addr = f"127.0.0.1:{port}"
    stop = threading.Event()
    marks: dict[str, int] = {}  # transitions produced when the restart began
    restart_began = threading.Event()
    machines: dict[str, tuple[Any, Produced, DbgTracer]] = {}
    lock = threading.Lock()

    def run(thread_i: int) -> None:
        mine = []
        for k in range(2):
            mid = f"r{thread_i}-{k}"
            m, p = machine(mid)
            t = connect(m, addr, queued=True)
            with lock:
                machines[mid] = (m, p, t)
            mine.append((mid, m, p))
        i = 0
        while not stop.is_set():
            for mid, m, p in mine:
                if restart_began.is_set() and mid not in marks:
                    with lock:
                        marks[mid] = len(p.txs)
                work(m, i)
            i += 1
            stop.wait(0.002)
        for mid, _m, p in mine:
            marks.setdefault(mid, len(p.txs))

    threads = _spawn(10, run)
    try:
        await _all_connected(srv, 20)
        await asyncio.sleep(0.3)
        restart_began.set()
        await srv.close()
        await asyncio.sleep(0.3)  # senders keep producing while nobody listens
        srv = IngestServer(Session(), host="127.0.0.1", port=port)
        await srv.start()
        await asyncio.sleep(0.4)
        # every sender is back (before any leaves: the last one back would otherwise find every
        # other machine disconnected and clean-on-connect would drop them, as it should)
        await _all_connected(srv, 20)
        stop.set()
        await _wait_threads(threads)
        closed = await asyncio.gather(
            *(asyncio.to_thread(t.close, 10.0) for _, _, t in machines.values())
        )
        assert all(closed)
        await srv.settle()
        assert len(srv.session.machines) == 20  # type: ignore[attr-defined]
        for mid, (_, p, t) in machines.items():
            got = _executed(srv, mid)
            since = p.txs[marks[mid] :]
            assert since, mid
            # the new server holds a gap-free suffix of what the machine produced, in order,
            # that starts no later than the restart
            assert got == p.txs[len(p.txs) - len(got) :], mid
            assert len(got) >= len(since), mid
            assert t.stats().dropped == 0 and t.stats().connects >= 2
    finally:
        stop.set()
        await srv.close()


_VICTIM = """
import sys, threading
from tests.dbg.ingest.machines import machine, work
from am_rpc.dbg import connect
machs = [machine(f"victim-{k}")[0] for k in range(5)]
for m in machs:
    connect(m, sys.argv[1], queued=True)
print("streaming", flush=True)
i = 0
while True:
    for m in machs:
        work(m, i)
    i += 1
"""


async def test_sigkill_of_a_sender_process_mid_stream_hurts_nobody() -> None:
    import signal
    import subprocess
    import sys
    from pathlib import Path

    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    addr = f"127.0.0.1:{srv.port}"
    root = Path(__file__).resolve().parents[3]
    victim = subprocess.Popen(
        [sys.executable, "-c", _VICTIM, addr], stdout=subprocess.PIPE, text=True, cwd=root
    )
    try:
        assert victim.stdout is not None
        line = await asyncio.to_thread(victim.stdout.readline)
        assert line == "streaming\n"
        m, produced = machine("survivor")
        t = connect(m, addr, queued=True)
        for i in range(10):
            work(m, i)
            await asyncio.sleep(0.02)
        victim.send_signal(signal.SIGKILL)  # at full speed: almost surely inside a frame
        victim.wait(5)
        for i in range(10, 20):
            work(m, i)
        assert await t.aclose()
        await srv.settle()
        hs = srv.session.machines  # type: ignore[attr-defined]
        assert _executed(srv, "survivor") == produced.txs
        victims = [h for mid, h in hs.items() if mid.startswith("victim-")]
        assert len(victims) == 5 and all(not h.connected and len(h) > 0 for h in victims)
    finally:
        if victim.poll() is None:
            victim.kill()
        await srv.close()


_SCRIPT = """
import sys
from tests.dbg.ingest.machines import machine, work
from am_rpc.dbg import connect
m, p = machine("script")
connect(m, sys.argv[1])
for i in range(50):
    work(m, i)
print(len(p.txs), flush=True)
# no close(): the tracer is flushed at exit
"""


_SCRIPT_AT_EXIT = """
import atexit, sys
from am_core import Machine, State
from am_rpc.dbg import connect

def late():
    # after the interpreter's thread shutdown, like the exit flush of a script that ends at
    # once: no executor thread resolves host names any more
    m = Machine({"Start": State(), "Ready": State(require=["Start"])}, id="script")
    t = connect(m, sys.argv[1])
    m.add(["Start", "Ready"])
    assert t.close(5.0), "not delivered"

atexit.register(late)
print(1, flush=True)
"""


@pytest.mark.parametrize(
    ("script", "host"),
    [(_SCRIPT, "127.0.0.1"), (_SCRIPT_AT_EXIT, "127.0.0.1"), (_SCRIPT_AT_EXIT, "localhost")],
    ids=["flush-at-exit", "dial-at-exit-ip", "dial-at-exit-name"],
)
async def test_a_script_that_exits_without_closing_still_delivers(script: str, host: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    srv = IngestServer(Session(), host="127.0.0.1", port=0)
    await srv.start()
    try:
        root = Path(__file__).resolve().parents[3]
        out = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", script, f"{host}:{srv.port}"],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        # a host name is resolved at exit, after the executor threads are gone: no traceback
        assert out.stderr == ""
        await await_until(
            lambda: (
                "script" in srv.session.machines  # type: ignore[attr-defined]
                and len(_executed(srv, "script")) == int(out.stdout)
            ),
            what="the script's txs",
        )
        await srv.settle()
        assert len(_executed(srv, "script")) == int(out.stdout)
    finally:
        await srv.close()
