"""The basic states almost every machine has (Go ``states.BasicSchema``)."""

from __future__ import annotations

from ..schema import StatesBase
from ..types import State


class BasicStates(StatesBase):
    """Errors, lifecycle and liveness.

    - ``Exception``: the generic error state (multi: every error re-enters it).
    - ``ErrNetwork``, ``ErrHandlerTimeout``: detailed errors; adding one also adds ``Exception``
      and removing ``Exception`` removes them.
    - ``Start``: the machine should be working; removing it can force-stop the machine.
    - ``Ready``: the machine meets the criteria to perform work (requires ``Start``).
    - ``Healthcheck``: a periodic request making sure the machine is still alive
      (``am_core.helpers.healthcheck``).
    - ``Heartbeat``: a periodic state that ensures the integrity of the machine.
    """

    Exception = State(multi=True)
    ErrNetwork = State(multi=True, add=["Exception"], require=["Exception"])
    ErrHandlerTimeout = State(multi=True, add=["Exception"], require=["Exception"])
    Start = State()
    Ready = State(require=["Start"])
    Healthcheck = State(multi=True)
    Heartbeat = State()
