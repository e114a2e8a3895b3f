"""`.amdbg` recordings: live writing, lossless round trip, damage and truncation, versions, export."""

from __future__ import annotations

import random
import re
import struct
import time
import zlib
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_dbg.model.session import Session
from am_dbg.recordings import RecordingError, RecordingWriter, export, load
from am_dbg.recordings.amdbg import CHUNK_HEAD, HEADER
from am_rpc.dbg.protocol import LogEntry, SchemaMsg, StateDef, Step, TxMsg
from tests.waiting import wait_until

NAMES = ("Start", "Ready", "Busy", "Exception")


def schema(mid: str, token: str = "tok", names: tuple[str, ...] = NAMES, **kw: object) -> SchemaMsg:
    return SchemaMsg(
        id=mid,
        states_index=names,
        states={
            n: StateDef(multi=n == "Busy", require=("Start",) if n == "Ready" else ())
            for n in names
        },
        groups={"self": tuple(range(len(names)))},
        groups_order=("self",),
        token=token,
        **kw,  # type: ignore[arg-type]
    )


def rich_tx(mid: str, i: int, queued: bool = False) -> TxMsg:
    """A transition with everything a sender can put in one."""
    return TxMsg(
        mach_id=mid,
        id=f"{mid}-{i}" + ("-q" if queued else ""),
        clocks=(1, i, 2 * i + 1, 0),
        type=i % 3,
        called=(1, 2),
        accepted=i % 5 != 0,
        is_auto=i % 7 == 0,
        is_queued=queued,
        queue_tick=10 + i,
        mut_queue_tick=11 + i if queued else 0,
        mut_queue_token=99 if i % 4 == 0 else 0,
        queue_len=i % 3,
        steps=(
            Step(type=32, to_idx=1),
            Step(type=1, from_idx=1, to_idx=0, rel_type=2, is_final=True),
        ),
        log=(LogEntry(2, f"[state] +Ready {i}"), LogEntry(4, "[handler:0] ReadyEnter")),
        pre_log=(LogEntry(1, f"[extern] ünïcode {i}"),),
        args={"n": str(i)},
        queue_dump=("a", "b") if i % 9 == 0 else (),
        stack_trace="trace\nline" if queued else "",
    )


def record_session(path: Path, **writer_kw: object) -> Session:
    """Two machines streaming, a schema change, a reconnect, a disconnect; recorded live."""
    w = RecordingWriter(path, **writer_kw)  # type: ignore[arg-type]
    s = Session(recorder=w)
    t = 1_700_000_000_000_000_000
    s.on_schema(schema("alpha", parent="root", tags=("svc:a", "x")), "c1", now_ns=t)
    s.on_schema(schema("beta"), "c2", now_ns=t)
    for i in range(30):
        s.on_txs(
            [("c1", rich_tx("alpha", i)), ("c2", rich_tx("beta", i, queued=i % 3 == 0))], t + i
        )
    s.on_schema(schema("alpha", parent="root", names=(*NAMES, "Extra")), "c1", now_ns=t + 50)
    s.on_disconnect("c1", now_ns=t + 51)
    s.on_schema(schema("alpha", parent="root", names=(*NAMES, "Extra")), "c3", now_ns=t + 52)
    s.on_txs([("c3", rich_tx("alpha", 40))], t + 53)
    s.on_disconnect("c2", now_ns=t + 60)
    w.close()
    return s


def assert_same(s: Session, got: list[tuple[SchemaMsg, list[TxMsg]]]) -> None:
    assert [sch.id for sch, _ in got] == list(s.machines)
    for sch, txs in got:
        h = s.machines[sch.id]
        assert sch == h.schema
        assert txs == [h.tx(i) for i in range(len(h))]


def test_round_trip_is_lossless(tmp_path: Path) -> None:
    path = tmp_path / "live.amdbg"
    s = record_session(path)
    got = load(path)
    assert got.format == "amdbg/1" and got.warnings == [] and got.queued_known
    assert_same(s, got.machines)
    assert got.disconnected == {"alpha": False, "beta": True}
    # and back into a session: the same derived data as live
    s2 = Session()
    s2.load(got.machines)
    for mid, h in s.machines.items():
        h2 = s2.machines[mid]
        assert list(h2) == [h.info(i) for i in range(len(h))]
        # stored as recorded: the packed bytes were never decoded and re-encoded
        assert [h2.raw(i) for i in range(len(h2))] == [h.raw(i) for i in range(len(h))]


