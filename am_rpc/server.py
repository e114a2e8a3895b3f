"""aRPC server: exposes a source machine to one connected client (docs/arpc.md).

Each connection gets its own ``Server`` (the :class:`~am_rpc.mux.Mux` makes them). The reader never
awaits request handlers: mutations are submitted, in arrival order, to a one-thread executor, so a
slow source handler never stalls the connection and a handler may call :meth:`Server.send_payload`.
All exports (response diffs, pushes, Sync, schema change) compute the diff, move the baseline and
write the frame with no ``await`` in between (O1), on the loop thread.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

from am_core.types import Schema
from am_rpc import codec, trace_context
from am_rpc.auth import AuthThrottle
from am_rpc.clock import Snapshot, bound_time, make_update, schema_hash, tracked_indexes
from am_rpc.errors import (
    InvalidParamsError,
    NotConnectedError,
    RemoteError,
    RpcError,
    WrongDestinationError,
)
from am_rpc.netmach import schema_to_wire
from am_rpc.peer import Peer, exchange_preamble_server, spawn
from am_rpc.protocol import (
    MAX_STATES,
    ErrCode,
    HelloReq,
    HelloResp,
    Method,
    MutationReq,
    MutationResult,
    MutationType,
    Notify,
    Payload,
    Request,
    Serialized,
    SyncResult,
    Update,
    UpdateMany,
)
from am_rpc.states import SERVER_SCHEMA, names

if TYPE_CHECKING:
    from am_core.machine import Machine

log = logging.getLogger("am_rpc")


@dataclass(slots=True)
class ServerOpts:
    """Settings shared by a Mux and its servers. Every limit is configurable."""

    push_interval: float = 0.25
    """Seconds between clock pushes; 0 disables pushes (clients see changes via responses/Sync)."""
    max_frame: int = codec.DEFAULT_MAX_FRAME
    allow_id: str | Collection[str] | None = None
    """Only these client ids may connect (an ACL for cooperating processes, not security)."""
    token: str | None = None
    """Shared secret required in HELLO (capability AUTH), compared in constant time. A wrong one
    closes the connection; see ``auth_failures``."""
    insecure: bool = False
    """Allow listening beyond loopback without a token (refused otherwise)."""
    auth_failures: int = 5
    auth_window: float = 60.0
    """A peer address with ``auth_failures`` wrong tokens within ``auth_window`` seconds has its
    new connections closed unread until the window has passed."""
    hello_max_frame: int = 64 * 1024
    """Largest frame accepted before HELLO succeeds (``max_frame`` applies after it)."""
    hello_timeout: float = 10.0
    """Preamble + HELLO + HANDSHAKE must finish within this many seconds."""
    delivery_timeout: float = 5.0
    """Default timeout of :meth:`Server.send_payload`."""
    max_states: int = MAX_STATES
    ssl: SSLContext | None = None
    """TLS for the listener (``ssl.create_default_context(Purpose.CLIENT_AUTH)`` + a cert)."""
    inline: bool | None = None
    """Run source mutations on the I/O loop instead of a worker thread: faster (no thread hops),
    but a slow handler then stalls every connection of the Mux. ``None`` (default): inline only
    for a local source without handlers, whose mutations cannot block."""


def new_machine(
    schema: Schema, id: str, parent_id: str = "", tags: tuple[str, ...] = ()
) -> Machine:
    """One of aRPC's own machines; ``tags`` (``rpc-server`` ...) let the debugger filter them."""
    from am_core import Machine

    mach = Machine(schema, id=id, parent_id=parent_id, tags=tags)
    mach.verify_states(names(schema))
    return mach


def source_snapshot(source: Any) -> tuple[list[str], Snapshot]:
    """Names and a consistent snapshot of a source (local Machine or NetMachine)."""
    names_ = list(source.state_names())
    t = tuple(source.time())
    q = int(source.queue_tick())
    mt_fn = getattr(source, "machine_tick", None)
    mt = int(mt_fn()) if callable(mt_fn) else 0
    return names_, Snapshot(t, q, mt)


class _SerialJobs:
    """Runs one connection's jobs in order on a shared pool: many clients, few threads."""

    def __init__(self, pool: concurrent.futures.Executor) -> None:
        self.pool = pool
        self._lock = threading.Lock()
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._running = False
        self._stopped = False

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._stopped:
                return
            self._queue.append(job)
            if self._running:
                return
            self._running = True
        try:
            self.pool.submit(self._drain)
        except RuntimeError:  # the pool is shut down
            with self._lock:
                self._running = False

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue or self._stopped:
                    self._running = False
                    return
                job = self._queue.popleft()
            try:
                job()
            except Exception:
                log.exception("aRPC server job failed")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._queue.clear()


