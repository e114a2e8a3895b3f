"""A machine history read from an indexed recording, decoded a chunk at a time (docs/recordings.md).

Opening costs the index (per chunk: first tx, human time, the clocks before it), not the
history: `LazyHistory` answers what the screen asks (`len`, `info`, `tx`, `clocks`, `log_entries`,
`time_ns`, `tx_at_human_time`, `had_err_since`...) from the chunks that hold those transitions.
Each chunk is derived as a small `MachineHistory` started from its checkpoint (the clocks of the
transition before it), so its `TxInfo`s are those the fully loaded history would have. Decoded
chunks live in a `ChunkCache` bounded in bytes (`--max-mem`), shared by the machines of a file.

`errors` and `n_queued` walk every chunk through the cache (memory stays bounded). A question
that needs the whole history at once (state jumps, tx ids, queue ticks) loads it all once
(`materialise`), after which the machine is an ordinary `MachineHistory`: correct, and as
costly as before. No Textual here.
"""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from am_dbg.model.derive import TxInfo, decode_run, unpack_tx
from am_dbg.model.history import MachineHistory
from am_dbg.model.wire import decode_many
from am_rpc.dbg.protocol import LogEntry, SchemaMsg, TxMsg

__all__ = ["ChunkCache", "ChunkIndex", "LazyHistory", "LazyTxs"]

# A chunk's raw messages and their receive times (what a recording stores).
RawChunk = tuple[list[bytes], list[int]]


@dataclass(slots=True)
class ChunkIndex:
    """One machine's chunks, in order: what opening reads instead of the transitions."""

    firsts: array[int] = field(default_factory=lambda: array("q"))  # first tx index (contiguous)
    sizes: array[int] = field(default_factory=lambda: array("q"))  # transitions in each chunk
    t_firsts: array[int] = field(default_factory=lambda: array("q"))  # human time of the first
    prev_clocks: list[tuple[int, ...]] = field(default_factory=list)  # clocks before the chunk
    keys: list[Any] = field(default_factory=list)  # what the reader needs to fetch the chunk

    def add(self, n: int, t_first: int, prev: tuple[int, ...], key: Any) -> None:
        self.firsts.append(self.total)
        self.sizes.append(n)
        self.t_firsts.append(t_first)
        self.prev_clocks.append(prev)
        self.keys.append(key)

    @property
    def total(self) -> int:
        return self.firsts[-1] + self.sizes[-1] if self.firsts else 0

    def locate(self, i: int) -> tuple[int, int]:
        """(chunk number, offset in it) of transition `i` (0 <= i < total)."""
        k = bisect.bisect_right(self.firsts, i) - 1
        return k, i - self.firsts[k]


class ChunkCache:
    """Decoded chunks, least recently used first, bounded by their estimated bytes.

    `decoded` counts every chunk decoding (what tests assert instead of timing)."""

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.decoded = 0
        self._items: OrderedDict[tuple[int, int], MachineHistory] = OrderedDict()

    def get(self, key: tuple[int, int], make: Callable[[], MachineHistory]) -> MachineHistory:
        h = self._items.get(key)
        if h is not None:
            self._items.move_to_end(key)
            return h
        h = make()
        self.decoded += 1
        self._items[key] = h
        self.bytes += h.stored_bytes
        # the chunk just decoded always stays (a screen needs it even under a tiny budget)
        while self.bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self.bytes -= old.stored_bytes
        return h

    def drop(self, owner: int) -> None:
        """Forget the chunks of one machine (its schema changed: they derive differently)."""
        for key in [k for k in self._items if k[0] == owner]:
            self.bytes -= self._items.pop(key).stored_bytes

    def __len__(self) -> int:
        return len(self._items)


