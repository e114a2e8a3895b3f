"""NATS addresses and the telemetry subject layout (docs/protocol.md, "Telemetry over NATS").

``nats://HOST:PORT[?prefix=P&durable=NAME&stream=S]``; subjects:

- ``<prefix>.m.<machine>``: every telemetry frame of one machine (schema, txs, disc);
- ``<prefix>.hello``: a listener that just started asks every sender to re-send its schemas;
- ``<prefix>.alive``: every sender process says which channels it has, every few seconds;
- ``<prefix>.listening``: every listener says it is there, every few seconds and when asked on
  ``<prefix>.probe`` (a sender that just connected asks).

A machine id becomes one subject token: characters other than ``A-Z a-z 0-9 _ -`` are written
``~XX`` (hex), so ids with dots or wildcards cannot break the layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_STREAM",
    "EXTRA_HINT",
    "NatsAddr",
    "is_nats_addr",
    "parse_nats_addr",
    "require_client",
]

EXTRA_HINT = "nats:// needs the [nats] extra: pip install 'asyncmachine-py[nats]'"


def require_client() -> None:
    """Raise ``ValueError`` with the install hint when nats-py is missing."""
    import importlib.util

    if importlib.util.find_spec("nats") is None:
        raise ValueError(EXTRA_HINT)


DEFAULT_PREFIX = "amdbg"
DEFAULT_STREAM = "AMDBG"
_TOKEN_OK = re.compile(r"[^A-Za-z0-9_-]")
_SUBJECT_OK = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def is_nats_addr(addr: str | None) -> bool:
    return bool(addr) and str(addr).startswith("nats://")


def token(mach_id: str) -> str:
    """A machine id as one subject token (see the module docstring)."""
    return _TOKEN_OK.sub(lambda m: "".join(f"~{b:02x}" for b in m.group().encode()), mach_id) or "~"


@dataclass(frozen=True, slots=True)
class NatsAddr:
    url: str  # nats://host:port, what nats-py dials
    host: str
    port: int
    prefix: str = DEFAULT_PREFIX
    durable: str = ""  # a JetStream durable consumer name ("" = none given)
    stream: str = DEFAULT_STREAM

    def mach_subject(self, mach_id: str) -> str:
        return f"{self.prefix}.m.{token(mach_id)}"

    @property
    def all_machs(self) -> str:
        return f"{self.prefix}.m.>"

    @property
    def hello(self) -> str:
        return f"{self.prefix}.hello"

    @property
    def alive(self) -> str:
        return f"{self.prefix}.alive"

    @property
    def listening(self) -> str:
        return f"{self.prefix}.listening"

    @property
    def probe(self) -> str:
        return f"{self.prefix}.probe"


def parse_nats_addr(addr: str) -> NatsAddr:
    """Parse ``nats://HOST:PORT[?prefix=&durable=&stream=]``; ``ValueError`` says what is wrong."""
    parts = urlsplit(addr)
    if parts.scheme != "nats" or not parts.hostname:
        raise ValueError(f"expected nats://HOST:PORT, got {addr!r}")
    try:
        port = parts.port or 4222
    except ValueError:
        raise ValueError(f"port must be a number 0-65535 in {addr!r}") from None
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - {"prefix", "durable", "stream"}
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} in {addr!r}")
    prefix = query.get("prefix", DEFAULT_PREFIX)
    if not _SUBJECT_OK.fullmatch(prefix):
        raise ValueError(f"prefix must be subject tokens (A-Z a-z 0-9 _ -, dots), got {prefix!r}")
    for key in ("durable", "stream"):
        if key in query and not re.fullmatch(r"[A-Za-z0-9_-]+", query[key]):
            raise ValueError(f"{key} must be a name of A-Z a-z 0-9 _ -, got {query[key]!r}")
    host = parts.hostname
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return NatsAddr(
        url=f"nats://{netloc}",
        host=host,
        port=port,
        prefix=prefix,
        durable=query.get("durable", ""),
        stream=query.get("stream", DEFAULT_STREAM),
    )
