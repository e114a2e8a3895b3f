"""The `.amdbg` recording format (byte layout in docs/protocol.md, "Recordings").

    magic  b"AMDBG\\0"   u16be version (1)
    chunk* u32be length | u32be crc32(payload) | payload = zlib(msgpack array of records)

Records are msgpack arrays `[kind, time_ns, conn_id, body]`:

    0 SCHEMA      body = the schema's wire map (`SchemaMsg.to_wire`)
    1 TX          body = the packed tx map (bin), as received; its receive time is `time_ns`
    2 CONNECT     body = machine id (a machine got a new connection; its SCHEMA follows)
    3 DISCONNECT  body = machine id
    4 META        body = {"app": "am-dbg", "version": ...} (first record of a file)
    5 SEQ         body = [machine id, session token, seq]: the sender's txs of that run up to
                  seq are recorded (what a restarted recorder needs to skip resent duplicates)

A live `RecordingWriter` flushes a chunk at least every second (and when a chunk grows large, and
on close, and whenever the ingest server needs an ack to be durable), so a crash loses at most
what was not acked yet. ``append=True`` continues an existing recording (`--record` onto the file
of a previous run): a torn last chunk is cut off, the SEQ records are read back into `seqs`.
`read_amdbg` keeps every intact chunk: after a damaged one it resumes at the next chunk whose
checksum holds, and says what each gap lost; a chunk inflating past `MAX_INFLATED`, or a record
nested deeper than `depth.MAX_DEPTH`, is skipped the same way; a newer format version is refused.
"""

from __future__ import annotations

import atexit
import os
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from am_dbg import __version__
from am_dbg.errors import DbgError
from am_dbg.model.derive import check_tx, unpack_tx
from am_dbg.model.packed import PackedTxs
from am_dbg.model.runs import earlier_run_id, find_run, renamed
from am_dbg.model.wire import decode_one
from am_dbg.recordings.depth import (
    CONTAINER_BYTES,
    MAX_DEPTH,
    TooDeepError,
    object_too_deep,
    too_deep,
    value_end,
)
from am_dbg.recordings.errors import RecordingError
from am_rpc.dbg.protocol import MessageError, SchemaMsg, StateDef, TxMsg

__all__ = [
    "FORMAT",
    "MAGIC",
    "VERSION",
    "AmdbgRead",
    "RecordingWriter",
    "read_amdbg",
]

MAGIC = b"AMDBG\0"
VERSION = 1
FORMAT = f"amdbg/{VERSION}"
HEADER = struct.Struct(">6sH")
CHUNK_HEAD = struct.Struct(">II")
# A chunk longer than this is a damaged length field, not data (the writer cuts at ~1 MiB).
MAX_CHUNK = 256 * 2**20
# Readers refuse a chunk that inflates to more than this (a writer must cut chunks below it).
MAX_INFLATED = 64 * 2**20

SCHEMA, TX, CONNECT, DISCONNECT, META, SEQ = range(6)


