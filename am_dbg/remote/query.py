"""Bounded, JSON-ready answers about a `Session` (docs/remote.md): what the MCP tools return.

Plain Python over the model (no Textual, no MCP): machines, schemas, a search over transitions,
one transition with its steps and log lines, the states and clocks at a moment. Indexes are
0-based positions in a machine's history; `cursor` is the UI's 1-based cursor (0 = the schema).
Every list is capped and says how many it left off, so an answer never floods a model's context.
Unknown machines, states and out-of-range indexes raise `RemoteError` naming the value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from am_core.types import Relation, StepType
from am_dbg.model.derive import TxInfo
from am_dbg.model.history import MachineHistory
from am_dbg.model.session import Session
from am_dbg.remote.errors import RemoteError
from am_rpc.dbg.protocol import Step

__all__ = [
    "LIMIT_MAX",
    "LOG_LINES_MAX",
    "RESULTS",
    "find_transitions",
    "history_of",
    "list_machines",
    "parse_time",
    "read_schema",
    "read_transition",
    "states_at",
    "tx_summary",
]

LIMIT_MAX = 200  # transitions or machines in one answer
LOG_LINES_MAX = 500
STEPS_MAX = 300
RESULTS = ("accepted", "canceled", "queued")
_TYPES = ("add", "remove", "set", "eval")
_STEP_KINDS = (
    (StepType.RELATION, "rel"),
    (StepType.HANDLER, "handler"),
    (StepType.SET, "activate"),
    (StepType.REMOVE, "deactivate"),
    (StepType.REMOVE_NOT_ACTIVE, "deactivate-passive"),
    (StepType.REQUESTED, "called"),
    (StepType.CANCEL, "cancel"),
)
_RELS = {r.value: r.name.lower() for r in Relation}


def history_of(session: Session, mach_id: Any) -> MachineHistory:
    """The history of machine `mach_id`, or a `RemoteError` naming it and a few known ids."""
    if not isinstance(mach_id, str) or not mach_id:
        raise RemoteError(f"machine: expected a machine id (a string), got {mach_id!r}")
    hist = session.machines.get(mach_id)
    if hist is None:
        known = list(session.machines)
        some = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "")
        raise RemoteError(f"no machine {mach_id!r} (known: {some or 'none'})")
    return hist


def _limit(limit: Any, default: int = 50) -> int:
    if limit is None:
        return default
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise RemoteError(f"limit: expected a positive integer, got {limit!r}")
    return min(limit, LIMIT_MAX)


def _offset(offset: Any) -> int:
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise RemoteError(f"offset: expected an integer >= 0, got {offset!r}")
    return offset


def iso(ns: int) -> str:
    """UTC time with nanoseconds, e.g. ``2024-05-01T10:00:00.123456789Z`` ("" for 0)."""
    if ns <= 0:
        return ""
    sec, frac = divmod(ns, 10**9)
    base = dt.datetime.fromtimestamp(sec, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def parse_time(value: Any, what: str) -> int:
    """ns since the epoch from an integer (ns) or an ISO 8601 text (no zone = UTC)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        frac_ns = 0
        head = text.removesuffix("Z").removesuffix("z")
        if "." in head:  # datetime keeps microseconds only: nanoseconds by hand
            head, _, rest = head.partition(".")
            digits = "".join(c for c in rest if c.isdigit())
            tail = rest[len(digits) :]
            frac_ns = int((digits + "000000000")[:9]) if digits else 0
            head += tail
        try:
            when = dt.datetime.fromisoformat(head)
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return int(when.timestamp()) * 10**9 + frac_ns
    raise RemoteError(
        f"{what}: expected nanoseconds since the epoch or an ISO 8601 time "
        f"(e.g. 2024-05-01T10:00:00.5Z), got {value!r}"
    )


def _names(hist: MachineHistory, idxs: Sequence[int]) -> list[str]:
    names = hist.state_names
    return [names[i] if 0 <= i < len(names) else f"#{i}" for i in idxs]


def result_of(info: TxInfo) -> str:
    if info.is_queued:
        return "queued"
    return "accepted" if info.accepted else "canceled"


def tx_summary(hist: MachineHistory, i: int) -> dict[str, Any]:
    """One line of a list: what was called, how it ended, what changed."""
    info = hist.info(i)
    out: dict[str, Any] = {
        "index": i,
        "cursor": i + 1,
        "id": info.id,
        "time": iso(info.time_ns),
        "type": _TYPES[info.type] if 0 <= info.type < len(_TYPES) else str(info.type),
        "called": _names(hist, info.called),
        "result": result_of(info),
    }
    if info.added:
        out["added"] = _names(hist, info.added)
    if info.removed:
        out["removed"] = _names(hist, info.removed)
    for flag in ("is_auto", "is_check", "is_err", "is_health"):
        if getattr(info, flag):
            out[flag.removeprefix("is_")] = True
    return out


