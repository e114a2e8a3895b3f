"""An optional W3C ``traceparent`` carried with aRPC mutations (docs/arpc.md#trace-context).

am_rpc does not depend on OpenTelemetry: a tracing integration (am_rpc/telemetry/otel.py)
registers two callables here. The client asks ``outgoing()`` for the traceparent of the calling
code's current span and sends it with the mutation; the server runs the mutation inside
``incoming(traceparent)``, so that the integration can link the resulting transition to it.
Nothing registered, or no span current: nothing is sent and nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

# version 00, as the W3C Trace Context recommendation defines it (lowercase hex)
TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

_outgoing: Callable[[], str | None] | None = None
_incoming: Callable[[str], AbstractContextManager[object]] | None = None


def register(
    outgoing: Callable[[], str | None],
    incoming: Callable[[str], AbstractContextManager[object]],
) -> None:
    """Install the integration's provider (client side) and receiver (server side)."""
    global _outgoing, _incoming
    _outgoing, _incoming = outgoing, incoming


def unregister() -> None:
    global _outgoing, _incoming
    _outgoing = _incoming = None


def outgoing() -> str | None:
    """The traceparent to send with a mutation made now on this thread, or None."""
    fn = _outgoing
    return fn() if fn is not None else None


def incoming(traceparent: str | None) -> AbstractContextManager[object]:
    """A context to run a received mutation in (a no-op without a traceparent or a receiver)."""
    fn = _incoming
    if traceparent is None or fn is None:
        return nullcontext()
    return fn(traceparent)
