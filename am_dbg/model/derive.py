"""Per-transition derived data, computed once at ingest (docs/architecture.md).

Ingest works on the raw msgpack map (the short keys of `am_rpc.dbg.protocol`), not on a `TxMsg`:
building the full dataclass (steps, log entries) for every message would cost several times the
decode, and the history keeps the packed bytes anyway. `derive()` checks the keys it reads with
cheap type checks (falling back to `TxMsg.from_wire` for the precise error); the other keys (log
lines, args, step details) are checked by `decode()` when the message is shown, which leaves a
malformed one out with an `[error]` line instead of losing the transition.

Live ingest goes through `derive_many()`: the same checks and results for a run of messages of one
machine, computed column by column with C-level `map`s (a Python loop per message would cost
several times the msgpack decode); a run it is not sure of goes message by message. The ingest
server's runs usually arrive as `TxCore`s (`am_dbg.model.wire`), already checked while decoding:
for those only what types cannot say (equal clock widths) is left to check here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import accumulate, chain, compress, repeat
from operator import and_, attrgetter, eq, gt, itemgetter, ne, not_, sub
from typing import Any, NamedTuple

import msgpack

from am_dbg.model.wire import TxCore, decode_many
from am_rpc.codec import nesting_depth
from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, TxMsg

__all__ = [
    "HEALTH_STATES",
    "Checked",
    "Derived",
    "SchemaFacts",
    "TupleInterner",
    "TxInfo",
    "check_many",
    "check_tx",
    "decode",
    "decode_run",
    "derive",
    "derive_many",
    "human_time",
    "receive_times",
    "unpack_tx",
]

HEALTH_STATES = frozenset({"Healthcheck", "Heartbeat"})


class TxInfo(NamedTuple):
    """What navigation, filters and indexes need of one stored message; details stay packed.

    Immutable and without a `__dict__` (a NamedTuple rather than a frozen dataclass: it is built
    for every ingested message, ~0.5 µs instead of ~7 µs). State sets are indexes into the
    machine's `state_names`. `added` includes multi re-activations (active before and after with a
    changed tick); all sets are against the previous message of the same machine, queued included.
    """

    id: str
    time_ns: int
    time_sum: int
    time_diff: int
    type: int
    called: tuple[int, ...]
    added: tuple[int, ...]
    removed: tuple[int, ...]
    touched: tuple[int, ...]
    accepted: bool
    is_auto: bool
    is_check: bool
    is_queued: bool
    queue_tick: int
    mut_queue_tick: int
    mut_queue_token: int
    n_steps: int
    is_err: bool
    is_health: bool
    is_empty: bool


@dataclass(frozen=True, slots=True)
class SchemaFacts:
    """Per-schema lookups derive() needs: which indexes are error states and health states."""

    err_idxs: tuple[int, ...]
    health_idxs: frozenset[int]

    @classmethod
    def of(cls, schema: SchemaMsg) -> SchemaFacts:
        names = schema.states_index
        return cls(
            err_idxs=tuple(
                i for i, n in enumerate(names) if n == "Exception" or n.startswith("Err")
            ),
            health_idxs=frozenset(i for i, n in enumerate(names) if n in HEALTH_STATES),
        )


class TupleInterner:
    """Shares equal small tuples (state sets repeat a lot); bounded so a hostile stream can't grow it.

    `intern(t, t)` is `dict.setdefault` (a C call, no Python frame): it runs up to four times per
    message.
    """

    __slots__ = ("_max", "_seen", "intern")

    def __init__(self, max_size: int = 8192) -> None:
        self._seen: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._max = max_size
        self.intern = self._seen.setdefault

    def check(self) -> None:
        """Start over when full (tuples already shared stay shared)."""
        if len(self._seen) > self._max:
            self._seen.clear()


MAX_TX_DEPTH = 8
"""The deepest nesting a tx map may have (the protocol's shapes need 3): deeper is refused."""


def unpack_tx(raw: bytes) -> dict[str, Any]:
    """Decode one packed tx map; anything that is not a msgpack map, or nests deeper than
    `MAX_TX_DEPTH`, is a `MessageError`."""
    try:
        d = msgpack.unpackb(raw, raw=False)
    except Exception as err:  # msgpack raises several unrelated types for bad input
        raise MessageError(f"tx: not a valid msgpack map ({type(err).__name__}: {err})") from None
    if type(d) is not dict:
        raise MessageError("tx: must be a map")
    if nesting_depth(d, MAX_TX_DEPTH) > MAX_TX_DEPTH:
        raise MessageError(f"tx: nested deeper than {MAX_TX_DEPTH} levels")
    return d


def decode_run(
    raws: Sequence[bytes], times: Sequence[int], stamp: int | None = None
) -> list[TxCore] | list[dict[str, Any]]:
    """Stored messages, ready for `derive_many`: `TxCore`s, or wire maps if any is odd.

    Each gets its receive time as "time", except those equal to `stamp` (the run's own
    receive time, which `derive_many` is given). Raises `MessageError` for a non-map.
    """
    txs = decode_many(raws)
    if txs is not None:
        for tx, t in zip(txs, times, strict=True):
            if t != stamp:
                tx.time = t
        return txs
    maps = [*map(unpack_tx, raws)]
    for d, t in zip(maps, times, strict=True):
        if t != stamp:
            d["time"] = t
    return maps


_INT = {int}
_BOOL = {bool}
_NOSTEPS: tuple[list[int], ...] = ()
_FROM = itemgetter(1)
_TO = itemgetter(2)
# Keys `TxMsg.from_wire` checks that derive() does not need; checked when the message is decoded.
_DETAIL_KEYS = ("steps", "log", "pre", "args", "qdump", "trace", "ql", "time")


def _core_ok(d: dict[str, Any]) -> bool:
    """Cheap check of the keys derive() reads (False = not sure: ask `TxMsg.from_wire`)."""
    c = d.get("c")
    s = d.get("s")
    acc = d.get("acc", True)
    return (
        type(d.get("m")) is str
        and type(d.get("id")) is str
        and type(c) is list
        and {*map(type, c)} <= _INT
        and (s is None or (type(s) is list and {*map(type, s)} <= _INT))
        and {*map(type, (d.get("t", 0), d.get("qt", 0), d.get("mqt", 0), d.get("mqk", 0)))} == _INT
        and {*map(type, (acc, d.get("auto", False), d.get("chk", False), d.get("qd", False)))}
        == _BOOL
    )


def _step_states(steps: Any) -> set[int]:
    """The states steps name (from / to); `MessageError` unless steps are [int, int, int, ...] x5+.

    The other step fields are checked when the message is decoded.
    """
    try:
        ok = type(steps) is list and min(map(len, steps)) >= 5
        if ok:
            seen = {*map(_FROM, steps), *map(_TO, steps)}
            ok = {*map(type, seen)} <= _INT
    except (TypeError, ValueError, IndexError, KeyError):
        ok = False
    if not ok:
        raise MessageError("tx: key 'steps' must be a list of [type, from, to, rel, flags]")
    if min(seen) < 0:
        seen = {i for i in seen if i >= 0}
    return seen


def check_tx(d: dict[str, Any]) -> None:
    """Raise `MessageError` (naming the key) unless `derive()` can store wire map `d`."""
    if not _core_ok(d):
        TxMsg.from_wire(d)
    steps = d.get("steps")
    if steps:
        _step_states(steps)


def derive(
    d: dict[str, Any],
    prev_clocks: tuple[int, ...],
    prev_sum: int,
    facts: SchemaFacts,
    time_ns: int,
    interner: TupleInterner,
) -> tuple[TxInfo, tuple[int, ...]]:
    """Validate what the indexes need of a wire map and compute its `TxInfo`.

    Returns it with the message's clocks. Raises `MessageError` (naming the key) when a key it
    reads is malformed. Keys it does not read (log lines, args, ...) are checked only when the
    message is decoded (`decode`), so one bad log line never costs the transition.
    """
    get = d.get
    tid, c, s = get("id"), get("c"), get("s")
    typ, qt, mqt, mqk = get("t", 0), get("qt", 0), get("mqt", 0), get("mqk", 0)
    acc, auto, chk, qd = get("acc", True), get("auto", False), get("chk", False), get("qd", False)
    if not (
        type(get("m")) is str
        and type(tid) is str
        and type(c) is list
        and {*map(type, c)} <= _INT
        and (s is None or (type(s) is list and {*map(type, s)} <= _INT))
        and {*map(type, (typ, qt, mqt, mqk))} == _INT
        and {*map(type, (acc, auto, chk, qd))} == _BOOL
    ):
        # raises the precise error; if it does not (e.g. a null value), use its reading
        msg = TxMsg.from_wire(d)
        c, s, typ, acc, auto, chk, qd = (
            msg.clocks,
            msg.called,
            msg.type,
            msg.accepted,
            msg.is_auto,
            msg.is_check,
            msg.is_queued,
        )
        qt, mqt, mqk = msg.queue_tick, msg.mut_queue_tick, msg.mut_queue_token
    intern = interner.intern
    clocks = tuple(c)
    time_sum = sum(clocks)
    # added: became active, or stayed active with a new tick (multi); removed: became inactive
    if clocks == prev_clocks:
        added: tuple[int, ...] = ()
        removed: tuple[int, ...] = ()
    else:
        cur, prev = clocks, prev_clocks
        if len(cur) != len(prev):
            n = max(len(cur), len(prev))
            cur = cur + (0,) * (n - len(cur))
            prev = prev + (0,) * (n - len(prev))
        add_l: list[int] = []
        rem_l: list[int] = []
        for i in compress(range(len(cur)), map(ne, cur, prev)):
            if cur[i] & 1:
                add_l.append(i)
            elif prev[i] & 1:
                rem_l.append(i)
        added = tuple(add_l)
        removed = tuple(rem_l)
    steps = get("steps") or _NOSTEPS
    if steps:
        touched = tuple(sorted(_step_states(steps)))
        touched = intern(touched, touched)
    else:
        touched = ()
    if s:
        called = tuple(s)
        called = intern(called, called)
    else:
        called = ()
    if added:
        added = intern(added, added)
    if removed:
        removed = intern(removed, removed)
    accepted: bool = acc
    is_queued: bool = qd
    time_diff = time_sum - prev_sum
    is_err = False
    if facts.err_idxs:
        lc = len(clocks)
        for i in facts.err_idxs:
            if i < lc and clocks[i] & 1:
                is_err = True
                break
    health = facts.health_idxs
    is_health = bool(called) and bool(health) and health.issuperset(called)
    info = tuple.__new__(
        TxInfo,
        (
            tid,
            time_ns,
            time_sum,
            time_diff,
            typ,
            called,
            added,
            removed,
            touched,
            accepted,
            auto,
            chk,
            is_queued,
            qt,
            mqt,
            mqk,
            len(steps),
            is_err,
            is_health,
            accepted and not is_queued and time_diff == 0,
        ),
    )
    return info, clocks


def decode(d: dict[str, Any]) -> TxMsg:
    """The full message of a stored wire map (one that passed derive()).

    A malformed detail (a log line that is not [level, text], args that are not a map, ...) does
    not lose the message: that key is left out and an `[error]` pre-log line names it and why.
    """
    try:
        return TxMsg.from_wire(d)
    except MessageError:
        pass
    base = {k: v for k, v in d.items() if k not in _DETAIL_KEYS}
    notes: list[LogEntry] = []
    good: dict[str, Any] = {}
    for k in _DETAIL_KEYS:
        if k not in d:
            continue
        try:
            TxMsg.from_wire({**base, k: d[k]})
        except MessageError as err:
            notes.append(LogEntry(1, f"[error] am-dbg: malformed {k!r} left out: {err}"))
        else:
            good[k] = d[k]
    msg = TxMsg.from_wire({**base, **good})
    return replace(msg, pre_log=(*notes, *msg.pre_log))


class Derived(NamedTuple):
    """What `derive_many` computed for a run of messages of one machine.

    `infos` are `TxInfo`s as plain tuples of their fields (what the history stores: the cyclic
    GC stops tracking those); `TxInfo._make` or `tuple.__new__(TxInfo, t)` gives the named view.
    """

    infos: list[tuple[Any, ...]]
    ids: list[str]
    times: list[int]
    is_err: list[bool]
    last_clocks: tuple[int, ...]
    max_time_ns: int


_GET: Any = dict.get  # (typed Any: mypy's overloads of dict.get do not fit map())
_ONES = repeat(1)  # endless: shared by every map() below, never exhausted
_EMPTY: tuple[int, ...] = ()


def _all_of(kind: type, values: Any, n: int) -> bool:
    """Exactly `n` values, all of exactly type `kind` (no subclass: bool is not an int)."""
    return [*map(type, values)].count(kind) == n


class Checked(NamedTuple):
    """What `check_many` learnt of a run it accepted: enough to store it and derive it later."""

    ids: list[str]
    times: list[int]
    last_clocks: tuple[int, ...]
    max_time_ns: int


class _Columns(NamedTuple):
    """The checked columns of a run (what `derive_many` computes from)."""

    ids: list[str]
    times: list[int]
    cs: list[list[int]]
    ss: list[Any]
    steps: list[Any]
    froms: list[int]
    tos: list[int]
    typs: list[int]
    qts: list[int]
    mqts: list[int]
    mqks: list[int]
    accs: list[bool]
    autos: list[bool]
    chks: list[bool]
    qds: list[bool]
    prev_clocks: tuple[int, ...]


def _columns(
    ds: list[dict[str, Any]], prev_clocks: tuple[int, ...], now_ns: int
) -> _Columns | None:
    """Read and check the columns of a run (None: not sure, go message by message)."""
    n = len(ds)
    ids = [*map(_GET, ds, repeat("id"))]
    cs = [*map(_GET, ds, repeat("c"))]
    ss = [*map(_GET, ds, repeat("s"), repeat(_EMPTY))]
    steps = [*map(_GET, ds, repeat("steps"), repeat(_EMPTY))]
    typs = [*map(_GET, ds, repeat("t"), repeat(0))]
    qts = [*map(_GET, ds, repeat("qt"), repeat(0))]
    mqts = [*map(_GET, ds, repeat("mqt"), repeat(0))]
    mqks = [*map(_GET, ds, repeat("mqk"), repeat(0))]
    accs = [*map(_GET, ds, repeat("acc"), repeat(True))]
    autos = [*map(_GET, ds, repeat("auto"), repeat(False))]
    chks = [*map(_GET, ds, repeat("chk"), repeat(False))]
    qds = [*map(_GET, ds, repeat("qd"), repeat(False))]
    if not (
        _all_of(str, map(_GET, ds, repeat("m")), n)
        and _all_of(str, ids, n)
        and _all_of(list, cs, n)
        and _all_of(int, chain(typs, qts, mqts, mqks), 4 * n)
        and _all_of(bool, chain(accs, autos, chks, qds), 4 * n)
    ):
        return None
    prev = _widths_ok(cs, prev_clocks)
    if prev is None or not _all_of(int, chain.from_iterable(cs), n * len(prev)):
        return None
    prev_clocks = prev
    # called: lists of ints, or the default ()
    n_called = [*map(type, ss)].count(list)
    if n_called != n and n_called + ss.count(_EMPTY) != n:
        return None
    flat_called = [*chain.from_iterable(ss)]
    if not _all_of(int, flat_called, len(flat_called)):
        return None
    # steps: lists of >= 5 items whose from / to are ints, or the default ()
    n_with = [*map(type, steps)].count(list)
    if n_with != n and n_with + steps.count(_EMPTY) != n:
        return None
    flat_steps = [*chain.from_iterable(steps)]
    froms: list[int] = []
    tos: list[int] = []
    if flat_steps:
        if not _all_of(list, flat_steps, len(flat_steps)) or min(map(len, flat_steps)) < 5:
            return None
        froms = [*map(_FROM, flat_steps)]
        tos = [*map(_TO, flat_steps)]
        ends = chain(froms, tos)
        if not _all_of(int, ends, 2 * len(froms)) or min(min(froms), min(tos)) < -1:
            return None  # other negatives are left out of touched by derive()
    times = _human_times([*map(_GET, ds, repeat("st"))], [*map(_GET, ds, repeat("time"))], now_ns)
    return _Columns(
        ids,
        times,
        cs,
        ss,
        steps,
        froms,
        tos,
        typs,
        qts,
        mqts,
        mqks,
        accs,
        autos,
        chks,
        qds,
        prev_clocks,
    )


def _receive_times(times: list[Any], now_ns: int) -> list[int]:
    """A message's own receive time (a forwarded or loaded one), else `now_ns`."""
    if times.count(None) == len(times):
        return [now_ns] * len(times)
    return [t if type(t) is int and t > 0 else now_ns for t in times]


def _human_times(sts: list[Any], times: list[Any], now_ns: int) -> list[int]:
    """The time a transition is shown and travelled at: the sender's own (`st`) when the message
    has one, else its receive time (docs/protocol.md "Sender time")."""
    recv = _receive_times(times, now_ns)
    if sts.count(None) == len(sts):
        return recv
    return [s if type(s) is int and s > 0 else r for s, r in zip(sts, recv, strict=True)]


def human_time(d: dict[str, Any], recv_ns: int) -> int:
    """`_human_times` of one wire map received at `recv_ns`."""
    st = d.get("st")
    return st if type(st) is int and st > 0 else recv_ns


def receive_times(ds: list[dict[str, Any]] | list[TxCore], now_ns: int) -> list[int]:
    """Each message's receive time: its own `time` (forwarded, loaded), else `now_ns`."""
    if ds and type(ds[0]) is TxCore:
        return _receive_times([*map(_TIME, ds)], now_ns)
    return _receive_times([*map(_GET, ds, repeat("time"))], now_ns)


# TxCore fields
_C, _ID, _TIME, _S, _STEPS = map(attrgetter, ("c", "id", "time", "s", "steps"))
_ST = attrgetter("st")
_T, _QT, _MQT, _MQK = map(attrgetter, ("t", "qt", "mqt", "mqk"))
_ACC, _AUTO, _CHK, _QD = map(attrgetter, ("acc", "auto", "chk", "qd"))


def _widths_ok(cs: list[list[int]], prev_clocks: tuple[int, ...]) -> tuple[int, ...] | None:
    """The previous clocks to derive from (zeros for a first run), or None: widths differ."""
    width = len(cs[0])
    if [*map(len, cs)].count(width) != len(cs):
        return None
    if len(prev_clocks) != width:
        if prev_clocks:
            return None  # the width changed (schema change): derive() pads
        prev_clocks = (0,) * width
    return prev_clocks


def _core_columns(txs: list[TxCore], prev_clocks: tuple[int, ...], now_ns: int) -> _Columns | None:
    """`_columns` of decoded `TxCore`s: their types are checked, only the widths are left."""
    cs = [*map(_C, txs)]
    prev = _widths_ok(cs, prev_clocks)
    if prev is None:
        return None
    steps = [*map(_STEPS, txs)]
    flat_steps = [*chain.from_iterable(steps)]
    return _Columns(
        [*map(_ID, txs)],
        _human_times([*map(_ST, txs)], [*map(_TIME, txs)], now_ns),
        cs,
        [*map(_S, txs)],
        steps,
        [*map(_FROM, flat_steps)],
        [*map(_TO, flat_steps)],
        [*map(_T, txs)],
        [*map(_QT, txs)],
        [*map(_MQT, txs)],
        [*map(_MQK, txs)],
        [*map(_ACC, txs)],
        [*map(_AUTO, txs)],
        [*map(_CHK, txs)],
        [*map(_QD, txs)],
        prev,
    )


def check_many(
    ds: list[dict[str, Any]] | list[TxCore], prev_clocks: tuple[int, ...], now_ns: int
) -> Checked | None:
    """`derive_many`'s checks alone: the run can be stored now and derived (identically) later.

    `ds`: wire maps, or `TxCore`s (checked while decoded: only the clock widths are left).
    None when `derive_many` would return None (the caller goes message by message).
    """
    if type(ds[0]) is TxCore:
        txs: list[TxCore] = ds
        cs = [*map(_C, txs)]
        if _widths_ok(cs, prev_clocks) is None:
            return None
        times = _human_times([*map(_ST, txs)], [*map(_TIME, txs)], now_ns)
        return Checked([*map(_ID, txs)], times, tuple(cs[-1]), max(times))
    col = _columns(ds, prev_clocks, now_ns)  # type: ignore[arg-type]
    if col is None:
        return None
    return Checked(col.ids, col.times, tuple(col.cs[-1]), max(col.times))


def derive_many(
    ds: list[dict[str, Any]] | list[TxCore],
    prev_clocks: tuple[int, ...],
    prev_sum: int,
    facts: SchemaFacts,
    now_ns: int,
    interner: TupleInterner,
) -> Derived | None:
    """`derive()` for a run of wire maps of one machine, column by column.

    Every per-message step is a C-level `map` over the run (no Python frame per message) except
    added / removed, which visit only the messages whose clocks changed. The checks are those of
    `derive()`, but stricter: anything unusual (a wrong type, a null, clock vectors of different
    lengths) returns None and the caller goes message by message with `derive()`, which says why.
    Nothing is computed from unchecked values, so a None leaves no trace. `ds` may be `TxCore`s
    (see `check_many`).
    """
    if type(ds[0]) is TxCore:
        col = _core_columns(ds, prev_clocks, now_ns)
    else:
        col = _columns(ds, prev_clocks, now_ns)  # type: ignore[arg-type]
    if col is None:
        return None
    n = len(ds)
    (
        ids,
        times,
        cs,
        ss,
        steps,
        froms,
        tos,
        typs,
        qts,
        mqts,
        mqks,
        accs,
        autos,
        chks,
        qds,
        prev_clocks,
    ) = col
    width = len(prev_clocks)
    intern = interner.intern
    sums = [*map(sum, cs)]
    diffs = [*map(sub, sums, [prev_sum, *sums[:-1]])]
    prevs = [list(prev_clocks), *cs[:-1]]
    added = [_EMPTY] * n
    removed = [_EMPTY] * n
    span = range(width)
    for k in compress(range(n), map(not_, map(eq, cs, prevs))):
        cur = cs[k]
        prev = prevs[k]
        add_l: list[int] = []
        rem_l: list[int] = []
        for i in compress(span, map(ne, cur, prev)):
            if cur[i] & 1:
                add_l.append(i)
            elif prev[i] & 1:
                rem_l.append(i)
        if add_l:
            got = (*add_l,)
            added[k] = intern(got, got)
        if rem_l:
            got = (*rem_l,)
            removed[k] = intern(got, got)
    called = [*map(tuple, ss)]
    called = [*map(intern, called, called)]
    touched = [_EMPTY] * n
    if froms:
        offs = [0, *accumulate(map(len, steps))]
        for k in compress(range(n), steps):
            lo, hi = offs[k], offs[k + 1]
            seen = {*froms[lo:hi], *tos[lo:hi]}
            seen.discard(-1)
            t = (*sorted(seen),)
            touched[k] = intern(t, t)
    err_idxs = [i for i in facts.err_idxs if i < width]
    if err_idxs:
        odd_cols = [map(and_, map(itemgetter(i), cs), _ONES) for i in err_idxs]
        errs = [*map(bool, map(max, *odd_cols) if len(odd_cols) > 1 else odd_cols[0])]
    else:
        errs = [False] * n
    health = facts.health_idxs
    if health:
        healths = [*map(and_, map(bool, called), map(health.issuperset, called))]
    else:
        healths = [False] * n
    empties = [*map(and_, map(gt, accs, qds), map(not_, diffs))]
    infos = [
        *zip(
            ids,
            times,
            sums,
            diffs,
            typs,
            called,
            added,
            removed,
            touched,
            accs,
            autos,
            chks,
            qds,
            qts,
            mqts,
            mqks,
            map(len, steps),
            errs,
            healths,
            empties,
            strict=True,
        )
    ]
    return Derived(infos, ids, times, errs, tuple(cs[-1]), max(times))
