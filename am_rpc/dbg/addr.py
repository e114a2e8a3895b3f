"""`HOST:PORT` parsing shared by the telemetry sender and the am-dbg ingest server."""

from __future__ import annotations

__all__ = ["DEFAULT_DBG_ADDR", "join_addr", "split_addr"]

DEFAULT_DBG_ADDR = "localhost:6831"


def split_addr(addr: str) -> tuple[str, int]:
    """``"host:port"`` / ``"[::1]:port"`` -> ``(host, port)``; ``"1"`` means the default address.

    Raises ``ValueError`` with the reason for anything else (port must be 0-65535).
    """
    if addr == "1":
        addr = DEFAULT_DBG_ADDR
    host, sep, port_s = addr.rpartition(":")
    if not sep or not port_s:
        raise ValueError(f"expected HOST:PORT, got {addr!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_s)
    except ValueError:
        raise ValueError(f"port must be a number in {addr!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0-65535 in {addr!r}")
    return host or "localhost", port


def join_addr(host: str, port: int) -> str:
    """The inverse of `split_addr`: ``"host:port"``, IPv6 hosts in brackets (``"[::1]:6831"``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
