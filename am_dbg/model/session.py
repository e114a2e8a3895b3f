"""Every machine the debugger knows, and the rules for what arrives (docs/protocol.md).

The ingest server (live sockets), the recordings loader and the UI all go through `Session`:

- `on_schema`: clean-on-connect, schema change (same connection), reconnect (same id and session
  token on a new connection: the history continues, docs/protocol.md), a new run (same id, new token:
  the earlier run is kept as ``<id>~<n>``, `am_dbg.model.runs`), new machine, the `max_clients` cap;
- `on_txs`: a batch of (conn id, message) pairs in arrival order; unknown machines and messages from
  a connection that is not the machine's current one are dropped and counted, never raised;
- `on_disconnect`, `remove`, `load` (machines from a file: disconnected, never cleaned on connect);
- `gc`: the two-phase memory budget of §6.4 over the estimated stored bytes.

An optional `recorder` (a live `.amdbg` writer) sees exactly what the model accepted.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, pairwise, repeat
from operator import attrgetter, ne
from typing import TYPE_CHECKING, Any, Literal, Protocol

from msgpack import packb

from am_dbg.model.derive import decode_run, unpack_tx
from am_dbg.model.history import MachineHistory
from am_dbg.model.lazy_history import LazyHistory, LazyTxs
from am_dbg.model.packed import PackedTxs
from am_dbg.model.runs import earlier_run_id, find_run, renamed
from am_dbg.model.wire import decode_many
from am_rpc.dbg.protocol import MessageError, SchemaMsg, TxMsg

if TYPE_CHECKING:
    from am_dbg.config import Config

__all__ = ["GC_MIN_TXS", "BatchOutcome", "Recorder", "SchemaOutcome", "Session"]

# Machines left with fewer transitions than this after a GC halving are removed (spec §6.4).
GC_MIN_TXS = 300
_GC_ROUNDS = 100
_MAX_ERRORS_KEPT = 20
_LOAD_CHUNK = 1024
_CHUNK = 64  # decoded maps held at once: small enough to stay in the CPU cache
_MACH = attrgetter("m")  # of a TxCore
_SMALL_BATCH = 4  # below this, message by message (the batch machinery costs more)

SchemaKind = Literal["new", "schema_change", "reconnect", "replaced"]


class Recorder(Protocol):
    """Receives everything the session accepted, in order (e.g. `RecordingWriter`)."""

    def write_connect(self, conn_id: str, mach_id: str, time_ns: int) -> None: ...
    def write_schema(self, schema: SchemaMsg, conn_id: str, time_ns: int) -> None: ...
    def write_tx(self, conn_id: str, tx: TxMsg | bytes, time_ns: int) -> None: ...
    def write_disconnect(self, conn_id: str, mach_id: str, time_ns: int) -> None: ...


@dataclass(frozen=True, slots=True)
class SchemaOutcome:
    """What a schema message did.

    `kind`: "new" machine, "schema_change" (same connection, history kept), "reconnect" (same run
    on a new connection, history kept), "replaced" (a new run of the same id: the earlier run is
    kept under `earlier`, see `am_dbg.model.runs`).
    `removed`: machines removed as a consequence (clean-on-connect, the `max_clients` cap); a
    replaced machine's id is not listed (it is still there, as a new history).
    """

    mach_id: str
    kind: SchemaKind
    removed: tuple[str, ...] = ()
    earlier: str = ""  # "replaced": the id the earlier run is kept under


@dataclass(slots=True)
class BatchOutcome:
    """What a batch of transition messages did."""

    # machine id -> how many messages were appended (in arrival order)
    added: dict[str, int] = field(default_factory=dict)
    unknown: int = 0  # for a machine without a schema
    conn_mismatch: int = 0  # from a connection that is not the machine's current one
    invalid: int = 0  # malformed messages
    errors: list[str] = field(default_factory=list)  # the first few reasons for `invalid`
    # connection id -> the first reason one of its messages was malformed (to close it)
    bad_conns: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.added.values())

    @property
    def dropped(self) -> int:
        return self.unknown + self.conn_mismatch + self.invalid


class Session:
    """Every machine the debugger knows, by id (insertion order = oldest first)."""

    def __init__(
        self,
        *,
        clean_on_connect: bool = True,
        max_clients: int = 5000,
        max_mem_bytes: int = 1000 * 2**20,
        log_ops_ttl_ns: int = 3600 * 10**9,
        recorder: Recorder | None = None,
    ) -> None:
        self.machines: dict[str, MachineHistory] = {}
        self.clean_on_connect = clean_on_connect
        self.max_clients = max_clients
        self.max_mem_bytes = max_mem_bytes
        self.log_ops_ttl_ns = log_ops_ttl_ns
        self.recorder = recorder
        # (conn id, machine id) -> the earlier-run id that connection's machine was renamed to
        self._renamed: dict[tuple[str, str], str] = {}

    @classmethod
    def from_config(cls, cfg: Config, recorder: Recorder | None = None) -> Session:
        return cls(
            clean_on_connect=cfg.clean_on_connect,
            max_clients=cfg.max_clients,
            max_mem_bytes=cfg.max_mem * 2**20,
            log_ops_ttl_ns=int(cfg.log_ops_ttl * 10**9),
            recorder=recorder,
        )

    # connections ------------------------------------------------------------------------------------

    def on_schema(
        self, schema: SchemaMsg, conn_id: str, now_ns: int | None = None
    ) -> SchemaOutcome:
        """A schema arrived over connection `conn_id` (spec §3.5 plus the session-token rule)."""
        now = now_ns or time.time_ns()
        removed: list[str] = []
        kind: SchemaKind
        earlier = ""
        run = self._renamed.get((conn_id, schema.id))
        if run is not None and run in self.machines:
            # a schema change on the channel of a run renamed by a newer one: it stays renamed
            self.machines[run].set_schema(renamed(schema, run))
            if self.recorder is not None:
                self.recorder.write_schema(schema, conn_id, now)
            return SchemaOutcome(run, "schema_change")
        old = self.machines.get(schema.id)
        if old is not None and old.token != schema.token and schema.token:
            run = find_run(schema.id, schema.token, self.machines, _live_token)
            if run is not None:  # a renamed earlier run reconnecting: its history continues
                h = self.machines[run]
                h.set_schema(renamed(schema, run))
                h.conn_id = conn_id
                h.connected = True
                h.last_activity_ns = now
                self._renamed[(conn_id, schema.id)] = run
                if self.recorder is not None:
                    self.recorder.write_connect(conn_id, schema.id, now)
                    self.recorder.write_schema(schema, conn_id, now)
                return SchemaOutcome(run, "reconnect")
        if old is not None and old.conn_id == conn_id and not old.from_file:
            old.set_schema(schema)
            old.connected = True
            kind = "schema_change"
        elif old is not None and not old.from_file and old.token and old.token == schema.token:
            old.set_schema(schema)
            old.conn_id = conn_id
            old.connected = True
            old.last_activity_ns = now
            kind = "reconnect"
        else:
            existed = old is not None
            if self.clean_on_connect:
                live = [m for m in self.machines.values() if not m.from_file]
                if live and not any(m.connected for m in live):
                    # the other machines go; this id's earlier run stays, renamed below
                    for m in live:
                        if m.id != schema.id:
                            removed.append(m.id)
                            del self.machines[m.id]
            kind = "replaced" if existed else "new"
            prev = self.machines.pop(schema.id, None)
            if prev is not None:
                # nothing received is erased: the earlier run stays, renamed (model.runs)
                earlier = earlier_run_id(schema.id, self.machines)
                prev.id = earlier
                prev.set_schema(renamed(prev.schema, earlier))
                self.machines[earlier] = prev
                if not prev.from_file:
                    self._renamed[(prev.conn_id, schema.id)] = earlier
            h = MachineHistory(schema, conn_id, connected=True)
            h.last_activity_ns = now
            self.machines[schema.id] = h
            removed.extend(self._enforce_max_clients(schema.id))
        if self.recorder is not None:
            if kind != "schema_change":
                self.recorder.write_connect(conn_id, schema.id, now)
            self.recorder.write_schema(schema, conn_id, now)
        return SchemaOutcome(schema.id, kind, tuple(removed), earlier)

    def _enforce_max_clients(self, new_id: str) -> list[str]:
        out: list[str] = []
        while len(self.machines) > self.max_clients > 0:
            victims = [m for m in self.machines.values() if m.id != new_id]
            if not victims:
                break
            victim = min(victims, key=lambda m: (m.connected, m.last_activity_ns))
            del self.machines[victim.id]
            out.append(victim.id)
        return out

    def on_disconnect(self, conn_id: str, now_ns: int | None = None) -> str | None:
        """Connection `conn_id` closed: its machine stays, greyed, with its full history.

        Returns the machine id marked disconnected (the first one, should a connection have
        carried several), or None when no connected machine uses it (e.g. it reconnected on a new
        connection already).
        """
        first: str | None = None
        for m in self.machines.values():
            if m.connected and m.conn_id == conn_id and not m.from_file:
                m.connected = False
                if self._renamed:
                    self._renamed = {k: v for k, v in self._renamed.items() if k[0] != conn_id}
                if self.recorder is not None:
                    self.recorder.write_disconnect(conn_id, m.id, now_ns or time.time_ns())
                if first is None:
                    first = m.id
        return first

    def remove(self, mach_id: str) -> None:
        """Forget a machine and its history (no-op when unknown)."""
        self.machines.pop(mach_id, None)

    # transitions ------------------------------------------------------------------------------------

    def on_txs(self, batch: Sequence[tuple[str, TxMsg | bytes]], now_ns: int) -> BatchOutcome:
        """Append a batch of (conn id, message) pairs in arrival order.

        Messages without a receive time get `now_ns`. A `bytes` item is one packed tx map (stored
        as is, decoded once here). Nothing is raised for bad input: it is counted in the outcome.

        The batch is decoded in one go, then cut into runs of consecutive messages of the same
        connection and machine; each run is stored with one `MachineHistory.extend_wire` call.
        """
        out = BatchOutcome()
        if len(batch) < _SMALL_BATCH:
            for conn_id, item in batch:
                self._on_tx(conn_id, item, now_ns, out)
            return out
        # The batch's decoded maps are thousands of live containers: with the cyclic GC on, they
        # trigger collections that walk the whole stored history (several times the decode cost).
        # They hold no cycles and die by refcount before the GC is back on.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for k in range(0, len(batch), _CHUNK):
                self._on_txs(batch[k : k + _CHUNK], now_ns, out)
        finally:
            if gc_was_on:
                gc.enable()
        return out

    def _on_txs(
        self, batch: Sequence[tuple[str, TxMsg | bytes]], now_ns: int, out: BatchOutcome
    ) -> None:
        n = len(batch)
        conns: Sequence[str]
        conns, items = zip(*batch, strict=True)
        ds: list[Any] | None = None
        if [*map(type, items)].count(bytes) == n:
            # the usual case: typed decode (checks included); any odd message: dicts, as below
            raws = list(items)
            txs = decode_many(raws)
            if txs is not None:
                self._apply_runs(conns, [*map(_MACH, txs)], txs, raws, now_ns, out)
                return
            try:
                ds = [*map(unpack_tx, items)]
            except Exception:  # one bad item: decoded one by one below, which says which
                ds = None
            if ds is not None and [*map(type, ds)].count(dict) != n:
                ds = None
        if ds is None:
            ds, raws, conns = self._decode_each(conns, items, out)
            n = len(ds)
            if not n:
                return
        self._apply_runs(conns, [*map(dict.get, ds, repeat("m"))], ds, raws, now_ns, out)

    def _apply_runs(
        self,
        conns: Sequence[str],
        mids: list[Any],
        ds: list[Any],
        raws: list[bytes],
        now_ns: int,
        out: BatchOutcome,
    ) -> None:
        """Cut decoded messages into runs of one connection and machine id; store each run."""
        n = len(ds)
        keys = [*zip(conns, mids, strict=True)]
        cuts = [0, *compress(range(1, n), map(ne, keys[1:], keys[:-1])), n]
        for a, b in pairwise(cuts):
            self._apply_run(conns[a], mids[a], ds[a:b], raws[a:b], now_ns, out)

    def _on_tx(self, conn_id: str, item: TxMsg | bytes, now_ns: int, out: BatchOutcome) -> None:
        """One message (small batches: the batch machinery would cost more than it saves)."""
        try:
            if isinstance(item, bytes):
                d = unpack_tx(item)
                raw = item
            else:
                d = item.to_wire()
                raw = packb(d)
            mid = d.get("m")
            h = self.machines.get(mid) if type(mid) is str else None
            if h is not None and (h.conn_id != conn_id or h.from_file) and self._renamed:
                h = self._run_of(conn_id, h.id) or h
            if h is None:
                if type(mid) is not str:
                    raise MessageError("tx: missing key 'm'")
                out.unknown += 1
                return
            if h.conn_id != conn_id or h.from_file:
                out.conn_mismatch += 1
                return
            h.append_wire(d, raw, now_ns)
        except MessageError as err:
            _invalid(out, conn_id, err, 1)
            return
        out.added[h.id] = out.added.get(h.id, 0) + 1
        if self.recorder is not None:
            self.recorder.write_tx(conn_id, raw, h.recv_time_ns(-1))

    def _run_of(self, conn_id: str, mach_id: str) -> MachineHistory | None:
        """The renamed earlier run of `mach_id` still sending on `conn_id`, if any."""
        run = self._renamed.get((conn_id, mach_id))
        return self.machines.get(run) if run is not None else None

    def _decode_each(
        self, conns: Sequence[str], items: Sequence[TxMsg | bytes], out: BatchOutcome
    ) -> tuple[list[dict[str, Any]], list[bytes], list[str]]:
        """Decode items one by one; the malformed ones are counted in `out` and left out."""
        ds: list[dict[str, Any]] = []
        raws: list[bytes] = []
        kept: list[str] = []
        for conn_id, item in zip(conns, items, strict=True):
            try:
                if isinstance(item, bytes):
                    d = unpack_tx(item)
                    raw = item
                else:
                    d = item.to_wire()
                    raw = packb(d)
            except MessageError as err:
                _invalid(out, conn_id, err, 1)
                continue
            ds.append(d)
            raws.append(raw)
            kept.append(conn_id)
        return ds, raws, kept

    def _apply_run(
        self,
        conn_id: str,
        mid: Any,
        ds: list[dict[str, Any]],
        raws: list[bytes],
        now_ns: int,
        out: BatchOutcome,
    ) -> None:
        """Store a run of messages of one connection and one machine id (`mid`, unchecked)."""
        n = len(ds)
        if type(mid) is not str:
            _invalid(out, conn_id, MessageError("tx: missing key 'm'"), n)
            return
        h = self.machines.get(mid)
        if h is not None and (h.conn_id != conn_id or h.from_file) and self._renamed:
            h = self._run_of(conn_id, mid) or h
        if h is None:
            out.unknown += n
            return
        if h.conn_id != conn_id or h.from_file:
            out.conn_mismatch += n
            return
        mid = h.id
        start = len(h)
        res = h.extend_wire(ds, raws, now_ns)
        rec = self.recorder
        if res is None:
            out.added[mid] = out.added.get(mid, 0) + n
            if rec is not None:
                for i, raw in enumerate(raws, start):
                    rec.write_tx(conn_id, raw, h.recv_time_ns(i))
            return
        i = start
        for raw, err in zip(raws, res, strict=True):
            if err is not None:
                _invalid(out, conn_id, err, 1)
                continue
            out.added[mid] = out.added.get(mid, 0) + 1
            if rec is not None:
                rec.write_tx(conn_id, raw, h.recv_time_ns(i))
            i += 1

    def load(self, machines: Iterable[tuple[SchemaMsg, Iterable[TxMsg | bytes]]]) -> list[str]:
        """Add machines read from a file: disconnected, conn id = machine id, never cleaned on connect.

        A machine id already present is replaced. `PackedTxs` (what recordings return) are stored
        without decoding. Returns the ids loaded, in order. Raises `MessageError` for a malformed
        message (nothing of that machine is kept).
        """
        ids: list[str] = []
        for schema, txs in machines:
            h = MachineHistory(schema, schema.id, connected=False, from_file=True)
            if isinstance(txs, LazyTxs):  # an indexed recording: chunks decoded when shown
                txs.cache.max_bytes = self.max_mem_bytes
                h = LazyHistory(txs)
                self.machines.pop(schema.id, None)
                self.machines[schema.id] = h
                ids.append(schema.id)
                continue
            if isinstance(txs, PackedTxs):
                packed = [*txs.packed()]
                for k in range(0, len(packed), _LOAD_CHUNK):
                    chunk, times = zip(*packed[k : k + _LOAD_CHUNK], strict=True)
                    _load_run(h, [*chunk], times)
            else:  # packed messages in chunks, as above (their own "time", if any)
                raws: list[bytes] = []
                for tx in chain(txs, [None]):  # None: the end, flush
                    if isinstance(tx, bytes):
                        raws.append(tx)
                        if len(raws) < _LOAD_CHUNK:
                            continue
                    if raws:
                        _load_run(h, raws, [0] * len(raws), stamp=0)
                        raws = []
                    if isinstance(tx, TxMsg):
                        h.append(tx)
            h.last_activity_ns = h.time_ns(-1) if len(h) else 0
            self.machines.pop(schema.id, None)
            self.machines[schema.id] = h
            ids.append(schema.id)
        return ids

    # memory -----------------------------------------------------------------------------------------

    @property
    def stored_bytes(self) -> int:
        """Estimated memory of every stored transition (what `max_mem_bytes` budgets)."""
        return sum(m.stored_bytes for m in self.machines.values())

    @property
    def over_budget(self) -> bool:
        return self.stored_bytes > self.max_mem_bytes

    def gc(self, keep: Mapping[str, int], now_ns: int | None = None) -> dict[str, int]:
        """Bring the stored bytes under `max_mem_bytes` (spec §6.4), never dropping a kept tx.

        Phase 1: for every machine (oldest first), transitions older than the ops-log TTL lose their
        log entries above level 2. Phase 2 (max 100 rounds while still over): every machine drops
        the oldest half of its transitions, but never `keep[id]` (the selected one); disconnected
        machines left with fewer than 300 are removed (connected ones are kept: their next
        messages would otherwise be refused). Returns, per machine, how many transitions were
        dropped from the front; a removed machine counts all of them and is gone from `machines`.
        Indexes of the remaining transitions shift down by that count.
        """
        dropped: dict[str, int] = {}
        budget = self.max_mem_bytes
        over = self.stored_bytes - budget
        if over <= 0:
            return dropped
        now = now_ns or time.time_ns()
        cutoff = now - self.log_ops_ttl_ns
        for m in list(self.machines.values()):
            over -= m.trim_ops_logs(cutoff, keep.get(m.id), over)
            if over <= 0:
                return dropped
        kept = dict(keep)
        for _ in range(_GC_ROUNDS):
            if self.stored_bytes <= budget:
                break
            progress = False
            for m in list(self.machines.values()):
                if isinstance(m, LazyHistory) and not m.materialised:
                    continue  # its file still holds everything; its ChunkCache is bounded
                k = kept.get(m.id)
                n = len(m) // 2
                if k is not None:
                    n = min(n, max(k, 0))
                if n:
                    m.drop_front(n)
                    dropped[m.id] = dropped.get(m.id, 0) + n
                    if k is not None:
                        kept[m.id] = k - n
                    progress = True
                if len(m) < GC_MIN_TXS and m.id not in kept and not m.connected:
                    dropped[m.id] = dropped.get(m.id, 0) + len(m)
                    del self.machines[m.id]
                    progress = True
            if not progress:
                break
        return dropped


def _live_token(h: MachineHistory) -> str:
    return "" if h.from_file else h.token


def _invalid(out: BatchOutcome, conn_id: str, err: MessageError, n: int) -> None:
    """Count `n` malformed messages of `conn_id` (the first reasons are kept)."""
    out.invalid += n
    out.bad_conns.setdefault(conn_id, str(err))
    for _ in range(min(n, _MAX_ERRORS_KEPT - len(out.errors))):
        out.errors.append(f"conn {conn_id}: {err}")


def _load_run(
    h: MachineHistory, raws: list[bytes], times: Sequence[int], stamp: int | None = None
) -> None:
    """Store loaded messages with their receive times (except those equal to `stamp`: their
    own "time", else 0); raise the first refusal."""
    ds = decode_run(raws, times, stamp)
    res = h.extend_wire(ds, raws, 0)
    for err in res or ():
        if err is not None:
            raise err
