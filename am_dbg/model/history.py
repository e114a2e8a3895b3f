"""One machine's history in the debugger: its schema and every transition message it sent.

Each stored message is its packed msgpack bytes plus a small `TxInfo` computed once at ingest;
steps, log lines and args are decoded only when something shows them (a small LRU cache keeps the
ones on screen). That keeps a 20-state transition with steps and logs around 1 KiB in memory.

Indexes are 0-based positions in the current history. The memory GC drops transitions from the
front (`drop_front`), which shifts every index down; tx ids stay resolvable through `index_of`.

Lazy derivation: until something reads a machine's transitions (`info`, a lookup, `errors`...),
a run of messages is only *checked* at ingest (`check_many`: the same checks, so a bad message is
still refused on arrival) and stored with its ids and receive times; its `TxInfo`s are derived in
bulk, from the stored bytes and the inputs the check saw, on the first read (`_derive_pending`).
From then on the machine derives at ingest, as before. Machines nobody looks at (headless, or a
hidden client) never pay for added / removed / touched; results are identical either way.
"""

from __future__ import annotations

import bisect
import gc
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from itertools import compress, repeat
from operator import itemgetter
from typing import Any, NamedTuple, overload

import msgpack

from am_dbg.model.derive import (
    SchemaFacts,
    TupleInterner,
    TxInfo,
    check_many,
    decode,
    decode_run,
    derive,
    derive_many,
    human_time,
    receive_times,
    unpack_tx,
)
from am_dbg.model.exec_index import ExecIndex
from am_dbg.model.wire import TxCore, as_map
from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, TxMsg

__all__ = ["PER_TX_OVERHEAD", "MachineHistory", "TxInfo", "format_args", "synthetic_line"]

# Bytes a stored transition costs beyond its packed message (TxInfo, id, list slots, id index),
# measured with tracemalloc; the GC budget counts `len(raw) + PER_TX_OVERHEAD` per transition.
PER_TX_OVERHEAD = 630

_CACHE_SIZE = 128
# Runs at least this long are derived column by column (`derive_many`); shorter ones one by one.
_MANY_MIN = 4
# Pending runs are joined up to this length (one derive_many call each on the first read).
_PENDING_MAX = 4096

# Mutation types (am_core): add, remove, set.
_ADD, _REMOVE = 0, 1


class _Pending(NamedTuple):
    """A run stored checked but not derived: what `derive_many` needs to derive it later."""

    start: int  # absolute position of its first message
    n: int
    prev_clocks: tuple[int, ...]
    prev_sum: int
    facts: SchemaFacts
    now_ns: int


def format_args(args: dict[str, Any]) -> str:
    """` (k=v k2=v2)` with sorted keys, or "" (the Go debugger's MutationFormatArgs)."""
    if not args:
        return ""
    return " (" + " ".join(f"{k}={args[k]}" for k in sorted(args)) + ")"


def synthetic_line(info: TxInfo, names: Sequence[str], args: dict[str, Any]) -> LogEntry | None:
    """The level-2 line the debugger adds before a queued / canceled / empty transition's log."""
    if not (info.is_queued or not info.accepted or info.time_diff == 0):
        return None
    called = [names[i] if 0 <= i < len(names) else f"#{i}" for i in info.called]
    if info.type == _ADD:
        text = "+" + " +".join(called) if called else ""
    elif info.type == _REMOVE:
        text = "-" + " -".join(called) if called else ""
    else:
        text = ""
    if info.is_queued:
        prefix = "[aqueu]" if info.is_auto else "[queue]"
    elif not info.accepted:
        prefix = "[cance]"
    else:
        prefix = "[empty]"
    return LogEntry(2, f"{prefix} {text}{format_args(args)}")


