"""Import a Go am-dbg dump (`.gob.br`: brotli around one gob `[]*Exportable`) as our messages.

The Go export is `[]*Exportable{MsgStruct *DbgMsgStruct, MsgTxs []*DbgMsgTx}` (spec/go-dumps.md).
Fields are looked up by name, so both formats decode: the 2024 `telemetry` format (the shipped
fixture: called states and step states by name, `Step.Data` holding the relation, the old log-level
enum) and the current `dbg` format (`CalledStatesIdxs`, `RelType`, `FromStateIdx`, `IsQueued`, ...).
Fields we do not know are ignored; a known field with an unexpected gob type is a `GobError` naming
the type definition's offset, before any value is interpreted.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import brotli

from am_dbg.recordings.errors import GobError, RecordingError
from am_dbg.recordings.gob import GobInterface, GobStream, decode_gob
from am_rpc.dbg.protocol import LogEntry, SchemaMsg, StateDef, Step, TxMsg

__all__ = [
    "GobDumpInfo",
    "decompress_dump",
    "dump_limit",
    "import_gob_stream",
    "read_gob_dump",
]

Machines = list[tuple[SchemaMsg, list[TxMsg]]]

# Go's time.Time counts seconds from 0001-01-01; Unix time starts 62135596800 s later.
_UNIX_TO_INTERNAL = 62_135_596_800
_NS = 1_000_000_000
# A dump bigger than this once decompressed is refused (the Go am-dbg keeps ~1 GB in memory);
# smaller dumps are held to MAX_RATIO times their size, at least MIN_LIMIT (`dump_limit`).
MAX_DECOMPRESSED = 2 << 30
MAX_RATIO = 200
MIN_LIMIT = 64 << 20
_CHUNK = 1 << 20  # output taken per step
_FEED = 4096  # input fed per step

# Expected shapes of the fields we use ("int" accepts gob int and uint; unknown fields are ignored).
_STRS = ("slice", "string")
_INTS = ("slice", "int")
_LOG = ("slice", ("struct", {"Level": "int", "Text": "string"}))
_STATE = (
    "struct",
    {
        "Auto": "bool",
        "Multi": "bool",
        "Require": _STRS,
        "Add": _STRS,
        "Remove": _STRS,
        "After": _STRS,
        "Tags": _STRS,
    },
)
_SCHEMA = (
    "struct",
    {
        "ID": "string",
        "StatesIndex": _STRS,
        "States": ("map", "string", _STATE),
        "Groups": ("map", "string", _INTS),
        "GroupsOrder": _STRS,
        "Parent": "string",
        "Tags": _STRS,
    },
    ("ID", "StatesIndex"),
)
_STEP = (
    "struct",
    {
        "Type": "int",
        "FromState": "string",
        "ToState": "string",
        "FromStateIdx": "int",
        "ToStateIdx": "int",
        "Data": "interface",
        "RelType": "int",
        "IsFinal": "bool",
        "IsSelf": "bool",
        "IsEnter": "bool",
    },
)
_TX = (
    "struct",
    {
        "MachineID": "string",
        "ID": "string",
        "Clocks": _INTS,
        "QueueTick": "int",
        "MutQueueToken": "int",
        "MutQueueTick": "int",
        "Type": "int",
        "CalledStates": _STRS,
        "CalledStatesIdxs": _INTS,
        "Steps": ("slice", _STEP),
        "LogEntries": _LOG,
        "PreLogEntries": _LOG,
        "Queue": "int",
        "Time": "time",
        "IsAuto": "bool",
        "Accepted": "bool",
        "IsCheck": "bool",
        "IsQueued": "bool",
        "Args": ("map", "string", "string"),
        "QueueDump": _STRS,
        "StackTrace": "string",
    },
)
_EXPORT = ("slice", ("struct", {"MsgStruct": _SCHEMA, "MsgTxs": ("slice", _TX)}, ("MsgStruct",)))

_KINDS = {
    "int": ("int", "uint"),
    "bool": ("bool",),
    "string": ("string",),
    "interface": ("interface",),
    "time": ("gobencoder", "binarymarshaler"),
}


@dataclass(slots=True)
class GobDumpInfo:
    """What a dump can tell, filled in by `read_gob_dump(..., info=GobDumpInfo())`.

    Old Go dumps predate `IsQueued` / `IsCheck`: their queued and check counts are unknowable.
    """

    queued_known: bool = False  # the transition type has an IsQueued field
    checks_known: bool = False  # ... an IsCheck field
    legacy_log_levels: bool = False  # log levels were remapped from the old Go enum
    machines: int = 0
    transitions: int = 0


def _check(stream: GobStream, tid: int, shape: Any, where: str, owner: int = 0) -> None:
    """Refuse a known field whose gob type cannot hold what am-dbg exports there.

    The error points at the definition of the type (or, for a predefined type, of the user type
    that refers to it: `owner`).
    """
    t = stream.types.get(tid)
    want = shape if isinstance(shape, str) else shape[0]
    kinds = ("slice", "array") if want == "slice" else _KINDS.get(want, (want,))
    if t is not None and t.offset >= 0:
        owner = tid
    if t is None or t.kind not in kinds:
        at = stream.types.get(owner)
        raise GobError(
            f"gob: {where} has type {stream.describe(tid)}, expected {want}",
            at.offset if at is not None and at.offset >= 0 else 0,
            stream.describe(owner) if at is not None else stream.describe(tid),
        )
    if want == "slice":
        _check(stream, t.elem, shape[1], f"{where}[]", owner)
    elif want == "map":
        _check(stream, t.key, shape[1], f"{where} key", owner)
        _check(stream, t.elem, shape[2], f"{where} value", owner)
    elif want == "struct":
        known = shape[1]
        names = {name for name, _ in t.fields}
        for name in shape[2] if len(shape) > 2 else ():
            if name not in names:
                raise GobError(
                    f"gob: not an am-dbg export: {where} has no field {name}",
                    max(t.offset, 0),
                    stream.describe(tid),
                )
        for name, ftid in t.fields:
            if name in known:
                _check(stream, ftid, known[name], f"{where}.{name}", owner)


def _field_names(stream: GobStream, tid: int) -> set[str]:
    t = stream.types.get(tid)
    return {n for n, _ in t.fields} if t is not None else set()


def dump_limit(compressed: int) -> int:
    """The most a dump of `compressed` bytes may decompress to: `MAX_RATIO` times its size, at
    least `MIN_LIMIT`, at most `MAX_DECOMPRESSED` (Go dumps compress about 10:1; bombs 1000:1)."""
    return min(MAX_DECOMPRESSED, max(MIN_LIMIT, MAX_RATIO * compressed))


def decompress_dump(
    raw: bytes, limit: int | None = None, warnings: list[str] | None = None
) -> bytes:
    """Brotli-decompress a dump; truncated, damaged or oversized input is a `GobError`.

    `limit` defaults to `dump_limit(len(raw))`. Input is fed `_FEED` bytes at a time and output
    taken `_CHUNK` at a time, so a bomb is refused holding at most the limit, and damage loses
    only what the step it is in would have produced. With a `warnings` list (salvage), a
    truncated or damaged stream returns what decompressed before the damage, and says so.
    """
    if limit is None:
        limit = dump_limit(len(raw))
    parts, total, damage = _brotli(raw, limit, len(raw))
    if damage >= 0 and warnings is not None:
        # again, a byte at a time through the step that failed: keep all that came before it
        parts, total, damage = _brotli(raw, limit, max(damage - _FEED, 0))
    if damage >= 0:
        what = f"damaged near byte {damage:,}, after {total:,} decompressed bytes"
        if warnings is not None and total:
            warnings.append(f"brotli: the compressed stream is {what}; kept what came before")
            return b"".join(parts)
        raise GobError(
            f"brotli: the compressed stream is {what}; nothing could be read from "
            f"{len(raw):,} bytes"
        )
    if total < 0:
        total = -total - 1
        what = f"truncated after {len(raw):,} bytes ({total:,} bytes decompressed)"
        if warnings is not None and total:
            warnings.append(f"brotli: the compressed stream is {what}")
            return b"".join(parts)
        raise GobError(f"brotli: the compressed stream is {what}; nothing was imported")
    return b"".join(parts)


def _brotli(raw: bytes, limit: int, slow_from: int) -> tuple[list[bytes], int, int]:
    """Decompress `raw`: (output parts, their size, -1) when complete; the size is `-size - 1`
    when the input ends early; the third item is the input offset where damage showed.

    Input is fed `_FEED` bytes at a time, one byte at a time from `slow_from` on.
    """
    dec = brotli.Decompressor()
    parts: list[bytes] = []
    total = pos = 0
    while True:
        data = b""
        if dec.can_accept_more_data() and pos < len(raw):
            data = raw[pos : pos + (1 if pos >= slow_from else _FEED)]
            pos += len(data)
        try:
            chunk = dec.process(data, output_buffer_limit=_CHUNK)
        except brotli.error:
            return parts, total, pos
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            raise GobError(f"brotli: the dump decompresses to more than {limit:,} bytes; refused")
        if dec.is_finished():
            return parts, total, -1
        if not chunk and not data and pos >= len(raw) and dec.can_accept_more_data():
            return parts, -total - 1, -1


def read_gob_dump(
    path: str | PathLike[str],
    warnings: list[str] | None = None,
    info: GobDumpInfo | None = None,
    salvage: bool = False,
) -> Machines:
    """Read a Go am-dbg `.gob.br` export. Non-fatal oddities are appended to `warnings`;
    what the file format can tell (e.g. whether queued mutations are marked) goes to `info`.

    Damage is a `GobError`; with `salvage`, a truncated or damaged dump keeps every machine
    that was complete before the damage (and says what was lost in `warnings`), and only a dump
    with nothing intact is an error.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise RecordingError(f"cannot read {str(path)!r}: {err.strerror or err}") from None
    warn: list[str] = warnings if warnings is not None else []
    try:
        data = decompress_dump(raw, warnings=warn if salvage else None)
        return import_gob_stream(data, warn, info, salvage)
    except GobError as err:
        err.args = (f"{path}: {err.args[0]}",)
        raise


