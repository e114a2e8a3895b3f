"""Mux: one listener, one :class:`~am_rpc.server.Server` per accepted connection (docs/arpc.md).

Its machine is ``rm-<name>``; servers are ``rs-<name>-<n>``. A connection that sends garbage, an
oversize frame or a wrong preamble is closed with a logged reason; the other connections and the
listener are untouched. Beyond loopback a token is required (or ``insecure``); a wrong token
closes its connection and counts against its peer address (:class:`~am_rpc.auth.AuthThrottle`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from typing import Any

from am_rpc.auth import AuthThrottle, check_exposure
from am_rpc.errors import NotConnectedError, RpcError, WrongDestinationError
from am_rpc.loop_thread import LoopOwner, LoopThread
from am_rpc.protocol import Payload
from am_rpc.server import Server, ServerOpts, new_machine
from am_rpc.states import MUX_SCHEMA
from am_rpc.transport import Addr, start_server

log = logging.getLogger("am_rpc")


def check_source(source: Any) -> None:
    """Refuse sources the spec forbids (§1.1), with a message that says what to do."""
    if not getattr(source, "states_verified", True):
        raise RpcError(
            f"source {source.id}: states are not verified; call verify_states(names) first"
        )
    has_handlers = getattr(source, "has_handlers", None)
    bound = bool(has_handlers()) if callable(has_handlers) else False
    if bound and "ErrOnClient" not in source.state_names():
        raise RpcError(
            f"source {source.id} has handlers but no 'ErrOnClient' state; merge "
            "am_rpc.states.STATE_SOURCE_SCHEMA into its schema (docs/arpc.md)"
        )


def _peer_host(writer: asyncio.StreamWriter) -> str:
    """The peer's IP (its port left out: one host, one throttle), or "unix" for a Unix socket."""
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return "unix"


class Mux(LoopOwner):
    """Listens on ``addr`` and serves ``source`` to many clients, one Server each."""

    def __init__(
        self,
        source: Any,
        *,
        name: str = "",
        opts: ServerOpts | None = None,
        max_clients: int = 1000,
        workers: int = 8,
    ) -> None:
        check_source(source)
        self.source = source
        self.name = name or source.id
        self.opts = opts or ServerOpts()
        self.max_clients = max_clients
        self.mach = new_machine(MUX_SCHEMA, f"rm-{self.name}", tags=("rpc-mux",))
        self.servers: list[Server] = []
        self.addr = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Server | None = None
        self._thread: LoopThread | None = None
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._closer: asyncio.Task[None] | None = None
        self._n = 0
        self.connections = 0
        self.disconnections = 0
        self.throttle = AuthThrottle(self.opts.auth_failures, self.opts.auth_window)
        # source mutations of all connections run here, each connection's in arrival order
        self._pool = concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix=f"rm-{self.name}"
        )

    async def start_async(self, addr: str | Addr = "127.0.0.1:0") -> str:
        """Bind and start accepting; returns the bound address (port 0 resolved)."""
        check_exposure(addr, self.opts.token, self.opts.insecure)
        self.loop = asyncio.get_running_loop()
        self.mach.add1("Start")
        try:
            self._listener, bound = await start_server(self._on_conn, addr, self.opts.ssl)
        except OSError as err:
            self.mach.add_err_state("ErrNetwork", err)
            raise
        self.addr = str(bound)
        self.mach.add1("Ready", {"addr": self.addr})
        return self.addr

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        try:
            if len(self.servers) >= self.max_clients:
                log.warning("%s: refusing connection: %d clients", self.mach.id, self.max_clients)
                writer.close()
                return
            host = _peer_host(writer)
            if self.opts.token and self.throttle.blocked(host):
                self.throttle.refused += 1
                if self.throttle.refused == 1 or self.throttle.refused % 1000 == 0:
                    log.warning(
                        "%s: refusing %s: too many bad tokens (%d refused so far)",
                        self.mach.id,
                        host,
                        self.throttle.refused,
                    )
                writer.close()
                return
            self._n += 1
            self.connections += 1
            try:
                srv = Server(
                    self.source,
                    name=f"{self.name}-{self._n}",
                    opts=self.opts,
                    parent_id=self.mach.id,
                    pool=self._pool,
                    throttle=self.throttle,
                    peer_host=host,
                )
            except Exception as err:
                self.mach.add1("NewServerErr", {"err": err})
                writer.close()
                self.disconnections += 1
                return
            self.servers.append(srv)
            self.mach.add1("ClientConnected")  # an event: it removes itself
            self.mach.remove1("ClientConnected")
            self.mach.add1("HasClients")
            try:
                await srv.serve_conn(reader, writer)
            finally:
                with contextlib.suppress(ValueError):
                    self.servers.remove(srv)
                self.disconnections += 1
                await srv.close_async(bye=False)
                if not self.servers and not self.mach.is_disposed():
                    self.mach.remove1("HasClients")
        finally:
            if task is not None:
                self._conn_tasks.discard(task)

    # -- payloads ----------------------------------------------------------------------------------

    def ready_servers(self) -> list[Server]:
        return [s for s in self.servers if s.ready]

    def send_payload(
        self, payload: Payload, event: Any = None, timeout: float | None = None
    ) -> int:
        """Deliver to ``payload.destination`` (a client id), or to every ready client when empty.

        Blocking; call it from source handlers (worker threads). Returns how many clients got it;
        raises :class:`NotConnectedError` when none could.
        """
        targets = self.ready_servers()
        if payload.destination:
            targets = [s for s in targets if s.client_id == payload.destination]
        sent = 0
        for srv in targets:
            try:
                srv.send_payload(payload, event, timeout)
                sent += 1
            except (RpcError, TimeoutError) as err:
                log.warning("%s: payload to %s failed: %s", self.mach.id, srv.client_id, err)
        if not sent:
            if payload.destination:
                raise WrongDestinationError(f"no connected client {payload.destination}")
            raise NotConnectedError(f"{self.mach.id}: no connected client")
        return sent

    # -- stopping ----------------------------------------------------------------------------------

    async def close_async(self, bye: bool = True) -> None:
        """Stop listening, say BYE to every client and dispose the servers and the machine.

        ``bye=False`` drops the connections without a word, like a crashed process: clients
        then reconnect with backoff.
        """
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        servers = list(self.servers)
        await asyncio.gather(*(s.close_async(bye=bye) for s in servers), return_exceptions=True)
        for t in list(self._conn_tasks):
            t.cancel()
        if self._conn_tasks:
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if not self.mach.is_disposed():
            self.mach.remove1("Start")
            self.mach.dispose()

    def close(self, bye: bool = True) -> None:
        """Blocking close; also stops the loop thread of :func:`serve`.

        Called on the Mux's own loop (a handler running inline), it cannot block: the close is
        scheduled and happens right after.
        """
        self._close_blocking(lambda: self.close_async(bye))

    def __enter__(self) -> Mux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