class MachineHistory:
    """Schema, connection status and the stored transitions of one machine (no Textual here)."""

    def __init__(
        self, schema: SchemaMsg, conn_id: str, *, connected: bool = True, from_file: bool = False
    ) -> None:
        self.id: str = schema.id
        self.schema: SchemaMsg = schema
        self.conn_id: str = conn_id
        self.connected: bool = connected
        self.token: str = schema.token
        # Loaded from a recording: clean-on-connect never removes it.
        self.from_file: bool = from_file
        # Sorted indexes of transitions after which Exception or an Err* state is active.
        self._errors: list[int] = []
        self.newest_time_sum: int = 0
        # Human time of the newest message (or of the connection): "last activity" for eviction.
        self.last_activity_ns: int = 0
        self._facts = SchemaFacts.of(schema)
        # Each TxInfo is stored as a plain tuple of its fields: the cyclic GC stops tracking an
        # exact tuple of atoms, not a NamedTuple, and a million tracked infos would make every
        # full collection walk them all (~0.5 s pauses). `info()` wraps on read.
        # `_PENDING`: a message of a pending run (derived on the first read, see `_pending`)
        self._infos: list[tuple[Any, ...]] = []
        # human time of every message (what TxInfo.time_ns says): the sender's own when it sent
        # one, else the receive time (docs/protocol.md "Sender time"); the receive time beside it
        self._times = array("q")
        self._recv = array("q")
        self._pending: list[_Pending] = []
        # True until the first read: runs are only checked at ingest (or some are pending)
        self._lazy = True
        self._read = False  # somebody read the transitions: derive at ingest from now on
        self._raw: list[bytes] = []
        self._ids: dict[str, int] = {}  # tx id -> absolute position (index + _base)
        self._base = 0  # transitions dropped from the front so far
        self._prev_clocks: tuple[int, ...] = ()
        self._cache: OrderedDict[int, TxMsg] = OrderedDict()  # absolute position -> message
        self._intern = TupleInterner()
        self._raw_bytes = 0
        self._trimmed_upto = 0  # absolute position below which ops logs were dropped by the GC
        # lazily built lookups, absolute positions: state -> (touching positions, scanned up to)
        self._touch: dict[int, tuple[array[int], int]] = {}
        self._exec = ExecIndex()  # executed transitions by queue tick / token (executed_by)

    # schema ---------------------------------------------------------------------------------------

    @property
    def parent_id(self) -> str:
        return self.schema.parent

    @property
    def tags(self) -> tuple[str, ...]:
        return self.schema.tags

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.schema.states_index

    def set_schema(self, schema: SchemaMsg) -> None:
        """A schema change on the same run: new states index and groups, history kept."""
        self.schema = schema
        self.token = schema.token or self.token
        self._facts = SchemaFacts.of(schema)
        self._cache.clear()

    # storage --------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._infos)

    @property
    def stored_bytes(self) -> int:
        """Estimated memory of the stored transitions (what the GC budget counts)."""
        return self._raw_bytes + PER_TX_OVERHEAD * len(self._infos)

    def append_wire(self, d: dict[str, Any], raw: bytes | None, time_ns: int) -> TxInfo:
        """Store one message given as its wire map (and its packed bytes, if already at hand).

        `time_ns` is used when the message carries no receive time. Raises `MessageError`.
        """
        recv = d.get("time")
        if type(recv) is not int or recv <= 0:
            recv = time_ns
        info, clocks = derive(
            d,
            self._prev_clocks,
            self.newest_time_sum,
            self._facts,
            human_time(d, recv),
            self._intern,
        )
        if not len(self._infos) & 1023:
            self._intern.check()
        if raw is None:
            raw = msgpack.packb(d)
        pos = self._base + len(self._infos)
        self._infos.append(tuple(info))
        self._times.append(info.time_ns)
        self._recv.append(recv)
        self._raw.append(raw)
        self._raw_bytes += len(raw)
        self._ids[info.id] = pos
        self._prev_clocks = clocks
        self.newest_time_sum = info.time_sum
        if info.time_ns > self.last_activity_ns:
            self.last_activity_ns = info.time_ns
        if info.is_err:
            self._errors.append(len(self._infos) - 1)
        return info

    def extend_wire(
        self, ds: list[dict[str, Any]] | list[TxCore], raws: list[bytes], time_ns: int
    ) -> list[MessageError | None] | None:
        """Store a run of messages given as wire maps (or `TxCore`s) with their packed bytes.

        The fast path derives the whole run at once (`derive_many`), or, while nobody read this
        machine, only checks it (`check_many`) and leaves the derivation for the first read; a run
        it is not sure of goes message by message through `append_wire`. Returns None when every
        message was stored, else one entry per message: None (stored) or the `MessageError` that
        refused it.
        """
        n = len(ds)
        if not n:
            return None
        core = type(ds[0]) is TxCore
        # short runs one by one (the column path costs ~20 us a call), unless only checked
        bulk = n >= _MANY_MIN or (core and not self._read)
        if bulk and not self._read:
            chk = check_many(ds, self._prev_clocks, time_ns)
            if chk is not None:
                start = len(self._infos)
                pos = self._base + start
                self._add_pending(pos, n, time_ns)
                self._infos += [_PENDING] * n
                self._times.extend(chk.times)
                self._recv.extend(receive_times(ds, time_ns))
                self._raw += raws
                self._raw_bytes += sum(map(len, raws))
                self._ids.update(zip(chk.ids, range(pos, pos + n), strict=True))
                self._prev_clocks = chk.last_clocks
                self.newest_time_sum = sum(chk.last_clocks)
                if chk.max_time_ns > self.last_activity_ns:
                    self.last_activity_ns = chk.max_time_ns
                return None
        elif bulk:
            got = derive_many(
                ds, self._prev_clocks, self.newest_time_sum, self._facts, time_ns, self._intern
            )
            if got is not None:
                self._intern.check()
                start = len(self._infos)
                pos = self._base + start
                self._infos += got.infos
                self._times.extend(got.times)
                self._recv.extend(receive_times(ds, time_ns))
                self._raw += raws
                self._raw_bytes += sum(map(len, raws))
                self._ids.update(zip(got.ids, range(pos, pos + n), strict=True))
                self._prev_clocks = got.last_clocks
                self.newest_time_sum = _TIME_SUM(got.infos[-1])
                if got.max_time_ns > self.last_activity_ns:
                    self.last_activity_ns = got.max_time_ns
                if True in got.is_err:
                    self._errors += compress(range(start, start + n), got.is_err)
                return None
        out: list[MessageError | None] = []
        for d, raw in zip(ds, raws, strict=True):
            try:
                self.append_wire(as_map(d) if core else d, raw, time_ns)  # type: ignore[arg-type]
            except MessageError as err:
                out.append(err)
            else:
                out.append(None)
        return out

    def _add_pending(self, pos: int, n: int, time_ns: int) -> None:
        """Note a checked run for later derivation, joined to the previous one when it follows
        it (live streams arrive as runs of one or two messages; derive_many costs ~20 us a call).
        A joined run's messages keep their own receive times (see `_derive_pending`)."""
        last = self._pending[-1] if self._pending else None
        if (
            last is not None
            and last.start + last.n == pos
            and last.facts is self._facts
            and last.n + n <= _PENDING_MAX
        ):
            self._pending[-1] = last._replace(n=last.n + n)
            return
        self._pending.append(
            _Pending(pos, n, self._prev_clocks, self.newest_time_sum, self._facts, time_ns)
        )

    def append(self, msg: TxMsg | bytes, time_ns: int = 0) -> TxInfo:
        """Store a `TxMsg` or one packed tx map; `time_ns` stamps messages without a time."""
        if isinstance(msg, bytes):
            return self.append_wire(unpack_tx(msg), msg, time_ns)
        return self.append_wire(msg.to_wire(), None, time_ns)

    def raw(self, i: int) -> bytes:
        """The stored packed message (its receive time is `time_ns(i)`, maybe not inside)."""
        return self._raw[i]

    def raws(self, start: int, end: int) -> list[bytes]:
        """The stored packed messages [start, end) (a copy of the slice), for scans over bytes."""
        return self._raw[start:end]

    def time_ns(self, i: int) -> int:
        """Human time of transition `i` (= `info(i).time_ns`, without deriving anything): the
        sender's own time when the message carries one, else the receive time."""
        return self._times[i]

    def n_queued(self) -> int:
        """How many stored messages are queued mutations, not transitions (derives them)."""
        self._view()
        return sum(1 for r in self._infos if r[_QUEUED])

    def recv_time_ns(self, i: int) -> int:
        """When the debugger received transition `i` (what recordings store)."""
        return self._recv[i]

    def derive_now(self) -> None:
        """Derive what is pending now, as the first read would (e.g. before a UI's first frame)."""
        if self._lazy:
            self._view()

    def _view(self) -> None:
        """Somebody reads the transitions: derive what is pending, and derive at ingest now on."""
        self._read = True
        self._lazy = False
        if self._pending:
            self._derive_pending()

    def _derive_pending(self) -> None:
        """Derive every pending run from its stored bytes, exactly as ingest would have."""
        runs, self._pending = self._pending, []
        self._lazy = not self._read
        infos = self._infos
        base = self._base
        errors = self._errors
        n_errors = len(errors)
        gc_was_on = gc.isenabled()
        gc.disable()  # thousands of decoded maps, no cycles (see Session.on_txs)
        try:
            for run in runs:
                i = run.start - base
                # the receive times ingest settled on (loaded messages carry theirs apart); the
                # stamped ones share the run's `now_ns`, as at ingest
                ds = decode_run(self._raw[i : i + run.n], self._times[i : i + run.n], run.now_ns)
                got = derive_many(
                    ds, run.prev_clocks, run.prev_sum, run.facts, run.now_ns, self._intern
                )
                if got is None:  # the same checks passed at ingest; never happens
                    raise AssertionError("a checked run failed to derive")
                infos[i : i + run.n] = got.infos
                if True in got.is_err:
                    errors += compress(range(i, i + run.n), got.is_err)
                self._intern.check()
        finally:
            if gc_was_on:
                gc.enable()
        if len(errors) != n_errors:
            errors.sort()  # runs derived at ingest after a pending one appended theirs already

    def drop_front(self, n: int) -> int:
        """Forget the oldest `n` transitions (memory GC); returns how many were dropped."""
        n = max(0, min(n, len(self._infos)))
        if not n:
            return 0
        if self._pending:
            self._derive_pending()
        for info in self._infos[:n]:
            tx_id = info[_ID]
            # a later message may reuse an id (Go's `semlogger`); keep its entry
            if self._ids.get(tx_id, -1) < self._base + n:
                self._ids.pop(tx_id, None)
        self._raw_bytes -= sum(len(r) for r in self._raw[:n])
        del self._infos[:n]
        del self._times[:n]
        del self._recv[:n]
        del self._raw[:n]
        self._base += n
        self._errors = [e - n for e in self._errors if e >= n]
        self._exec = ExecIndex(self._base)  # rebuilt on the next question
        self._touch.clear()  # rebuilt on the next jump
        for pos in [p for p in self._cache if p < self._base]:
            del self._cache[pos]
        return n

    def trim_ops_logs(self, older_than_ns: int, keep: int | None, budget_left: int) -> int:
        """GC phase 1: drop log entries above level 2 (changes) from old transitions.

        Works oldest first from where the last call stopped, skips `keep`, and stops once
        `budget_left` bytes were freed or a transition is younger than `older_than_ns`.
        Returns the bytes freed.
        """
        freed = 0
        i = max(0, self._trimmed_upto - self._base)
        while i < len(self._infos) and freed < budget_left:
            if self._times[i] >= older_than_ns:
                break
            if i != keep:
                raw = self._raw[i]
                d = unpack_tx(raw)
                changed = False
                for k in ("log", "pre"):
                    entries = d.get(k)
                    if entries and type(entries) is list:
                        # malformed entries stay: decoding reports them, the GC does not judge
                        kept = [e for e in entries if not _above_changes(e)]
                        if len(kept) != len(entries):
                            d[k] = kept
                            changed = True
                if changed:
                    new = msgpack.packb(d)
                    freed += len(raw) - len(new)
                    self._raw_bytes += len(new) - len(raw)
                    self._raw[i] = new
                    self._cache.pop(i + self._base, None)
            i += 1
            self._trimmed_upto = i + self._base
        return freed

    # per-transition access --------------------------------------------------------------------------

    def info(self, i: int) -> TxInfo:
        if self._lazy:
            self._view()
        return _NEW(TxInfo, self._infos[i])

    def infos(self) -> Sequence[TxInfo]:
        """Every `TxInfo`, oldest first (a read-only view)."""
        if self._lazy:
            self._view()
        return _InfoView(self._infos)

    def __iter__(self) -> Iterator[TxInfo]:
        return iter(self.infos())

    @property
    def errors(self) -> list[int]:
        """Sorted indexes of transitions after which Exception or an Err* state is active."""
        if self._lazy:
            self._view()
        return self._errors

    def tx(self, i: int) -> TxMsg:
        """The full message, with its receive time, decoded on demand."""
        if i < 0:
            i += len(self._infos)
        if not 0 <= i < len(self._infos):
            raise IndexError(f"tx index {i} out of range (history of {len(self._infos)})")
        pos = i + self._base
        msg = self._cache.get(pos)
        if msg is not None:
            self._cache.move_to_end(pos)
            return msg
        d = unpack_tx(self._raw[i])
        d["time"] = self._recv[i]
        msg = decode(d)
        self._cache[pos] = msg
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return msg

    def clocks(self, i: int) -> tuple[int, ...]:
        """Machine time after transition `i`, padded with 0 to the current number of states."""
        if i < 0:
            i += len(self._infos)
        msg = self._cache.get(i + self._base) if 0 <= i < len(self._infos) else None
        c: Sequence[int] = msg.clocks if msg is not None else unpack_tx(self._raw[i])["c"]
        n = len(self.schema.states_index)
        if len(c) < n:
            return (*c, *(0,) * (n - len(c)))
        return tuple(c)

    def log_entries(self, i: int) -> tuple[LogEntry, ...]:
        """Pre-log then log entries; queued / canceled / empty transitions get a synthetic line first."""
        msg = self.tx(i)
        synth = synthetic_line(self.info(i), self.schema.states_index, msg.args)
        if synth is None:
            return msg.pre_log + msg.log
        return (synth, *msg.pre_log, *msg.log)

    # lookups ----------------------------------------------------------------------------------------

    def index_of(self, tx_id: str) -> int | None:
        pos = self._ids.get(tx_id)
        if pos is None or pos < self._base:
            return None
        return pos - self._base

    def tx_at_mach_time(self, t: int) -> int:
        """The first transition whose machine time (time_sum) is exactly `t`, else -1."""
        if self._lazy:
            self._view()
        infos = self._infos
        i = bisect.bisect_left(infos, t, key=_TIME_SUM)
        if i < len(infos) and _TIME_SUM(infos[i]) == t:
            return i
        return -1

    def tx_at_human_time(self, ns: int) -> int:
        """The last transition received at or before `ns` (docs/architecture.md), else -1."""
        return bisect.bisect_right(self._times, ns) - 1

    def tx_at_queue_tick(self, q: int) -> int:
        """The first transition with queue_tick >= `q`, else the last one (-1 when empty)."""
        if self._lazy:
            self._view()
        i = bisect.bisect_left(self._infos, q, key=_QUEUE_TICK)
        return min(i, len(self._infos) - 1)

    def executed_by(self, queued_i: int) -> int | None:
        """The transition that executed queued message `queued_i` (by queue tick or token)."""
        if self._lazy:
            self._view()
        if queued_i < 0:
            queued_i += len(self._infos)
        q = self._infos[queued_i]
        if not q[_QUEUED]:
            return None
        tick, token = q[_MUT_TICK], q[_TOKEN]
        base, infos = self._base, self._infos
        self._exec.extend(infos, base)
        if self._exec.monotonic:
            found = self._exec.find(queued_i + base, tick, token)
            return None if found is None else found - base
        for j in range(queued_i + 1, len(infos)):  # queue ticks out of order: scan
            row = infos[j]
            if row[_QUEUED]:
                continue
            if (tick and row[_TICK] == tick) or (token and row[_TOKEN] == token):
                return j
            if not token and tick and row[_TICK] > tick:
                return None  # past its tick: never executed (the rule the index follows)
        return None

    def next_touching(
        self,
        state_idx: int,
        start: int,
        forward: bool,
        accept: Callable[[int], bool] | None = None,
    ) -> int | None:
        """First transition after (before) `start` that added, removed or called `state_idx`.

        Walks a per-state index (built on the first jump to that state, extended as transitions
        arrive), so a jump costs the candidates it visits, not the history length.
        """
        if self._lazy:
            self._view()
        base = self._base
        pos = self._touching(state_idx)
        if forward:
            for n in range(bisect.bisect_right(pos, start + base), len(pos)):
                p = pos[n]
                if accept is None or accept(p - base):
                    return p - base
        else:
            end = min(start, len(self._infos)) + base
            k = bisect.bisect_left(pos, end)
            lo = bisect.bisect_left(pos, base)
            for n in range(k - 1, lo - 1, -1):
                p = pos[n]
                if accept is None or accept(p - base):
                    return p - base
        return None

    def _touching(self, state_idx: int) -> array[int]:
        """Absolute positions of the transitions that added, removed or called `state_idx`."""
        entry = self._touch.get(state_idx)
        if entry is None:
            entry = (array("q"), self._base)
        pos, upto = entry
        infos = self._infos
        base = self._base
        for j in range(max(upto - base, 0), len(infos)):
            added, removed, called = _TOUCH_SETS(infos[j])
            if state_idx in added or state_idx in removed or state_idx in called:
                pos.append(j + base)
        self._touch[state_idx] = (pos, base + len(infos))
        return pos

    def had_err_since(self, i: int, distance: int = 100) -> bool:
        """An error at `i`, or the nearest earlier one less than `distance` transitions before."""
        if self._lazy:
            self._view()
        k = bisect.bisect_right(self._errors, i)
        if k == 0:
            return False
        return i - self._errors[k - 1] < distance

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<MachineHistory {self.id!r} {len(self)} txs {state} conn={self.conn_id!r}>"