class LazyTxs(Sequence[TxMsg]):
    """One machine's transitions in a recording, as a sequence decoded chunk by chunk.

    `read(key)` returns a chunk's raw messages and receive times (raising `ChunkLost` if it cannot
    be read); `index` is the machine's `ChunkIndex`."""

    def __init__(
        self,
        schema: SchemaMsg,
        index: ChunkIndex,
        read: Callable[[Any], RawChunk],
        cache: ChunkCache,
        owner: int,
        last_time_ns: int = 0,
    ) -> None:
        self.schema = schema
        self.chunk_index = index
        self.read = read
        self.cache = cache
        self.owner = owner
        self.last_time_ns = last_time_ns

    def __len__(self) -> int:
        return self.chunk_index.total

    def chunk(self, k: int) -> MachineHistory:
        """Chunk `k`, derived (from the cache when it is there)."""
        return self.cache.get((self.owner, k), lambda: self._derive(k))

    def _derive(self, k: int) -> MachineHistory:
        raws, recv = self.read(self.chunk_index.keys[k])
        h = MachineHistory(self.schema, self.schema.id, connected=False, from_file=True)
        prev = self.chunk_index.prev_clocks[k]
        h._prev_clocks = prev  # the checkpoint: derive as if the earlier chunks were there
        h.newest_time_sum = sum(prev)
        h._read, h._lazy = True, False  # derive while storing: one decode, not check + derive
        _store(h, raws, recv)
        return h

    def at(self, i: int) -> tuple[MachineHistory, int]:
        n = self.chunk_index.total
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"tx index {i} out of range (history of {n})")
        k, off = self.chunk_index.locate(i)
        return self.chunk(k), off

    def n_queued(self) -> int:
        """Queued-mutation messages among them: each chunk read and typed-decoded once, past
        the cache (no deriving, nothing kept)."""
        n = 0
        for raws, _ in self.raw_chunks():
            txs = decode_many(raws)
            if txs is not None:
                n += sum(1 for tx in txs if tx.qd)
            else:
                n += sum(1 for raw in raws if unpack_tx(raw).get("qd") is True)
        return n

    def raw_chunks(self) -> Iterator[RawChunk]:
        """Every chunk's raw messages, in order, past the cache (a full load)."""
        for key in self.chunk_index.keys:
            yield self.read(key)

    @overload
    def __getitem__(self, i: int) -> TxMsg: ...
    @overload
    def __getitem__(self, i: slice) -> list[TxMsg]: ...
    def __getitem__(self, i: int | slice) -> TxMsg | list[TxMsg]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        h, off = self.at(i)
        return h.tx(off)

    def __repr__(self) -> str:
        return (
            f"<LazyTxs {self.schema.id!r} {len(self)} txs in {len(self.chunk_index.keys)} chunks>"
        )


def _store(h: MachineHistory, raws: list[bytes], recv: Sequence[int]) -> None:
    """Store loaded messages as `Session.load` does (their receive times, derived later)."""
    for a in range(0, len(raws), 1024):
        part = raws[a : a + 1024]
        ds = decode_run(part, recv[a : a + 1024], None)
        for err in h.extend_wire(ds, part, 0) or ():
            if err is not None:
                raise err