class _SourceTracer:
    """Snapshots the source after each transition and asks the server to push (spec §5.2)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def tracer_id(self) -> str:
        return f"arpc-{self.server.mach.id}"

    def transition_end(self, tx: Any) -> None:
        mut = getattr(tx, "mutation", None)
        self.server._record(mut)

    def queue_end(self, machine: Any) -> None:
        self.server._record(None)

    def schema_change(self, machine: Any, old_schema: Any) -> None:
        self.server._call_soon(self.server._on_schema_change)


class Server:
    """One client's server over one connection. Its state machine is ``rs-<name>``."""

    def __init__(
        self,
        source: Any,
        *,
        name: str = "rpc",
        opts: ServerOpts | None = None,
        parent_id: str = "",
        pool: concurrent.futures.Executor | None = None,
        throttle: AuthThrottle | None = None,
        peer_host: str = "",
    ) -> None:
        self.source = source
        self.opts = opts or ServerOpts()
        self.throttle = throttle
        self.peer_host = peer_host
        self.mach = new_machine(SERVER_SCHEMA, f"rs-{name}", parent_id, ("rpc-server",))
        self.peer: Peer | None = None
        self.client_id = ""
        self.pushes = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._hello: HelloReq | None = None
        self._names: list[str] = []
        self._tracked: tuple[int, ...] = ()
        self._synced = True
        self._baseline: Snapshot | None = None
        self._latest: Snapshot | None = None
        self._records: list[tuple[int, tuple[int, ...], Snapshot]] = []
        self._snap_lock = threading.Lock()
        self._last_export = 0.0
        self._mutating = 0
        self._push_scheduled = False
        self._tracer: _SourceTracer | None = None
        self._own_pool = pool is None
        self._jobs = _SerialJobs(
            pool or concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[Any] | None = None
        self._flush_timer: asyncio.TimerHandle | None = None
        self._closing = False

    # -- properties --------------------------------------------------------------------------------

    @property
    def push_interval(self) -> float:
        return self.opts.push_interval

    @push_interval.setter
    def push_interval(self, value: float) -> None:
        """Changeable at runtime; a tiny value makes pushes effectively instant."""
        self.opts.push_interval = value
        self._call_soon(self._try_push)

    @property
    def ready(self) -> bool:
        return self.mach.is1("HandshakeDone") and self.peer is not None and not self.peer.closed

    # -- connection --------------------------------------------------------------------------------

    async def serve_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one accepted connection until it ends (preamble, reader loop, cleanup)."""
        self.loop = asyncio.get_running_loop()
        self.mach.add1("Start")
        self.mach.add1("RpcAccepting")
        self.mach.add1("RpcReady")
        caps = codec.Cap.PING | (codec.Cap.AUTH if self.opts.token else 0)
        try:
            eff = await exchange_preamble_server(reader, writer, caps, self.opts.hello_timeout)
        except (RpcError, TimeoutError, OSError, asyncio.IncompleteReadError) as err:
            reason = "no preamble in time" if isinstance(err, TimeoutError) else str(err)
            log.warning("%s: refused connection: %s", self.mach.id, reason)
            self.mach.add_err_state("ErrRpc", err if str(err) else RpcError(reason))
            writer.close()
            return
        peer = Peer(
            reader,
            writer,
            self,
            max_frame=self.opts.max_frame,
            caps=eff,
            name=self.mach.id,
            read_max_frame=min(self.opts.hello_max_frame, self.opts.max_frame),
        )
        self.peer = peer
        self.mach.add1("ClientConnected")
        watchdog = spawn(self._handshake_watchdog(peer), self._tasks, f"{self.mach.id}-hello")
        try:
            await peer.run()
        finally:
            watchdog.cancel()
            self._teardown()

    async def _handshake_watchdog(self, peer: Peer) -> None:
        await asyncio.sleep(self.opts.hello_timeout)
        if not self.mach.is1("HandshakeDone"):
            peer.close(f"no handshake within {self.opts.hello_timeout}s")

    def _teardown(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._detach_tracer()
        if not self.mach.is_disposed():
            self.mach.remove(["ClientConnected", "HandshakeDone", "Handshaking"])

    def _detach_tracer(self) -> None:
        if self._tracer is not None:
            with contextlib.suppress(Exception):
                self.source.tracer_detach(self._tracer)
            self._tracer = None

    def on_close(self, peer: Peer, reason: str | None) -> None:
        if reason:
            log.info("%s: connection closed: %s", self.mach.id, reason)

    def _call_soon(self, fn: Any) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:
            pass  # loop closing

    # -- snapshots (source thread) -----------------------------------------------------------------

    def _record(self, mutation: Any) -> None:
        if self._tracer is None:
            return
        _, snap = source_snapshot(self.source)
        with self._snap_lock:
            if snap == self._latest:
                return
            self._latest = snap
            hello = self._hello
            if mutation is not None and hello is not None and hello.sync_mutations:
                index = {n: i for i, n in enumerate(self._names)}
                called = [index.get(n, -1) for n in getattr(mutation, "called", ())]
                tracked = set(self._tracked)
                if self._synced:
                    idx = tuple(i for i in called if i in tracked)
                else:
                    pos = {s: p for p, s in enumerate(self._tracked)}
                    idx = tuple(pos[i] for i in called if i in pos)
                mtype = int(getattr(mutation, "type", MutationType.SET))
                self._records.append((mtype, idx, snap))
                if len(self._records) > 10_000:
                    del self._records[0]  # intermediate flickers are lost, never the state
            # one wakeup of the loop is enough, and none while our own mutation runs: its
            # response exports this snapshot anyway (it is stored above, before this check)
            if self._push_scheduled or self._mutating:
                return
            self._push_scheduled = True
        self._call_soon(self._scheduled_push)

    def _scheduled_push(self) -> None:
        with self._snap_lock:
            self._push_scheduled = False
        self._try_push()

    # -- exports (loop thread, atomic) -------------------------------------------------------------

    def _export(self) -> tuple[Update | None, UpdateMany | None]:
        """Diff the latest snapshot against the baseline and move the baseline (no awaits)."""
        with self._snap_lock:
            latest = self._latest
            records = self._records
            self._records = []
        assert latest is not None
        self._last_export = time.monotonic()
        hello = self._hello
        if hello is not None and hello.sync_mutations:
            types: list[int] = []
            called: list[tuple[int, ...]] = []
            ups: list[Update] = []
            prev = self._baseline
            for mtype, idx, snap in records:
                types.append(mtype)
                called.append(idx)
                ups.append(make_update(prev, snap, self._tracked, self._synced))
                prev = snap
            if prev != latest:
                types.append(int(MutationType.SET))
                called.append(())
                ups.append(make_update(prev, latest, self._tracked, self._synced))
            self._baseline = latest
            return None, UpdateMany(tuple(types), tuple(called), tuple(ups))
        upd = make_update(self._baseline, latest, self._tracked, self._synced)
        self._baseline = latest
        return upd, None

    def _try_push(self) -> None:
        """Push the clock if it changed and the throttle allows it (spec §5.5)."""
        peer = self.peer
        if (
            peer is None
            or peer.closed
            or self._hello is None
            or self.opts.push_interval <= 0
            or self._mutating
            or not self.mach.is1("HandshakeDone")
        ):
            return
        with self._snap_lock:
            latest = self._latest
            pending = bool(self._records)
        if latest is None or (not pending and latest.same_as(self._baseline, self._tracked)):
            return
        wait = self.opts.push_interval - (time.monotonic() - self._last_export)
        if wait > 0:
            # trailing edge: flush when the window ends, not at the next ticker round
            if self._flush_timer is None and self.loop is not None:
                self._flush_timer = self.loop.call_later(wait, self._flush)
            return
        upd, many = self._export()
        try:
            if many is not None:
                peer.notify(Method.SET_CLOCK_MANY, many.to_wire())
            elif upd is not None:
                peer.notify(Method.SET_CLOCK, upd.to_wire())
            self.pushes += 1
        except RpcError as err:
            self._push_failed(err)

    def _flush(self) -> None:
        self._flush_timer = None
        self._try_push()

    def _push_failed(self, err: Exception) -> None:
        log.warning("%s: push failed: %s", self.mach.id, err)
        if not self.mach.is_disposed():
            self.mach.add_err_state("ErrNetwork", err)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(max(self.opts.push_interval, 0.01) or 0.25)
            self._try_push()

    # -- requests ----------------------------------------------------------------------------------

    def on_request(self, peer: Peer, req: Request) -> None:
        try:
            self._handle_request(peer, req)
        except InvalidParamsError as err:
            self.mach.add_err_state("ErrRpc", err)
            peer.error(req.seq, ErrCode.INVALID_PARAMS, str(err))
        except NotConnectedError:
            pass  # the peer went away while we answered

    def _handle_request(self, peer: Peer, req: Request) -> None:
        m = req.method
        if m == Method.HELLO:
            self._on_hello(peer, req)
        elif m == Method.HANDSHAKE:
            self._on_handshake(peer, req)
        elif m in (Method.ADD, Method.REMOVE, Method.SET):
            if self._require_ready(peer, req.seq):
                self._on_mutation(peer, req.seq, m, req.body)
        elif m == Method.SYNC:
            if self._require_ready(peer, req.seq):
                self._on_sync(peer, req.seq)
        elif m == Method.ARGS:
            peer.respond(req.seq, {"args": []})
        elif m == Method.PING:
            peer.respond(req.seq, None)
        else:
            peer.error(req.seq, ErrCode.UNKNOWN_METHOD, f"unknown method {m}")

    def on_notify(self, peer: Peer, msg: Notify) -> None:
        if msg.method == Method.ADD_NS:
            if not self.mach.is1("HandshakeDone"):
                log.warning("%s: AddNS before handshake dropped", self.mach.id)
                return
            try:
                self._on_mutation(peer, None, Method.ADD, msg.body)
            except InvalidParamsError as err:
                self.mach.add_err_state("ErrRpc", err)
        elif msg.method == Method.CLOSE:
            self._on_bye(peer)
        else:
            log.warning("%s: unknown notification %s ignored", self.mach.id, msg.method)

    def on_response(self, peer: Peer, method: int | None, body: Any) -> Any:
        return body

    def _require_ready(self, peer: Peer, seq: int) -> bool:
        if not self.mach.is1("Start"):
            peer.error(seq, ErrCode.CANCELED, "canceled: server not started")
            return False
        if not self.mach.is1("HandshakeDone"):
            peer.error(seq, ErrCode.NOT_CONNECTED, "not connected: handshake not done")
            return False
        return True

    def _on_hello(self, peer: Peer, req: Request) -> None:
        if not self.mach.is1("Start"):
            peer.error(req.seq, ErrCode.CANCELED, "canceled: server not started")
            return
        try:
            hello = HelloReq.from_wire(req.body)
        except InvalidParamsError as err:
            self.mach.remove1("Handshaking")
            raise InvalidParamsError(f"handshake failed: {err}") from None
        allow = self.opts.allow_id
        if allow is not None:
            allowed = {allow} if isinstance(allow, str) else set(allow)
            if hello.id not in allowed:
                self.mach.remove1("Handshaking")
                want = allow if isinstance(allow, str) else ",".join(sorted(allowed))
                peer.error(req.seq, ErrCode.NO_ACCESS, f"no access: {hello.id} != {want}")
                return
        if self.opts.token is not None:
            got = (hello.auth or "").encode()
            if not hmac.compare_digest(got, self.opts.token.encode()):
                self.mach.remove1("Handshaking")
                if self.throttle is not None:
                    self.throttle.failed(self.peer_host)
                log.warning("%s: bad auth token from %s", self.mach.id, self.peer_host or "?")
                peer.error(req.seq, ErrCode.NO_ACCESS, "no access: bad auth token")
                peer.close("bad auth token")  # one guess per connection
                return
        names_, snap = source_snapshot(self.source)
        if len(names_) > self.opts.max_states:
            peer.error(req.seq, ErrCode.INVALID_PARAMS, f"too many states: {len(names_)}")
            return
        self._names = names_
        self._tracked = tracked_indexes(names_, hello.allowed, hello.skipped)
        self._synced = hello.sync_schema
        self._hello = hello
        peer.raise_read_limit()
        self._attach_tracer()
        self._rebase(snap)
        self.client_id = hello.id
        resp = self._hello_resp(snap, force_schema=False)
        self.mach.add1("Handshaking", {"id": hello.id})
        peer.respond(req.seq, resp.to_wire())

    def _rebase(self, snap: Snapshot) -> None:
        """A full set goes out with ``snap``: later diffs start from it, pending records go."""
        with self._snap_lock:
            self._latest = snap
            self._records = []
        self._baseline = snap
        self._last_export = time.monotonic()

    def _hello_resp(self, snap: Snapshot, force_schema: bool) -> HelloResp:
        hello = self._hello
        assert hello is not None
        schema_wire: dict[str, dict[str, Any]] | None = None
        if hello.sync_schema:
            src_schema = self.source.schema()
            wire = schema_to_wire(src_schema) if src_schema is not None else None
            if force_schema or not hello.schema_hash or hello.schema_hash != schema_hash(wire):
                schema_wire = wire
        tracked = self._tracked
        names_ = tuple(self._names) if self._synced else tuple(self._names[i] for i in tracked)
        ser = Serialized(
            id=self.source.id,
            names=names_,
            time=bound_time(snap, tracked, self._synced),
            queue_tick=snap.queue_tick,
            machine_tick=snap.machine_tick,
        )
        return HelloResp(ser, schema_wire, len(self._names))

    def _attach_tracer(self) -> None:
        if self._tracer is None:
            self._tracer = _SourceTracer(self)
            self.source.tracer_bind(self._tracer)

    def _on_handshake(self, peer: Peer, req: Request) -> None:
        if not self.mach.is1("Start"):
            peer.error(req.seq, ErrCode.CANCELED, "canceled: server not started")
            return
        if self._hello is None or not self.mach.is1("Handshaking"):
            peer.error(req.seq, ErrCode.NOT_CONNECTED, "not connected: HELLO first")
            return
        self.mach.add1("HandshakeDone", {"id": self.client_id})
        peer.respond(req.seq, None)
        if self._ticker is None:
            self._ticker = spawn(self._tick(), self._tasks, f"{self.mach.id}-push")

    def _on_mutation(self, peer: Peer, seq: int | None, method: int, body: Any) -> None:
        mut = MutationReq.from_wire(body)
        n = len(self._names) if self._synced else len(self._tracked)
        bad = [i for i in mut.states if i >= n]
        if bad:
            raise InvalidParamsError(f"mutation: state index {bad[0]} out of range ({n} states)")
        if self._synced:
            states = [self._names[i] for i in mut.states]
        else:
            states = [self._names[self._tracked[i]] for i in mut.states]  # Q6: client-bound
        fn = {
            Method.ADD: self.source.add,
            Method.REMOVE: self.source.remove,
            Method.SET: self.source.set,
        }[Method(method)]
        if self._inline():
            # no await anywhere: run, export and answer in one go (O1 holds trivially)
            self._mutating += 1
            try:
                with trace_context.incoming(mut.traceparent):
                    res: Any = fn(states, mut.args)
            except Exception as err:
                res = err
            self._finish_mutation(peer, seq, res, True)
            return
        loop = asyncio.get_running_loop()
        self._mutating += 1

        def work() -> None:
            try:
                with trace_context.incoming(mut.traceparent):
                    out: Any = fn(states, mut.args)
            except Exception as err:
                out = err
            try:
                loop.call_soon_threadsafe(self._finish_mutation, peer, seq, out, True)
            except RuntimeError:
                pass  # the loop is gone: the server stopped

        self._jobs.submit(work)

    def _inline(self) -> bool:
        """Run mutations on the loop thread? Only when they cannot block (see ServerOpts.inline)."""
        if self.opts.inline is not None:
            return self.opts.inline
        has = getattr(self.source, "has_handlers", None)
        if not callable(has) or has():
            return False
        # a NetMachine source blocks on its own network round trip
        return bool(getattr(self.source, "is_local", lambda: False)())

    def _finish_mutation(
        self, peer: Peer, seq: int | None, res: Any, threaded: bool = False
    ) -> None:
        """Answer a mutation on the loop: export the diff and respond (no awaits, O1)."""
        if threaded:
            self._mutating -= 1
        if isinstance(res, BaseException):
            log.error("%s: source mutation failed", self.mach.id, exc_info=res)
            if seq is not None and not peer.closed:
                with contextlib.suppress(NotConnectedError):
                    peer.error(seq, ErrCode.INTERNAL, f"internal: {res}")
            return
        if seq is None:
            self._try_push()
            return
        if peer.closed:
            return
        upd, many = self._export()
        with contextlib.suppress(NotConnectedError):
            peer.respond(seq, MutationResult(int(res), upd, many).to_wire())

    def _on_sync(self, peer: Peer, seq: int) -> None:
        with self._snap_lock:
            latest = self._latest
            self._records = []
        assert latest is not None
        self._baseline = latest
        self._last_export = time.monotonic()
        res = SyncResult(
            bound_time(latest, self._tracked, self._synced),
            latest.queue_tick,
            latest.machine_tick,
        )
        self.mach.add1("MetricSync")
        peer.respond(seq, res.to_wire())

    def _on_schema_change(self) -> None:
        peer = self.peer
        if peer is None or peer.closed or self._hello is None:
            return
        names_, snap = source_snapshot(self.source)
        hello = self._hello
        self._names = names_
        self._tracked = tracked_indexes(names_, hello.allowed, hello.skipped)
        self._rebase(snap)
        resp = self._hello_resp(snap, force_schema=True)
        try:
            fut = peer.start_call(Method.SCHEMA_CHANGE, resp.to_wire())
        except RpcError as err:
            self._push_failed(err)
            return
        spawn(self._await_call(peer, fut, "schema change"), self._tasks)

    async def _await_call(self, peer: Peer, fut: asyncio.Future[Any], what: str) -> None:
        try:
            await peer.wait_call(fut, self.opts.delivery_timeout)
        except RpcError as err:
            log.warning("%s: %s failed: %s", self.mach.id, what, err)

    def _on_bye(self, peer: Peer) -> None:
        """Client-initiated bye: drop the client, close the socket shortly after (spec §7.8)."""
        self.mach.remove1("ClientConnected")
        self.client_id = ""
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, peer.close, "client said bye")

    # -- payloads ----------------------------------------------------------------------------------

    async def send_payload_async(
        self, payload: Payload, event: Any = None, timeout: float | None = None
    ) -> None:
        """Deliver ``payload`` to the connected client; raises NotConnected / WrongDestination."""
        peer = self.peer
        if peer is None or peer.closed or not self.mach.is1("HandshakeDone"):
            raise NotConnectedError(f"{self.mach.id}: not connected")
        if payload.destination and payload.destination != self.client_id:
            raise WrongDestinationError(
                f"wrong destination: {payload.destination} != {self.client_id}"
            )
        source = getattr(event, "machine_id", "") if event is not None else ""
        source_tx = getattr(event, "transition_id", "") if event is not None else ""
        full = Payload(
            name=payload.name,
            data=payload.data,
            destination=payload.destination,
            token=secrets.token_hex(8),
            source=source or payload.source,
            source_tx=source_tx or payload.source_tx,
        )
        fut = peer.start_call(Method.SEND_PAYLOAD, full.to_wire())
        await peer.wait_call(fut, timeout or self.opts.delivery_timeout)

    def send_payload(
        self, payload: Payload, event: Any = None, timeout: float | None = None
    ) -> None:
        """Blocking :meth:`send_payload_async` for source handlers (they run in worker threads).

        Called on the server's own loop thread it cannot block: the payload is sent in the
        background and errors are logged.
        """
        loop = self.loop
        if loop is None or loop.is_closed():
            raise NotConnectedError(f"{self.mach.id}: not connected")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            spawn(self._send_bg(payload, event, timeout), self._tasks)
            return
        cf = asyncio.run_coroutine_threadsafe(
            self.send_payload_async(payload, event, timeout), loop
        )
        cf.result((timeout or self.opts.delivery_timeout) + 1)

    async def _send_bg(self, payload: Payload, event: Any, timeout: float | None) -> None:
        try:
            await self.send_payload_async(payload, event, timeout)
        except (RpcError, RemoteError) as err:
            log.warning("%s: payload %s not delivered: %s", self.mach.id, payload.name, err)

    # -- stopping ----------------------------------------------------------------------------------

    async def close_async(self, bye: bool = True) -> None:
        """Send BYE to the client (fix of Q12), close the connection, dispose the machine."""
        if self._closing:
            return
        self._closing = True
        peer = self.peer
        if peer is not None and not peer.closed:
            if bye and self.mach.is1("HandshakeDone"):
                try:
                    fut = peer.start_call(Method.BYE, None)
                    with contextlib.suppress(RpcError):
                        await peer.wait_call(fut, 0.1)
                except RpcError:
                    pass
            peer.close("server stopped")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(peer.wait_closed(), 1)
        self._teardown()
        for t in list(self._tasks):
            t.cancel()
        self._jobs.stop()
        if self._own_pool:
            self._jobs.pool.shutdown(wait=False, cancel_futures=True)
        self.mach.dispose()
