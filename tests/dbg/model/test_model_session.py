"""Session: the spec §3.5 connection rules, the token rule, conn-id validation, the memory GC."""

from __future__ import annotations

import gc

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from am_dbg.model.history import MachineHistory
from am_dbg.model.session import Session
from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, StateDef, TxMsg

NAMES = ("Start", "Ready", "Exception")


def schema(mid: str, token: str = "", names: tuple[str, ...] = NAMES) -> SchemaMsg:
    return SchemaMsg(id=mid, states_index=names, states={n: StateDef() for n in names}, token=token)


def tx(mid: str, tid: str, n: int = 1, **kw: object) -> TxMsg:
    return TxMsg(mach_id=mid, id=tid, clocks=(n, 0, 0), **kw)  # type: ignore[arg-type]


def feed(s: Session, conn: str, mid: str, count: int, start: int = 0) -> None:
    out = s.on_txs(
        [(conn, tx(mid, f"{mid}-{i}", 2 * i + 1)) for i in range(start, start + count)], 1
    )
    assert out.added == {mid: count}


def test_new_machine_then_schema_change_keeps_history() -> None:
    s = Session()
    assert s.on_schema(schema("a", "t1"), "c1").kind == "new"
    feed(s, "c1", "a", 3)
    wider = schema("a", "t1", (*NAMES, "Extra"))
    assert s.on_schema(wider, "c1").kind == "schema_change"
    h = s.machines["a"]
    assert len(h) == 3 and h.state_names[-1] == "Extra"
    assert h.clocks(0) == (1, 0, 0, 0)  # older txs padded to the new schema


def test_reconnect_with_same_token_continues_history() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    feed(s, "c1", "a", 3)
    assert s.on_disconnect("c1") == "a"
    out = s.on_schema(schema("a", "t1"), "c2")
    assert (out.kind, out.removed) == ("reconnect", ())
    h = s.machines["a"]
    assert h.connected and h.conn_id == "c2" and len(h) == 3
    s.on_txs([("c2", tx("a", "again", 5)), ("c2", tx("a", "next", 6))], 1)
    assert len(h) == 5
    # derived against the last message before the reconnect
    assert (h.info(3).added, h.info(3).time_diff) == ((), 0)
    assert h.info(4).removed == (0,)
    # the old connection closing late does not disconnect the machine
    assert s.on_disconnect("c1") is None
    assert h.connected


def test_reconnect_before_the_old_connection_closed() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    feed(s, "c1", "a", 2)
    assert s.on_schema(schema("a", "t1"), "c2").kind == "reconnect"
    assert len(s.machines["a"]) == 2


def test_new_token_replaces_history() -> None:
    s = Session(clean_on_connect=False)
    s.on_schema(schema("a", "t1"), "c1")
    feed(s, "c1", "a", 3)
    out = s.on_schema(schema("a", "t2"), "c2")
    assert out.kind == "replaced"
    assert len(s.machines["a"]) == 0 and s.machines["a"].token == "t2"


def test_no_token_on_a_new_connection_replaces_history() -> None:
    s = Session(clean_on_connect=False)
    s.on_schema(schema("a"), "c1")
    feed(s, "c1", "a", 3)
    s.on_disconnect("c1")
    assert s.on_schema(schema("a"), "c2").kind == "replaced"
    assert len(s.machines["a"]) == 0


def test_clean_on_connect_removes_all_disconnected_live_machines() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    s.on_schema(schema("b", "t2"), "c2")
    s.on_disconnect("c1")
    # one still connected: nothing cleaned
    assert s.on_schema(schema("c", "t3"), "c3").removed == ()
    s.on_disconnect("c2")
    s.on_disconnect("c3")
    out = s.on_schema(schema("d", "t4"), "c4")
    assert sorted(out.removed) == ["a", "b", "c"]
    assert list(s.machines) == ["d"]


def test_clean_on_connect_keeps_machines_loaded_from_a_file() -> None:
    s = Session()
    s.load([(schema("old"), [tx("old", "x", 1)])])
    s.on_schema(schema("a", "t1"), "c1")
    s.on_disconnect("c1")
    out = s.on_schema(schema("b", "t2"), "c2")
    assert out.removed == ("a",)
    assert set(s.machines) == {"old", "b"}
    assert not s.machines["old"].connected and s.machines["old"].from_file


