"""Addresses and byte streams: TCP (``host:port``) and Unix sockets (``unix:/path``).

Servers bind loopback unless told otherwise: ``":0"`` and ``"0"`` mean ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ssl import SSLContext

DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Addr:
    """A parsed address: ``kind`` is ``"tcp"`` or ``"unix"``."""

    kind: str
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_addr(addr: str | Addr) -> Addr:
    """``"127.0.0.1:0"``, ``"localhost:6831"``, ``"[::1]:80"``, ``":0"`` or ``"unix:/path"``."""
    if isinstance(addr, Addr):
        return addr
    if addr.startswith("unix:"):
        path = addr[5:]
        if not path:
            raise ValueError("unix address needs a path: 'unix:/path/to.sock'")
        return Addr("unix", path=path)
    host, sep, port_s = addr.rpartition(":")
    if not sep:
        host, port_s = "", addr
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_s)
    except ValueError:
        raise ValueError(f"bad address {addr!r}: expected HOST:PORT or unix:/path") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"bad port {port} in {addr!r}")
    return Addr("tcp", host=host, port=port)


ConnHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def start_server(
    handler: ConnHandler, addr: str | Addr, ssl: SSLContext | None = None
) -> tuple[asyncio.Server, Addr]:
    """Listen on ``addr`` (TLS with ``ssl``); return the server and the bound address."""
    a = parse_addr(addr)
    if a.kind == "unix":
        with contextlib.suppress(FileNotFoundError):
            if os.path.exists(a.path) and not os.path.isfile(a.path):
                os.unlink(a.path)  # a stale socket from a previous run
        server = await asyncio.start_unix_server(handler, a.path, ssl=ssl)
        return server, a
    server = await asyncio.start_server(handler, a.host, a.port, ssl=ssl)
    sock = server.sockets[0].getsockname()
    return server, Addr("tcp", host=a.host, port=sock[1])


async def open_connection(
    addr: str | Addr,
    timeout: float,
    ssl: SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Dial ``addr`` within ``timeout`` seconds (TLS with ``ssl``)."""
    a = parse_addr(addr)
    if a.kind == "unix":
        return await asyncio.wait_for(
            asyncio.open_unix_connection(
                a.path, ssl=ssl, server_hostname=server_hostname or ("localhost" if ssl else None)
            ),
            timeout,
        )
    return await asyncio.wait_for(
        asyncio.open_connection(a.host, a.port, ssl=ssl, server_hostname=server_hostname),
        timeout,
    )
