"""Connection status states (Go ``states.ConnectedSchema``)."""

from __future__ import annotations

from ..schema import StatesBase
from ..types import State

_GROUP = ["Connecting", "Connected", "Disconnecting", "Disconnected"]


class ConnectedStates(StatesBase):
    """Exactly one of four connection states: each removes the others. ``Disconnected`` is auto,
    so it comes back on its own when nothing else of the group is active. Pipe them into another
    machine with ``am_core.pipes.bind_connected``."""

    Connecting = State(remove=list(_GROUP))
    Connected = State(remove=list(_GROUP))
    Disconnecting = State(remove=list(_GROUP))
    Disconnected = State(auto=True, remove=list(_GROUP))
