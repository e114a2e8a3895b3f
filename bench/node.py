"""Worker pool throughput vs ``concurrent.futures.ProcessPoolExecutor``, and time to replace a worker.

Same CPU-bound job (``tests.node.jobs:burn``), same run, same number of processes; one Client per
worker (a client holds one worker). Run: ``PYTHONPATH=. python bench/node.py [--workers 2 --jobs 400]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, wait

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from am_rpc.node import Client, Supervisor, SupervisorOpts
from tests.node.jobs import burn

JOB = "tests.node.jobs:burn"


def wait_until(cond, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("bench: condition not met")
        time.sleep(0.005)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--jobs", type=int, default=400)
    p.add_argument("--size", type=int, default=20_000, help="burn(n): the job's CPU cost")
    p.add_argument("--kills", type=int, default=5)
    ns = p.parse_args()

    with ProcessPoolExecutor(ns.workers) as ex:
        list(ex.map(burn, [10] * ns.workers))  # warm: processes started
        t = time.perf_counter()
        futures = [ex.submit(burn, ns.size) for _ in range(ns.jobs)]
        wait(futures)
        ppe = ns.jobs / (time.perf_counter() - t)

    opts = SupervisorOpts(min=ns.workers, heartbeat=0.1, heartbeat_timeout=1.0)
    sup = Supervisor(tempfile.mkdtemp(), id="bench-sup", opts=opts).start()
    try:
        wait_until(lambda: sup.ready_count() == ns.workers)
        clients = [Client([sup.addr]).start() for _ in range(ns.workers)]
        t = time.perf_counter()
        futs = [clients[i % len(clients)].submit(JOB, ns.size) for i in range(ns.jobs)]
        for f in futs:
            f.result(120)
        node = ns.jobs / (time.perf_counter() - t)
        for c in clients:
            c.close()

        replace = []
        for _ in range(ns.kills):
            victim = sup.pids()[0]
            t = time.perf_counter()
            os.kill(victim, signal.SIGKILL)
            wait_until(lambda v=victim: v not in sup.pids() and sup.ready_count() == ns.workers)  # type: ignore[misc]
            replace.append(time.perf_counter() - t)
    finally:
        sup.close()

    print(f"workers={ns.workers} jobs={ns.jobs} burn({ns.size})")
    print(f"ProcessPoolExecutor: {ppe:9.1f} jobs/s")
    print(f"am_rpc.node pool:    {node:9.1f} jobs/s  ({node / ppe:.2f}x of ProcessPoolExecutor)")
    replace.sort()
    print(
        f"replace a SIGKILLed worker (heartbeat 0.1 s): median {replace[len(replace) // 2]:.2f} s, "
        f"max {replace[-1]:.2f} s over {len(replace)} kills"
    )


if __name__ == "__main__":
    main()