def list_machines(session: Session, offset: int = 0, limit: int | None = 100) -> dict[str, Any]:
    offset, n = _offset(offset), _limit(limit, 100)
    ids = list(session.machines)
    rows = []
    for mid in ids[offset : offset + n]:
        h = session.machines[mid]
        queued = h.n_queued()
        rows.append(
            {
                "id": mid,
                "parent_id": h.parent_id or None,
                "tags": list(h.tags),
                "states": len(h.state_names),
                "transitions": len(h) - queued,
                "queued": queued,
                "connected": h.connected,
                "last": iso(h.info(len(h) - 1).time_ns) if len(h) else "",
            }
        )
    return _page({"total": len(ids)}, "machines", rows, offset, len(ids))


def _page(
    head: dict[str, Any], key: str, rows: list[Any], offset: int, total: int
) -> dict[str, Any]:
    head[key] = rows
    rest = total - offset - len(rows)
    if rest > 0:
        head["left_off"] = rest
        head["next_offset"] = offset + len(rows)
    return head


def read_schema(session: Session, mach_id: str) -> dict[str, Any]:
    h = history_of(session, mach_id)
    s = h.schema
    states: dict[str, Any] = {}
    for name in s.states_index:
        sd = s.states.get(name)
        if sd is None:
            continue
        d: dict[str, Any] = {}
        for key in ("require", "add", "remove", "after", "tags"):
            if getattr(sd, key):
                d[key] = list(getattr(sd, key))
        if sd.auto:
            d["auto"] = True
        if sd.multi:
            d["multi"] = True
        states[name] = d
    return {
        "id": h.id,
        "parent_id": h.parent_id or None,
        "tags": list(h.tags),
        "states": states,
        "groups": {g: _names(h, s.groups[g]) for g in s.groups_order if g in s.groups},
    }


def _state_idx(hist: MachineHistory, name: Any) -> int:
    if not isinstance(name, str) or name not in hist.state_names:
        some = ", ".join(hist.state_names[:30])
        raise RemoteError(f"machine {hist.id!r} has no state {name!r} (states: {some})")
    return hist.state_names.index(name)


def find_transitions(
    session: Session,
    mach_id: str,
    *,
    state: str | None = None,
    result: str | None = None,
    since: Any = None,
    until: Any = None,
    text: str | None = None,
    errors_only: bool = False,
    newest_first: bool = False,
    offset: int = 0,
    limit: int | None = 50,
) -> dict[str, Any]:
    """Transitions matching every given criterion (state touched, result, time range, text in
    the tx id, the called states or a log line, an error state active after)."""
    h = history_of(session, mach_id)
    offset, n = _offset(offset), _limit(limit)
    sidx = _state_idx(h, state) if state is not None else -1
    if result is not None and result not in RESULTS:
        raise RemoteError(f"result: expected one of {', '.join(RESULTS)}, got {result!r}")
    lo = parse_time(since, "since") if since is not None else None
    hi = parse_time(until, "until") if until is not None else None
    if text is not None and (not isinstance(text, str) or not text):
        raise RemoteError(f"text: expected a non-empty string, got {text!r}")
    needle = text.lower() if text else ""
    raw_needle = needle.encode()
    errs = set(h.errors) if errors_only else None

    def matches(i: int, info: TxInfo) -> bool:
        if errs is not None and i not in errs:
            return False
        if result is not None and result_of(info) != result:
            return False
        if lo is not None and info.time_ns < lo:
            return False
        if hi is not None and info.time_ns > hi:
            return False
        if sidx >= 0 and not (
            sidx in info.called
            or sidx in info.touched
            or sidx in info.added
            or sidx in info.removed
        ):
            return False
        if needle:
            if needle in info.id.lower() or any(
                needle in nm.lower() for nm in _names(h, info.called)
            ):
                return True
            if raw_needle not in h.raw(i).lower():  # cheap prefilter before decoding the logs
                return False
            return any(needle in e.text.lower() for e in h.log_entries(i))
        return True

    order: Iterator[int] = reversed(range(len(h))) if newest_first else iter(range(len(h)))
    infos = h.infos()
    found: list[int] = []
    total = 0
    for i in order:
        if matches(i, infos[i]):
            if offset <= total < offset + n:
                found.append(i)
            total += 1
    rows = [tx_summary(h, i) for i in found]
    return _page({"machine": h.id, "total": total}, "transitions", rows, offset, total)


