"""The am-dbg telemetry messages: one definition shared by the sender, the ingest server,
the recordings and the Go-dump importer.

Everything that reaches the debugger's history model is a `SchemaMsg` or a `TxMsg`, whatever it came
from (a live socket, an `.amdbg` recording, a Go `.gob.br` dump). On the wire and in recordings they are
msgpack maps with short keys (`to_wire` / `from_wire`); `docs/protocol.md` is the written contract.

Shapes follow the Go reference (docs/protocol.md) with snake_case names. Unknown keys are ignored,
missing optional keys take their defaults, and a value of the wrong type raises `MessageError`
naming the key, so a bad sender is refused with a reason instead of corrupting the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from am_rpc.errors import RpcError

__all__ = [
    "PROTOCOL_VERSION",
    "LogEntry",
    "MessageError",
    "SchemaMsg",
    "StateDef",
    "Step",
    "TxMsg",
    "check_relations",
]

PROTOCOL_VERSION = 1

# Step flag bits in the compact wire form of a step.
_FINAL = 1
_SELF = 2
_ENTER = 4


class MessageError(RpcError, ValueError):
    """A telemetry message is malformed (wrong type or missing required key); also a `ValueError`."""


def _req(d: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    try:
        val = d[key]
    except KeyError:
        raise MessageError(f"{what}: missing key {key!r}") from None
    if not isinstance(val, kind) or (isinstance(val, bool) and kind is int):
        raise MessageError(f"{what}: key {key!r} has type {type(val).__name__}")
    return val


def _opt(
    d: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, what: str
) -> Any:
    val = d.get(key, default)
    if val is None:
        return default
    if not isinstance(val, kind) or (isinstance(val, bool) and kind is int):
        raise MessageError(f"{what}: key {key!r} has type {type(val).__name__}")
    return val


def _ints(val: Any, key: str, what: str) -> tuple[int, ...]:
    if not isinstance(val, (list, tuple)):
        raise MessageError(f"{what}: key {key!r} must be a list of ints")
    for v in val:
        if not isinstance(v, int) or isinstance(v, bool):
            raise MessageError(f"{what}: key {key!r} must be a list of ints")
    return tuple(val)


def _strs(val: Any, key: str, what: str) -> tuple[str, ...]:
    if not isinstance(val, (list, tuple)):
        raise MessageError(f"{what}: key {key!r} must be a list of strings")
    for v in val:
        if not isinstance(v, str):
            raise MessageError(f"{what}: key {key!r} must be a list of strings")
    return tuple(val)


@dataclass(frozen=True, slots=True, kw_only=True)
class StateDef:
    """One state of a schema, relations by name (docs/protocol.md)."""

    auto: bool = False
    multi: bool = False
    require: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.auto:
            out["auto"] = True
        if self.multi:
            out["multi"] = True
        for key in ("require", "add", "remove", "after", "tags"):
            val = getattr(self, key)
            if val:
                out[key] = list(val)
        return out

    @classmethod
    def from_wire(cls, d: Any, name: str = "") -> StateDef:
        if type(d) is dict:  # the common shapes, checked without a call per key
            if not d:
                return _NO_RELATIONS
            auto, multi = d.get("auto", False), d.get("multi", False)
            rels = [d.get(k) or () for k in _REL_KEYS]
            if (
                type(auto) is bool
                and type(multi) is bool
                and [*map(type, rels)].count(list) + rels.count(()) == len(rels)
                and _all_str(chain.from_iterable(rels))
            ):
                req, add, rem, after, tags = map(tuple, rels)
                return cls(
                    auto=auto, multi=multi, require=req, add=add, remove=rem, after=after, tags=tags
                )
        what = f"state {name!r}"
        if not isinstance(d, dict):
            raise MessageError(f"{what}: must be a map")
        return cls(
            auto=bool(_opt(d, "auto", bool, False, what)),
            multi=bool(_opt(d, "multi", bool, False, what)),
            require=_strs(d.get("require") or (), "require", what),
            add=_strs(d.get("add") or (), "add", what),
            remove=_strs(d.get("remove") or (), "remove", what),
            after=_strs(d.get("after") or (), "after", what),
            tags=_strs(d.get("tags") or (), "tags", what),
        )


_NO_RELATIONS = StateDef()
_REL_KEYS = ("require", "add", "remove", "after", "tags")


def _all_str(values: Iterable[Any]) -> bool:
    kinds = [*map(type, values)]
    return kinds.count(str) == len(kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaMsg:
    """A machine's schema; sent on connect and on every schema change (docs/protocol.md)."""

    id: str
    states_index: tuple[str, ...]
    states: dict[str, StateDef]
    groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    groups_order: tuple[str, ...] = ()
    parent: str = ""
    tags: tuple[str, ...] = ()
    # Random per machine instance: same id + same token = the same run continuing after a reconnect;
    # same id + a new token = a new run of the program, which replaces the old history.
    token: str = ""

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "idx": list(self.states_index),
            "states": {k: v.to_wire() for k, v in self.states.items()},
        }
        if self.groups:
            out["groups"] = {k: list(v) for k, v in self.groups.items()}
            out["gorder"] = list(self.groups_order)
        if self.parent:
            out["parent"] = self.parent
        if self.tags:
            out["tags"] = list(self.tags)
        if self.token:
            out["token"] = self.token
        return out

    @classmethod
    def from_wire(cls, d: Any) -> SchemaMsg:
        if not isinstance(d, dict):
            raise MessageError("schema: must be a map")
        mid = _req(d, "id", str, "schema")
        what = f"schema of {mid!r}"
        if not mid:
            raise MessageError("schema: empty machine id")
        index = _strs(_req(d, "idx", list, what), "idx", what)
        raw_states = _req(d, "states", dict, what)
        states = {}
        for name, sd in raw_states.items():
            if not isinstance(name, str):
                raise MessageError(f"{what}: state names must be strings")
            states[name] = StateDef.from_wire(sd, name)
        for name in index:
            if name not in states:
                raise MessageError(f"{what}: state {name!r} in the index has no definition")
        groups_raw = _opt(d, "groups", dict, {}, what)
        groups: dict[str, tuple[int, ...]] = {}
        for gname, idxs in groups_raw.items():
            if not isinstance(gname, str):
                raise MessageError(f"{what}: group names must be strings")
            groups[gname] = _ints(idxs, f"groups.{gname}", what)
        order = _strs(d.get("gorder") or list(groups), "gorder", what)
        return cls(
            id=mid,
            states_index=index,
            states=states,
            groups=groups,
            groups_order=order,
            parent=_opt(d, "parent", str, "", what),
            tags=_strs(d.get("tags") or (), "tags", what),
            token=_opt(d, "token", str, "", what),
        )


