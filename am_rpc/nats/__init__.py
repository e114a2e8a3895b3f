"""asyncmachine on NATS (the ``[nats]`` extra: nats-py): machines exposed with the JSON messages
of asyncmachine-go's ``pkg/integrations``, telemetry to am-dbg, and PubSub (docs/protocol.md)."""

from am_rpc.nats.expose import (
    Exposed,
    ExposeStats,
    NatsRequestError,
    add,
    expose,
    get,
    remove,
    set_,
    when,
)

__all__ = [
    "ExposeStats",
    "Exposed",
    "NatsRequestError",
    "add",
    "expose",
    "get",
    "remove",
    "set_",
    "when",
]