class RecordingWriter:
    """Appends records to an `.amdbg` file; a background thread flushes a chunk every second.

    Thread-safe; the `write_*` calls only append to a list (no I/O), so they can be called from
    the ingest loop. The file is valid (header + complete chunks) after every flush. A failing
    write (disk full) stops the recording: `error` says why, it is printed once on stderr, and
    ingest goes on.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        flush_interval: float = 1.0,
        chunk_bytes: int = 2**20,
        background: bool = True,
        app_version: str = "",
        append: bool = False,
    ) -> None:
        self.path = Path(path)
        # (machine id, token) -> last seq recorded (of the recording this one continues)
        self.seqs: dict[tuple[str, str], int] = {}
        self.flush_interval = flush_interval
        self.chunk_bytes = chunk_bytes
        self.error: str | None = None
        self.chunks = 0
        self.records = 0
        self.txs = 0
        self._pending: list[list[Any]] = []
        self._pending_bytes = 0
        self._lock = threading.Lock()  # guards _pending
        # held by `batch()`: a flush never splits what a caller writes as one (txs + their SEQ)
        self._batch_lock = threading.RLock()
        self._io_lock = threading.Lock()  # serialises chunk writes
        self._closed = False
        self._wake = threading.Event()
        try:
            end = self._resume() if append else 0
            if end:
                self._f: BinaryIO = open(self.path, "r+b")  # noqa: SIM115 - closed in close()
                self._f.truncate(end)
                self._f.seek(end)
            else:
                self._f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                self._f.write(HEADER.pack(MAGIC, VERSION))
        except OSError as err:
            raise RecordingError(f"cannot record to {str(path)!r}: {err.strerror or err}") from None
        self._thread: threading.Thread | None = None
        meta = {"app": "am-dbg", "version": app_version or __version__}
        self._append([META, time.time_ns(), "", meta], 64)
        self.flush()
        atexit.register(self.close)  # a normal interpreter exit completes the recording
        if background:
            self._thread = threading.Thread(
                target=self._run, name=f"amdbg-writer:{self.path.name}", daemon=True
            )
            self._thread.start()

    def _resume(self) -> int:
        """Where an existing recording at `path` ends intact (0: no file or an empty one); its SEQ
        records go to `seqs`. A file that is not a recording is refused, never overwritten."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size == 0:
            return 0
        data = self.path.read_bytes()
        got = read_amdbg(self.path, data)  # RecordingError: not a recording / newer version
        self.seqs = dict(got.seqs)
        return _intact_end(data)

    # records ---------------------------------------------------------------------------------------

    def write_schema(self, schema: SchemaMsg, conn_id: str, time_ns: int) -> None:
        self._append([SCHEMA, time_ns, conn_id, schema.to_wire()], 256 + 32 * len(schema.states))

    def write_tx(self, conn_id: str, tx: TxMsg | bytes, time_ns: int) -> None:
        raw = tx if isinstance(tx, bytes) else msgpack.packb(tx.to_wire())
        self.txs += 1
        self._append([TX, time_ns, conn_id, raw], len(raw) + 24)

    def write_seq(self, mach_id: str, token: str, seq: int, time_ns: int) -> None:
        self._append([SEQ, time_ns, "", [mach_id, token, seq]], 48 + len(mach_id))

    def write_connect(self, conn_id: str, mach_id: str, time_ns: int) -> None:
        self._append([CONNECT, time_ns, conn_id, mach_id], 32 + len(mach_id))

    def write_disconnect(self, conn_id: str, mach_id: str, time_ns: int) -> None:
        self._append([DISCONNECT, time_ns, conn_id, mach_id], 32 + len(mach_id))

    def _append(self, rec: list[Any], size: int) -> None:
        if self._closed or self.error is not None:
            return
        with self._lock:
            self._pending.append(rec)
            self._pending_bytes += size
            full = self._pending_bytes >= self.chunk_bytes
        if full:
            if self._thread is not None:
                self._wake.set()
            else:
                self.flush()

    # chunks ----------------------------------------------------------------------------------------

    def batch(self) -> threading.RLock:
        """``with writer.batch(): ...``: the records written inside end up in the same chunk (a
        flush waits until the block is done). Used for a model update and its SEQ records."""
        return self._batch_lock

    def flush(self) -> None:
        """Write what is pending as one chunk (no-op when nothing is)."""
        with self._io_lock:
            with self._batch_lock, self._lock:
                recs, self._pending = self._pending, []
                self._pending_bytes = 0
            if not recs or self.error is not None:
                return
            payload = zlib.compress(msgpack.packb(recs), 6)
            try:
                self._f.write(CHUNK_HEAD.pack(len(payload), zlib.crc32(payload)) + payload)
                self._f.flush()
            except (OSError, ValueError) as err:
                self.error = f"recording to {str(self.path)!r} stopped: {err}"
                print(f"am-dbg: {self.error}", file=sys.stderr)
                return
            self.chunks += 1
            self.records += len(recs)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Flush everything and close the file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()
        with self._io_lock:
            try:
                self._f.flush()
                os.fsync(self._f.fileno())
            except (OSError, ValueError):
                pass
            try:
                self._f.close()
            except OSError:  # what a failed write left in the buffer (already reported)
                pass

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# reading -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Mach:
    schema: SchemaMsg
    conn_id: str
    txs: PackedTxs = field(default_factory=PackedTxs)
    connected: bool = True
    stand_in: bool = False  # its schema was lost: placeholder state names (`_Replay._stand_in`)