def test_live_writer_flushes_while_open(tmp_path: Path) -> None:
    """The background flush stores records without a close (its delay: bench/recording_flush.py)."""
    path = tmp_path / "live.amdbg"
    w = RecordingWriter(path)
    try:
        s = Session(recorder=w)
        s.on_schema(schema("m"), "c1")
        s.on_txs([("c1", rich_tx("m", i)) for i in range(5)], time.time_ns())

        def seen() -> int:
            got = load(path)  # read while the writer is still open
            return len(got.machines[0][1]) if got.machines else 0

        wait_until(lambda: seen() == 5, what="5 txs on disk", interval=0.05)
        got = load(path)
        assert seen() == 5
        assert got.disconnected == {"m": False}
    finally:
        w.close()


def _chunk_ends(path: Path) -> list[int]:
    data = path.read_bytes()
    pos, ends = HEADER.size, []
    while pos < len(data):
        length, _ = CHUNK_HEAD.unpack_from(data, pos)
        pos += CHUNK_HEAD.size + length
        ends.append(pos)
    return ends


def _many_chunks(path: Path) -> tuple[list[int], list[int]]:
    """A recording flushed after every 3 transitions; returns (file size, txs so far) per flush."""
    w = RecordingWriter(path, background=False)
    s = Session(recorder=w)
    s.on_schema(schema("m"), "c1", now_ns=1)
    sizes, counts = [], []
    n = 0
    for k in range(40):
        s.on_txs([("c1", rich_tx("m", 3 * k + j)) for j in range(3)], 100 + k)
        n += 3
        w.flush()
        sizes.append(path.stat().st_size)
        counts.append(n)
    w.close()
    return sizes, counts


def test_cut_at_20_random_offsets_keeps_every_complete_chunk(tmp_path: Path) -> None:
    full = tmp_path / "full.amdbg"
    sizes, counts = _many_chunks(full)
    data = full.read_bytes()
    assert len(data) == sizes[-1]
    assert _chunk_ends(full)[-40:] == sizes
    rnd = random.Random(5)
    boundaries = {*sizes, *_chunk_ends(full)}
    offsets: set[int] = set()
    while len(offsets) < 20:
        off = rnd.randrange(HEADER.size + 1, len(data))
        if off not in boundaries:
            offsets.add(off)
    for off in sorted(offsets):
        cut = tmp_path / f"cut-{off}.amdbg"
        cut.write_bytes(data[:off])
        got = load(cut)
        expected = max([c for s, c in zip(sizes, counts, strict=True) if s <= off], default=0)
        txs = got.machines[0][1] if got.machines else []
        assert len(txs) == expected, off
        assert [t.id for t in txs] == [f"m-{i}" for i in range(expected)]
        assert len(got.warnings) == 1, off
        assert f"is truncated after {expected:,} transitions" in got.warnings[0]
        assert "incomplete" in got.warnings[0] and "loaded what was intact" in got.warnings[0]