def test_clean_on_connect_skipped_for_a_reconnect_and_when_off() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    s.on_schema(schema("b", "t2"), "c2")
    s.on_disconnect("c1")
    s.on_disconnect("c2")
    assert s.on_schema(schema("a", "t1"), "c3").kind == "reconnect"
    assert set(s.machines) == {"a", "b"}
    off = Session(clean_on_connect=False)
    off.on_schema(schema("a", "t1"), "c1")
    off.on_disconnect("c1")
    off.on_schema(schema("b", "t2"), "c2")
    assert set(off.machines) == {"a", "b"}


def test_txs_validated_by_connection_and_machine() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    s.on_schema(schema("b", "t2"), "c2")
    good = msgpack.packb(tx("a", "a1").to_wire())
    batch = [
        ("c1", good),
        ("c2", tx("a", "a2", 3)),  # a's messages over b's connection
        ("c1", tx("zz", "z1")),  # no schema for zz
        ("c1", b"\x93\x01"),  # truncated msgpack
        ("c1", msgpack.packb({"m": "a", "id": "a3", "c": "nope"})),
        ("c2", tx("b", "b1", time=77)),
    ]
    out = s.on_txs(batch, now_ns=1000)
    assert out.added == {"a": 1, "b": 1}
    assert (out.unknown, out.conn_mismatch, out.invalid) == (1, 1, 2)
    assert out.total == 2 and out.dropped == 4
    assert len(out.errors) == 2 and "'c'" in out.errors[1]
    assert list(out.bad_conns) == ["c1"]
    assert s.machines["a"].info(0).time_ns == 1000  # stamped
    assert s.machines["b"].info(0).time_ns == 77  # kept


def test_loaded_machine_refuses_live_txs_until_a_live_schema_replaces_it() -> None:
    s = Session()
    s.load([(schema("a"), [tx("a", "x", 1)])])
    assert s.on_txs([("a", tx("a", "y", 3))], 1).conn_mismatch == 1
    assert s.on_schema(schema("a", "t9"), "c1").kind == "replaced"
    assert s.on_txs([("c1", tx("a", "y", 3))], 1).added == {"a": 1}


def test_max_clients_evicts_least_recently_active_disconnected_first() -> None:
    s = Session(max_clients=2, clean_on_connect=False)
    s.on_schema(schema("a", "1"), "c1", now_ns=10)
    s.on_schema(schema("b", "2"), "c2", now_ns=20)
    s.on_disconnect("c2")
    out = s.on_schema(schema("c", "3"), "c3", now_ns=30)
    assert out.removed == ("b",)
    assert set(s.machines) == {"a", "c"}


def test_disconnect_unknown_connection() -> None:
    s = Session()
    assert s.on_disconnect("nope") is None


def _big_log_tx(mid: str, i: int, t: int) -> TxMsg:
    return TxMsg(
        mach_id=mid,
        id=f"{mid}-{i}",
        clocks=(2 * i + 1, 0, 0),
        time=t,
        log=(LogEntry(2, f"[state] +Start {i}"), LogEntry(4, "d" * 200), LogEntry(5, "e" * 200)),
    )


def test_gc_phase_one_drops_ops_logs_of_old_txs_only() -> None:
    s = Session(log_ops_ttl_ns=1000)
    s.on_schema(schema("a", "t"), "c1")
    s.on_txs([("c1", _big_log_tx("a", i, t=i * 100)) for i in range(20)], now_ns=0)
    before = s.stored_bytes
    s.max_mem_bytes = before - 1  # just over: phase 1 suffices
    dropped = s.gc({}, now_ns=1500)
    assert dropped == {}
    h = s.machines["a"]
    assert len(h) == 20
    assert s.stored_bytes < before
    assert h.tx(0).log == (LogEntry(2, "[state] +Start 0"),)
    assert len(h.tx(19).log) == 3  # younger than the TTL