@dataclass(slots=True)
class AmdbgRead:
    """What a recording holds, resolved with the debugger's connection rules (spec §3.5)."""

    machines: list[tuple[SchemaMsg, PackedTxs]]
    disconnected: dict[str, bool]
    warnings: list[str]
    chunks: int = 0  # complete chunks read
    damaged: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    gaps: int = 0  # damaged stretches skipped before the end (each one a warning)
    # (machine id, session token) -> last seq recorded (SEQ records)
    seqs: dict[tuple[str, str], int] = field(default_factory=dict)


def _intact_end(data: bytes) -> int:
    """The offset after the last complete chunk whose checksum holds (a torn tail is cut)."""
    pos = HEADER.size
    end = pos
    while pos + CHUNK_HEAD.size <= len(data):
        length, crc = CHUNK_HEAD.unpack_from(data, pos)
        stop = pos + CHUNK_HEAD.size + length
        if length > MAX_CHUNK or stop > len(data):
            break
        if zlib.crc32(data[pos + CHUNK_HEAD.size : stop]) == crc:
            end = stop
        pos = stop
    return end


class _Replay:
    """Applies records in order: schema change / reconnect (token) / restart, like `Session`."""

    def __init__(self) -> None:
        self.machs: dict[str, _Mach] = {}
        self.renamed: dict[tuple[str, str], str] = {}  # (conn, id) -> earlier-run id (model.runs)
        self.seqs: dict[tuple[str, str], int] = {}  # (machine id, token) -> last seq recorded
        self.txs = 0
        self.skipped = 0  # transitions of no known machine or a stale connection
        self.bad = 0  # malformed records
        self.first_bad = ""
        self.meta: dict[str, Any] = {}

    def apply(self, rec: Any) -> None:
        try:
            if rec is None:
                raise MessageError(f"record: nested deeper than {MAX_DEPTH} levels")
            kind, t, conn, body = rec
            if type(kind) is not int or type(t) is not int or type(conn) is not str:
                raise MessageError("record: expected [kind, time_ns, conn_id, body]")
            if kind == TX:
                if type(body) is not bytes:
                    raise MessageError("tx record: body is not bytes")
                # the C count clears nearly every record; only the rest is walked (depth.py)
                if body.translate(CONTAINER_BYTES).count(1) > MAX_DEPTH and too_deep(body):
                    raise MessageError(f"tx record: nested deeper than {MAX_DEPTH} levels")
                self._tx(conn, body, t)
            elif object_too_deep(body, MAX_DEPTH):
                raise MessageError(f"record: nested deeper than {MAX_DEPTH} levels")
            elif kind == SCHEMA:
                self._schema(SchemaMsg.from_wire(body), conn)
            elif kind == DISCONNECT:
                m = self.machs.get(self.renamed.get((conn, body), body))
                if m is not None and m.conn_id == conn:
                    m.connected = False
            elif kind == META and isinstance(body, dict):
                self.meta = body
            elif kind == SEQ:
                mid, token, seq = body
                if type(mid) is str and type(token) is str and type(seq) is int:
                    key = (mid, token)
                    self.seqs[key] = max(self.seqs.get(key, 0), seq)
            # CONNECT: the SCHEMA record that follows applies the rules; unknown kinds: newer
            # writers of the same version may add informational records.
        except (MessageError, ValueError, TypeError, RecursionError) as err:
            self.bad += 1
            if not self.first_bad:
                self.first_bad = str(err)

    def _schema(self, schema: SchemaMsg, conn: str) -> None:
        run = self.renamed.get((conn, schema.id))
        if run is not None and run in self.machs:  # schema change of a renamed earlier run
            self.machs[run].schema = renamed(schema, run)
            return
        old = self.machs.get(schema.id)
        if old is not None and old.stand_in and len(old.schema.states) == len(schema.states):
            old.schema, old.conn_id, old.connected, old.stand_in = schema, conn, True, False
            return
        if old is not None and old.schema.token != schema.token and schema.token:
            run = find_run(schema.id, schema.token, self.machs, lambda m: m.schema.token)
            if run is not None:  # a renamed earlier run reconnecting (as live, model.runs)
                m = self.machs[run]
                m.schema = renamed(schema, run)
                m.conn_id = conn
                m.connected = True
                self.renamed[(conn, schema.id)] = run
                return
        if old is not None and (
            old.conn_id == conn or (old.schema.token and old.schema.token == schema.token)
        ):
            old.schema = schema
            old.conn_id = conn
            old.connected = True
            return
        prev = self.machs.pop(schema.id, None)
        if prev is not None:  # a new run: the earlier one is kept, renamed (as live, model.runs)
            earlier = earlier_run_id(schema.id, self.machs)
            prev.schema = renamed(prev.schema, earlier)
            self.machs[earlier] = prev
            self.renamed[(prev.conn_id, schema.id)] = earlier
        self.machs[schema.id] = _Mach(schema, conn)

    def _tx(self, conn: str, raw: bytes, t: int) -> None:
        # checked while decoded; an odd message goes the dict path, which says why
        tx = decode_one(raw)
        d: dict[str, Any] | None = None
        if tx is not None:
            mid: Any = tx.m
            queued = tx.qd
        else:
            d = unpack_tx(raw)
            mid, queued = d.get("m"), d.get("qd") is True
        m = self.machs.get(mid)
        if m is not None and m.conn_id != conn and self.renamed:
            run = self.renamed.get((conn, mid))
            m = self.machs.get(run, m) if run is not None else m
        if m is None and type(mid) is str:
            m = self._stand_in(mid, conn, tx.c if tx is not None else (d or {}).get("c"))
        if m is None or m.conn_id != conn:
            self.skipped += 1
            return
        if d is not None:
            check_tx(d)
        m.txs.append_checked(raw, queued, t)
        self.txs += 1

    def _stand_in(self, mid: str, conn: str, clocks: Any) -> _Mach | None:
        """A machine whose SCHEMA record was lost (in a damaged chunk): its transitions are kept
        under placeholder state names `?0`, `?1`... (as many as its clocks), until a schema of
        as many states arrives."""
        if type(clocks) is not list or not 0 < len(clocks) <= 65_535:
            return None
        names = tuple(f"?{i}" for i in range(len(clocks)))
        schema = SchemaMsg(id=mid, states_index=names, states={n: StateDef() for n in names})
        m = _Mach(schema, conn, stand_in=True)
        self.machs[mid] = m
        return m