class LazyHistory(MachineHistory):
    """A `MachineHistory` of a recording whose chunks are decoded when something shows them."""

    def __init__(self, txs: LazyTxs) -> None:
        super().__init__(txs.schema, txs.schema.id, connected=False, from_file=True)
        self.lazy_txs = txs
        self.materialised = False
        self._lazy_errors: list[int] | None = None
        self.last_activity_ns = txs.last_time_ns

    def materialise(self) -> None:
        """Load every chunk into this history: from now on it is a plain `MachineHistory`."""
        if self.materialised:
            return
        self.materialised = True
        self.lazy_txs.cache.drop(self.lazy_txs.owner)
        for raws, recv in self.lazy_txs.raw_chunks():
            _store(self, raws, recv)
        self.last_activity_ns = self._times[-1] if len(self._times) else 0

    # what the screen asks: answered from the chunks ---------------------------------------------

    def __len__(self) -> int:
        return super().__len__() if self.materialised else len(self.lazy_txs)

    @property
    def stored_bytes(self) -> int:
        # a lazy machine's decoded chunks are counted (and bounded) by its ChunkCache
        return MachineHistory.stored_bytes.fget(self) if self.materialised else 0  # type: ignore[attr-defined]

    def set_schema(self, schema: SchemaMsg) -> None:
        super().set_schema(schema)
        self._lazy_errors = None
        self.lazy_txs.schema = schema
        self.lazy_txs.cache.drop(self.lazy_txs.owner)

    def info(self, i: int) -> TxInfo:
        if self.materialised:
            return super().info(i)
        h, off = self.lazy_txs.at(i)
        return h.info(off)

    def tx(self, i: int) -> TxMsg:
        if self.materialised:
            return super().tx(i)
        h, off = self.lazy_txs.at(i)
        return h.tx(off)

    def clocks(self, i: int) -> tuple[int, ...]:
        if self.materialised:
            return super().clocks(i)
        h, off = self.lazy_txs.at(i)
        c = h.clocks(off)
        n = len(self.schema.states_index)
        return (*c, *(0,) * (n - len(c))) if len(c) < n else c

    def log_entries(self, i: int) -> tuple[LogEntry, ...]:
        if self.materialised:
            return super().log_entries(i)
        h, off = self.lazy_txs.at(i)
        return h.log_entries(off)

    def raw(self, i: int) -> bytes:
        if self.materialised:
            return super().raw(i)
        h, off = self.lazy_txs.at(i)
        return h.raw(off)

    def raws(self, start: int, end: int) -> list[bytes]:
        if self.materialised:
            return super().raws(start, end)
        return [self.raw(i) for i in range(*slice(start, end).indices(len(self)))]

    def time_ns(self, i: int) -> int:
        if self.materialised:
            return super().time_ns(i)
        h, off = self.lazy_txs.at(i)
        return h.time_ns(off)

    def recv_time_ns(self, i: int) -> int:
        if self.materialised:
            return super().recv_time_ns(i)
        h, off = self.lazy_txs.at(i)
        return h.recv_time_ns(off)

    def derive_now(self) -> None:
        if self.materialised:
            super().derive_now()

    def tx_at_human_time(self, ns: int) -> int:
        if self.materialised:
            return super().tx_at_human_time(ns)
        idx = self.lazy_txs.chunk_index
        k = bisect.bisect_right(idx.t_firsts, ns) - 1
        if k < 0:
            return -1
        h = self.lazy_txs.chunk(k)
        return idx.firsts[k] + h.tx_at_human_time(ns)

    def had_err_since(self, i: int, distance: int = 100) -> bool:
        if self.materialised:
            return super().had_err_since(i, distance)
        idx = self.lazy_txs.chunk_index
        if i < 0 or i >= idx.total:
            i = min(max(i, -1), idx.total - 1)
            if i < 0:
                return False
        k = idx.locate(i)[0]
        while k >= 0:
            first = idx.firsts[k]
            h = self.lazy_txs.chunk(k)
            hit = [e for e in h.errors if first + e <= i]
            if hit:
                return i - (first + hit[-1]) < distance
            if first <= i - distance + 1:
                return False
            k -= 1
        return False

    @property
    def errors(self) -> list[int]:
        """Error positions, gathered chunk by chunk through the cache (the file never changes,
        so once is enough); the history is not materialised for them."""
        if self.materialised:
            return MachineHistory.errors.fget(self)  # type: ignore[attr-defined]
        if self._lazy_errors is None:
            idx = self.lazy_txs.chunk_index
            found: list[int] = []
            for k in range(len(idx.keys)):
                first = idx.firsts[k]
                found += (first + e for e in self.lazy_txs.chunk(k).errors)
            self._lazy_errors = found
        return self._lazy_errors

    def n_queued(self) -> int:
        if self.materialised:
            return super().n_queued()
        return self.lazy_txs.n_queued()

    def drop_front(self, n: int) -> int:
        # the file still holds every transition: the memory bound is the ChunkCache's
        return super().drop_front(n) if self.materialised else 0

    def trim_ops_logs(self, older_than_ns: int, keep: int | None, budget_left: int) -> int:
        if self.materialised:
            return super().trim_ops_logs(older_than_ns, keep, budget_left)
        return 0

    def __repr__(self) -> str:
        how = (
            "materialised"
            if self.materialised
            else f"lazy, {len(self.lazy_txs.chunk_index.keys)} chunks"
        )
        return f"<LazyHistory {self.id!r} {len(self)} txs ({how})>"


def _whole(name: str) -> Any:
    """A `MachineHistory` method that needs the whole history: load it, then answer."""
    method = getattr(MachineHistory, name)

    def whole(self: LazyHistory, *args: Any, **kw: Any) -> Any:
        self.materialise()
        return method(self, *args, **kw)

    whole.__name__ = name
    whole.__doc__ = method.__doc__
    return whole


def _whole_property(name: str) -> property:
    prop = getattr(MachineHistory, name)

    def get(self: LazyHistory) -> Any:
        self.materialise()
        return prop.fget(self)

    return property(get, doc=prop.__doc__)


# schema-only questions need no transitions
_SCHEMA_ONLY = {"parent_id", "tags", "state_names"}

for _name, _value in list(vars(MachineHistory).items()):
    if _name in vars(LazyHistory) or _name in _SCHEMA_ONLY:
        continue
    if _name.startswith("_") and _name != "__iter__":
        continue
    if isinstance(_value, property):
        setattr(LazyHistory, _name, _whole_property(_name))
    elif callable(_value):
        setattr(LazyHistory, _name, _whole(_name))