def check_relations(schema: SchemaMsg) -> None:
    """Raise `MessageError` naming every relation (require/add/remove/after) or group index that
    points at a state the schema does not define (ingest refuses such a schema)."""
    bad: list[str] = []
    for name, sd in schema.states.items():
        for rel in ("require", "add", "remove", "after"):
            missing = [t for t in getattr(sd, rel) if t not in schema.states]
            if missing:
                bad.append(f"{name}.{rel} -> {', '.join(map(repr, missing))}")
    n = len(schema.states_index)
    for gname, idxs in schema.groups.items():
        if any(not 0 <= i < n for i in idxs):
            bad.append(f"group {gname!r} -> index out of range")
    if bad:
        raise MessageError(
            f"schema of {schema.id!r}: relations name undefined states: {'; '.join(bad[:10])}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One resolution step of a transition (docs/protocol.md), states by index (-1 = none)."""

    type: int
    from_idx: int = -1
    to_idx: int = -1
    rel_type: int = 0
    is_final: bool = False
    is_self: bool = False
    is_enter: bool = False

    def to_wire(self) -> list[int]:
        flags = (
            (_FINAL if self.is_final else 0)
            | (_SELF if self.is_self else 0)
            | (_ENTER if self.is_enter else 0)
        )
        return [self.type, self.from_idx, self.to_idx, self.rel_type, flags]

    @classmethod
    def from_wire(cls, v: Any) -> Step:
        if not isinstance(v, (list, tuple)) or len(v) < 5:
            raise MessageError("step: must be a list [type, from, to, rel, flags]")
        ints = _ints(v[:5], "step", "step")
        t, frm, to, rel, flags = ints
        return cls(
            type=t,
            from_idx=frm,
            to_idx=to,
            rel_type=rel,
            is_final=bool(flags & _FINAL),
            is_self=bool(flags & _SELF),
            is_enter=bool(flags & _ENTER),
        )


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log line; level 0-5 as in am_core's LogLevel (docs/protocol.md)."""

    level: int
    text: str

    def to_wire(self) -> list[Any]:
        return [self.level, self.text]

    @classmethod
    def from_wire(cls, v: Any) -> LogEntry:
        if (
            not isinstance(v, (list, tuple))
            or len(v) != 2
            or not isinstance(v[0], int)
            or not isinstance(v[1], str)
        ):
            raise MessageError("log entry: must be a list [level, text]")
        return cls(v[0], v[1])


def _entries(v: Any, key: str, what: str) -> tuple[LogEntry, ...]:
    if v is None:
        return ()
    if not isinstance(v, (list, tuple)):
        raise MessageError(f"{what}: key {key!r} must be a list")
    return tuple(LogEntry.from_wire(e) for e in v)


def _sender_time(v: Any) -> int:
    """`st` is advisory: a wrong value falls back to the receive time instead of refusing."""
    return v if type(v) is int and v > 0 else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TxMsg:
    """One finished transition, or (``is_queued``) one queued mutation (docs/protocol.md)."""

    mach_id: str
    id: str
    clocks: tuple[int, ...]
    type: int = 0
    called: tuple[int, ...] = ()
    accepted: bool = True
    is_auto: bool = False
    is_check: bool = False
    is_queued: bool = False
    queue_tick: int = 0
    mut_queue_tick: int = 0
    mut_queue_token: int = 0
    queue_len: int = 0
    steps: tuple[Step, ...] = ()
    log: tuple[LogEntry, ...] = ()
    pre_log: tuple[LogEntry, ...] = ()
    args: dict[str, str] = field(default_factory=dict)
    queue_dump: tuple[str, ...] = ()
    stack_trace: str = ""
    # Receive time in ns since the epoch: stamped by the debugger on receipt (0 until then).
    time: int = 0
    # The sender's own time when it produced the message, ns since the epoch (0: not sent);
    # the debugger shows and travels by it when present (docs/protocol.md "Sender time").
    sender_time: int = 0

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "m": self.mach_id,
            "id": self.id,
            "c": list(self.clocks),
            "t": self.type,
            "s": list(self.called),
        }
        if not self.accepted:
            out["acc"] = False
        if self.is_auto:
            out["auto"] = True
        if self.is_check:
            out["chk"] = True
        if self.is_queued:
            out["qd"] = True
        if self.queue_tick:
            out["qt"] = self.queue_tick
        if self.mut_queue_tick:
            out["mqt"] = self.mut_queue_tick
        if self.mut_queue_token:
            out["mqk"] = self.mut_queue_token
        if self.queue_len:
            out["ql"] = self.queue_len
        if self.steps:
            out["steps"] = [s.to_wire() for s in self.steps]
        if self.log:
            out["log"] = [e.to_wire() for e in self.log]
        if self.pre_log:
            out["pre"] = [e.to_wire() for e in self.pre_log]
        if self.args:
            out["args"] = dict(self.args)
        if self.queue_dump:
            out["qdump"] = list(self.queue_dump)
        if self.stack_trace:
            out["trace"] = self.stack_trace
        if self.time:
            out["time"] = self.time
        if self.sender_time:
            out["st"] = self.sender_time
        return out

    @classmethod
    def from_wire(cls, d: Any) -> TxMsg:
        if not isinstance(d, dict):
            raise MessageError("tx: must be a map")
        mid = _req(d, "m", str, "tx")
        tid = _req(d, "id", str, f"tx of {mid!r}")
        what = f"tx {tid!r} of {mid!r}"
        args_raw = _opt(d, "args", dict, {}, what)
        args = {str(k): str(v) for k, v in args_raw.items()}
        steps_raw = _opt(d, "steps", list, [], what)
        return cls(
            mach_id=mid,
            id=tid,
            clocks=_ints(_req(d, "c", list, what), "c", what),
            type=_opt(d, "t", int, 0, what),
            called=_ints(d.get("s") or (), "s", what),
            accepted=bool(_opt(d, "acc", bool, True, what)),
            is_auto=bool(_opt(d, "auto", bool, False, what)),
            is_check=bool(_opt(d, "chk", bool, False, what)),
            is_queued=bool(_opt(d, "qd", bool, False, what)),
            queue_tick=_opt(d, "qt", int, 0, what),
            mut_queue_tick=_opt(d, "mqt", int, 0, what),
            mut_queue_token=_opt(d, "mqk", int, 0, what),
            queue_len=_opt(d, "ql", int, 0, what),
            steps=tuple(Step.from_wire(s) for s in steps_raw),
            log=_entries(d.get("log"), "log", what),
            pre_log=_entries(d.get("pre"), "pre", what),
            args=args,
            queue_dump=_strs(d.get("qdump") or (), "qdump", what),
            stack_trace=_opt(d, "trace", str, "", what),
            time=_opt(d, "time", int, 0, what),
            sender_time=_sender_time(d.get("st")),
        )

    # Helpers every consumer needs (docs/protocol.md).
    def is_active(self, idx: int) -> bool:
        return 0 <= idx < len(self.clocks) and self.clocks[idx] % 2 == 1

    def tick(self, idx: int) -> int:
        return self.clocks[idx] if 0 <= idx < len(self.clocks) else 0

    @property
    def time_sum(self) -> int:
        return sum(self.clocks)
