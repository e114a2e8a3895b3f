"""`MachineApi`: the API a local `Machine` and a remote `am_rpc.NetMachine` share (docs/api.md).

Code typed against `MachineApi` works with either: the same states, mutations, waits and clocks,
whether the machine runs in this process or behind aRPC. Parameter types are the narrowest both
accept (e.g. ``Sequence[str]`` for a list of states), results the widest either returns (e.g.
``schema()`` may be ``None`` on a NetMachine before its handshake). ``am_rpc/machine_api.py``
makes mypy check that both classes satisfy it. Local-only features (``eval``, relations, handler
maps, breakpoints, ``import_``) are on `Machine` alone.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .clock import Clock, Time
    from .ctx import Ctx
    from .event import Event
    from .machine import Serialized
    from .transition import Transition
    from .types import Result, Schema
    from .waiting import Waiter

__all__ = ["MachineApi"]


class MachineApi(Protocol):
    """A state machine, local or remote: read states, mutate them, wait on them."""

    # identity

    @property
    def id(self) -> builtins.str:
        """Id is the machine's ID."""
        ...

    @property
    def parent_id(self) -> builtins.str:
        """ParentId is the ID of the parent machine ("" for none)."""
        ...

    @property
    def tags(self) -> list[builtins.str]:
        """Tags are the machine's tags (a copy)."""
        ...

    def set_tags(self, tags: Sequence[builtins.str]) -> None:
        """SetTags replaces the machine's tags."""
        ...

    def is_local(self) -> bool:
        """IsLocal is True for a machine running in this process, False for a NetMachine."""
        ...

    # mutations

    def add(
        self, states: Sequence[builtins.str], args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """Add activates states, keeping the active ones."""
        ...

    def add1(self, state: builtins.str, args: dict[builtins.str, Any] | None = None) -> Result:
        """Add1 is Add for a single state."""
        ...

    def remove(
        self, states: Sequence[builtins.str], args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """Remove deactivates states."""
        ...

    def remove1(self, state: builtins.str, args: dict[builtins.str, Any] | None = None) -> Result:
        """Remove1 is Remove for a single state."""
        ...

    def set(
        self, states: Sequence[builtins.str], args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """Set makes states (plus what they imply) the only active states."""
        ...

    def toggle(
        self, states: Sequence[builtins.str], args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """Toggle removes states when all are active, else adds them."""
        ...

    def toggle1(self, state: builtins.str, args: dict[builtins.str, Any] | None = None) -> Result:
        """Toggle1 is Toggle for a single state."""
        ...

    def add_err(self, err: BaseException, args: dict[builtins.str, Any] | None = None) -> Result:
        """AddErr activates Exception carrying err."""
        ...

    def add_err_state(
        self, state: builtins.str, err: BaseException, args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """AddErrState activates state and Exception carrying err."""
        ...

    def ev_add(
        self,
        event: Event | None,
        states: Sequence[builtins.str],
        args: dict[builtins.str, Any] | None = None,
    ) -> Result:
        """EvAdd is Add recording the transition of event as the source."""
        ...

    def ev_add1(
        self, event: Event | None, state: builtins.str, args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """EvAdd1 is EvAdd for a single state."""
        ...

    def ev_remove(
        self,
        event: Event | None,
        states: Sequence[builtins.str],
        args: dict[builtins.str, Any] | None = None,
    ) -> Result:
        """EvRemove is Remove recording the transition of event as the source."""
        ...

    def ev_remove1(
        self, event: Event | None, state: builtins.str, args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """EvRemove1 is EvRemove for a single state."""
        ...

    def ev_toggle(
        self,
        event: Event | None,
        states: Sequence[builtins.str],
        args: dict[builtins.str, Any] | None = None,
    ) -> Result:
        """EvToggle is Toggle recording the transition of event as the source."""
        ...

    def ev_toggle1(
        self, event: Event | None, state: builtins.str, args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """EvToggle1 is EvToggle for a single state."""
        ...

    def ev_add_err(
        self, event: Event | None, err: BaseException, args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """EvAddErr is AddErr recording the transition of event as the source."""
        ...

    def ev_add_err_state(
        self,
        event: Event | None,
        state: builtins.str,
        err: BaseException,
        args: dict[builtins.str, Any] | None = None,
    ) -> Result:
        """EvAddErrState is AddErrState recording the transition of event as the source."""
        ...

    def can_add(
        self, states: Sequence[builtins.str], args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """CanAdd dry-runs Add: relations and negotiation, nothing applied."""
        ...

    def can_add1(self, state: builtins.str, args: dict[builtins.str, Any] | None = None) -> Result:
        """CanAdd1 is CanAdd for a single state."""
        ...

    def can_remove(
        self, states: Sequence[builtins.str], args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """CanRemove dry-runs Remove: relations and negotiation, nothing applied."""
        ...

    def can_remove1(
        self, state: builtins.str, args: dict[builtins.str, Any] | None = None
    ) -> Result:
        """CanRemove1 is CanRemove for a single state."""
        ...

    # reading states

    def is_(self, states: Sequence[builtins.str]) -> bool:
        """Is is True when all states are active."""
        ...

    def is1(self, state: builtins.str) -> bool:
        """Is1 is Is for a single state."""
        ...

    def not_(self, states: Sequence[builtins.str]) -> bool:
        """Not is True when none of states is active."""
        ...

    def not1(self, state: builtins.str) -> bool:
        """Not1 is Not for a single state."""
        ...

    def any(self, *groups: Sequence[builtins.str]) -> bool:
        """Any is True when any of the groups is fully active."""
        ...

    def any1(self, *states: builtins.str) -> bool:
        """Any1 is True when any of states is active."""
        ...

    def switch(self, *groups: Sequence[builtins.str]) -> builtins.str:
        """Switch returns the first active state found in the groups, else ""."""
        ...

    def has(self, states: Sequence[builtins.str]) -> bool:
        """Has is True when every state is in the schema."""
        ...

    def has1(self, state: builtins.str) -> bool:
        """Has1 is Has for a single state."""
        ...

    def is_err(self) -> bool:
        """IsErr is True while Exception is active."""
        ...

    def err(self) -> BaseException | None:
        """Err returns the last error (kept after Exception is removed)."""
        ...

    def active_states(self, states: Sequence[builtins.str] | None = None) -> list[builtins.str]:
        """ActiveStates lists the active states (of states, when given)."""
        ...

    def state_names(self) -> list[builtins.str]:
        """StateNames lists every state in index order."""
        ...

    def parse_states(self, states: Sequence[builtins.str]) -> list[builtins.str]:
        """ParseStates keeps the known states, de-duplicated."""
        ...

    def index(self, states: Sequence[builtins.str]) -> list[int]:
        """Index returns the indexes of states (-1 for an unknown one)."""
        ...

    def index1(self, state: builtins.str) -> int:
        """Index1 is Index for a single state."""
        ...

    def schema(self) -> Schema | None:
        """Schema returns the machine's schema (None on a NetMachine without one yet)."""
        ...

    def groups(self) -> tuple[dict[builtins.str, list[int]], list[builtins.str]]:
        """Groups returns the state groups (name -> indexes) and their order."""
        ...

    @property
    def states_verified(self) -> bool:
        """StatesVerified is True once the state order is fixed."""
        ...

    # clocks

    def tick(self, state: builtins.str) -> int:
        """Tick returns the state's tick (odd: active, even: inactive)."""
        ...

    def clock(self, states: Sequence[builtins.str] | None = None) -> Clock:
        """Clock returns state name -> tick (of states, when given)."""
        ...

    def time(self, states: Sequence[builtins.str] | None = None) -> Time:
        """Time returns the ticks in index order (of states, when given)."""
        ...

    def machine_tick(self) -> int:
        """MachineTick counts the imports of this machine's state (each import_ adds one)."""
        ...

    def queue_tick(self) -> int:
        """QueueTick returns the tick of the mutation queue."""
        ...

    def queue_len(self) -> int:
        """QueueLen returns the number of queued mutations."""
        ...

    def is_clock(self, clock: dict[builtins.str, int]) -> bool:
        """IsClock is True when the ticks now equal clock."""
        ...

    def was_clock(self, clock: dict[builtins.str, int]) -> bool:
        """WasClock is True when every tick now is at least clock's."""
        ...

    def is_time(self, t: Sequence[int], states: Sequence[builtins.str] | None = None, /) -> bool:
        """IsTime is True when the ticks now equal t."""
        ...

    def was_time(self, t: Sequence[int], states: Sequence[builtins.str] | None = None, /) -> bool:
        """WasTime is True when every tick now is at least t's."""
        ...

    def transition(self) -> Transition | None:
        """Transition returns the running transition, if any (always None on a NetMachine)."""
        ...

    # waiting

    def when(self, states: Sequence[builtins.str], ctx: Ctx | None = None) -> Waiter:
        """When waits until all states are active at the same time."""
        ...

    def when1(self, state: builtins.str, ctx: Ctx | None = None) -> Waiter:
        """When1 is When for a single state."""
        ...

    def when_not(self, states: Sequence[builtins.str], ctx: Ctx | None = None) -> Waiter:
        """WhenNot waits until all states are inactive at the same time."""
        ...

    def when_not1(self, state: builtins.str, ctx: Ctx | None = None) -> Waiter:
        """WhenNot1 is WhenNot for a single state."""
        ...

    def when_args(
        self, state: builtins.str, args: dict[builtins.str, Any], ctx: Ctx | None = None
    ) -> Waiter:
        """WhenArgs waits for an activation of state whose args contain all of args."""
        ...

    def when_err(self, ctx: Ctx | None = None) -> Waiter:
        """WhenErr waits until Exception is active."""
        ...

    def when_next_active(self, state: builtins.str, ctx: Ctx | None = None) -> Waiter:
        """WhenNextActive waits for the next activation of state."""
        ...

    def when_ticks(self, state: builtins.str, ticks: int, ctx: Ctx | None = None) -> Waiter:
        """WhenTicks waits until state ticked ticks more times."""
        ...

    def when_time(
        self, states: Sequence[builtins.str], times: Sequence[int], ctx: Ctx | None = None
    ) -> Waiter:
        """WhenTime waits until every tick(states[i]) >= times[i]."""
        ...

    def when_time1(self, state: builtins.str, tick: int, ctx: Ctx | None = None) -> Waiter:
        """WhenTime1 is WhenTime for a single state."""
        ...

    def when_query(
        self, fn: Callable[[dict[builtins.str, int]], bool], ctx: Ctx | None = None
    ) -> Waiter:
        """WhenQuery waits until fn(clock) is True after a transition."""
        ...

    def when_queue(self, tick: int) -> Waiter:
        """WhenQueue waits until the queue reaches tick."""
        ...

    def when_queue_ends(self) -> Waiter:
        """WhenQueueEnds waits until the running queue drains."""
        ...

    def when_disposed(self) -> Waiter:
        """WhenDisposed waits until the machine is disposed."""
        ...

    # contexts and forks

    def context(self) -> Ctx:
        """Context returns the machine's context, cancelled when it is disposed."""
        ...

    def new_state_ctx(self, state: builtins.str) -> Ctx:
        """NewStateCtx returns a context cancelled when state's tick changes."""
        ...

    def go(self, ctx: Ctx | None, fn: Callable[..., Any]) -> None:
        """Go runs fn under ctx; its errors activate Exception."""
        ...

    def go_after(self, ctx: Ctx | None, delay: float, fn: Callable[..., Any]) -> None:
        """GoAfter is Go after delay seconds, skipped when ctx expired meanwhile."""
        ...

    def fork(self, ctx: Ctx | None, event: Event | None, fn: Callable[..., Any]) -> None:
        """Fork is Go from a handler, only while event's transition is valid."""
        ...

    # handlers, tracers, lifecycle

    def handlers_bind(self, obj: Any) -> builtins.str:
        """HandlersBind binds obj's handler methods and returns the binding's ID."""
        ...

    def handlers_detach(self, binding_id: builtins.str) -> None:
        """HandlersDetach unbinds the handlers bound as binding_id."""
        ...

    def has_handlers(self) -> bool:
        """HasHandlers is True when any handlers are bound."""
        ...

    def tracer_bind(self, tracer: Any) -> builtins.str:
        """TracerBind attaches a tracer and returns its ID."""
        ...

    def tracer_detach(self, tracer: Any) -> None:
        """TracerDetach detaches a tracer (by object or ID)."""
        ...

    def tracers(self) -> list[Any]:
        """Tracers lists the attached tracers."""
        ...

    def log(self, msg: builtins.str, *args: Any) -> None:
        """Log writes an external log line."""
        ...

    def export(self) -> tuple[Serialized, Schema]:
        """Export returns the machine's serialised clocks and its schema."""
        ...

    def inspect(self, states: Sequence[builtins.str] | None = None) -> builtins.str:
        """Inspect renders states with their ticks and relations, one per line."""
        ...

    def str(self) -> builtins.str:
        """Str renders the active states with their ticks, e.g. "(A:1 B:3)"."""
        ...

    def string_all(self) -> builtins.str:
        """StringAll renders every state with its tick, active ones first."""
        ...

    def dispose(self) -> None:
        """Dispose shuts the machine down (idempotent)."""
        ...

    def is_disposed(self) -> bool:
        """IsDisposed is True once the machine is disposed."""
        ...
