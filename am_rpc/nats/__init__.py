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
from am_rpc.nats.mirror import Mirror
from am_rpc.nats.pubsub import Member, PubSub, join
from am_rpc.nats.states import PubSubStates

__all__ = [
    "ExposeStats",
    "Exposed",
    "Member",
    "Mirror",
    "NatsRequestError",
    "PubSub",
    "PubSubStates",
    "add",
    "expose",
    "get",
    "join",
    "remove",
    "set_",
    "when",
]