def test_flipped_byte_skips_that_chunk_only(tmp_path: Path) -> None:
    full = tmp_path / "full.amdbg"
    sizes, counts = _many_chunks(full)
    data = bytearray(full.read_bytes())
    # flip a byte in the payload of the chunk that ends at sizes[10]
    start = sizes[9] + CHUNK_HEAD.size
    data[(start + sizes[10]) // 2] ^= 0x40
    bad = tmp_path / "bad.amdbg"
    bad.write_bytes(bytes(data))
    got = load(bad)
    lost = set(range(counts[9], counts[10]))
    assert [t.id for t in got.machines[0][1]] == [f"m-{i}" for i in range(120) if i not in lost]
    chunk_no = _chunk_ends(full).index(sizes[10]) + 1
    # what inflates of the damaged chunk tells how many records it held
    assert len(got.warnings) == 1
    assert re.fullmatch(
        rf"recording {re.escape(repr(str(bad)))}: chunk {chunk_no} damaged \(checksum mismatch\): "
        rf"(3 transitions lost|3 records lost, at least [0-3] of them transitions); "
        rf"resumed at chunk {chunk_no + 1}",
        got.warnings[0],
    ), got.warnings[0]


def test_damaged_length_field_resyncs_on_the_next_checksum(tmp_path: Path) -> None:
    full = tmp_path / "full.amdbg"
    sizes, counts = _many_chunks(full)
    data = bytearray(full.read_bytes())
    struct.pack_into(">I", data, sizes[4], 2**31)
    bad = tmp_path / "len.amdbg"
    bad.write_bytes(bytes(data))
    got = load(bad)
    lost = set(range(counts[4], counts[5]))
    assert [t.id for t in got.machines[0][1]] == [f"m-{i}" for i in range(120) if i not in lost]
    assert len(got.warnings) == 1
    assert (
        "damaged (damaged: impossible length 2,147,483,648): 3 transitions lost"
        in (got.warnings[0])
    ), got.warnings[0]
    assert "resumed at chunk" in got.warnings[0]


def test_future_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.amdbg"
    record_session(path)
    data = bytearray(path.read_bytes())
    struct.pack_into(">H", data, 6, 2)
    path.write_bytes(bytes(data))
    with pytest.raises(
        RecordingError, match=r"format version 2, this am-dbg reads version 1 only; upgrade"
    ):
        load(path)


def test_not_a_recording_and_header_truncated(tmp_path: Path) -> None:
    junk = tmp_path / "junk.amdbg"
    junk.write_bytes(b"hello, this is text\n")
    with pytest.raises(RecordingError, match="neither an am-dbg recording"):
        load(junk)
    short = tmp_path / "short.amdbg"
    short.write_bytes(b"AMDB")
    with pytest.raises(RecordingError, match="truncated inside its header"):
        load(short)
    with pytest.raises(RecordingError, match="cannot read"):
        load(tmp_path / "missing.amdbg")


def test_recording_replays_restarts_and_reconnects(tmp_path: Path) -> None:
    path = tmp_path / "runs.amdbg"
    with RecordingWriter(path, background=False) as w:
        s = Session(recorder=w, clean_on_connect=False)
        s.on_schema(schema("m", token="run1"), "c1", now_ns=1)
        s.on_txs([("c1", rich_tx("m", i)) for i in range(3)], 2)
        s.on_disconnect("c1", now_ns=3)
        s.on_schema(schema("m", token="run1"), "c2", now_ns=4)  # reconnect: continues
        s.on_txs([("c2", rich_tx("m", i)) for i in range(3, 5)], 5)
        s.on_schema(schema("m", token="run2"), "c3", now_ns=6)  # new run: the earlier one kept
        s.on_txs([("c3", rich_tx("m", i)) for i in range(100, 102)], 7)
        s.on_txs([("c2", rich_tx("m", 9))], 8)  # the earlier run, still connected: its own
        s.on_txs([("c1", rich_tx("m", 10))], 9)  # a stale connection: refused, not recorded
    got = load(path)
    assert_same(s, got.machines)
    assert [sch.id for sch, _ in got.machines] == ["m~1", "m"]
    assert [t.id for t in got.machines[0][1]] == ["m-0", "m-1", "m-2", "m-3", "m-4", "m-9"]
    assert [t.id for t in got.machines[1][1]] == ["m-100", "m-101"]
    assert got.warnings == []


def test_export_everything_and_a_single_moment(tmp_path: Path) -> None:
    s = record_session(tmp_path / "live.amdbg")
    everything = tmp_path / "all.amdbg"
    n = export(s, everything)
    assert n == sum(len(h) for h in s.machines.values())
    got = load(everything)
    assert_same(s, got.machines)
    assert got.disconnected == {"alpha": False, "beta": True}

    t0 = 1_700_000_000_000_000_000
    moment = tmp_path / "moment.amdbg"
    assert export(s, moment, moment_ns=t0 + 10, machine_ids=["beta", "alpha", "nope"]) == 2
    got = load(moment)
    assert [sch.id for sch, _ in got.machines] == ["beta", "alpha"]
    for sch, txs in got.machines:
        h = s.machines[sch.id]
        assert txs == [h.tx(h.tx_at_human_time(t0 + 10))]
        assert txs[0].time == t0 + 10
    assert export(s, tmp_path / "before.amdbg", moment_ns=5) == 0
    assert [len(txs) for _, txs in load(tmp_path / "before.amdbg").machines] == [0, 0]
    with pytest.raises(RecordingError, match="no machines"):
        export(Session(), tmp_path / "empty.amdbg")
    assert not (tmp_path / "empty.amdbg").exists()


def test_export_of_a_loaded_recording_keeps_the_receive_times(tmp_path: Path) -> None:
    # a session loaded from a file derives its transitions lazily: the times must not be lost
    record_session(tmp_path / "live.amdbg")
    first = load(tmp_path / "live.amdbg")
    s = Session()
    s.load(first.machines)
    export(s, tmp_path / "again.amdbg")
    again = load(tmp_path / "again.amdbg")
    times = {sch.id: [t.time for t in txs] for sch, txs in first.machines}
    assert times == {sch.id: [t.time for t in txs] for sch, txs in again.machines}
    assert all(all(ts) for ts in times.values())


_EDITS = st.lists(
    st.tuples(
        st.integers(HEADER.size, 10**6),
        st.sampled_from(["flip", "insert", "delete"]),
        st.integers(1, 255),
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=_EDITS)
def test_damage_at_random_offsets_keeps_every_intact_chunk(
    tmp_path: Path, edits: list[tuple[int, str, int]]
) -> None:
    """Flipped, inserted and deleted bytes anywhere after the header: every chunk none of them
    touched is read, nothing is made up, and every gap is reported."""
    full = tmp_path / "fuzz-src.amdbg"
    if not full.exists():
        _many_chunks(full)
    src = full.read_bytes()
    ends = _chunk_ends(full)
    spans = list(zip([HEADER.size, *ends[:-1]], ends, strict=True))
    data = bytearray(src)
    todo = {p % (len(src) - HEADER.size) + HEADER.size: (o, b) for p, o, b in edits}
    for pos, (op, byte) in sorted(todo.items(), reverse=True):
        if op == "flip":
            data[pos] ^= byte
        elif op == "insert":
            data.insert(pos, byte)
        else:
            del data[pos]
    # a chunk is intact when its bytes are all there, where the edits before it moved it
    hit: set[int] = set()
    for i, (start, end) in enumerate(spans):
        shift = sum(
            1 if op == "insert" else -1
            for pos, (op, _) in todo.items()
            if (op == "insert" and pos <= start) or (op == "delete" and pos < start)
        )
        if data[start + shift : end + shift] != src[start:end]:
            hit.add(i)
    bad = tmp_path / "fuzz.amdbg"
    bad.write_bytes(bytes(data))
    got = load(bad)
    ids = [t.id for _, txs in got.machines for t in txs]
    numbers = [int(i.removeprefix("m-")) for i in ids]
    assert numbers == sorted(set(numbers)) and all(0 <= n < 120 for n in numbers)  # none made up
    # chunk 1 is the META record, chunk 2 the schema and m-0..m-2, chunk k+2 m-3k..m-3k+2
    intact = {3 * (i - 1) + j for i in range(1, len(spans)) if i not in hit for j in range(3)}
    assert intact <= set(numbers), sorted(intact - set(numbers))
    if 1 in hit and numbers:  # the schema was lost: the transitions stand in placeholder names
        assert got.machines[0][0].states_index == ("?0", "?1", "?2", "?3")
        assert any("placeholder state names ?0..?3" in w for w in got.warnings)
    if hit:
        assert any("damaged" in w or "truncated" in w for w in got.warnings), got.warnings


def test_transitions_whose_schema_was_lost_stand_in_placeholder_names(tmp_path: Path) -> None:
    full = tmp_path / "full.amdbg"
    _many_chunks(full)
    ends = _chunk_ends(full)
    data = bytearray(full.read_bytes())
    data[(ends[0] + ends[1]) // 2] ^= 0x55  # chunk 2: the SCHEMA record and m-0..m-2
    bad = tmp_path / "noschema.amdbg"
    bad.write_bytes(bytes(data))
    got = load(bad)
    (sch, txs), *_ = got.machines
    assert sch.id == "m" and sch.states_index == ("?0", "?1", "?2", "?3")
    assert [t.id for t in txs] == [f"m-{i}" for i in range(3, 120)]
    assert got.warnings[1] == (
        f"recording {str(bad)!r}: machine 'm' has no schema in the file (lost in a damaged "
        "chunk?): its 117 transitions are kept under placeholder state names ?0..?3"
    )
    s = Session()
    s.load(got.machines)
    assert len(s.machines["m"]) == 117


def _chunk(records: list[bytes]) -> bytes:
    """One `.amdbg` chunk of already packed records (written by hand: msgpack's own packer
    refuses to nest as deep as these tests need)."""
    n = len(records)
    head = bytes([0x90 | n]) if n < 16 else b"\xdc" + n.to_bytes(2, "big")
    payload = zlib.compress(head + b"".join(records), 6)
    return CHUNK_HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _tx_record(raw: bytes, t: int, conn: str = "c1") -> bytes:
    return b"\x94" + msgpack.packb(1) + msgpack.packb(t) + msgpack.packb(conn) + msgpack.packb(raw)


def _deep_tx(i: int, depth: int) -> bytes:
    d = rich_tx("m", i).to_wire()
    d["args"] = {"deep": "HOLE"}
    return msgpack.packb(d).replace(msgpack.packb("HOLE"), b"\x91" * depth + msgpack.packb("x"))


def write_deep_recording(path: Path) -> None:
    """m-0..m-9 but m-5 nested 1,000 deep, and a schema record 2,000 deep (deeper than msgpack
    decodes, so its chunk cannot be unpacked in one go)."""
    with RecordingWriter(path, background=False) as w:
        s = Session(recorder=w)
        s.on_schema(schema("m"), "c1", now_ns=1)
        s.on_txs([("c1", rich_tx("m", i)) for i in range(5)], 10)
    deep_schema = b"\x94" + msgpack.packb(0) + msgpack.packb(12) + msgpack.packb("c9")
    deep_schema += b"\x81" + msgpack.packb("id") + b"\x91" * 2000 + msgpack.packb("x")
    with path.open("ab") as f:
        f.write(_chunk([_tx_record(_deep_tx(5, 1000), 11), deep_schema]))
        f.write(_chunk([_tx_record(msgpack.packb(rich_tx("m", i).to_wire()), 13) for i in (6, 7)]))
        f.write(_chunk([_tx_record(msgpack.packb(rich_tx("m", i).to_wire()), 14) for i in (8, 9)]))


def test_a_deeply_nested_record_is_skipped_and_the_rest_loads(tmp_path: Path) -> None:
    """A writer accepted a value 1,000 deep: the reader skips that record, keeps the rest."""
    path = tmp_path / "deep.amdbg"
    write_deep_recording(path)
    got = load(path)
    assert [sch.id for sch, _ in got.machines] == ["m"]
    assert [t.id for t in got.machines[0][1]] == [f"m-{i}" for i in range(10) if i != 5]
    assert got.warnings == [
        f"recording {str(path)!r}: 2 malformed records skipped "
        "(first: tx record: nested deeper than 64 levels)"
    ]
    s = Session()
    s.load(got.machines)  # and every kept transition derives
    assert len(s.machines["m"]) == 9


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_stops_the_recording_not_the_ingest(capsys: pytest.CaptureFixture[str]) -> None:
    w = RecordingWriter("/dev/full", background=False)
    assert w.error is not None and "stopped" in w.error
    s = Session(recorder=w)
    s.on_schema(schema("m"), "c1")
    assert s.on_txs([("c1", rich_tx("m", 1))], 5).added == {"m": 1}
    w.close()
    assert "am-dbg: recording to '/dev/full' stopped" in capsys.readouterr().err


def test_go_dump_converts_to_amdbg_losslessly(tmp_path: Path) -> None:
    fixture = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"
    go = load(fixture)
    s = Session()
    s.load(go.machines)
    out = tmp_path / "sim.amdbg"
    assert export(s, out) == sum(len(txs) for _, txs in go.machines)
    back = load(out)
    assert back.warnings == []
    assert [sch for sch, _ in back.machines] == [sch for sch, _ in go.machines]
    for (_, a), (_, b) in zip(go.machines, back.machines, strict=True):
        assert b == a
    assert set(back.disconnected.values()) == {True}