def _above_changes(entry: Any) -> bool:
    """A well-formed [level, text] log entry above level 2 (what GC phase 1 drops)."""
    return (
        type(entry) is list
        and len(entry) == 2
        and type(entry[0]) is int
        and type(entry[1]) is str
        and entry[0] > 2
    )


_NEW = tuple.__new__
_PENDING: tuple[Any, ...] = ()  # a stored message not derived yet
_F = TxInfo._fields
# field getters that work on a stored plain tuple as on a TxInfo
_ID = _F.index("id")
_TIME_SUM = itemgetter(_F.index("time_sum"))
_QUEUE_TICK = itemgetter(_F.index("queue_tick"))
_TOUCH_SETS = itemgetter(_F.index("added"), _F.index("removed"), _F.index("called"))
_QUEUED, _TICK = _F.index("is_queued"), _F.index("queue_tick")
_MUT_TICK, _TOKEN = _F.index("mut_queue_tick"), _F.index("mut_queue_token")


class _InfoView(Sequence[TxInfo]):
    """The stored plain tuples, seen as `TxInfo`s."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> TxInfo: ...
    @overload
    def __getitem__(self, i: slice) -> list[TxInfo]: ...
    def __getitem__(self, i: int | slice) -> TxInfo | list[TxInfo]:
        if isinstance(i, slice):
            return [_NEW(TxInfo, r) for r in self._rows[i]]
        return _NEW(TxInfo, self._rows[i])

    def __iter__(self) -> Iterator[TxInfo]:
        return map(_NEW, repeat(TxInfo), self._rows)
