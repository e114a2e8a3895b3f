"""`.amdbg` recordings: live writing, lossless round trip, damage and truncation, versions, export."""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

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


def test_flipped_byte_is_caught_by_the_checksum(tmp_path: Path) -> None:
    full = tmp_path / "full.amdbg"
    sizes, counts = _many_chunks(full)
    data = bytearray(full.read_bytes())
    # flip a byte in the payload of the chunk that ends at sizes[10]
    start = sizes[9] + CHUNK_HEAD.size
    data[(start + sizes[10]) // 2] ^= 0x40
    bad = tmp_path / "bad.amdbg"
    bad.write_bytes(bytes(data))
    got = load(bad)
    assert len(got.machines[0][1]) == counts[9]
    chunk_no = _chunk_ends(full).index(sizes[10]) + 1
    assert f"(chunk {chunk_no} damaged: checksum mismatch)" in got.warnings[0]
    assert f"{len(data) - sizes[9]:,} bytes skipped" in got.warnings[0]


def test_damaged_length_field(tmp_path: Path) -> None:
    full = tmp_path / "full.amdbg"
    sizes, counts = _many_chunks(full)
    data = bytearray(full.read_bytes())
    struct.pack_into(">I", data, sizes[4], 2**31)
    bad = tmp_path / "len.amdbg"
    bad.write_bytes(bytes(data))
    got = load(bad)
    assert len(got.machines[0][1]) == counts[4]
    assert "impossible length" in got.warnings[0]


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
        s.on_schema(schema("m", token="run2"), "c3", now_ns=6)  # new run: replaces
        s.on_txs([("c3", rich_tx("m", i)) for i in range(100, 102)], 7)
        s.on_txs([("c2", rich_tx("m", 9))], 8)  # stale connection: refused, not recorded
    got = load(path)
    assert_same(s, got.machines)
    assert [t.id for t in got.machines[0][1]] == ["m-100", "m-101"]
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


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
    cut=st.integers(0, 10**6),
)
def test_any_damage_yields_a_prefix_or_a_clear_error(
    tmp_path: Path, flips: list[tuple[int, int]], cut: int
) -> None:
    full = tmp_path / "fuzz-src.amdbg"
    if not full.exists():
        _many_chunks(full)
    data = bytearray(full.read_bytes())
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    bad = tmp_path / "fuzz.amdbg"
    bad.write_bytes(bytes(data[: cut % (len(data) + 1)]))
    try:
        got = load(bad)
    except RecordingError:
        return  # the header itself was hit
    ids = [t.id for _, txs in got.machines for t in txs]
    assert ids == [f"m-{i}" for i in range(len(ids))]


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
