"""Who may listen where, and how fast a peer may guess a token (docs/arpc.md "Security").

A listener reachable from other hosts must check a secret; without one it refuses to start unless
the caller says ``insecure=True``. A failed token closes its connection, and a peer address with
too many recent failures is refused at accept for a while, so guessing costs real time.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque

from am_rpc.errors import RpcError
from am_rpc.transport import Addr, parse_addr

__all__ = ["AuthThrottle", "check_exposure", "is_loopback"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IPs (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other hosts may resolve to a routable address


def check_exposure(addr: str | Addr, token: str | None, insecure: bool) -> None:
    """Refuse to listen beyond loopback without a token, unless ``insecure``."""
    a = parse_addr(addr)
    if a.kind == "unix" or token or insecure or is_loopback(a.host):
        return
    raise RpcError(
        f"refusing to listen on {a} without a token: other hosts could drive the source; "
        "pass token=... (clients then pass the same token=) or insecure=True"
    )


class AuthThrottle:
    """Counts failed authentications per peer address over a sliding window.

    ``blocked(peer)`` is true once ``max_failures`` failed within ``window`` seconds: the
    listener then closes that peer's new connections without reading them.
    """

    def __init__(self, max_failures: int = 5, window: float = 60.0) -> None:
        self.max_failures = max_failures
        self.window = window
        self.refused = 0  # connections closed because their peer was blocked
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, peer: str, now: float) -> deque[float]:
        q = self._fails.get(peer)
        if q is None:
            return deque()
        while q and now - q[0] > self.window:
            q.popleft()
        if not q:
            del self._fails[peer]
        return q

    def blocked(self, peer: str) -> bool:
        return len(self._recent(peer, time.monotonic())) >= self.max_failures

    def failed(self, peer: str) -> None:
        now = time.monotonic()
        self._recent(peer, now)
        if len(self._fails) > 10_000:  # bounded: forget the oldest peer
            self._fails.pop(next(iter(self._fails)))
        self._fails.setdefault(peer, deque()).append(now)
