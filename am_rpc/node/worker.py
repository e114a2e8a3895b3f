"""The worker process: a machine served over aRPC that runs ``module:function`` jobs (docs/workers.md).

Jobs are queued and run one at a time on a runner thread; each result goes back to the requesting
client as a ``JobResult`` payload. A job id already done is answered from a cache instead of being
run again, so a client may resend without a second execution. A worker no supervisor has seen for
``orphan_timeout`` seconds exits: a pool never leaks processes.
"""

from __future__ import annotations

import importlib
import os
import queue
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from am_core import Event, ExceptionHandler, Machine
from am_rpc import Payload, serve
from am_rpc.codec import pack
from am_rpc.dbg import connect_env
from am_rpc.node.states import WorkerStates

DONE_CACHE = 10_000
"""How many finished jobs a worker remembers (to answer a resent job without running it again)."""


def resolve(ref: str) -> Callable[..., Any]:
    """``"package.module:function"`` → the function; a clear error for anything else."""
    mod_name, sep, attr = ref.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"job function {ref!r}: expected 'module:function'")
    obj: Any = importlib.import_module(mod_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"job function {ref!r} is not callable")
    return obj


class Worker(ExceptionHandler):
    """One worker: ``Worker(id).start()`` serves it; ``addr`` is where clients connect."""

    def __init__(
        self,
        id: str,
        parent_id: str = "",
        addr: str = "127.0.0.1:0",
        orphan_timeout: float = 30.0,
    ) -> None:
        self.id = id
        self.pid = os.getpid()
        self.mach = Machine(WorkerStates.schema(), id=id, parent_id=parent_id, tags=["node:worker"])
        self.mach.verify_states(WorkerStates.names())
        self.tracer = connect_env(self.mach)
        self.orphan_timeout = orphan_timeout
        self.stopped = threading.Event()
        self._jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._done: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._last_seen = time.monotonic()
        self.mach.handlers_bind(self, id="worker")
        self.mux = serve(self.mach, addr, name=id)
        self.addr = str(self.mux.addr)
        self._threads = [
            threading.Thread(target=self._run_jobs, name=f"{id}-jobs", daemon=True),
            threading.Thread(target=self._watch_orphan, name=f"{id}-orphan", daemon=True),
        ]

    def start(self) -> Worker:
        self.mach.add(["Start", "Ready"])
        for t in self._threads:
            t.start()
        return self

    # -- handlers ----------------------------------------------------------------------------------

    def WorkRequestedEnter(self, e: Event) -> bool:
        return isinstance(e.args.get("job"), int | str) and isinstance(e.args.get("fn"), str)

    def WorkRequestedState(self, e: Event) -> None:
        job = dict(e.args)
        key = f"{job.get('client', '')}/{job['job']}"
        with self._lock:
            cached = self._done.get(key)
            if cached is None:
                if key in self._pending:
                    return  # queued or running: its result will come
                self._pending.add(key)
                self._jobs.put(job)
                return
        self._send(job, cached)  # done before: resend, never run twice

    def SupervisorSeenState(self, e: Event) -> None:
        self._last_seen = time.monotonic()

    # -- threads -----------------------------------------------------------------------------------

    def _run_jobs(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self.mach.add1("Working", {"job": job["job"]})
            result: dict[str, Any] = {"job": job["job"], "worker": self.id, "pid": self.pid}
            try:
                fn = resolve(job["fn"])
                value = fn(*job.get("args") or (), **job.get("kwargs") or {})
                pack(value)  # must travel back: a clear error now rather than a lost result
                result.update(ok=True, value=value)
            except BaseException as err:  # a job's failure is its result, not the worker's
                result.update(
                    ok=False,
                    err=f"{type(err).__name__}: {err}",
                    trace=traceback.format_exc(),
                )
            key = f"{job.get('client', '')}/{job['job']}"
            with self._lock:
                self._pending.discard(key)
                self._done[key] = result
                while len(self._done) > DONE_CACHE:
                    self._done.popitem(last=False)
            self.mach.remove1("Working", {"job": job["job"]})
            self.mach.add1("JobDone", {"job": job["job"], "ok": result["ok"]})
            self._send(job, result)

    def _send(self, job: dict[str, Any], result: dict[str, Any]) -> None:
        try:
            self.mux.send_payload(
                Payload(name="JobResult", data=result, destination=str(job.get("client", "")))
            )
        except Exception as err:  # the client went away; it resends to whichever worker it gets
            self.mach.log("result of job %s undelivered: %s", job["job"], err)

    def _watch_orphan(self) -> None:
        step = max(self.orphan_timeout / 4, 0.05)
        while not self.stopped.wait(step):
            if time.monotonic() - self._last_seen > self.orphan_timeout:
                self.mach.log("no supervisor for %.1fs: exiting", self.orphan_timeout)
                self.stopped.set()

    def close(self) -> None:
        self.stopped.set()
        self._jobs.put(None)
        self.mux.close()
        if self.tracer is not None:
            self.tracer.close(2.0)  # flush what am-dbg has not got yet
        self.mach.dispose()
