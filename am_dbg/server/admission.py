"""Who gets in on the ingest port, and for how long: the limits of docs/protocol.md, "Limits".

- **Secret**: with a token (``--token`` / ``AM_DBG_TOKEN``) the first frame must be
  ``{"k": "hello", "token": ...}`` with it (compared in constant time); failures are throttled
  (at most `AUTH_FAILS_PER_S` checked per second, the rest refused unchecked) and logged at most
  once a second with a count.
- **Not yet established** connections (no machine announced yet: connected, maybe a preamble,
  maybe authenticated) have their own small cap and a handshake timeout; when the cap is full the
  oldest of them is closed to make room, so idle or unauthenticated sockets can never lock a real
  sender out. A connection whose machines all left is back to this state, with the idle timeout.
- **Out of descriptors** (EMFILE/ENFILE on accept): asyncio pauses accepting for a second and
  retries; the server logs one line, counts the rest, and closes the oldest not-established
  connection to free a descriptor.
- **Loopback by default**: a listener on another address refuses to start without a token unless
  ``insecure`` is set.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import logging
import socket
import time
from collections import OrderedDict
from typing import Any

__all__ = ["AUTH_FAILS_PER_S", "Admission", "is_loopback"]

log = logging.getLogger("am_dbg.server")

AUTH_FAILS_PER_S = 10
_FD_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback one."""
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


class Admission:
    """Caps, timeouts, the secret and the accept-error filter of one `IngestServer`."""

    def __init__(
        self,
        token: str,
        *,
        max_pending: int,
        handshake_timeout: float,
        idle_timeout: float,
    ) -> None:
        self.token = token
        self.max_pending = max_pending
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        # connections not established yet (oldest first) -> their timeout handle
        self.pending: OrderedDict[Any, asyncio.TimerHandle | None] = OrderedDict()
        self.auth_failures = 0
        self.auth_throttled = 0
        self.accept_errors = 0
        self.evicted = 0
        self.timed_out = 0
        self._fails: list[float] = []  # times of recent checked failures
        self._fail_logged = 0.0
        self._fail_unlogged = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prev_handler: Any = None

    # -- not-established connections ----------------------------------------------------------

    def hold(self, conn: Any, idle: bool = False) -> None:
        """``conn`` is (again) not established: cap it, time it out (loop thread)."""
        loop = self._loop or asyncio.get_running_loop()
        self.release(conn)
        while len(self.pending) >= self.max_pending:
            oldest, _ = next(iter(self.pending.items()))
            self.release(oldest)
            self.evicted += 1
            oldest.drop("too many connections not established yet: closed the oldest")
        timeout = self.idle_timeout if idle else self.handshake_timeout
        what = "idle (no machines)" if idle else "no machine announced"
        self.pending[conn] = loop.call_later(
            timeout, self._expire, conn, f"{what} after {timeout:g} s"
        )

    def release(self, conn: Any) -> None:
        """``conn`` is established (or gone)."""
        handle = self.pending.pop(conn, None)
        if handle is not None:
            handle.cancel()

    def _expire(self, conn: Any, why: str) -> None:
        if self.pending.pop(conn, None) is not None:
            self.timed_out += 1
            conn.drop(why)

    def free_one(self) -> bool:
        """Close the oldest not-established connection (to free a descriptor)."""
        if not self.pending:
            return False
        oldest, _ = next(iter(self.pending.items()))
        self.release(oldest)
        self.evicted += 1
        oldest.drop("out of file descriptors: closed the oldest connection not established")
        return True

    # -- the secret ---------------------------------------------------------------------------

    def check(self, presented: str | None, peer: str) -> str:
        """ "" when ``presented`` is the secret (or none is needed), else the refusal reason."""
        if not self.token:
            return ""
        now = time.monotonic()
        self._fails = [t for t in self._fails if now - t < 1.0]
        if len(self._fails) >= AUTH_FAILS_PER_S:
            self.auth_throttled += 1
            self._note_fail(peer, now)
            return "too many authentication failures; try again later"
        if presented is not None and hmac.compare_digest(
            presented.encode("utf-8", "surrogatepass"), self.token.encode()
        ):
            return ""
        self._fails.append(now)
        self.auth_failures += 1
        self._note_fail(peer, now)
        return "authentication failed" if presented else "authentication required (no hello)"

    def _note_fail(self, peer: str, now: float) -> None:
        if now - self._fail_logged >= 1.0:
            extra = (
                f" (+{self._fail_unlogged} more since the last line)" if self._fail_unlogged else ""
            )
            log.warning("authentication failure from %s%s", peer, extra)
            self._fail_logged = now
            self._fail_unlogged = 0
        else:
            self._fail_unlogged += 1

    # -- accept errors ------------------------------------------------------------------------

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Filter the loop's accept errors (out of descriptors): one line, then a count."""
        self._loop = loop
        self._prev_handler = loop.get_exception_handler()
        loop.set_exception_handler(self._on_loop_error)

    def uninstall(self) -> None:
        if self._loop is not None and self._loop.get_exception_handler() == self._on_loop_error:
            self._loop.set_exception_handler(self._prev_handler)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
        exc = ctx.get("exception")
        if (
            isinstance(exc, OSError)
            and exc.errno in _FD_ERRNOS
            and "accept" in ctx.get("message", "")
        ):
            self.accept_errors += 1
            if self.accept_errors == 1:
                log.error(
                    "cannot accept connections: %s; pausing accept for 1 s and retrying "
                    "(further failures are counted, not logged)",
                    exc.strerror or exc,
                )
            self.free_one()
            return
        if self._prev_handler is not None:
            self._prev_handler(loop, ctx)
        else:
            loop.default_exception_handler(ctx)