def test_gc_phase_two_halves_and_never_drops_the_kept_tx() -> None:
    s = Session(clean_on_connect=False, log_ops_ttl_ns=10**18)
    s.on_schema(schema("a", "t"), "c1")
    s.on_schema(schema("b", "t"), "c2")
    s.on_txs([("c1", _big_log_tx("a", i, t=i)) for i in range(1000)], now_ns=0)
    s.on_txs([("c2", _big_log_tx("b", i, t=i)) for i in range(1000)], now_ns=0)
    s.on_disconnect("c2")
    s.max_mem_bytes = s.machines["a"].stored_bytes // 3
    keep_id = s.machines["a"].info(100).id
    dropped = s.gc({"a": 100}, now_ns=10**9)
    h = s.machines["a"]
    assert dropped["a"] == 100  # stopped at the kept tx
    assert h.index_of(keep_id) == 0
    assert "b" not in s.machines and dropped["b"] == 1000  # halved below 300, disconnected: removed
    # the kept tx is now the oldest: the GC gives up rather than drop it
    assert len(h) == 900 and s.over_budget


def test_gc_phase_two_brings_the_session_under_budget() -> None:
    s = Session(log_ops_ttl_ns=10**18)
    s.on_schema(schema("a", "t"), "c1")
    s.on_txs([("c1", _big_log_tx("a", i, t=i)) for i in range(4000)], now_ns=0)
    s.max_mem_bytes = s.stored_bytes // 5
    dropped = s.gc({"a": 3999}, now_ns=10**9)
    h = s.machines["a"]
    assert dropped == {"a": 3500}  # 2000, 1000, 500: connected, so kept even below 300
    assert not s.over_budget
    assert h.info(0).id == "a-3500" and h.index_of("a-3999") == 499


def test_gc_under_budget_does_nothing() -> None:
    s = Session()
    s.on_schema(schema("a", "t"), "c1")
    feed(s, "c1", "a", 10)
    assert s.gc({}) == {}
    assert len(s.machines["a"]) == 10


def test_gc_phase_one_leaves_malformed_log_entries_alone() -> None:
    s = Session(log_ops_ttl_ns=1)
    s.on_schema(schema("a", "t"), "c1")
    wire = {"m": "a", "id": "x", "c": [1, 0, 0], "log": [[5, "e" * 500], "junk", [2, "keep"]]}
    assert s.on_txs([("c1", msgpack.packb(wire))], now_ns=10).added == {"a": 1}
    s.max_mem_bytes = 1
    s.gc({}, now_ns=10**6)
    msg = s.machines["a"].tx(0)
    assert msg.log == ()  # the malformed list is left out when decoded, and said so
    assert any("'log'" in e.text for e in msg.pre_log)
    assert msgpack.unpackb(s.machines["a"].raw(0))["log"] == ["junk", [2, "keep"]]


# -- the batch fast path (derive_many) against the message-by-message path (derive) ------------

_W = 5
_good_tx = st.fixed_dictionaries(
    {
        "c": st.lists(st.integers(0, 9), min_size=_W, max_size=_W),
        "s": st.lists(st.integers(0, _W - 1), max_size=2),
        "qt": st.integers(0, 50),
    },
    optional={
        "t": st.integers(0, 2),
        "acc": st.booleans(),
        "auto": st.booleans(),
        "qd": st.booleans(),
        "mqt": st.integers(0, 9),
        "steps": st.lists(
            st.tuples(st.integers(1, 64), st.integers(-1, _W - 1), st.integers(-1, _W - 1)).map(
                lambda t: [t[0], t[1], t[2], 0, 0]
            ),
            max_size=4,
        ),
        "time": st.integers(0, 10**6),
        "log": st.just([[2, "[state] +A"]]),
    },
)
# each breaks one rule derive() enforces (or takes its slow path: a null, another clock width)
_BAD = [
    {"c": [1, True, 0, 0, 0]},
    {"c": [1, 0.5, 0, 0, 0]},
    {"c": "nope"},
    {"s": [True]},
    {"s": None},
    {"qd": 1},
    {"acc": None},
    {"qt": "7"},
    {"t": False},
    {"id": 5},
    {"steps": [[1, 2]]},
    {"steps": [[1, "a", 2, 0, 0]]},
    {"steps": [[1, -3, 2, 0, 0]]},
    {"steps": [b"\x01\x02\x03\x04\x05"]},
    {"steps": None},
    {"c": [1, 0, 0]},
]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(_good_tx, min_size=1, max_size=40),
    st.dictionaries(st.integers(0, 39), st.sampled_from(_BAD), max_size=2),
)
def test_batch_ingest_matches_one_by_one(goods: list, bad_at: dict) -> None:
    """Whatever the mix, a batch stores exactly what message-by-message appends store."""
    _check_batch_vs_one_by_one(goods, bad_at)