def read_amdbg(path: str | PathLike[str], data: bytes | None = None) -> AmdbgRead:
    """Read an `.amdbg` recording, keeping every intact chunk, before and after any damage.

    A damaged chunk (checksum, length, inflating past `MAX_INFLATED`, not records) is skipped: the
    reader resumes at the next chunk whose checksum holds and says what the gap lost, one warning
    each (docs/protocol.md "Reading recordings"). Raises `RecordingError` when nothing can be read
    (not a recording, a newer version, no header); damage after the header is never an exception.
    """
    name = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise RecordingError(f"cannot read {name!r}: {err.strerror or err}") from None
    if len(data) < HEADER.size:
        if data and MAGIC.startswith(data[: len(MAGIC)]):
            raise RecordingError(f"recording {name!r} is truncated inside its header")
        raise RecordingError(f"{name!r} is not an am-dbg recording (no AMDBG header)")
    magic, version = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise RecordingError(f"{name!r} is not an am-dbg recording (no AMDBG header)")
    if version > VERSION:
        raise RecordingError(
            f"recording {name!r} has format version {version}, this am-dbg reads version "
            f"{VERSION} only; upgrade am-dbg to open it"
        )
    if version < 1:
        raise RecordingError(f"recording {name!r} has an invalid format version {version}")
    replay = _Replay()
    warnings: list[str] = []
    view = memoryview(data)
    pos = HEADER.size
    chunk = 0  # chunks met, damaged ones included
    read = 0  # chunks read
    gaps = 0
    while pos < len(data):
        chunk += 1
        frame = _frame(view, pos)
        if isinstance(frame, int):
            try:
                records = _records(_inflate(view[pos + CHUNK_HEAD.size : frame]))
            except _ChunkDamageError as err:
                # framed and checked, yet not records (or too large): skip exactly this chunk
                gaps += 1
                nxt = f"resumed at chunk {chunk + 1}" if frame < len(data) else "the last chunk"
                warnings.append(
                    f"recording {name!r}: chunk {chunk} damaged ({err}): "
                    f"{frame - pos - CHUNK_HEAD.size:,} bytes skipped; {nxt}"
                )
                pos = frame
                continue
            for rec in records:
                replay.apply(rec)
            read += 1
            pos = frame
            continue
        # damage at `pos`: resume at the first later chunk whose checksum holds
        length = CHUNK_HEAD.unpack_from(view, pos)[0] if len(data) - pos >= 8 else MAX_CHUNK + 1
        framed = pos + CHUNK_HEAD.size + length
        found = _scan(view, pos + 1)
        if found < 0 and framed == len(data):
            found = framed  # the last chunk, whole but damaged
        if found < 0:
            warnings.append(
                f"recording {name!r} is truncated after {replay.txs:,} transitions "
                f"(chunk {chunk} {frame}); loaded what was intact, "
                f"{len(data) - pos:,} bytes skipped"
            )
            break
        gaps += 1
        lost = _lost(view[pos + CHUNK_HEAD.size : found])
        if found <= framed:  # one chunk: cut where its length says, or shorter
            nxt = f"resumed at chunk {chunk + 1}" if found < len(data) else "the last chunk"
        else:
            lost = f"{found - pos:,} bytes skipped, {lost}"
            nxt = f"resumed at byte {found:,} (chunk {chunk + 1})"
        warnings.append(f"recording {name!r}: chunk {chunk} damaged ({frame}): {lost}; {nxt}")
        pos = found
    if replay.bad:
        warnings.append(
            f"recording {name!r}: {replay.bad:,} malformed records skipped "
            f"(first: {replay.first_bad})"
        )
    for m in replay.machs.values():
        if m.stand_in:
            warnings.append(
                f"recording {name!r}: machine {m.schema.id!r} has no schema in the file (lost in "
                f"a damaged chunk?): its {len(m.txs):,} transitions are kept under placeholder "
                f"state names ?0..?{len(m.schema.states_index) - 1}"
            )
    if replay.skipped:
        warnings.append(
            f"recording {name!r}: {replay.skipped:,} transitions of unknown machines skipped"
        )
    machs = replay.machs.values()
    return AmdbgRead(
        machines=[(m.schema, m.txs) for m in machs],
        disconnected={m.schema.id: not m.connected for m in machs},
        warnings=warnings,
        chunks=read,
        damaged=pos < len(data) or gaps > 0,
        meta=replay.meta,
        gaps=gaps,
        seqs=replay.seqs,
    )