def _time_ns(raw: Any) -> int | None:
    """time.Time MarshalBinary (v1: 15 bytes, v2: 16) -> ns since the epoch; None if not that."""
    if not isinstance(raw, bytes) or len(raw) not in (15, 16) or raw[0] not in (1, 2):
        return None
    sec = int.from_bytes(raw[1:9], "big", signed=True)
    nsec = int.from_bytes(raw[9:13], "big", signed=True)
    if sec == 0 and nsec == 0:
        return 0  # the zero time.Time
    return (sec - _UNIX_TO_INTERNAL) * _NS + nsec


class _Importer:
    """Maps decoded `Exportable` dicts to `(SchemaMsg, [TxMsg])`, per spec/go-dumps.md."""

    def __init__(self, stream: GobStream, warnings: list[str]) -> None:
        self.warnings = warnings
        tx_t = step_t = 0
        top = stream.types[stream.values[0][0]]
        exp = stream.types[top.elem]
        for name, ftid in exp.fields:
            if name == "MsgTxs":
                tx_t = stream.types[ftid].elem
        tx_fields = _field_names(stream, tx_t)
        for name, ftid in stream.types[tx_t].fields if tx_t else ():
            if name == "Steps":
                step_t = stream.types[ftid].elem
        step_fields = _field_names(stream, step_t)
        # Index fields on the wire: a missing FromStateIdx means 0 (gob omits zeros); without
        # them (old files) a missing state name means "no state".
        self.idx_default = 0 if "FromStateIdx" in step_fields else -1
        self.new_fields = "IsQueued" in tx_fields or "CalledStatesIdxs" in tx_fields
        self.queued_known = "IsQueued" in tx_fields
        self.checks_known = "IsCheck" in tx_fields
        self.legacy_levels = False
        self.unknown_names = 0
        self.bad_times = 0
        # Steps repeat a lot (same relation, same handler): share one immutable object per shape.
        self.steps: dict[tuple[Any, ...], Step] = {}

    def detect_levels(self, exports: list[Any]) -> None:
        """Old Go LogLevel (1 changes, 2 ops, ...) vs current (1 external, 2 changes, ...).

        `[state]` lines are logged at "changes": level 1 in the old enum, 2 in the new one. A file
        without any decides by its fields: the old enum predates `IsQueued` / `CalledStatesIdxs`.
        """
        for exp in exports:
            for tx in (exp or {}).get("MsgTxs") or ():
                for key in ("LogEntries", "PreLogEntries"):
                    for e in tx.get(key) or ():
                        if e.get("Text", "").startswith("[state"):
                            self.legacy_levels = e.get("Level", 0) == 1
                            return
        self.legacy_levels = not self.new_fields

    def level(self, lvl: int) -> int:
        if self.legacy_levels and lvl > 0:
            lvl += 1
        return min(max(lvl, 0), 5)

    def schema(self, ms: dict[str, Any]) -> SchemaMsg:
        index = tuple(ms.get("StatesIndex") or ())
        states: dict[str, StateDef] = {}
        for name, sd in (ms.get("States") or {}).items():
            states[str(name)] = StateDef(
                auto=sd.get("Auto", False),
                multi=sd.get("Multi", False),
                require=tuple(sd.get("Require") or ()),
                add=tuple(sd.get("Add") or ()),
                remove=tuple(sd.get("Remove") or ()),
                after=tuple(sd.get("After") or ()),
                tags=tuple(sd.get("Tags") or ()),
            )
        missing = [n for n in index if n not in states]
        for n in missing:
            states[n] = StateDef()
        if missing:
            self.warnings.append(
                f"machine {ms.get('ID', '')!r}: {len(missing)} state(s) in the index have no "
                f"definition ({', '.join(missing[:3])}); imported without relations"
            )
        groups = {str(k): tuple(v or ()) for k, v in (ms.get("Groups") or {}).items()}
        order = tuple(ms.get("GroupsOrder") or ()) or tuple(groups)
        return SchemaMsg(
            id=ms.get("ID", ""),
            states_index=index,
            states=states,
            groups=groups,
            groups_order=order,
            parent=ms.get("Parent", ""),
            tags=tuple(ms.get("Tags") or ()),
        )

    def names_to_idxs(self, names: list[str], index: dict[str, int]) -> tuple[int, ...]:
        out = []
        for n in names:
            i = index.get(n)
            if i is None:
                self.unknown_names += 1
            else:
                out.append(i)
        return tuple(out)

    def step(self, s: dict[str, Any], index: dict[str, int]) -> tuple[Step, bool]:
        """One step, and whether it named a state missing from the index."""
        unknown = False
        frm, to = s.get("FromState", ""), s.get("ToState", "")
        if frm or to:
            fi = index.get(frm, -1) if frm else -1
            ti = index.get(to, -1) if to else -1
            unknown = bool((frm and fi < 0) or (to and ti < 0))
        else:
            fi = s.get("FromStateIdx", self.idx_default)
            ti = s.get("ToStateIdx", self.idx_default)
        rel = s.get("RelType")
        if rel is None:
            data = s.get("Data")
            val = data.value if isinstance(data, GobInterface) else None
            rel = val if isinstance(val, int) and not isinstance(val, bool) else 0
        key = (
            s.get("Type", 0),
            fi,
            ti,
            rel,
            s.get("IsFinal", False),
            s.get("IsSelf", False),
            s.get("IsEnter", False),
        )
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = Step(
                type=key[0],
                from_idx=fi,
                to_idx=ti,
                rel_type=rel,
                is_final=key[4],
                is_self=key[5],
                is_enter=key[6],
            )
        return step, unknown

    def steps_of(
        self, raw: list[dict[str, Any]], index: dict[str, int], memo: dict[Any, tuple[Step, bool]]
    ) -> tuple[Step, ...]:
        """Steps of one tx; `memo` (per machine: names resolve per index) maps a wire step's
        fields to its result, as the same steps recur in most transitions."""
        out = []
        for s in raw:
            key = tuple(s.items())
            got = memo.get(key)
            if got is None:
                got = memo[key] = self.step(s, index)
            if got[1]:
                self.unknown_names += 1
            out.append(got[0])
        return tuple(out)

    def entries(self, raw: list[dict[str, Any]] | None) -> tuple[LogEntry, ...]:
        if not raw:
            return ()
        lvl = self.level
        return tuple([LogEntry(lvl(e.get("Level", 0)), e.get("Text", "")) for e in raw])

    def tx(
        self,
        t: dict[str, Any],
        mach_id: str,
        index: dict[str, int],
        memo: dict[Any, tuple[Step, bool]],
    ) -> TxMsg:
        g = t.get
        names = g("CalledStates")
        called = self.names_to_idxs(names, index) if names else tuple(g("CalledStatesIdxs") or ())
        time_ns = 0
        if "Time" in t:
            parsed = _time_ns(t["Time"])
            if parsed is None:
                self.bad_times += 1
            else:
                time_ns = parsed
        steps = g("Steps")
        args = g("Args")
        return TxMsg(
            mach_id=mach_id,
            id=g("ID", ""),
            clocks=tuple(g("Clocks") or ()),
            type=g("Type", 0),
            called=called,
            accepted=g("Accepted", False),
            is_auto=g("IsAuto", False),
            is_check=g("IsCheck", False),
            is_queued=g("IsQueued", False),
            queue_tick=g("QueueTick", 0),
            mut_queue_tick=g("MutQueueTick", 0),
            mut_queue_token=g("MutQueueToken", 0),
            queue_len=g("Queue", 0),
            steps=self.steps_of(steps, index, memo) if steps else (),
            log=self.entries(g("LogEntries")),
            pre_log=self.entries(g("PreLogEntries")),
            args=dict(args) if args else {},
            queue_dump=tuple(g("QueueDump") or ()),
            stack_trace=g("StackTrace", ""),
            time=time_ns,
        )

    def run(self, exports: list[Any]) -> Machines:
        self.detect_levels(exports)
        out: Machines = []
        seen: dict[str, int] = {}
        for n, exp in enumerate(exports):
            ms = (exp or {}).get("MsgStruct")
            if not ms or not ms.get("ID"):
                self.warnings.append(f"machine #{n + 1} has no schema or no ID; skipped")
                continue
            schema = self.schema(ms)
            if schema.id in seen:
                self.warnings.append(
                    f"machine {schema.id!r} appears {seen[schema.id] + 1} times in the dump"
                )
            seen[schema.id] = seen.get(schema.id, 0) + 1
            index = {name: i for i, name in enumerate(schema.states_index)}
            memo: dict[Any, tuple[Step, bool]] = {}
            txs = [self.tx(t, schema.id, index, memo) for t in exp.get("MsgTxs") or ()]
            out.append((schema, txs))
        if self.unknown_names:
            self.warnings.append(
                f"{self.unknown_names} state name(s) in called states or steps are not in their "
                "machine's states index; dropped"
            )
        if self.bad_times:
            self.warnings.append(
                f"{self.bad_times} transition time(s) are not a Go time.Time; imported as 0"
            )
        return out


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC: decoding allocates ~10^6 acyclic objects, which would otherwise trigger
    repeated full collections (about a third of the read time). Restores the previous setting."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def import_gob_stream(
    data: bytes,
    warnings: list[str] | None = None,
    info: GobDumpInfo | None = None,
    salvage: bool = False,
) -> Machines:
    """Interpret a decompressed gob stream holding a Go am-dbg export (`salvage`: see
    `read_gob_dump`)."""
    with _no_gc():
        return _import(data, warnings, info, salvage)


def _import(
    data: bytes, warnings: list[str] | None, info: GobDumpInfo | None, salvage: bool
) -> Machines:
    warn: list[str] = warnings if warnings is not None else []
    stream = decode_gob(data, salvage)
    if stream.damage is not None and (not stream.values or not stream.values[0][1]):
        raise stream.damage
    if not stream.values:
        raise GobError("gob: the stream holds type definitions but no value", len(data))
    tid, exports, _ = stream.values[0]
    _check(stream, tid, _EXPORT, "the exported value")
    if len(stream.values) > 1:
        warn.append(f"{len(stream.values) - 1} gob value(s) after the export were ignored")
    importer = _Importer(stream, warn)
    machines = importer.run(exports)
    if stream.damage is not None and stream.partial is not None:
        kept, announced = stream.partial
        warn.append(
            f"{stream.damage}; kept the {kept} complete machine(s) of {announced}, "
            f"lost {announced - kept}"
        )
    if info is not None:
        info.queued_known = importer.queued_known
        info.checks_known = importer.checks_known
        info.legacy_log_levels = importer.legacy_levels
        info.machines = len(machines)
        info.transitions = sum(len(txs) for _, txs in machines)
    return machines