@pytest.mark.parametrize("bad", _BAD)
def test_each_malformed_kind_in_a_long_run_is_refused_alone(bad: dict) -> None:
    goods = [
        {"c": [i, i // 2, 0, 1, 0], "s": [i % 2], "qt": i, "steps": [[4, -1, 1, 0, 0]]}
        for i in range(12)
    ]
    _check_batch_vs_one_by_one(goods, {5: bad})


def _check_batch_vs_one_by_one(goods: list, bad_at: dict) -> None:
    names = ("A", "B", "Healthcheck", "ErrX", "Exception")
    sch = schema("m", "t", names)
    raws = []
    for i, good in enumerate(goods):
        wire = {"m": "m", "id": f"x{i}", **good, **bad_at.get(i, {})}
        raws.append(msgpack.packb(wire))
    one = MachineHistory(sch, "c1")
    refused = 0
    for r in raws:
        try:
            one.append(r, time_ns=7)
        except MessageError:
            refused += 1
    s = Session()
    s.on_schema(sch, "c1")
    out = s.on_txs([("c1", r) for r in raws], now_ns=7)
    h = s.machines["m"]
    assert out.invalid == refused and out.total == len(one)
    assert list(h.infos()) == list(one.infos())
    assert [h.raw(i) for i in range(len(h))] == [one.raw(i) for i in range(len(one))]
    assert h.errors == one.errors and h.newest_time_sum == one.newest_time_sum
    assert all(h.index_of(i.id) == one.index_of(i.id) for i in one.infos())
    # and a second batch continues from the first one's last clocks
    s.on_txs([("c1", r) for r in raws], now_ns=8)
    for r in raws:
        try:
            one.append(r, time_ns=8)
        except MessageError:
            pass
    assert list(h.infos()) == list(one.infos())


def test_batch_runs_per_connection_and_machine_keep_arrival_order() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    s.on_schema(schema("b", "t2"), "c2")
    batch: list[tuple[str, TxMsg | bytes]] = []
    for i in range(30):
        batch.append(("c1", msgpack.packb(tx("a", f"a{i}", 2 * i + 1).to_wire())))
        if i % 3 == 0:
            batch.append(("c2", msgpack.packb(tx("b", f"b{i}", i).to_wire())))
    batch.insert(10, ("c2", msgpack.packb(tx("a", "wrong-conn", 1).to_wire())))
    batch.insert(20, ("c1", b"\xc1"))
    out = s.on_txs(batch, now_ns=5)
    assert out.added == {"a": 30, "b": 10}
    assert (out.conn_mismatch, out.invalid, out.unknown) == (1, 1, 0)
    assert [s.machines["a"].info(i).id for i in range(30)] == [f"a{i}" for i in range(30)]
    assert s.machines["b"].info(9).id == "b27"
    assert s.machines["a"].info(29).time_sum == 59


def test_batch_ingest_leaves_the_gc_as_it_found_it() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    raws = [msgpack.packb(tx("a", f"a{i}", 2 * i + 1).to_wire()) for i in range(100)]
    assert gc.isenabled()
    s.on_txs([("c1", r) for r in raws], now_ns=5)
    assert gc.isenabled()
    gc.disable()
    try:
        s.on_txs([("c1", r) for r in raws], now_ns=5)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_batch_of_nothing_but_garbage_is_counted_not_raised() -> None:
    s = Session()
    s.on_schema(schema("a", "t1"), "c1")
    bad = [b"\xc1", msgpack.packb([1, 2]), b"\x93\x01", msgpack.packb({"id": "x"}), b""]
    out = s.on_txs([("c1", r) for r in bad], now_ns=1)
    assert (out.invalid, out.total) == (5, 0)
    assert "msgpack" in out.errors[0] and any("'m'" in e for e in out.errors)
    assert len(s.machines["a"]) == 0