class _ChunkDamageError(DbgError):
    """A chunk whose frame and checksum hold, but whose content cannot be read."""


def _frame(data: memoryview, pos: int) -> int | str:
    """The end of the chunk at `pos` if its frame is whole and its checksum holds, else why not."""
    left = len(data) - pos
    if left < CHUNK_HEAD.size:
        return f"incomplete: {left} of {CHUNK_HEAD.size} header bytes"
    length, crc = CHUNK_HEAD.unpack_from(data, pos)
    if length > MAX_CHUNK:
        return f"damaged: impossible length {length:,}"
    end = pos + CHUNK_HEAD.size + length
    if end > len(data):
        return f"incomplete: {left - CHUNK_HEAD.size:,} of {length:,} bytes"
    if zlib.crc32(data[pos + CHUNK_HEAD.size : end]) != crc:
        return "checksum mismatch"
    return end


def _scan(data: memoryview, start: int) -> int:
    """The offset of the next chunk at or after `start` whose checksum holds, or -1.

    Candidates are found by the zlib header every payload starts with (0x78, then a byte that
    makes the pair a multiple of 31), a length no readable chunk exceeds (what deflate makes of
    `MAX_INFLATED` bytes) and a first block zlib can start on; only those get a checksum.
    """
    raw = data.obj if isinstance(data.obj, bytes) else bytes(data)
    size = len(raw)
    q = start + CHUNK_HEAD.size
    while True:
        q = raw.find(b"\x78", q)
        if q < 0 or q + 1 >= size:
            return -1
        p = q - CHUNK_HEAD.size
        if (0x7800 | raw[q + 1]) % 31 == 0:
            length = CHUNK_HEAD.unpack_from(raw, p)[0]
            if (
                length <= _SCAN_MAX
                and q + length <= size
                and _starts_inflating(data[q : q + 64])
                and isinstance(_frame(data, p), int)
            ):
                return p
        q += 1


