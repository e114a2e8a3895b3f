"""Entry points: ``serve`` / ``connect`` (blocking, own I/O thread) and their ``*_async`` twins."""

from __future__ import annotations

from typing import Any, TypeVar

from am_core.types import Schema
from am_rpc.client import Client, ClientOpts
from am_rpc.errors import HandshakeError
from am_rpc.loop_thread import LoopThread, track
from am_rpc.mux import Mux
from am_rpc.server import ServerOpts
from am_rpc.transport import Addr

OptsT = TypeVar("OptsT", ServerOpts, ClientOpts)


def _opts(cls: type[OptsT], opts: OptsT | None, kw: dict[str, Any]) -> OptsT:
    if opts is not None and kw:
        raise TypeError("pass either opts= or keyword options, not both")
    return opts or cls(**kw)


def _handshake_failed(client: Client, addr: str | Addr, timeout: float) -> HandshakeError:
    """Close ``client``, which did not get ready in time, and say why."""
    reason = client.last_error() or "no answer"
    client.close()
    return HandshakeError(f"could not connect to {addr} within {timeout}s: {reason}")


def serve(
    source: Any,
    addr: str | Addr = "127.0.0.1:0",
    *,
    name: str = "",
    max_clients: int = 1000,
    workers: int = 8,
    opts: ServerOpts | None = None,
    **kw: Any,
) -> Mux:
    """Expose ``source`` on ``addr`` (loopback by default) from a thread of its own; returns the Mux.

    Keyword options are :class:`ServerOpts` fields (``push_interval``, ``max_frame``, ``allow_id``,
    ``token``, ``hello_timeout``...). ``workers`` threads run source mutations (each connection's
    in order). ``mux.addr`` is the bound address; ``mux.close()`` stops it.
    """
    o = _opts(ServerOpts, opts, kw)
    mux = Mux(source, name=name, opts=o, max_clients=max_clients, workers=workers)
    thread = LoopThread(f"rm-{mux.name}")
    try:
        thread.run(mux.start_async(addr), 10)
    except BaseException:
        thread.stop()
        raise
    mux._thread = thread
    track(mux)
    return mux


async def serve_async(
    source: Any,
    addr: str | Addr = "127.0.0.1:0",
    *,
    name: str = "",
    max_clients: int = 1000,
    workers: int = 8,
    opts: ServerOpts | None = None,
    **kw: Any,
) -> Mux:
    """Like :func:`serve`, on the running loop; stop it with ``await mux.close_async()``."""
    o = _opts(ServerOpts, opts, kw)
    mux = Mux(source, name=name, opts=o, max_clients=max_clients, workers=workers)
    await mux.start_async(addr)
    return mux


def _client(
    addr: str | Addr,
    id: str,
    schema: Schema | None,
    consumer: Any,
    opts: ClientOpts | None,
    kw: dict[str, Any],
) -> Client:
    return Client(addr, id=id, schema=schema, consumer=consumer, opts=_opts(ClientOpts, opts, kw))


def connect(
    addr: str | Addr,
    id: str = "",
    *,
    schema: Schema | None = None,
    consumer: Any = None,
    timeout: float = 5.0,
    opts: ClientOpts | None = None,
    **kw: Any,
) -> Client:
    """Connect to an aRPC server and return once the handshake is done.

    The client is named ``rc-<id>`` and its NetMachine (``client.mach``) ``rnm-<id>``. Keyword
    options are :class:`ClientOpts` fields. Raises :class:`HandshakeError` with the reason when not
    ready within ``timeout`` seconds (the client is closed then).
    """
    client = _client(addr, id, schema, consumer, opts, kw)
    client.start()
    if not client.wait_ready(timeout):
        raise _handshake_failed(client, addr, timeout)
    return client


async def connect_async(
    addr: str | Addr,
    id: str = "",
    *,
    schema: Schema | None = None,
    consumer: Any = None,
    timeout: float = 5.0,
    opts: ClientOpts | None = None,
    **kw: Any,
) -> Client:
    """Like :func:`connect` without blocking the running loop.

    The client's I/O still runs in its own thread, so the NetMachine's blocking mutations stay
    safe; asyncio code waits with ``await nm.when1(...)``. Close with ``client.close()``.
    """
    client = _client(addr, id, schema, consumer, opts, kw)
    client.start()
    if not await client.wait_ready_async(timeout):
        raise _handshake_failed(client, addr, timeout)
    return client
