"""am-dbg for a python-statemachine ``StateMachine`` / ``StateChart`` (synchronous engine).

``attach(sm, addr)`` streams the schema (every state of ``states_map``, nested ones by their
unique id; a child requires its parent, siblings of a non-parallel parent remove each other; each
state tagged with the events that lead to it) and every event as a transition: source, target,
args, result, the states exited and entered, the exception if any. It adds one listener and wraps
the instance's ``_put_nonblocking`` / ``_processing_loop`` to see events that change nothing or
raise; the machine's behaviour is unchanged. What maps and what not: docs/adapters.md.
"""

from __future__ import annotations

from typing import Any

from am_rpc.dbg.raw import MUT_ADD, RawSender, StateDef

__all__ = ["StateMachineAdapter", "attach"]

EXCEPTION = "Exception"


class _Listener:
    """python-statemachine calls these by parameter name."""

    def __init__(self, adapter: StateMachineAdapter) -> None:
        self.adapter = adapter

    def on_exit_state(self, state: Any) -> None:
        self.adapter._steps.append(f"[exit] {state.id}")

    def on_enter_state(self, state: Any) -> None:
        self.adapter._steps.append(f"[enter] {state.id}")

    def after_transition(self, event: Any, source: Any, target: Any, event_data: Any) -> None:
        self.adapter._executed(event, source, target, event_data)


class StateMachineAdapter:
    """Watches one python-statemachine machine and sends to am-dbg."""

    def __init__(self, sm: Any, addr: str | None = None, *, id: str | None = None) -> None:
        self.sm = sm
        states = list(sm.states_map.values())
        names = [str(s.id) for s in states]
        if EXCEPTION in names:
            raise ValueError(f"state id {EXCEPTION!r} is reserved by am-dbg's adapter")
        self._parent = {str(s.id): (str(s.parent.id) if s.parent else None) for s in states}
        self.sender = RawSender(
            id or type(sm).__name__,
            [*names, EXCEPTION],
            addr,
            relations=self._relations(states),
            tags=("python-statemachine",),
        )
        self._steps: list[str] = []
        self._pending: list[Any] = []  # trigger data put and not yet seen transitioning
        self._depth = 0
        self._orig_put = sm._put_nonblocking
        self._orig_loop = sm._processing_loop
        sm._put_nonblocking = self._put
        sm._processing_loop = self._loop
        self._listener = _Listener(self)
        sm.add_listener(self._listener)
        active = self._active()
        self.sender.transition(
            active, active, log=[f"[attach] configuration {' '.join(active)}"], tx_id="attach"
        )

    def _relations(self, states: list[Any]) -> dict[str, StateDef]:
        into: dict[str, list[str]] = {str(s.id): [] for s in states}
        for s in states:
            for t in s.transitions:
                for tgt in getattr(t, "targets", None) or ([t.target] if t.target else []):
                    evs = [str(e) for e in str(t.event).split()] if t.event else []
                    for e in evs:
                        if e not in into[str(tgt.id)]:
                            into[str(tgt.id)].append(e)
        out: dict[str, StateDef] = {}
        for s in states:
            sid = str(s.id)
            parent = s.parent
            siblings: tuple[str, ...] = ()
            if not (parent is not None and getattr(parent, "_parallel", False)):
                siblings = tuple(str(o.id) for o in states if o is not s and o.parent is parent)
            out[sid] = StateDef(
                require=(str(parent.id),) if parent is not None else (),
                remove=siblings,
                tags=tuple(f"<-{e}" for e in into[sid]),
            )
        return out

    def _active(self) -> list[str]:
        ids = {str(s.id) for s in self.sm.configuration}
        return [n for n in self.sender.states if n in ids]

    # -- hooks ------------------------------------------------------------------------------

    def _put(self, trigger_data: Any, internal: bool = False) -> Any:
        self._pending.append(trigger_data)
        return self._orig_put(trigger_data, internal=internal)

    @staticmethod
    def _args(td: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if td is not None and td.args:
            out["args"] = td.args
        if td is not None and td.kwargs:
            out.update(td.kwargs)
        return out

    def _executed(self, event: Any, source: Any, target: Any, event_data: Any) -> None:
        td = getattr(event_data, "trigger_data", None)
        self._pending = [p for p in self._pending if p is not td]
        steps, self._steps = self._steps, []
        log = [f"[event] {event}: {source.id} -> {target.id}", *steps, "[result] executed"]
        self.sender.transition(
            [str(target.id)], self._active(), mtype=MUT_ADD, log=log, args=self._args(td)
        )

    def _unresolved(self, err: BaseException | None) -> None:
        """Events put and never transitioned: canceled, or the one that raised."""
        pending, self._pending = self._pending, []
        steps, self._steps = self._steps, []
        active = self._active()
        for i, td in enumerate(pending):
            src = " ".join(active)
            log = [f"[event] {td.event}: {src} -> (none)", *steps]
            steps = []
            raised = err if i == 0 else None
            if raised is not None and type(raised).__name__ != "TransitionNotAllowed":
                log.append(f"[error] {type(raised).__name__}: {raised}")
                self.sender.transition(
                    [], [*active, EXCEPTION], log=log, args=self._args(td), accepted=True
                )
                continue
            if raised is not None:
                log.append(f"[cancel] {raised}")
            log.append("[result] canceled")
            self.sender.transition([], active, log=log, args=self._args(td), accepted=False)

    def _loop(self, caller_future: Any = None) -> Any:
        self._depth += 1
        err: BaseException | None = None
        try:
            return self._orig_loop(caller_future)
        except BaseException as e:
            err = e
            raise
        finally:
            self._depth -= 1
            if self._depth == 0 and (self._pending or err is not None):
                self._unresolved(err)

    def close(self, timeout: float = 2.0) -> bool:
        """Stop watching (the machine keeps working), flush to am-dbg and disconnect."""
        sm = self.sm
        sm._put_nonblocking = self._orig_put
        sm._processing_loop = self._orig_loop
        self._listener.adapter = _Off()  # type: ignore[assignment]
        return self.sender.close(timeout)


class _Off:
    """Stands in for a closed adapter: listener calls do nothing."""

    _steps: list[str] = []

    def _executed(self, *a: Any) -> None:
        pass


def attach(sm: Any, addr: str | None = None, *, id: str | None = None) -> StateMachineAdapter:
    """Stream ``sm`` (a python-statemachine StateMachine or StateChart) to the am-dbg at ``addr``
    (default ``localhost:6831``). Returns the adapter; ``close()`` detaches."""
    return StateMachineAdapter(sm, addr, id=id)
