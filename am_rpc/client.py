"""aRPC client: connects to a server and keeps a :class:`~am_rpc.netmach.NetMachine` in sync.

Network I/O runs on an asyncio loop; with :func:`~am_rpc.connect` that loop lives in a thread the
client owns, so the NetMachine's blocking ``Machine`` API can be called from scripts, threads and
handlers without deadlocks. The reader applies every clock diff in wire order, including those in
responses (before the caller sees the result, even after the caller timed out): spec §5.7 O1-O4.

Faults (spec §7.4, §8): calls time out for real and are retried (at-least-once) across reconnects;
a call made while not ``Ready`` returns ``CANCELED`` at once; the connection is re-established with
backoff, and every reconnect installs a fresh absolute snapshot, so the mirror converges. A server
that says BYE is being redeployed: the client dials again with the same backoff (``stop_on_bye``
keeps Go's "BYE means stop"). A server that answers *no access* (wrong id or token) is not
retried: the client ends in ``ConnRetryFailed``. A client dropped without ``close()`` keeps
running (its tasks hold it) and is closed by an exit hook (docs/arpc.md "Closing").
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any, TypeVar

from am_core.types import Result, Schema
from am_rpc import codec, trace_context
from am_rpc.clock import schema_hash
from am_rpc.errors import (
    CallTimeoutError,
    ChecksumError,
    EncodeError,
    HandshakeError,
    InvalidParamsError,
    NotConnectedError,
    RemoteError,
    RpcError,
)
from am_rpc.loop_thread import LoopOwner, LoopThread, track
from am_rpc.netmach import NetMachine, schema_from_wire, schema_to_wire
from am_rpc.peer import Peer, exchange_preamble_client, spawn
from am_rpc.protocol import (
    ArgsResult,
    ErrCode,
    Event,
    HelloReq,
    HelloResp,
    Method,
    MutationReq,
    MutationResult,
    Notify,
    Payload,
    Request,
    SyncResult,
    Update,
    UpdateMany,
)
from am_rpc.server import new_machine
from am_rpc.states import CLIENT_SCHEMA
from am_rpc.transport import Addr, open_connection

log = logging.getLogger("am_rpc")
_T = TypeVar("_T")

_MUTATION_METHODS = {0: Method.ADD, 1: Method.REMOVE, 2: Method.SET}
_REMOTE_ERR_STATES: dict[int, str] = {
    ErrCode.INVALID_PARAMS: "ErrRpc",
    ErrCode.UNKNOWN_METHOD: "ErrRpc",
    ErrCode.DECODE: "ErrRpc",
    ErrCode.NOT_CONNECTED: "ErrNetwork",
    ErrCode.WRONG_DESTINATION: "ErrDelivery",
    ErrCode.TIMEOUT: "ErrNetworkTimeout",
}
"""Client error state per ERROR code (spec §13.6); anything else is a generic Exception."""


@dataclass(slots=True)
class ClientOpts:
    """Client settings; defaults are the spec's (§7.4, §13.9)."""

    conn_timeout: float = 3.0
    call_timeout: float = 3.0
    call_retries: int = 15
    call_retry_delay: float = 0.1
    call_retry_backoff: float = 10.0
    call_retry_timeout: float = 60.0
    conn_retries: int = 50
    conn_retry_delay: float = 1.0
    conn_retry_backoff: float = 10.0
    conn_retry_timeout: float = 300.0
    hello_tries: int = 50
    hello_retry_delay: float = 0.1
    hello_retry_backoff: float = 10.0
    hello_delay: float = 0.0
    disconn_cooldown: float = 0.01
    reconnect: bool = True
    stop_on_bye: bool = False
    """Go's behaviour: a server's BYE ends the client (``ConnRetryFailed`` never; ``Start`` is
    removed). By default a BYE is a redeploy: the client reconnects with the §7.4 backoff."""
    max_frame: int = codec.DEFAULT_MAX_FRAME
    token: str | None = None
    no_schema: bool = False
    allowed: Sequence[str] | None = None
    skipped: Sequence[str] | None = None
    sync_mutations: bool = False
    ssl: SSLContext | None = None
    """TLS: e.g. ``ssl.create_default_context(cafile=...)``."""
    server_hostname: str | None = None


