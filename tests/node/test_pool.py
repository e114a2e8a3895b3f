"""A pool of real worker processes on real sockets: start, crashes, hangs, 1,000 jobs, scaling."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from am_rpc.node import Client, JobError

from .conftest import pid_alive, wait_until

JOBS = "tests.node.jobs"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_pool_of_four_starts_and_serves(make_sup, tmp_path):
    sup = make_sup(min=4)
    wait_until(lambda: sup.ready_count() == 4, what="4 workers")
    assert sup.is_active()
    wait_until(lambda: sup.mach.is1("PoolReady"), what="PoolReady")
    assert len(set(sup.pids())) == 4
    assert all(pid_alive(p) for p in sup.pids())
    with Client([sup.addr]) as c:
        assert c.worker["pid"] in sup.pids()
        value, pid = c.submit(f"{JOBS}:square", str(tmp_path / "rec"), 7).result(30)
        assert (value, pid) == (49, c.worker["pid"])


def test_job_errors_are_results(make_sup):
    sup = make_sup(min=1)
    with Client([sup.addr]) as c:
        with pytest.raises(JobError, match="ValueError: boom"):
            c.submit(f"{JOBS}:fail", "boom").result(30)
        with pytest.raises(JobError, match="ModuleNotFoundError"):
            c.submit("no_such_module_x:f").result(30)
        with pytest.raises(ValueError, match="module:function"):
            c.submit("not-a-ref")
        assert c.submit(f"{JOBS}:burn", 4).result(30) == 14  # the worker survived


def test_sigkill_mid_job_retries_elsewhere_and_restores_pool(make_sup, tmp_path):
    sup = make_sup(min=4)
    wait_until(lambda: sup.ready_count() == 4, what="4 workers")
    rec, gate = tmp_path / "rec", tmp_path / "gate"
    with Client([sup.addr]) as c:
        fut = c.submit(f"{JOBS}:slow", str(rec), 1, str(gate))
        wait_until(lambda: any(ln.startswith("start 1 ") for ln in lines(rec)), what="job start")
        victim = int(lines(rec)[0].split()[-1])
        assert victim == c.worker["pid"]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: c.worker.get("pid") not in (None, victim), what="another worker")
        gate.touch()
        value, pid = fut.result(30)
        assert value == 1 and pid != victim
        assert not fut.exception()
    wait_until(lambda: sup.ready_count() == 4 and victim not in sup.pids(), what="pool back to 4")
    assert sup.lost >= 1
    assert all(pid_alive(p) for p in sup.pids())


def test_hung_worker_is_replaced(make_sup):
    sup = make_sup(min=2)
    wait_until(lambda: sup.ready_count() == 2, what="2 workers")
    hung = sup.pids()[0]
    os.kill(hung, signal.SIGSTOP)  # alive, socket open, never answers a heartbeat
    try:
        wait_until(lambda: hung not in sup.pids() and sup.ready_count() == 2, what="replaced")
        wait_until(lambda: not pid_alive(hung), what="hung worker killed")
    finally:
        if pid_alive(hung):
            os.kill(hung, signal.SIGKILL)


def test_thousand_jobs_none_lost_none_twice(make_sup, tmp_path):
    sup = make_sup(min=2)
    rec = tmp_path / "rec"
    with Client([sup.addr]) as c:
        futures = {i: c.submit(f"{JOBS}:square", str(rec), i) for i in range(1000)}
        results = {i: f.result(60) for i, f in futures.items()}
        assert c.pending() == 0
        assert c.duplicates == 0
    assert all(value == i * i for i, (value, _pid) in results.items())
    runs = [ln.split()[1] for ln in lines(rec) if ln.startswith("run ")]
    assert sorted(map(int, runs)) == list(range(1000))  # each ran exactly once


def test_a_released_worker_is_not_taken_back_by_the_watchdog(make_sup, tmp_path):
    # the bug behind the scaling race: release() dropped the worker's connection, the watchdog read
    # that as a failed worker and queued a new request (marking the freed worker suspect), so the
    # client that released competed with the one waiting for the freed worker
    sup = make_sup(min=1, max=2)
    with Client([sup.addr]) as c:
        assert c.submit(f"{JOBS}:square", str(tmp_path / "rec"), 3).result(30)[0] == 9
        requests = sup.mach.tick("WorkerRequested")
        c.release()
        checks = c.checks
        wait_until(lambda: c.checks >= checks + 3, what="3 watchdog checks after the release")
        assert c.failovers == 0
        assert sup.mach.tick("WorkerRequested") == requests
        assert not c.mach.is1("WorkerAssigned")
        # a job after a release asks for a worker again, as a plain request (not a failover)
        assert c.submit(f"{JOBS}:square", str(tmp_path / "rec"), 4).result(30)[0] == 16
        assert c.failovers == 0 and c.mach.is1("WorkerAssigned")


def test_pool_scales_with_requests_between_min_and_max(make_sup):
    # generous heartbeats: a loaded box must not make the freed worker look hung (then it would be
    # replaced, and the 4th client would get a new worker instead of the freed one)
    sup = make_sup(min=1, max=3, idle_timeout=0.3, heartbeat_timeout=10.0, misses=5)
    wait_until(lambda: sup.ready_count() == 1, what="min size")
    clients = [Client([sup.addr], worker_timeout=60).start() for _ in range(3)]
    try:
        assert sup.ready_count() == 3
        assert len({c.worker["worker"] for c in clients}) == 3
        # a 4th request waits at max size, and gets the worker released by the first client
        extra = Client([sup.addr], worker_timeout=60)
        started = threading.Thread(target=extra.start)
        started.start()
        wait_until(lambda: sup.mach.tick("WorkerRequested") >= 4, what="4th request")
        assert sup.ready_count() == 3 and started.is_alive()
        freed = clients[0].worker["worker"]
        clients[0].release()
        started.join(60)
        assert not started.is_alive() and extra.worker["worker"] == freed
        clients.append(extra)
    finally:
        for c in clients:
            c.close()
    wait_until(lambda: sup.ready_count() == 1, what="shrink to min")
