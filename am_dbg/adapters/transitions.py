"""am-dbg for a ``transitions`` machine (``Machine``, ``HierarchicalMachine``, ``AsyncMachine``).

``attach(machine, addr)`` streams the schema (every state, nested ones flattened with the
machine's separator; siblings remove each other, a child requires its parent; each state tagged
with the triggers that lead to it) and every trigger as a transition: source, dest, args, result,
the callbacks that ran and the exception, if any. It appends one ``finalize_event`` callback
(which also sees canceled and invalid triggers) and wraps the instance's ``callback`` to name the
callbacks that ran; the machine's behaviour is unchanged. What maps and what not: docs/adapters.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from am_rpc.dbg.raw import MUT_ADD, RawSender, StateDef

__all__ = ["TransitionsAdapter", "attach"]

EXCEPTION = "Exception"


def _fn_name(func: Any) -> str:
    if isinstance(func, str):
        return func
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    return str(name or repr(func))


class TransitionsAdapter:
    """Watches one ``transitions`` machine (its first model) and sends to am-dbg."""

    def __init__(self, machine: Any, addr: str | None = None, *, id: str | None = None) -> None:
        self.machine = machine
        self.sep: str = getattr(getattr(machine, "state_cls", None), "separator", "_")
        self.nested = hasattr(machine, "get_nested_state_names")
        names = self._state_names()
        if EXCEPTION in names:
            raise ValueError(f"state name {EXCEPTION!r} is reserved by am-dbg's adapter")
        self.names = [*names, EXCEPTION]
        self.sender = RawSender(
            id or str(getattr(machine, "name", "") or "transitions").strip() or "transitions",
            self.names,
            addr,
            relations=self._relations(names),
            tags=("transitions",),
        )
        self._calls: dict[int, list[str]] = {}
        self._active_memo: dict[Any, list[str]] = {}
        self.is_async = inspect.iscoroutinefunction(type(machine).callback)
        self._orig_callback = machine.callback
        if self.is_async:
            machine.callback = self._callback_async
        else:
            machine.callback = self._callback
        self._fin = self._finalize  # one bound method object: compared by identity
        machine.finalize_event.append(self._fin)
        self.sender.transition(
            self._active_of(self._model_state()),
            self._active_of(self._model_state()),
            log=[f"[attach] initial state {self._model_state()}"],
            tx_id="attach",
        )

    # -- schema -----------------------------------------------------------------------------

    def _state_names(self) -> list[str]:
        m = self.machine
        if self.nested:
            return [str(n) for n in m.get_nested_state_names()]
        return [str(n) for n in m.states]

    def _parent(self, name: str) -> str | None:
        if not self.nested or self.sep not in name:
            return None
        return name.rsplit(self.sep, 1)[0]

    def _relations(self, names: Sequence[str]) -> dict[str, StateDef]:
        known = set(names)
        into: dict[str, list[str]] = {n: [] for n in names}
        for ev_name, ev in self.machine.events.items():
            if ev_name.startswith("to_"):
                continue  # auto transitions: one per state, they add nothing to read
            for trans_list in ev.transitions.values():
                for t in trans_list:
                    dest = getattr(t, "dest", None)
                    if dest is not None and str(dest) in into and ev_name not in into[str(dest)]:
                        into[str(dest)].append(ev_name)
        out: dict[str, StateDef] = {}
        for n in names:
            parent = self._parent(n)
            siblings = [s for s in names if s != n and self._parent(s) == parent]
            out[n] = StateDef(
                require=(parent,) if parent in known else (),
                remove=tuple(siblings),
                tags=tuple(f"<-{e}" for e in into[n]),
            )
        return out

    # -- state ------------------------------------------------------------------------------

    def _model_state(self) -> Any:
        m = self.machine
        model = m.models[0] if getattr(m, "models", None) else m
        return getattr(model, getattr(m, "model_attribute", "state"))

    def _active_cached(self, state: Any) -> list[str]:
        try:
            return self._active_memo[state]
        except (KeyError, TypeError):
            pass
        out = self._active_of(state)
        try:
            self._active_memo[state] = out
        except TypeError:
            pass  # a list of parallel states: not hashable, computed each time
        return out

    def _active_of(self, state: Any) -> list[str]:
        """A state value (a name, an Enum, or a list of them for parallel states) and, when
        nested, its parents."""
        vals = state if isinstance(state, list | tuple) else [state]
        out: list[str] = []
        for v in vals:
            if isinstance(v, list | tuple):
                out += self._active_of(v)
                continue
            name = getattr(v, "name", v) if not isinstance(v, str) else v
            name = str(name)
            chain = []
            while name:
                chain.append(name)
                name = self._parent(name) or ""
            out += [c for c in reversed(chain) if c not in out]
        return [n for n in out if n in self.sender._pos]

    # -- hooks ------------------------------------------------------------------------------

    # our finalize callback is called here with the EventData whatever ``send_event`` says

    def _callback(self, func: Any, event_data: Any) -> Any:
        if func is self._fin:
            return self._finalize(event_data)
        key = id(event_data)
        calls = self._calls.get(key)
        name = func if type(func) is str else _fn_name(func)
        if calls is None:
            self._calls[key] = [name]
        else:
            calls.append(name)
        return self._orig_callback(func, event_data)

    async def _callback_async(self, func: Any, event_data: Any) -> Any:
        if func is self._fin:
            return self._finalize(event_data)
        self._calls.setdefault(id(event_data), []).append(_fn_name(func))
        return await self._orig_callback(func, event_data)

    def _finalize(self, event_data: Any) -> None:
        calls = self._calls.pop(id(event_data), [])
        trig = event_data.event.name if event_data.event is not None else "?"
        trans = event_data.transition
        src_state = event_data.state  # after a change it is the new state: prefer the source
        src = str(getattr(src_state, "name", src_state)) if src_state is not None else "?"
        if trans is not None and getattr(trans, "source", None) is not None:
            src = str(trans.source)
        dest = getattr(trans, "dest", None) if trans is not None else None
        err = event_data.error
        ok = bool(event_data.result) and err is None
        log = [f"[trigger] {trig}: {src} -> {dest if dest is not None else '(none)'}"]
        log += [f"[callback] {c}" for c in calls]
        active = self._active_cached(self._model_state())
        if err is not None:
            log.append(f"[error] {type(err).__name__}: {err}")
            active = [*active, EXCEPTION]
        elif ok:
            log.append("[result] executed")
        else:
            conds = [
                ("" if c.target else "not ") + _fn_name(c.func)
                for c in getattr(trans, "conditions", ()) or ()
            ]
            if conds:
                log.append(f"[cancel] by conditions: {', '.join(conds)}")
            log.append("[result] canceled")
        called = [str(dest)] if dest is not None and str(dest) in self.sender._pos else []
        if not called and dest is None and trans is not None:
            called = [s for s in self._active_of(src) if s == src]  # internal transition
        args: dict[str, Any] = {}
        if event_data.args:
            args["args"] = event_data.args
        if event_data.kwargs:
            args.update(event_data.kwargs)
        # a raised exception changed nothing but the Exception flag: still an accepted tx for it
        self.sender.transition(
            called,
            active,
            mtype=MUT_ADD,
            accepted=ok or err is not None,
            log=log,
            args=args,
        )

    def close(self, timeout: float = 2.0) -> bool:
        """Stop watching (the machine keeps working), flush to am-dbg and disconnect."""
        m = self.machine
        m.finalize_event = [f for f in m.finalize_event if f is not self._fin]
        m.callback = self._orig_callback
        return self.sender.close(timeout)


def attach(machine: Any, addr: str | None = None, *, id: str | None = None) -> TransitionsAdapter:
    """Stream ``machine`` (a ``transitions`` Machine / HierarchicalMachine / AsyncMachine) to the
    am-dbg at ``addr`` (default ``localhost:6831``). Returns the adapter; ``close()`` detaches."""
    return TransitionsAdapter(machine, addr, id=id)
