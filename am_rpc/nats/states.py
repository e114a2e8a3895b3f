"""The schema of a PubSub member's own machine (`am_rpc.nats.pubsub`): its lifecycle and what it
hears about the other members, one transition per event, so am-dbg shows a member like any
other machine (docs/protocol.md, "PubSub over NATS")."""

from __future__ import annotations

from am_core import State, StatesBase

__all__ = ["PubSubStates"]


class PubSubStates(StatesBase):
    Exception = State(multi=True)
    Start = State()
    """Subscribed to the topic; announcing itself."""
    Joined = State(require=["Start"])
    """Announced (its hello went out): the others can see it."""
    MemberJoined = State(multi=True)
    """Another member appeared (args ``{"id": member id}``), or came back after being gone."""
    MemberGone = State(multi=True)
    """A member said bye, or sent nothing for ``gone_after`` seconds (args ``{"id": ...}``)."""