def _index(h: MachineHistory, index: Any, tx_id: Any) -> int:
    if tx_id is not None:
        if not isinstance(tx_id, str):
            raise RemoteError(f"tx_id: expected a string, got {tx_id!r}")
        i = h.index_of(tx_id)
        if i is None:
            raise RemoteError(f"machine {h.id!r} has no transition {tx_id!r}")
        return i
    if index is None:
        raise RemoteError("give index (0-based position) or tx_id")
    if not isinstance(index, int) or isinstance(index, bool):
        raise RemoteError(f"index: expected an integer, got {index!r}")
    if not -len(h) <= index < len(h):
        raise RemoteError(
            f"index {index} out of range: machine {h.id!r} has {len(h)} transitions (0..{len(h) - 1})"
        )
    return index % len(h)


def step_line(step: Step, names: Sequence[str]) -> str:
    """`A add B`, `handler AEnter`, `activate A` (docs/protocol.md, steps)."""

    def name(i: int) -> str:
        return names[i] if 0 <= i < len(names) else "Any"

    if step.type & StepType.RELATION:
        return f"{name(step.from_idx)} {_RELS.get(step.rel_type, str(step.rel_type))} {name(step.to_idx)}"
    kind = next((k for bit, k in _STEP_KINDS if step.type & bit), str(step.type))
    state = name(step.to_idx if step.to_idx >= 0 else step.from_idx)
    suffix = ""
    if step.type & StepType.HANDLER:
        if step.is_self:
            suffix = state
        elif step.is_final:
            suffix = "State" if step.is_enter else "End"
        else:
            suffix = "Enter" if step.is_enter else "Exit"
    return f"{kind} {state}{suffix}"


def _active(h: MachineHistory, clocks: Sequence[int]) -> list[str]:
    return [n for n, c in zip(h.state_names, clocks, strict=False) if c % 2 == 1]


def read_transition(
    session: Session,
    mach_id: str,
    index: int | None = None,
    tx_id: str | None = None,
    max_log_lines: int = 100,
) -> dict[str, Any]:
    """One transition: its summary, steps, log lines, arguments, active states before/after."""
    h = history_of(session, mach_id)
    i = _index(h, index, tx_id)
    if not isinstance(max_log_lines, int) or isinstance(max_log_lines, bool) or max_log_lines < 0:
        raise RemoteError(f"max_log_lines: expected an integer >= 0, got {max_log_lines!r}")
    keep = min(max_log_lines, LOG_LINES_MAX)
    msg = h.tx(i)
    out = tx_summary(h, i)
    names = h.state_names
    out["steps"] = [step_line(s, names) for s in msg.steps[:STEPS_MAX]]
    if len(msg.steps) > STEPS_MAX:
        out["steps_left_off"] = len(msg.steps) - STEPS_MAX
    entries = h.log_entries(i)
    out["log"] = [{"level": e.level, "text": e.text} for e in entries[:keep]]
    if len(entries) > keep:
        out["log_left_off"] = len(entries) - keep
    if msg.args:
        out["args"] = dict(msg.args)
    if msg.queue_len:
        out["queue_len"] = msg.queue_len
    if msg.stack_trace:
        out["stack_trace"] = msg.stack_trace[:4000]
    before = h.clocks(i - 1) if i > 0 else (0,) * len(names)
    out["active_before"] = _active(h, before)
    out["active_after"] = _active(h, h.clocks(i))
    return out


def states_at(
    session: Session, mach_id: str, index: int | None = None, time: Any = None
) -> dict[str, Any]:
    """Active states and every state's clock after transition `index`, or after the last
    transition at or before `time` (the debugger's time travel)."""
    h = history_of(session, mach_id)
    if time is not None:
        ns = parse_time(time, "time")
        i = h.tx_at_human_time(ns)
        if i < 0:
            return {
                "machine": h.id,
                "index": None,
                "note": "no transition at or before that time: every state inactive",
                "active": [],
                "clocks": dict.fromkeys(h.state_names, 0),
            }
    else:
        i = _index(h, index if index is not None else -1, None) if len(h) else -1
        if i < 0:
            raise RemoteError(f"machine {h.id!r} has no transitions yet")
    clocks = h.clocks(i)
    return {
        "machine": h.id,
        "index": i,
        "cursor": i + 1,
        "tx_id": h.info(i).id,
        "time": iso(h.info(i).time_ns),
        "active": _active(h, clocks),
        "clocks": dict(zip(h.state_names, clocks, strict=False)),
    }