_SCAN_MAX = MAX_INFLATED + MAX_INFLATED // 1000 + 64  # deflate's worst-case growth, rounded up


def _starts_inflating(head: memoryview) -> bool:
    try:
        zlib.decompressobj().decompress(head)
    except zlib.error:
        return False
    return True


def _inflate(body: memoryview) -> bytes:
    """zlib-decompress one chunk payload, refusing more than `MAX_INFLATED` bytes of output.

    Inflated a MiB at a time, so refusing a bomb holds at most the limit, never a copy of it.
    """
    d = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    data: memoryview | bytes = body
    try:
        while data and size <= MAX_INFLATED:
            part = d.decompress(data, 2**20)
            parts.append(part)
            size += len(part)
            data = d.unconsumed_tail
        if size <= MAX_INFLATED and not d.eof:
            part = d.decompress(b"", MAX_INFLATED + 1 - size)
            parts.append(part)
            size += len(part)
    except zlib.error as err:
        raise _ChunkDamageError(f"not zlib data: {err}") from None
    if size > MAX_INFLATED:
        raise _ChunkDamageError(
            f"inflates to more than {MAX_INFLATED // 2**20} MiB, the limit per chunk; refused"
        )
    if not d.eof:
        raise _ChunkDamageError("zlib data ends early")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _records(payload: bytes) -> list[Any]:
    """The records of a chunk: one msgpack array (a record too deep to decode is left out whole,
    as `None`, which the replay counts as malformed)."""
    try:
        records = msgpack.unpackb(payload, raw=False)
    except msgpack.StackError:
        return _records_one_by_one(payload)
    except Exception as err:  # msgpack raises several types for bad input
        raise _ChunkDamageError(f"not records: {type(err).__name__}: {err}") from None
    if type(records) is not list:
        raise _ChunkDamageError("not records: not an array")
    return records


def _records_one_by_one(payload: bytes) -> list[Any]:
    """A chunk with a record too deep for msgpack: split the array without recursion, decode
    every record that can be."""
    head = _array_head(payload)
    if head is None:
        raise _ChunkDamageError("not records: not an array")
    n, pos = head
    out: list[Any] = []
    for _ in range(n):
        try:
            end = value_end(payload, pos, limit=len(payload))
        except TooDeepError as err:
            raise _ChunkDamageError(f"not records: {err}") from None
        span = payload[pos:end]
        out.append(None if too_deep(span, MAX_DEPTH + 1) else msgpack.unpackb(span, raw=False))
        pos = end
    return out


def _array_head(payload: bytes) -> tuple[int, int] | None:
    """(items, offset of the first) of the msgpack array `payload` starts with, or None."""
    b = payload[0] if payload else 0
    if 0x90 <= b <= 0x9F:
        return b & 0x0F, 1
    width = 2 if b == 0xDC else 4 if b == 0xDD else 0
    if not width or len(payload) < 1 + width:
        return None
    return int.from_bytes(payload[1 : 1 + width], "big"), 1 + width


def _lost(body: memoryview) -> str:
    """What a damaged chunk held, as far as it inflates and splits into records."""
    d = zlib.decompressobj()
    out: list[bytes] = []
    size = 0
    for i in range(0, len(body), 64):  # small steps: zlib keeps no output of a failing call
        try:
            part = d.decompress(body[i : i + 64], MAX_INFLATED + 1 - size)
        except zlib.error:
            break
        out.append(part)
        size += len(part)
        if size > MAX_INFLATED or d.unconsumed_tail:
            break
    payload = b"".join(out)
    head = _array_head(payload)
    if head is None:
        return "transitions lost: unknown"
    n, pos = head
    txs = seen = 0
    while seen < n:
        try:
            end = value_end(payload, pos, limit=len(payload))
        except TooDeepError:
            break
        # a record is [kind, time_ns, conn_id, body]: its kind is the byte after the header;
        # anything else means the damage shifted what follows: stop counting there
        if payload[pos] != 0x94 or payload[pos + 1] > META:
            break
        txs += payload[pos + 1] == TX
        seen += 1
        pos = end
    if seen == n:
        return f"{txs:,} transitions lost" + (f" ({n - txs:,} other records)" if n > txs else "")
    return f"{n:,} records lost, at least {txs:,} of them transitions"