class _ClientHandlers:
    """Client errors are events, not sticky states (spec §7.3): Exception is removed at once."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def ExceptionState(self, e: Any) -> None:
        self.client.client_mach.remove1("Exception")


class Client(LoopOwner):
    """An aRPC client. ``client.mach`` is the NetMachine; ``client.client_mach`` is ``rc-<name>``."""

    def __init__(
        self,
        addr: str | Addr,
        *,
        id: str = "",
        schema: Schema | None = None,
        consumer: Any = None,
        opts: ClientOpts | None = None,
    ) -> None:
        self.addr = addr
        self.opts = opts or ClientOpts()
        self.name = id or secrets.token_hex(3)
        self.client_mach = new_machine(CLIENT_SCHEMA, f"rc-{self.name}", tags=("rpc-client",))
        self.client_mach.handlers_bind(_ClientHandlers(self))
        self.mach = NetMachine(
            f"rnm-{self.name}", remote=self, schema=schema, parent_id=self.client_mach.id
        )
        self.consumer = consumer
        self.peer: Peer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0
        self.syncs = 0
        self._thread: LoopThread | None = None
        self._main: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = False
        self._turns: collections.deque[Callable[[], None]] = collections.deque()
        self._ready_evt: asyncio.Event | None = None
        self._ready_flag = threading.Event()
        self._stopped_flag = threading.Event()
        self._stopping = False
        self._planned = False
        self._no_access: str | None = None
        self._dirty = False
        self._sync_scheduled = False
        self._last_error: str = ""
        self._deliver: ThreadPoolExecutor | None = None
        self._closer: asyncio.Task[None] | None = None

    @property
    def net_mach(self) -> NetMachine:
        return self.mach

    @property
    def ready(self) -> bool:
        return self._ready_flag.is_set()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in a thread the client owns (non-blocking)."""
        if self._thread is None and self.loop is None:
            self._thread = LoopThread(f"rc-{self.name}")
            track(self)
            self._thread.run(self.start_async())

    async def start_async(self) -> None:
        """Start connecting on the running loop (use :meth:`start` for blocking-API callers)."""
        self.loop = asyncio.get_running_loop()
        self._ready_evt = asyncio.Event()
        self.client_mach.add1("Start")
        self._main = spawn(self._conn_loop(), self._tasks, f"{self.client_mach.id}-conn")
        _RUNNING.add(self)
        self._main.add_done_callback(lambda _t: _RUNNING.discard(self))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the handshake is done (or the client gave up); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready_flag.is_set():
            if self._stopped_flag.is_set():
                return False
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._ready_flag.wait(0.05 if left is None else min(left, 0.05))
        return True

    async def wait_ready_async(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.wait_ready, timeout)

    def last_error(self) -> str:
        """Why the client is not ready (the last connection or handshake failure)."""
        return self._no_access or self._last_error

    # -- connection loop ---------------------------------------------------------------------------

    async def _conn_loop(self) -> None:
        o = self.opts
        delay = o.conn_retry_delay
        rounds = 0
        started = time.monotonic()
        mach = self.client_mach
        try:
            while not self._stopping:
                was_ready = await self._connect_once()
                if self._stopping or self._planned or not o.reconnect:
                    break
                if was_ready:
                    rounds, delay, started = 0, o.conn_retry_delay, time.monotonic()
                rounds += 1
                if (
                    self._no_access
                    or rounds > o.conn_retries
                    or time.monotonic() - started > o.conn_retry_timeout
                ):
                    mach.add1("ConnRetryFailed")
                    break
                mach.add1("RetryingConn", {"round": rounds})
                await asyncio.sleep(delay)
                delay = min(delay * 2, o.conn_retry_backoff)
        finally:
            self._stopped_flag.set()

    def _err(self, state: str, err: BaseException) -> None:
        """Add an error state, classified like Go; network errors while disconnected are ignored."""
        mach = self.client_mach
        self._last_error = f"{state}: {err}"
        if mach.is_disposed():
            return
        if state == "ErrNetwork" and mach.any1("Disconnecting", "Disconnected"):
            return
        log.info("%s: %s: %s", mach.id, state, err)
        exc = err if isinstance(err, Exception) else RpcError(str(err))
        if state == "Exception":
            mach.add_err(exc)
        else:
            mach.add_err_state(state, exc)

    async def _connect_once(self) -> bool:
        """One connection: dial, preamble, handshake, then wait for it to end. True if Ready."""
        o = self.opts
        mach = self.client_mach
        mach.add1("Connecting")
        try:
            reader, writer = await open_connection(
                self.addr, o.conn_timeout, o.ssl, o.server_hostname
            )
        except (OSError, TimeoutError) as err:
            self._err("ErrNetwork", err if str(err) else TimeoutError("dial timeout"))
            mach.remove1("Connecting")
            return False
        caps = codec.Cap.PING | (codec.Cap.AUTH if o.token else 0)
        try:
            eff = await exchange_preamble_client(reader, writer, caps, o.conn_timeout)
        except (RpcError, OSError, TimeoutError, asyncio.IncompleteReadError) as err:
            writer.close()
            self._err("ErrRpc", err if str(err) else TimeoutError("no preamble from server"))
            mach.remove1("Connecting")
            return False
        peer = Peer(reader, writer, self, max_frame=o.max_frame, caps=eff, name=mach.id)
        self.peer = peer
        reader_task = spawn(peer.run(), self._tasks, f"{mach.id}-reader")
        mach.add1("Connected")
        ready = False
        try:
            if o.hello_delay:
                await asyncio.sleep(o.hello_delay)
            ready = await self._handshake(peer, eff)
            await peer.wait_closed()
        finally:
            self._set_ready(False)
            peer.close("connection ended")
            with contextlib.suppress(asyncio.CancelledError):
                await reader_task
            self.peer = None
            if not mach.is_disposed():
                mach.remove(["Connected", "Connecting", "Handshaking", "HandshakeDone"])
        return ready

    def _set_ready(self, on: bool) -> None:
        if on:
            self._ready_flag.set()
            if self._ready_evt is not None:
                self._ready_evt.set()
        else:
            self._ready_flag.clear()
            if self._ready_evt is not None:
                self._ready_evt.clear()

    async def _handshake(self, peer: Peer, caps: int) -> bool:
        o = self.opts
        mach = self.client_mach
        schema = self.mach.schema()
        hello = HelloReq(
            id=mach.id,
            sync_schema=not o.no_schema,
            schema_hash="" if o.no_schema or not schema else schema_hash(schema_to_wire(schema)),
            sync_mutations=o.sync_mutations,
            allowed=None if o.allowed is None else tuple(o.allowed),
            skipped=None if o.skipped is None else tuple(o.skipped),
            auth=o.token if (o.token and caps & codec.Cap.AUTH) else None,
        )
        delay = o.hello_retry_delay
        for _ in range(max(1, o.hello_tries)):
            try:
                await peer.call(Method.HELLO, hello.to_wire(), o.call_timeout / 2)
                break
            except RemoteError as err:
                if err.code == ErrCode.NO_ACCESS:
                    self._no_access = err.message
                    self._err("Exception", HandshakeError(err.message))
                    peer.close(err.message)
                    return False
                self._err("ErrRpc", err)
            except HandshakeError as err:
                self._err("ErrRpc", err)
                peer.close(str(err))
                return False
            except CallTimeoutError as err:
                self._err("ErrNetworkTimeout", err)
            except (NotConnectedError, RpcError) as err:
                self._last_error = str(err)
                return False
            if peer.closed:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, o.hello_retry_backoff)
        else:
            peer.close("HELLO retries exhausted")
            return False
        try:
            await peer.call(Method.HANDSHAKE, None, o.call_timeout)
        except RpcError as err:
            self._err("ErrRpc" if isinstance(err, RemoteError) else "ErrNetwork", err)
            peer.close(f"handshake failed: {err}")
            return False
        mach.add1("HandshakeDone", {"id": self.mach.remote_id()})
        self._set_ready(True)
        return True

    # -- incoming frames (reader, wire order) ------------------------------------------------------

    def _decode(self, from_wire: Callable[[Any], _T], body: Any) -> _T:
        """``from_wire(body)``; a malformed response is also an ``ErrRpc`` on the client."""
        try:
            return from_wire(body)
        except InvalidParamsError as err:
            self._err("ErrRpc", err)
            raise

    def on_response(self, peer: Peer, method: int | None, body: Any) -> Any:
        if method == Method.HELLO:
            return self._install_hello(body)
        if method in (Method.ADD, Method.REMOVE, Method.SET):
            res = self._decode(MutationResult.from_wire, body)
            self._apply(res.update, res.many)
            return Result(res.result)
        if method == Method.SYNC:
            sync = self._decode(SyncResult.from_wire, body)
            names = self.mach.state_names()
            if len(sync.time) != len(names):
                err2 = RpcError(f"wrong clock len: {len(sync.time)} != {len(names)}")
                self._err("ErrRpc", err2)
                raise err2
            self.mach._install(names, sync.time, sync.queue_tick, sync.machine_tick, None)
            self._dirty = False
            self.syncs += 1
            if not self.client_mach.is_disposed():
                self.client_mach.add1("MetricSync")
            return sync
        return body

    def _install_hello(self, body: Any) -> HelloResp:
        try:
            resp = HelloResp.from_wire(body)
        except InvalidParamsError as err:
            raise HandshakeError(f"invalid HELLO response: {err}") from None
        ser = resp.serialized
        if not ser.names:
            raise HandshakeError("states missing")
        if not ser.id:
            raise HandshakeError("ID missing")
        schema: Schema | None = None
        if resp.schema is not None:
            schema = schema_from_wire(resp.schema)
        elif not self.opts.no_schema and self.mach.schema() is None:
            raise HandshakeError("schema missing")
        if self.opts.no_schema:
            self.mach._install(ser.names, ser.time, ser.queue_tick, ser.machine_tick, None, False)
        else:
            self.mach._install(ser.names, ser.time, ser.queue_tick, ser.machine_tick, schema)
        self.mach._set_remote_id(ser.id)
        self._dirty = False
        return resp

    def _apply(self, upd: Update | None, many: UpdateMany | None) -> None:
        if self._dirty:
            return  # a Sync is on its way; it resets everything
        try:
            if many is not None:
                self.mach._apply_many(many)
            elif upd is not None:
                self.mach._apply_update(upd)
        except ChecksumError as err:
            log.info("%s: %s; syncing", self.client_mach.id, err)
            self._dirty = True
            self._schedule_sync()

    def _schedule_sync(self) -> None:
        if self._sync_scheduled or self.loop is None:
            return
        self._sync_scheduled = True

        async def run() -> None:
            try:
                await self.sync_async()
            finally:
                self._sync_scheduled = False

        spawn(run(), self._tasks, f"{self.client_mach.id}-sync")

    def on_notify(self, peer: Peer, msg: Notify) -> None:
        try:
            if msg.method == Method.SET_CLOCK:
                if msg.body is None:
                    raise InvalidParamsError("invalid params: empty clock update")
                self._apply(Update.from_wire(msg.body), None)
            elif msg.method == Method.SET_CLOCK_MANY:
                self._apply(None, UpdateMany.from_wire(msg.body))
            else:
                self._err("ErrRpc", RpcError(f"unknown notification {msg.method}"))
        except InvalidParamsError as err:
            self._err("ErrRpc", err)

    def on_request(self, peer: Peer, req: Request) -> None:
        try:
            if req.method == Method.SEND_PAYLOAD:
                self._on_payload(peer, req)
            elif req.method == Method.BYE:
                peer.respond(req.seq, None)
                if self.opts.stop_on_bye:
                    self._planned = True
                    if not self.client_mach.is_disposed():
                        self.client_mach.remove1("Start")
                # otherwise a redeploy: the connection loop dials again, with backoff
                peer.close("server said bye")
            elif req.method == Method.SCHEMA_CHANGE:
                self._install_hello(req.body)
                peer.respond(req.seq, None)
            elif req.method == Method.PING:
                peer.respond(req.seq, None)
            else:
                peer.error(req.seq, ErrCode.UNKNOWN_METHOD, f"unknown method {req.method}")
        except (InvalidParamsError, HandshakeError) as err:
            self._err("ErrRpc", err)
            with contextlib.suppress(RpcError):
                peer.error(req.seq, ErrCode.INVALID_PARAMS, str(err))
        except NotConnectedError:
            pass

    def _on_payload(self, peer: Peer, req: Request) -> None:
        if req.body is None:
            self._err("ErrDelivery", RpcError("invalid payload"))
            peer.error(req.seq, ErrCode.INVALID_PARAMS, "invalid payload")
            return
        payload = Payload.from_wire(req.body)
        peer.respond(req.seq, None)
        args = {"name": payload.name, "payload": payload}
        self.client_mach.add1("ServerPayload", args)
        if self.consumer is None:
            return  # no consumer: dropped, like Go
        if self._deliver is None:
            self._deliver = ThreadPoolExecutor(1, thread_name_prefix=f"{self.client_mach.id}-pay")
        self._deliver.submit(self.consumer.add1, "ServerPayload", args)

    def on_close(self, peer: Peer, reason: str | None) -> None:
        if reason and not self._stopping and not self._planned:
            self._last_error = reason

    # -- calls -------------------------------------------------------------------------------------
    #
    # One call in flight per client, FIFO (spec §4.4): ``_acquire_cb`` runs a starter now or when
    # the previous call ends. The blocking NetMachine path (``remote_mutate``) costs two loop
    # iterations: one to write, one when the reader applies the answer and wakes the caller.
    # Failures hand over to ``_retry_loop`` (a task), which keeps the turn until it is done.

    def _acquire_cb(self, start: Callable[[], None]) -> None:
        if self._busy:
            self._turns.append(start)
        else:
            self._busy = True
            start()

    def _release(self) -> None:
        if self._turns:
            self._turns.popleft()()  # the turn passes on; still busy
        else:
            self._busy = False

    async def _acquire(self) -> None:
        assert self.loop is not None
        fut: asyncio.Future[None] = self.loop.create_future()

        def start() -> None:
            if fut.cancelled():
                self._release()
            else:
                fut.set_result(None)

        self._acquire_cb(start)
        await fut

    def _max_wait(self) -> float:
        o = self.opts
        return o.call_timeout * (o.call_retries + 2) + o.call_retry_timeout + 5

    def remote_mutate(
        self, mtype: int, idxs: list[int], args: dict[str, Any] | None, event: Event | None
    ) -> Result:
        """Blocking remote mutation for the NetMachine (see spec §4.4)."""
        body = self._mutation_body(idxs, args, event)
        loop = self.loop
        if loop is None or loop.is_closed() or self._stopping:
            return Result.CANCELED
        if self._on_loop_thread():
            log.error(
                "%s: blocking mutation from the client's I/O thread (a NetMachine handler?) "
                "refused; use add_ns() or a task",
                self.client_mach.id,
            )
            return Result.CANCELED
        cf: concurrent.futures.Future[Result] = concurrent.futures.Future()
        try:
            loop.call_soon_threadsafe(self._start_mutation, _MUTATION_METHODS[mtype], body, cf)
            return cf.result(self._max_wait())
        except Exception:  # the loop went away under us
            return Result.CANCELED

    def _start_mutation(
        self, method: Method, body: Any, cf: concurrent.futures.Future[Result]
    ) -> None:
        """On the loop: send now or after the calls ahead of this one; resolve ``cf``."""
        if not self.ready or self._stopping:
            self._err("ErrNetwork", NotConnectedError(f"not connected: {method.name.lower()}"))
            cf.set_result(Result.CANCELED)
            return
        loop = self.loop
        assert loop is not None

        def finish(res: Any) -> None:
            self._release()
            if not cf.done():
                cf.set_result(res if isinstance(res, Result) else Result.CANCELED)

        def hand_over(err: BaseException) -> None:
            # keep the turn: the retry loop releases it when done
            self._classify(err)

            async def retry() -> None:
                try:
                    finish(await self._retry_loop(method, body))
                except BaseException:
                    finish(None)
                    raise

            spawn(retry(), self._tasks, f"{self.client_mach.id}-retry")

        def start() -> None:
            peer = self.peer
            if peer is None or peer.closed or not self.ready:
                hand_over(NotConnectedError("not connected"))
                return
            timer: asyncio.TimerHandle | None = None

            def answered(value: Any, err: BaseException | None) -> None:
                if timer is not None:
                    timer.cancel()
                if err is None:
                    finish(value)
                elif isinstance(err, CallTimeoutError | NotConnectedError):
                    hand_over(err)
                else:
                    self._classify(err)
                    finish(None)

            try:
                seq = peer.start_call_cb(method, body, answered)
            except RpcError as err:
                hand_over(err)
                return
            self.calls += 1
            timeout = self.opts.call_timeout
            timer = loop.call_later(
                timeout,
                lambda: peer.abandon(seq, CallTimeoutError(f"no answer within {timeout}s")),
            )

        self._acquire_cb(start)

    def _mutation_body(
        self, idxs: list[int], args: dict[str, Any] | None, event: Event | None
    ) -> dict[str, Any]:
        body = MutationReq(tuple(idxs), args or None, event, trace_context.outgoing()).to_wire()
        if args:
            try:
                codec.pack(args)
            except EncodeError as err:
                raise InvalidParamsError(
                    f"invalid params: args are not msgpack-encodable: {err}"
                ) from err
        return body

    async def mutate_async(self, mtype: int, body: dict[str, Any]) -> Result:
        """Send a mutation body and return the source's Result (CANCELED on failures)."""
        if not self.ready:
            name = _MUTATION_METHODS[mtype].name.lower()
            self._err("ErrNetwork", NotConnectedError(f"not connected: {name}"))
            return Result.CANCELED
        await self._acquire()
        try:
            res = await self._call_retrying(_MUTATION_METHODS[mtype], body)
        finally:
            self._release()
        return res if isinstance(res, Result) else Result.CANCELED

    async def _call_once(self, method: int, body: Any) -> Any:
        peer = self.peer
        if peer is None or peer.closed:
            raise NotConnectedError("not connected")
        self.calls += 1
        return await peer.call(method, body, self.opts.call_timeout)

    def _classify(self, err: BaseException) -> None:
        if isinstance(err, CallTimeoutError):
            self._err("ErrNetworkTimeout", err)
        elif isinstance(err, RemoteError):
            self._err(_REMOTE_ERR_STATES.get(err.code, "Exception"), err)
        else:
            self._err("ErrRpc", err)

    async def _call_retrying(self, method: int, body: Any) -> Any:
        """One call; on a transport failure retry it after reconnects (spec §7.4 callFailsafe)."""
        try:
            return await self._call_once(method, body)
        except (CallTimeoutError, NotConnectedError) as err:
            self._classify(err)
        except RpcError as err:  # an ERROR answer or an invalid response: no retry
            self._classify(err)
            return None
        return await self._retry_loop(method, body)

    async def _retry_loop(self, method: int, body: Any) -> Any:
        """Re-send after backoff, waiting for Ready in between, so calls survive reconnects."""
        o = self.opts
        mach = self.client_mach
        if not mach.is_disposed():
            mach.add1("RetryingCall", {"method": Method(method).name.lower()})
        delay = o.call_retry_delay
        started = time.monotonic()
        assert self._ready_evt is not None
        for _ in range(o.call_retries):
            await asyncio.sleep(delay)
            delay = min(delay * 2, o.call_retry_backoff)
            left = o.call_retry_timeout - (time.monotonic() - started)
            if left <= 0 or self._stopping:
                break
            try:
                await asyncio.wait_for(self._ready_evt.wait(), left)
            except TimeoutError:
                break
            try:
                res = await self._call_once(method, body)
            except (CallTimeoutError, NotConnectedError) as err:
                self._classify(err)
                continue
            except RpcError as err:
                self._classify(err)
                res = None
            if not mach.is_disposed():
                mach.remove1("RetryingCall")
            return res
        if not mach.is_disposed():
            mach.add1("CallRetryFailed")
        return None

    def remote_mutate_ns(self, mtype: int, idxs: list[int], args: dict[str, Any] | None) -> Result:
        """Fire-and-forget Add: EXECUTED once written, CANCELED without a connection."""
        body = self._mutation_body(idxs, args, None)
        loop = self.loop
        if loop is None or loop.is_closed() or self._stopping:
            return Result.CANCELED
        if self._on_loop_thread():
            return self._notify_now(body)
        cf: concurrent.futures.Future[Result] = concurrent.futures.Future()

        def send() -> None:
            cf.set_result(self._notify_now(body))

        try:
            loop.call_soon_threadsafe(send)
            return cf.result(self._max_wait())
        except Exception:
            return Result.CANCELED

    def _notify_now(self, body: Any) -> Result:
        peer = self.peer
        if peer is None or peer.closed:
            self._err("ErrNetwork", NotConnectedError("not connected: add_ns"))
            return Result.CANCELED
        try:
            peer.notify(Method.ADD_NS, body)
        except RpcError as err:
            self._err("ErrNetwork", err)
            return Result.CANCELED
        self.calls += 1
        return Result.EXECUTED

    async def sync_async(self) -> bool:
        """Fetch the source's absolute clock and install it (resets the server's baseline)."""
        if self.loop is None:
            return False
        await self._acquire()
        try:
            await self._call_once(Method.SYNC, None)
            return True
        except RpcError as err:
            self._classify(err)
            return False
        finally:
            self._release()

    def args(self, timeout: float | None = None) -> list[str]:
        """Names of the server's typed args (Go's ArgsBase; ours has none registered: [])."""
        loop = self.loop
        if loop is None or loop.is_closed() or self._on_loop_thread():
            return []

        async def call() -> list[str]:
            await self._acquire()
            try:
                body = await self._call_once(Method.ARGS, None)
            except RpcError as err:
                self._classify(err)
                return []
            finally:
                self._release()
            return list(ArgsResult.from_wire(body).args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    def sync(self) -> bool:
        """Blocking :meth:`sync_async`."""
        loop = self.loop
        if loop is None or loop.is_closed() or self._on_loop_thread():
            return False
        return asyncio.run_coroutine_threadsafe(self.sync_async(), loop).result()

    # -- stopping ----------------------------------------------------------------------------------

    async def stop_async(self, dispose: bool = True) -> None:
        """Say BYE, close the connection, stop reconnecting; dispose the machines if asked."""
        if self._stopping:
            return
        self._stopping = True
        mach = self.client_mach
        peer = self.peer
        if not mach.is_disposed():
            mach.add1("Disconnecting")
        if peer is not None and not peer.closed:
            with contextlib.suppress(RpcError):
                peer.notify(Method.CLOSE, None)
            await asyncio.sleep(self.opts.disconn_cooldown)
            peer.close("client stopped")
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        for t in list(self._tasks):
            t.cancel()
        self._set_ready(False)
        self._stopped_flag.set()
        if not mach.is_disposed():
            mach.remove(["Disconnecting", "Start"])
        if self._deliver is not None:
            self._deliver.shutdown(wait=False)
        if dispose:
            self.mach.dispose()
            mach.dispose()

    def close(self, dispose: bool = True) -> None:
        """Blocking stop; also ends the client's loop thread.

        Called from the client's own I/O thread (a NetMachine handler), it cannot block: the stop
        is scheduled and happens right after the handler returns.
        """
        # the scheduled stop is not in self._tasks: stop_async cancels those
        self._close_blocking(lambda: self.stop_async(dispose))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_RUNNING: set[Client] = set()
"""Started clients, held until their connection loop ends: their tasks must not become garbage
while pending (a dropped client runs until ``close()`` or interpreter exit, then stops cleanly)."""
