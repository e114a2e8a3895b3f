"""Reusable state sets (Go ``pkg/states``): mix them into your own schema by inheritance.

::

    from am_core import Machine, State
    from am_core.states import BasicStates, ConnectedStates

    class Client(BasicStates, ConnectedStates):
        Sending = State(require=["Connected"])

    mach = Machine(Client.schema())
"""

from .basic import BasicStates
from .connected import ConnectedStates
from .disposed import DISPOSED_ARG_HANDLER, DisposedHandlers, DisposedStates

__all__ = [
    "DISPOSED_ARG_HANDLER",
    "BasicStates",
    "ConnectedStates",
    "DisposedHandlers",
    "DisposedStates",
]
