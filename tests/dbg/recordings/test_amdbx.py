"""Indexed recordings (`.amdbx`): lossless conversion, lazy chunks that answer like a full load,
opening that decodes nothing, the memory bound, live recording, damage, the CLI converter."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_dbg.model.history import MachineHistory
from am_dbg.model.lazy_history import LazyHistory
from am_dbg.model.packed import PackedTxs
from am_dbg.model.session import Session
from am_dbg.recordings import RecordingWriter, export, load
from am_dbg.recordings.container import ContainerWriter, open_container, write_machines
from am_dbg.recordings.io import convert
from tests.dbg.recordings.test_amdbg_recordings import record_session, rich_tx, schema

ROOT = Path(__file__).parents[3]
T0 = 1_700_000_000_000_000_000


def big_recording(path: Path, n: int, machines: int = 2) -> Session:
    """`machines` machines of `n` transitions each, every 37th one in Exception, as `.amdbg`."""
    w = RecordingWriter(path, background=False)
    s = Session(recorder=w)
    for m in range(machines):
        s.on_schema(schema(f"m{m}"), f"c{m}", now_ns=T0)
    for i in range(n):
        batch = []
        for m in range(machines):
            tx = rich_tx(f"m{m}", i, queued=i % 11 == 0)
            if i % 37 == 0:
                tx = replace(tx, clocks=(1, i, 2 * i + 1, 1 + 2 * i))
            batch.append((f"c{m}", tx))
        s.on_txs(batch, T0 + i)
    w.close()
    return s


def lazy_session(path: Path, max_mem: int = 1000 * 2**20) -> Session:
    s = Session(max_mem_bytes=max_mem)
    got = load(path)
    assert got.format == "amdbx/1" and got.warnings == []
    s.load(got.machines)
    return s


def assert_answers_alike(full: MachineHistory, lazy: MachineHistory) -> None:
    """Every per-transition question answered by chunks equals the fully loaded answer."""
    assert len(full) == len(lazy)
    for i in range(len(full)):
        assert lazy.info(i) == full.info(i)
        assert lazy.tx(i) == full.tx(i)
        assert lazy.clocks(i) == full.clocks(i)
        assert lazy.log_entries(i) == full.log_entries(i)
        assert lazy.raw(i) == full.raw(i)
        assert (lazy.time_ns(i), lazy.recv_time_ns(i)) == (full.time_ns(i), full.recv_time_ns(i))
        assert lazy.had_err_since(i, 5) == full.had_err_since(i, 5)
    for i in range(0, len(full), 13):
        for t in (full.time_ns(i) - 1, full.time_ns(i), full.time_ns(i) + 1):
            assert lazy.tx_at_human_time(t) == full.tx_at_human_time(t)
    assert lazy.tx(-1) == full.tx(-1)
    with pytest.raises(IndexError):
        lazy.tx(len(full))


def test_lazy_machines_answer_like_fully_loaded_ones(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.amdbg", tmp_path / "a.amdbx"
    big_recording(src, 1000)
    n, warnings = convert(src, dst)
    assert (n, warnings) == (2000, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.amdbg", "a.amdbx"]  # one file
    full = Session()
    full.load(load(src).machines)
    lazy = lazy_session(dst)
    assert list(lazy.machines) == list(full.machines)
    for mid, h in full.machines.items():
        lh = lazy.machines[mid]
        assert isinstance(lh, LazyHistory) and lh.schema == h.schema
        assert_answers_alike(h, lh)
        assert not lh.materialised
        # errors and queued counts walk the chunks; they need no full load
        assert lh.errors == h.errors and lh.n_queued() == h.n_queued()
        assert not lh.materialised
        # whole-history questions load it once, then answer exactly as the full load
        assert lh.index_of(f"{mid}-500") == h.index_of(f"{mid}-500")
        assert lh.next_touching(3, 0, True) == h.next_touching(3, 0, True)
        assert lh.tx_at_queue_tick(500) == h.tx_at_queue_tick(500)
        assert lh.materialised and list(lh) == list(h) and lh.errors == h.errors
        assert_answers_alike(h, lh)


def test_opening_decodes_no_chunk_and_a_screen_at_most_two(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.amdbg", tmp_path / "a.amdbx"
    big_recording(src, 5000, machines=3)
    convert(src, dst)
    s = lazy_session(dst)
    h = s.machines["m1"]
    assert isinstance(h, LazyHistory)
    cache = h.lazy_txs.cache
    assert [len(m) for m in s.machines.values()] == [5000] * 3
    assert cache.decoded == 0  # counts and the index alone
    for i in range(len(h) - 40, len(h)):  # the last screen of one machine
        h.info(i), h.log_entries(i), h.clocks(i), h.had_err_since(i)
    assert cache.decoded <= 2
    h.tx_at_human_time(T0 + 2500)
    assert cache.decoded <= 3
    assert not any(m.materialised for m in s.machines.values())  # type: ignore[attr-defined]


def test_max_mem_bounds_the_decoded_chunks(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.amdbg", tmp_path / "a.amdbx"
    big_recording(src, 4000, machines=1)
    convert(src, dst)
    s = lazy_session(dst, max_mem=300_000)
    h = s.machines["m0"]
    assert isinstance(h, LazyHistory)
    cache = h.lazy_txs.cache
    one_chunk = 0
    for i in range(len(h)):
        h.info(i)
        one_chunk = max(one_chunk, h.lazy_txs.chunk(i // 256).stored_bytes)
    assert cache.decoded == len(h.lazy_txs.chunk_index.keys)  # each chunk decoded once, in order
    assert cache.bytes <= 300_000 + one_chunk and len(cache) < cache.decoded
    assert s.gc({}) == {} and len(h) == 4000  # nothing dropped that the file holds


def test_live_recording_to_amdbx_matches_the_session(tmp_path: Path) -> None:
    path = tmp_path / "live.amdbx"
    w = ContainerWriter(path, chunk_txs=8, background=False)
    s = Session(recorder=w)
    s.on_schema(schema("alpha", parent="root"), "c1", now_ns=T0)
    s.on_schema(schema("beta"), "c2", now_ns=T0)
    for i in range(30):
        s.on_txs([("c1", rich_tx("alpha", i)), ("c2", rich_tx("beta", i))], T0 + i)
    w.write_seq("alpha", "tok", 30, T0)
    w.flush()
    # a second reader opens it while it is being written: what was flushed is there
    early = open_container(path)
    assert [len(t) for _, t in early.machines] == [30, 30] and early.seqs == {("alpha", "tok"): 30}
    s.on_disconnect("c1", now_ns=T0 + 51)
    s.on_schema(schema("alpha", parent="root"), "c3", now_ns=T0 + 52)  # reconnect, same token
    s.on_txs([("c3", rich_tx("alpha", 40))], T0 + 53)
    s.on_schema(schema("beta", token="new-run"), "c4", now_ns=T0 + 54)  # a new run of beta
    s.on_txs([("c4", rich_tx("beta", 41))], T0 + 55)
    w.close()
    got = load(path)
    assert got.warnings == []
    assert sorted(sch.id for sch, _ in got.machines) == sorted(s.machines)
    for sch, txs in got.machines:
        h = s.machines[sch.id]
        assert sch == h.schema
        assert list(txs) == [h.tx(i) for i in range(len(h))]
    # continuing the recording (a restarted recorder) keeps what it has and its seqs
    w2 = ContainerWriter(path, append=True, chunk_txs=8, background=False)
    assert w2.seqs == {("alpha", "tok"): 30}
    s2 = Session(recorder=w2)
    s2.on_schema(schema("alpha", parent="root"), "c9", now_ns=T0 + 90)
    s2.on_txs([("c9", rich_tx("alpha", 90 + i)) for i in range(10)], T0 + 91)
    w2.close()
    again = {sch.id: txs for sch, txs in load(path).machines}
    assert len(again["alpha"]) == len(s.machines["alpha"]) + 10
    assert again["alpha"][-1] == s2.machines["alpha"].tx(-1)


def test_a_damaged_chunk_is_left_out_and_every_other_one_loads(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.amdbg", tmp_path / "a.amdbx"
    big_recording(src, 1200, machines=2)
    convert(src, dst)
    db = sqlite3.connect(dst)
    (blob,) = db.execute(
        "SELECT d.data FROM chunks c JOIN chunk_data d ON d.id = c.data_id "
        "WHERE c.mach = 2 AND c.k = 1"
    ).fetchone()
    db.close()
    data = bytearray(dst.read_bytes())
    head = blob[:64]  # a blob spans pages; its first bytes are contiguous in the file
    at = data.find(head)
    assert at > 0 and data.find(head, at + 1) < 0
    mid = at + 40
    data[mid : mid + 4] = bytes(b ^ 0xFF for b in data[mid : mid + 4])  # a real bit rot
    dst.write_bytes(bytes(data))
    got = load(dst)
    assert any(
        "machine 'm1': chunk 1 damaged" in w and "256..511 (256) lost" in w for w in got.warnings
    )
    assert any("1 damaged chunks skipped, 256 transitions lost" in w for w in got.warnings)
    s = Session()
    s.load(got.machines)
    full = Session()
    full.load(load(src).machines)
    assert_answers_alike(full.machines["m0"], s.machines["m0"])
    m1, f1 = s.machines["m1"], full.machines["m1"]
    assert len(m1) == 1200 - 256
    kept = [*range(256), *range(512, 1200)]
    assert [m1.tx(i) for i in range(len(m1))] == [f1.tx(i) for i in kept]
    assert m1.info(256).time_sum == f1.info(512).time_sum


def test_go_dump_converts_to_amdbx_losslessly(tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "data" / "am-dbg-sim.gob.br"
    dst = tmp_path / "sim.amdbx"
    go = load(fixture)
    convert(fixture, dst)
    full, lazy = Session(), Session()
    full.load(go.machines)
    lazy.load(load(dst).machines)
    assert list(lazy.machines) == list(full.machines)
    for mid, h in full.machines.items():
        assert_answers_alike(h, lazy.machines[mid])


def test_export_of_a_session_to_amdbx(tmp_path: Path) -> None:
    s = record_session(tmp_path / "live.amdbg")
    dst = tmp_path / "out.amdbx"
    n = export(s, dst)
    assert n == sum(len(h) for h in s.machines.values())
    lazy = lazy_session(dst)
    for mid, h in s.machines.items():
        assert_answers_alike(h, lazy.machines[mid])


def test_headless_converts_with_a_progress_line(tmp_path: Path) -> None:
    dst = tmp_path / "demo.amdbx"
    demo = ROOT / "recordings" / "demo.amdbg"
    run = subprocess.run(
        [sys.executable, "-m", "am_dbg", "-i", str(demo), "--headless", "--export-data", str(dst)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"converting {demo} to {dst}: 100% (" in run.stderr
    n = sum(len(txs) for _, txs in load(demo).machines)
    assert f"Transitions: {n}" in run.stderr
    assert sum(len(txs) for _, txs in load(dst).machines) == n


def test_headless_records_to_amdbx_readable_while_it_runs(tmp_path: Path) -> None:
    """`am-dbg --headless --record x.amdbx` with real senders: what is acked is in the file,
    which a second reader opens while the recorder still writes; all of it after SIGTERM."""
    from tests.dbg.ingest.test_headless import _executed, _start, _stream
    from tests.waiting import wait_until

    rec = tmp_path / "live.amdbx"
    proc, port = _start("--listen-addr", "127.0.0.1:0", "--record", str(rec))
    try:
        streams = _stream(port, 3, 20)
        wait_until(
            lambda: all(t.stats().acked == t.stats().produced for _, t in streams.values()),
            what="every message acked",
        )

        def recorded() -> dict[str, list[tuple[str, tuple[int, ...]]]]:
            return {s.id: _executed(list(txs)) for s, txs in open_container(rec).machines}

        while_running = recorded()  # acked = committed: a second reader sees it now
        for mid, (produced, _) in streams.items():
            assert while_running[mid] == produced.txs
        assert all(t.close(5.0) for _, t in streams.values())
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    after = recorded()
    for mid, (produced, _) in streams.items():
        assert after[mid] == produced.txs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 90),
    chunk=st.integers(1, 40),
    errs=st.sets(st.integers(0, 89), max_size=8),
    budget=st.sampled_from([1, 50_000, 2**30]),
)
def test_any_chunking_answers_like_a_full_load(
    tmp_path: Path, n: int, chunk: int, errs: set[int], budget: int
) -> None:
    """Whatever the chunk size, memory budget and error pattern, chunk answers = full answers."""
    sch = schema("m")
    raws = []
    for i in range(n):
        tx = rich_tx("m", i, queued=i % 7 == 3)
        if i in errs:
            tx = replace(tx, clocks=(1, i, 2 * i + 1, 1 + 2 * i))
        raws.append((msgpack.packb(tx.to_wire()), T0 + i))
    dst = tmp_path / f"h{n}-{chunk}-{budget}.amdbx"
    write_machines(dst, [(sch, raws, False)], chunk_txs=chunk)
    packed = PackedTxs()
    for raw, t in raws:
        packed.append(raw, t)
    full = Session()
    full.load([(sch, packed)])
    lazy = lazy_session(dst, max_mem=budget)
    f, lz = full.machines["m"], lazy.machines["m"]
    assert len(lz) == n
    for i in range(n):
        assert lz.info(i) == f.info(i) and lz.tx(i) == f.tx(i)
        assert lz.log_entries(i) == f.log_entries(i) and lz.time_ns(i) == f.time_ns(i)
        for d in (1, 3, 100):
            assert lz.had_err_since(i, d) == f.had_err_since(i, d)
    assert lz.tx_at_human_time(T0 - 1) == -1
    assert [lz.tx_at_human_time(T0 + i) for i in range(n + 1)] == [*range(n), n - 1]
    assert lz.errors == f.errors


def test_summary_of_an_amdbx_equals_the_amdbg_one(tmp_path: Path) -> None:
    from am_dbg.summary import summarize

    src, dst = tmp_path / "a.amdbg", tmp_path / "a.amdbx"
    big_recording(src, 700, machines=2)
    convert(src, dst)
    (old, _), (new, warnings) = summarize(str(src)), summarize(str(dst))
    assert warnings == [] and new["format"] == "amdbx/1"
    assert new["machines"] == old["machines"] and old["machines"][0]["queued"] == 64


def test_progress_line_prints_the_end_always_and_rate_limits_the_rest() -> None:
    import io

    from am_dbg.recordings.progress import ProgressLine

    out = io.StringIO()
    p = ProgressLine("converting a", "transitions", stream=out, interval=3600)
    for done in range(0, 1_000_001, 65536):
        p(done, 1_000_000)
    p(1_000_000, 1_000_000)
    assert out.getvalue() == ("am-dbg: converting a: 100% (1,000,000 of 1,000,000 transitions)\n")
    p2 = ProgressLine("checking b", "chunks", stream=out, interval=0)
    p2(5, 0)  # an unknown total: a count alone
    assert out.getvalue().endswith("am-dbg: checking b: (5 chunks)\n")
