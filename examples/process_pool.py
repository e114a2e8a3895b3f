"""A pool of worker processes that survives killed workers (am_rpc.node, docs/workers.md).

A supervisor keeps 3..4 worker processes alive; two clients each get a worker and send it jobs
directly over aRPC. A chaos loop SIGKILLs a random worker every couple of seconds, and now and
then SIGSTOPs one (hung: it never answers a heartbeat). The supervisor replaces both; the clients
fail over to another worker and resend their pending jobs, and every job still resolves once.

What it shows in am-dbg: the supervisor ``pool-sup`` with its workers ``pool-sup-w*`` and the
clients ``pool-client-*`` as one tree; ``WorkerLost`` / ``WorkerSpawned`` / ``WorkerReady`` on the
supervisor, ``WorkRequested`` / ``Working`` / ``JobDone`` on the workers, ``WorkerFailed`` and
``WorkerAssigned`` on the clients.

Run: ``python examples/process_pool.py`` (``AM_DBG_ADDR=1`` streams to am-dbg).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from pathlib import Path

from kit import Example, run

from am_rpc.node import Client, Supervisor, SupervisorOpts

HERE = Path(__file__).resolve().parent
JOB = "process_pool:crunch"  # imported by the workers (HERE is on their PYTHONPATH)


def crunch(n: int) -> int:
    """The job: a little CPU work in a worker process."""
    return sum(i * i for i in range(n)) % 1_000_003


async def main(ex: Example) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    opts = SupervisorOpts(min=3, max=4, heartbeat=0.3, heartbeat_timeout=1.0, env=env)
    pool_dir = tempfile.mkdtemp(prefix="am-pool-")
    sup = await asyncio.to_thread(Supervisor(pool_dir, id="pool-sup", opts=opts).start)
    clients: list[Client] = []
    done = failed = kills = stops = 0
    stopped: list[int] = []
    try:
        for n in (1, 2):
            c = Client([sup.addr], id=f"pool-client-{n}", parent_id=sup.id)
            clients.append(await asyncio.to_thread(c.start))

        async def work(c: Client) -> None:
            nonlocal done, failed
            while not ex.stop.is_set():
                futures = [c.submit(JOB, ex.rng.randint(20_000, 80_000))]
                futures += [c.submit(JOB, 5_000) for _ in range(3)]
                for f in futures:
                    try:
                        await asyncio.wrap_future(f)
                        done += 1
                    except Exception:
                        failed += 1

        async def chaos() -> None:
            nonlocal kills, stops
            while await ex.sleep(2.0):
                pids = sup.pids()
                if not pids:
                    continue
                victim = ex.rng.choice(pids)
                if (kills + stops) % 4 == 3:
                    os.kill(victim, signal.SIGSTOP)  # hung: the heartbeats find it
                    stopped.append(victim)
                    stops += 1
                else:
                    os.kill(victim, signal.SIGKILL)
                    kills += 1

        tasks = [asyncio.create_task(work(c)) for c in clients]
        tasks.append(asyncio.create_task(chaos()))
        await ex.stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for c in clients:
            await asyncio.to_thread(c.close)
        await asyncio.to_thread(sup.close)
        for pid in stopped:  # the supervisor killed them; make sure of it
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return (
        f"process_pool: jobs done {done}, failed {failed}; workers SIGKILLed {kills}, "
        f"SIGSTOPped {stops}, lost {sup.lost} {sup.losses}"
    )


if __name__ == "__main__":
    sys.exit(run(main, __doc__))
