"""The pool client: gets a worker from a supervisor, then sends it jobs directly (docs/workers.md).

``submit("pkg.mod:func", *args)`` returns a ``concurrent.futures.Future``. Every job has an id and
stays pending until its first result arrives: a result for a job no longer pending (a resend
answered twice) is dropped, so each future resolves exactly once. When the worker's connection
drops (it crashed, or a supervisor killed it as hung) a watchdog asks a supervisor for another
worker — the next address when the first supervisor is gone — and resends every pending job.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from am_core import Event, ExceptionHandler, Machine, Result
from am_rpc import ClientOpts, connect
from am_rpc.dbg import connect_env
from am_rpc.errors import RpcError
from am_rpc.node.states import ClientStates


class NoWorkerError(RpcError, RuntimeError):
    """No supervisor handed out a worker in time."""


class JobError(RpcError, RuntimeError):
    """A job raised in its worker; ``trace`` is the worker-side stack trace."""

    def __init__(self, msg: str, trace: str = "") -> None:
        super().__init__(msg)
        self.trace = trace


@dataclass(slots=True)
class _Job:
    id: int
    fn: str
    args: list[Any]
    kwargs: dict[str, Any]
    future: Future[Any]


class Client(ExceptionHandler):
    """``with Client([sup_addr]) as c: c.submit("math:factorial", 20).result()``."""

    def __init__(
        self,
        supervisors: str | Sequence[str],
        id: str = "",
        parent_id: str = "",
        worker_timeout: float = 60.0,
        check: float = 0.1,
    ) -> None:
        self.supervisors = [supervisors] if isinstance(supervisors, str) else list(supervisors)
        if not self.supervisors:
            raise ValueError("Client: at least one supervisor address")
        self.id = id or f"cli-{os.getpid()}-{random.getrandbits(24):06x}"
        self.mach = Machine(
            ClientStates.schema(), id=self.id, parent_id=parent_id, tags=["node:client"]
        )
        self.mach.verify_states(ClientStates.names())
        self.tracer = connect_env(self.mach)
        self.worker_timeout = worker_timeout
        self.check = check
        self.worker: dict[str, Any] = {}
        """The current worker: ``worker``, ``addr``, ``pid``, ``sup``."""
        self.failovers = 0
        self.duplicates = 0
        self.checks = 0
        """Rounds of the watchdog so far (tests wait on it instead of sleeping)."""
        self._released = False
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._pending: dict[int, _Job] = {}
        self._given: list[dict[str, Any]] = []
        self._given_evt = threading.Event()
        self._sup: Any = None
        self._sup_idx = 0
        self._wconn: Any = None
        self._stop = threading.Event()
        self.mach.handlers_bind(self, id="client")
        self._watch = threading.Thread(target=self._watchdog, name=f"{self.id}-watch", daemon=True)

    def start(self) -> Client:
        self.mach.add1("Start")
        self._get_worker()
        self._watch.start()
        return self

    def __enter__(self) -> Client:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs --------------------------------------------------------------------------------------

    def submit(self, fn: str, *args: Any, **kwargs: Any) -> Future[Any]:
        if ":" not in fn:
            raise ValueError(f"job function {fn!r}: expected 'module:function'")
        job = _Job(next(self._ids), fn, list(args), kwargs, Future())
        with self._lock:
            self._pending[job.id] = job
            conn = self._wconn
            self._released = False  # a job after release(): the watchdog asks for a worker again
        if conn is not None:
            self._send(conn, job)  # a failed send stays pending: the watchdog resends it
        return job.future

    def map(self, fn: str, items: Iterable[Any], timeout: float | None = None) -> list[Any]:
        futures = [self.submit(fn, item) for item in items]
        return [f.result(timeout) for f in futures]

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _send(self, conn: Any, job: _Job) -> bool:
        args = {
            "job": job.id,
            "fn": job.fn,
            "args": job.args,
            "kwargs": job.kwargs,
            "client": conn.client_mach.id,
        }
        try:
            ok = conn.mach.add1("WorkRequested", args) != Result.CANCELED
        except Exception:
            return False
        if ok:
            self.mach.add1("JobSent", {"job": job.id})
        return ok

    # -- handlers (payloads from the supervisor and the worker) ------------------------------------

    def ServerPayloadState(self, e: Event) -> None:
        payload = e.args["payload"]
        data = dict(payload.data)
        if payload.name == "WorkerGiven":
            with self._lock:
                self._given.append(data)
            self._given_evt.set()
        elif payload.name == "JobResult":
            with self._lock:
                job = self._pending.pop(data.get("job"), None)  # type: ignore[arg-type]
                if job is None:
                    self.duplicates += 1
                    return
            self.mach.add1("JobResult", {"job": job.id, "ok": data.get("ok")})
            if data.get("ok"):
                job.future.set_result(data.get("value"))
            else:
                job.future.set_exception(JobError(str(data.get("err")), str(data.get("trace", ""))))

    # -- workers -----------------------------------------------------------------------------------

    def _watchdog(self) -> None:
        while not self._stop.wait(self.check):
            self.checks += 1
            with self._lock:
                conn = self._wconn
                released = self._released and not self._pending
            if conn is not None and conn.client_mach.is1("Ready"):
                continue
            if released:  # given back on purpose: not a failure, and no worker wanted for now
                continue
            if conn is not None:
                self.mach.add1("WorkerFailed", {"worker": self.worker.get("worker", "")})
                self.failovers += 1
            try:
                self._get_worker()
            except NoWorkerError as err:
                self.mach.add_err(err)
                self.mach.remove1("Exception")

    def _get_worker(self) -> None:
        old = self._wconn
        with self._lock:
            self._wconn = None
        self.mach.remove1("WorkerAssigned")
        if old is not None:
            _close(old)
        deadline = time.monotonic() + self.worker_timeout
        while not self._stop.is_set():
            given = self._request()
            if given is not None:
                try:
                    conn = connect(
                        given["addr"],
                        id=f"{self.id}-{given['worker']}",
                        consumer=self.mach,
                        opts=ClientOpts(reconnect=False, call_retries=0),
                    )
                except Exception:
                    conn = None
                if conn is not None:
                    with self._lock:
                        self.worker = given
                        self._wconn = conn
                        jobs = list(self._pending.values())
                    self.mach.add1("WorkerAssigned", {"worker": given["worker"]})
                    for job in jobs:  # resend: the new worker runs what the lost one did not answer
                        self._send(conn, job)
                    return
            if time.monotonic() > deadline:
                raise NoWorkerError(f"{self.id}: no worker from {self.supervisors}")
            self._stop.wait(0.1)

    def _request(self) -> dict[str, Any] | None:
        """Ask the current supervisor (or the next one) for a worker; None = try again."""
        if self._sup is None or not self._sup.client_mach.is1("Ready"):
            if self._sup is not None:
                _close(self._sup)
                self._sup = None
            addr = self.supervisors[self._sup_idx % len(self.supervisors)]
            self._sup_idx += 1
            try:
                self._sup = connect(
                    addr,
                    id=f"{self.id}-sup",
                    consumer=self.mach,
                    timeout=2.0,
                    opts=ClientOpts(reconnect=False, call_retries=0),
                )
            except Exception:
                return None
        with self._lock:
            self._given.clear()
            self._given_evt.clear()
        req = {"client": self._sup.client_mach.id, "failed": self.worker.get("worker", "")}
        res = self._sup.mach.add1("WorkerRequested", req)
        if res == Result.CANCELED:  # a standby, or a lost connection: the next supervisor
            _close(self._sup)
            self._sup = None
            return None
        # a full pool answers once a worker frees up (or a new one starts)
        if not self._given_evt.wait(self.worker_timeout) or self._stop.is_set():
            return None
        with self._lock:
            return self._given.pop(0) if self._given else None

    def release(self) -> None:
        """Give the worker back to the pool; the next job (or one still pending) asks for one again."""
        with self._lock:
            conn, self._wconn = self._wconn, None
            worker = self.worker.get("worker", "")
            self._released = True
            self.worker = {}  # the next request is not a failover from this worker
        self.mach.remove1("WorkerAssigned")
        if self._sup is not None and worker:
            try:
                self._sup.mach.add1(
                    "WorkerReleased", {"client": self._sup.client_mach.id, "worker": worker}
                )
            except Exception:
                pass
        if conn is not None:
            _close(conn)

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._given_evt.set()  # a watchdog waiting for a worker gives up now
        if self._watch.is_alive():
            self._watch.join(10)
        self.release()
        if self._sup is not None:
            _close(self._sup)
        if self.tracer is not None:
            self.tracer.close(2.0)  # flush what am-dbg has not got yet
        self.mach.dispose()


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        pass
