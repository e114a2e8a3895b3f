"""A worker pool over aRPC: a supervisor hands jobs to workers, with errors, retries and timeouts.

Each worker is a machine served over aRPC (a real TCP socket on 127.0.0.1); the supervisor reaches
it through a NetMachine with the same API as a local machine (``nm.add1("WorkRequested", ...)``)
and receives results as payloads pushed by the worker into its ``ServerPayload`` state. Some jobs
are marked to crash or to hang, the way a chaos test would inject faults.

What it shows in am-dbg:
- canceled by negotiation: a busy worker refuses ``WorkRequested`` in ``WorkRequestedEnter``;
  the supervisor tries the next worker;
- auto transitions: a worker's ``Idle`` comes back on its own when ``Working`` ends;
- errors: a crashing job raises in a worker thread and becomes ``ErrWork`` + ``Exception`` with
  its stack trace; a hanging job times out on the supervisor (``JobTimeout``) and is retried
  elsewhere;
- multi states (``JobDispatched``, ``JobDone``, ``ServerPayload``...), queued mutations from
  handlers, parent/child machines and tags, a periodic ``Healthcheck``;
- the aRPC machines themselves (``rc-*`` clients, ``rm-*`` muxes and their ``rs-*`` servers)
  stream too.

Run: ``python examples/worker_pool.py`` (``-v`` prints the log; ``AM_DBG_ADDR=1`` streams to
am-dbg).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from kit import Example, run

from am_core import (
    AmTimeoutError,
    Event,
    ExceptionHandler,
    LogLevel,
    Machine,
    Result,
    State,
    healthcheck,
    wait_for_any,
)
from am_core.states import BasicStates
from am_rpc import Payload, connect_async, serve

WORKERS = 3
JOB_TIMEOUT = 0.6  # seconds the supervisor waits for a result before retrying elsewhere
ATTEMPTS = 3


class WorkerStates(BasicStates):
    """A node worker (spec/examples.md §4, trimmed): one job at a time."""

    ErrOnClient = State(require=["Exception"])  # required by aRPC for a source with handlers
    ErrWork = State(multi=True, require=["Exception"], add=["Exception"])
    Idle = State(auto=True, require=["Ready"])
    WorkRequested = State(multi=True, require=["Ready"])
    Working = State(require=["Ready"], remove=["Idle"])


class SupervisorStates(BasicStates):
    """Dispatches jobs; results arrive as aRPC payloads."""

    ServerPayload = State(multi=True)  # where aRPC delivers the workers' payloads
    WorkersReady = State(require=["Start"])
    JobDispatched = State(multi=True, require=["WorkersReady"])
    JobDone = State(multi=True)
    JobFailed = State(multi=True)
    JobTimeout = State(multi=True)
    JobRetry = State(multi=True)


class Worker(ExceptionHandler):
    def __init__(self, mach: Machine) -> None:
        self.mach = mach
        self.mux: Any = None
        self.job: dict[str, Any] = {}

    def WorkRequestedEnter(self, e: Event) -> bool:
        # negotiation: a busy worker refuses, the request is canceled and nothing changes
        return "job" in e.args and not self.mach.is1("Working")

    def WorkRequestedState(self, e: Event) -> None:
        job = dict(e.args)
        self.job = job
        self.mach.add1("Working", {"id": job["job"]})  # queued: we are inside a transition

        def work() -> None:
            # a thread: handlers never block the machine's queue
            time.sleep(job["cost"])
            try:
                if job["fault"] == "crash":
                    raise RuntimeError(f"job {job['job']}: worker crashed on input {job['input']}")
            except RuntimeError:
                # a typed error state: ErrWork adds Exception, with this stack trace in its args
                self.mach.panic_to_err_state("ErrWork", {"job": job["job"]})
                return
            if job["fault"] == "hang":
                time.sleep(JOB_TIMEOUT * 2)  # the supervisor has given up by now
            self.send("JobResult", {"job": job["job"], "result": job["input"] ** 2})
            self.mach.remove1("Working", {"id": job["job"]})

        self.mach.fork(self.mach.new_state_ctx("Ready"), e, work)

    def ExceptionState(self, e: Event) -> None:
        super().ExceptionState(e)  # "[error] ..." with the stack trace
        job = self.job.get("job")
        err = self.mach.err()
        self.mach.go(None, lambda: self.send("JobFailed", {"job": job, "err": str(err)}))
        self.mach.remove(["Exception", "ErrWork", "Working"])  # recovered: Idle comes back (auto)

    def send(self, name: str, data: dict[str, Any]) -> None:
        try:
            self.mux.send_payload(Payload(name=name, data=data))
        except Exception as err:  # the supervisor went away: nothing to deliver to
            self.mach.log("payload %s lost: %s", name, err)


class Supervisor(ExceptionHandler):
    def __init__(self, mach: Machine) -> None:
        self.mach = mach
        self.stale = 0

    def ServerPayloadState(self, e: Event) -> None:
        payload = e.args["payload"]
        data = dict(payload.data)
        state = "JobDone" if payload.name == "JobResult" else "JobFailed"
        self.mach.add1(state, data)  # queued, after this transition

    def JobDoneState(self, e: Event) -> None:
        if e.args.get("late"):
            self.stale += 1


async def dispatch(ex: Example, sup: Machine, nms: list[Any], job: int) -> str:
    """One job: pick a worker, wait for its result with a timeout, retry elsewhere on failure."""
    roll = ex.rng.random()
    fault = "crash" if roll < 0.1 else "hang" if roll < 0.16 else ""
    fault = {2: "crash", 3: "hang"}.get(job, fault)  # every fault early on, then at random
    args = {"job": job, "input": ex.rng.randint(1, 99), "cost": ex.rng.uniform(0.02, 0.15)}
    for attempt in range(1, ATTEMPTS + 1):
        # a fault happens on the first attempt only: the retry succeeds
        req = {**args, "fault": fault if attempt == 1 else ""}
        done = sup.when_args("JobDone", {"job": job})
        failed = sup.when_args("JobFailed", {"job": job})
        for i in range(len(nms) * 4):
            nm = nms[(job + i) % len(nms)]
            res = await asyncio.to_thread(nm.add1, "WorkRequested", req)
            if res != Result.CANCELED:
                break
            if not await ex.sleep(0.03):  # every worker busy: back off a little
                return "stopped"
        else:
            continue
        sup.add1("JobDispatched", {"job": job, "id": nm.id})
        try:
            await wait_for_any(None, JOB_TIMEOUT, done, failed)
        except AmTimeoutError:
            sup.add1("JobTimeout", {"job": job, "id": nm.id})
            continue
        if done.done():
            return "done"
        sup.add1("JobRetry", {"job": job, "attempt": attempt})
    try:
        raise RuntimeError(f"job {job} failed {ATTEMPTS} times")
    except RuntimeError:
        sup.panic_to_err({"job": job})
    return "failed"


async def main(ex: Example) -> str:
    loop = asyncio.get_running_loop()
    sup = Machine(SupervisorStates.schema(), id="supervisor", tags=["supervisor"], loop=loop)
    sup.verify_states(SupervisorStates.names())
    ex.track(sup, LogLevel.DECISIONS, ("job",))
    sup.handlers_bind(Supervisor(sup), id="supervisor")
    sup.add1("Start")
    healthcheck(sup, interval=1.0)

    muxes, clients, nms = [], [], []
    for n in range(1, WORKERS + 1):
        worker = Machine(
            WorkerStates.schema(),
            id=f"worker-{n}",
            parent=sup,
            tags=["worker", f"pool:{n}"],
        )
        worker.verify_states(WorkerStates.names())
        ex.track(worker, LogLevel.OPS, ("job",))
        handlers = Worker(worker)
        mux = await asyncio.to_thread(serve, worker, "127.0.0.1:0", name=f"worker-{n}")
        handlers.mux = mux
        worker.handlers_bind(handlers, id="worker")
        worker.add(["Start", "Ready"])
        client = await connect_async(mux.addr, id=f"worker-{n}", consumer=sup)
        # the aRPC machines are machines too: the mux, its server for our connection, the client
        ex.track(mux.mach, LogLevel.CHANGES)
        for srv in mux.servers:
            ex.track(srv.mach, LogLevel.CHANGES)
        ex.track(client.client_mach, LogLevel.CHANGES)
        muxes.append(mux)
        clients.append(client)
        nms.append(client.mach)
    sup.add1("WorkersReady")

    outcomes: dict[str, int] = {}
    job = 0
    running: set[asyncio.Task[str]] = set()
    try:
        while not ex.stop.is_set():
            while len(running) < WORKERS + 1:
                job += 1
                running.add(asyncio.create_task(dispatch(ex, sup, nms, job)))
            finished, running = await asyncio.wait(
                running, timeout=0.5, return_when=asyncio.FIRST_COMPLETED
            )
            for t in finished:
                outcomes[t.result()] = outcomes.get(t.result(), 0) + 1
    finally:
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for client in clients:
            await asyncio.to_thread(client.close)
        for mux in muxes:
            await asyncio.to_thread(mux.close)
    return f"worker_pool: jobs {dict(sorted(outcomes.items()))}"


if __name__ == "__main__":
    sys.exit(run(main, __doc__))
