"""The supervisor: keeps ``min..max`` worker processes healthy and hands them to clients.

One control thread ticks every ``heartbeat`` seconds: a supervisor without the pool lock is a
standby and only tries the lock; the active one heartbeats every worker (an aRPC mutation with a
short call timeout: a SIGSTOPped worker never answers), kills and replaces the dead or hung ones
with backoff, sizes the pool between ``min`` and ``max`` after the busy workers plus the queue of
requests, hands free workers to waiting clients (a ``WorkerGiven`` payload) and records the pool in
the pool directory so that a standby can adopt the workers (docs/workers.md).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from am_core import Event, ExceptionHandler, Machine, Result
from am_rpc import ClientOpts, Payload, connect, serve
from am_rpc.dbg import connect_env
from am_rpc.node.pool_file import PoolFile
from am_rpc.node.states import SupervisorStates


@dataclass(slots=True)
class SupervisorOpts:
    min: int = 2
    max: int = 0
    """0 = ``min`` (a fixed size)."""
    heartbeat: float = 1.0
    heartbeat_timeout: float = 2.0
    misses: int = 2
    """Missed heartbeats in a row before a worker counts as hung and is killed."""
    backoff: float = 0.2
    backoff_max: float = 5.0
    spawn_timeout: float = 30.0
    idle_timeout: float = 30.0
    """An idle worker above ``min`` retires after this long."""
    orphan_timeout: float = 30.0
    python: str = sys.executable
    env: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.max == 0:
            self.max = self.min
        if not 0 <= self.min <= self.max or self.max < 1:
            raise ValueError(
                f"pool size: need 0 <= min <= max and max >= 1, got {self.min}..{self.max}"
            )


@dataclass(slots=True)
class WorkerInfo:
    id: str
    addr: str
    pid: int
    conn: Any
    proc: subprocess.Popen[str] | None = None
    client: str = ""
    misses: int = 0
    idle_since: float = field(default_factory=time.monotonic)


class Supervisor(ExceptionHandler):
    """``Supervisor(pool_dir, opts=SupervisorOpts(min=4)).start()``; ``addr`` is for clients."""

    def __init__(
        self,
        pool_dir: str | os.PathLike[str],
        id: str = "",
        opts: SupervisorOpts | None = None,
        addr: str = "127.0.0.1:0",
        parent_id: str = "",
    ) -> None:
        self.opts = opts or SupervisorOpts()
        self.id = id or f"sup-{os.getpid()}"
        self.pool = PoolFile(pool_dir)
        self.mach = Machine(
            SupervisorStates.schema(), id=self.id, parent_id=parent_id, tags=["node:supervisor"]
        )
        self.mach.verify_states(SupervisorStates.names())
        self.tracer = connect_env(self.mach)
        self.workers: dict[str, WorkerInfo] = {}
        self.lost = 0
        self.losses: list[tuple[str, str]] = []
        """(worker id, "exited" | "hung") for every worker lost, in order."""
        self._lock = threading.RLock()
        self._queue: collections.deque[str] = collections.deque()
        self._spawning = 0
        self._spawners: list[threading.Thread] = []
        self._counter = 0
        self._failures = 0
        self._last_failure = 0.0
        self._next_spawn = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._hb = ThreadPoolExecutor(8, thread_name_prefix=f"{self.id}-hb")
        self.mach.handlers_bind(self, id="supervisor")
        self.mux = serve(self.mach, addr, name=self.id)
        self.addr = str(self.mux.addr)
        self._thread = threading.Thread(target=self._run, name=f"{self.id}-ctl", daemon=True)

    def start(self) -> Supervisor:
        self.mach.add1("Start")
        self.mach.add1("Standby")
        self._thread.start()
        return self

    # -- handlers (run on aRPC threads) ------------------------------------------------------------

    def WorkerRequestedEnter(self, e: Event) -> bool:
        return isinstance(e.args.get("client"), str) and bool(e.args["client"])

    def WorkerRequestedState(self, e: Event) -> None:
        client = e.args["client"]
        failed = e.args.get("failed", "")
        with self._lock:
            # a client holds one worker: asking again means it lost (or gave up) the previous one
            for w in self.workers.values():
                if w.client == client:
                    w.client = ""
                    w.idle_since = time.monotonic()
                    if w.id == failed:
                        w.misses = self.opts.misses  # suspect: not handed out before it answers
            if client not in self._queue:
                self._queue.append(client)
        self._wake.set()

    def WorkerReleasedState(self, e: Event) -> None:
        with self._lock:
            w = self.workers.get(str(e.args.get("worker", "")))
            if w is not None and w.client == e.args.get("client"):
                w.client = ""
                w.idle_since = time.monotonic()
        self._wake.set()

    # -- queries -----------------------------------------------------------------------------------

    def ready_count(self) -> int:
        with self._lock:
            return len(self.workers)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self.workers.values()]

    def is_active(self) -> bool:
        return self.mach.is1("Active")

    # -- the control loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.mach.is1("Active"):
                    if self.pool.try_lock():
                        self._take_over()
                else:
                    self._tick()
            except Exception as err:  # one bad tick must not end the supervision
                self.mach.add_err(err, {"where": "tick"})
                self.mach.remove1("Exception")
            self._wake.wait(self.opts.heartbeat)
            self._wake.clear()

    def _take_over(self) -> None:
        state = self.pool.read()
        previous = state.get("supervisor", "")
        self.mach.add1("Active")
        adopted = 0
        for rec in state.get("workers", []):
            try:
                conn = self._connect(rec["id"], rec["addr"])
            except Exception as err:
                self.mach.log("worker %s not adopted: %s", rec.get("id"), err)
                continue
            with self._lock:
                self.workers[rec["id"]] = WorkerInfo(
                    rec["id"], rec["addr"], int(rec["pid"]), conn, client=rec.get("client", "")
                )
            adopted += 1
        if previous and previous != self.id:
            self.mach.add1("TookOver", {"from": previous, "adopted": adopted})
        self._tick()

    def _tick(self) -> None:
        self._check_health()
        self._normalise()
        self._hand_out()
        self._save()

    def _check_health(self) -> None:
        with self._lock:
            workers = list(self.workers.values())
        beats = {w.id: self._hb.submit(self._beat, w) for w in workers}
        for w in workers:
            alive = beats[w.id].result()
            if alive:
                w.misses = 0
                continue
            w.misses += 1
            dead = w.proc is not None and w.proc.poll() is not None
            if dead or w.misses >= self.opts.misses or not _pid_alive(w.pid):
                self._lose(w, "exited" if dead else "hung")

    def _beat(self, w: WorkerInfo) -> bool:
        if w.proc is not None and w.proc.poll() is not None:
            return False
        try:
            if not w.conn.client_mach.is1("Ready"):
                return False
            # executed or queued behind a job's transition: it answered; canceled = no answer in time
            return bool(w.conn.mach.add1("SupervisorSeen", {"sup": self.id}) != Result.CANCELED)
        except Exception:
            return False

    def _lose(self, w: WorkerInfo, why: str) -> None:
        with self._lock:
            if self.workers.pop(w.id, None) is None:
                return
            self.lost += 1
            now = time.monotonic()
            if now - self._last_failure > self.opts.backoff_max * 2:
                self._failures = 0
            self._failures += 1
            self._last_failure = now
            delay = min(self.opts.backoff * 2 ** (self._failures - 1), self.opts.backoff_max)
            self._next_spawn = now + delay
        self.losses.append((w.id, why))
        self.mach.add1("WorkerLost", {"worker": w.id, "why": why, "client": w.client})
        _kill(w)
        try:
            w.conn.close()
        except Exception:
            pass

    def _normalise(self) -> None:
        now = time.monotonic()
        with self._lock:
            busy = sum(1 for w in self.workers.values() if w.client)
            want = min(max(self.opts.min, busy + len(self._queue)), self.opts.max)
            have = len(self.workers) + self._spawning
            spawn = max(want - have, 0) if now >= self._next_spawn else 0
            self._spawning += spawn
            retire = []
            if have > want:
                idle = [w for w in self.workers.values() if not w.client]
                for w in idle[: have - want]:
                    if now - w.idle_since >= self.opts.idle_timeout:
                        retire.append(w)
            for w in retire:
                self.workers.pop(w.id)
        for _ in range(spawn):
            t = threading.Thread(target=self._spawn, name=f"{self.id}-spawn", daemon=True)
            with self._lock:
                self._spawners = [s for s in self._spawners if s.is_alive()] + [t]
            t.start()
        for w in retire:
            self.mach.add1("WorkerRetired", {"worker": w.id})
            _kill(w, signal.SIGTERM)
            w.conn.close()

    def _spawn(self) -> None:
        with self._lock:
            self._counter += 1
            wid = f"{self.id}-w{self._counter}"
        proc: subprocess.Popen[str] | None = None
        try:
            if self._stop.is_set():
                return
            cmd = [self.opts.python, "-m", "am_rpc.node", "worker", "--id", wid]
            cmd += ["--parent-id", self.id, "--orphan-timeout", str(self.opts.orphan_timeout)]
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                text=True,
                env=self.opts.env,
                start_new_session=True,  # workers outlive a killed supervisor: a standby adopts them
            )
            self.mach.add1("WorkerSpawned", {"worker": wid, "pid": proc.pid})
            addr = _read_addr(proc, self.opts.spawn_timeout)
            conn = self._connect(wid, addr)
            info = WorkerInfo(wid, addr, proc.pid, conn, proc=proc)
            with self._lock:
                self.workers[wid] = info
            self.mach.add1("WorkerReady", {"worker": wid, "pid": proc.pid})
        except Exception as err:
            self.mach.log("worker %s failed to start: %s", wid, err)
            if proc is not None:
                proc.kill()
                proc.wait()
            with self._lock:
                self._failures += 1
                self._next_spawn = time.monotonic() + self.opts.backoff
        finally:
            with self._lock:
                self._spawning -= 1
            self._wake.set()

    def _connect(self, wid: str, addr: str) -> Any:
        opts = ClientOpts(call_timeout=self.opts.heartbeat_timeout, call_retries=0, reconnect=False)
        return connect(addr, id=f"{self.id}-{wid}", timeout=self.opts.spawn_timeout, opts=opts)

    def _hand_out(self) -> None:
        given: list[tuple[str, WorkerInfo]] = []
        with self._lock:
            while self._queue:
                free = [w for w in self.workers.values() if not w.client and not w.misses]
                if not free:
                    break
                client = self._queue.popleft()
                free[0].client = client
                given.append((client, free[0]))
        for client, w in given:
            data = {"worker": w.id, "addr": w.addr, "pid": w.pid, "sup": self.id}
            try:
                self.mux.send_payload(Payload(name="WorkerGiven", data=data, destination=client))
            except Exception as err:
                self.mach.log("client %s gone: %s", client, err)
                with self._lock:
                    w.client = ""
                continue
            self.mach.add1("WorkerGiven", {"worker": w.id, "client": client})
        with self._lock:
            ready = len(self.workers) >= self.opts.min
        if ready and not self.mach.is1("PoolReady"):
            self.mach.add1("PoolReady")
        elif not ready and self.mach.is1("PoolReady"):
            self.mach.remove1("PoolReady")

    def _save(self) -> None:
        with self._lock:
            workers = [
                {"id": w.id, "addr": w.addr, "pid": w.pid, "client": w.client}
                for w in self.workers.values()
            ]
        self.pool.write({"supervisor": self.id, "addr": self.addr, "workers": workers})

    # -- stopping ----------------------------------------------------------------------------------

    def close(self, stop_workers: bool = True) -> None:
        """Stop supervising; by default also stop the workers (a standby then has none to adopt)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(10)
        with self._lock:
            spawners = list(self._spawners)
        for t in spawners:  # a worker starting now must not outlive its supervisor
            t.join(self.opts.spawn_timeout + 5)
        with self._lock:
            workers = list(self.workers.values())
            self.workers.clear()
        if stop_workers and self.mach.is1("Active"):
            self.pool.write({"supervisor": self.id, "addr": self.addr, "workers": []})
        for w in workers:
            try:
                w.conn.close()
            except Exception:
                pass
            if stop_workers:
                _kill(w, signal.SIGTERM)
        self.pool.unlock()
        self._hb.shutdown(wait=False)
        self.mux.close()
        if self.tracer is not None:
            self.tracer.close(2.0)  # flush what am-dbg has not got yet
        self.mach.dispose()


def _read_addr(proc: subprocess.Popen[str], timeout: float) -> str:
    from am_rpc.node.__main__ import ADDR_LINE

    box: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(ADDR_LINE):
                box.append(line.split()[1])
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise TimeoutError(f"worker pid {proc.pid} printed no address within {timeout}s")
    return box[0]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(w: WorkerInfo, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(w.pid, sig)
        if sig != signal.SIGKILL:
            os.kill(w.pid, signal.SIGCONT)  # a stopped worker must wake up to handle SIGTERM
    except ProcessLookupError:
        pass
    if w.proc is not None:
        try:
            w.proc.wait(5)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
