"""Lazy derivation: a machine nobody read is checked at ingest and derived on the first read.

Every result must be the one eager derivation gives, whatever the mix of runs, malformed messages,
single appends, schema changes, reads in the middle and the memory GC.
"""

from __future__ import annotations

import gc

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from am_dbg.model.derive import TxInfo
from am_dbg.model.history import MachineHistory
from am_dbg.model.packed import PackedTxs
from am_dbg.model.session import Session
from am_rpc.dbg.protocol import MessageError, SchemaMsg, StateDef

_W = 5
NAMES = ("A", "B", "Healthcheck", "ErrX", "Exception")
# a schema change: other error / health states, so facts must be those of ingest time
NAMES2 = ("ErrA", "Heartbeat", "C", "D", "E")


def schema(names: tuple[str, ...] = NAMES) -> SchemaMsg:
    return SchemaMsg(id="m", states_index=names, states={n: StateDef() for n in names}, token="t")


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
        "mqk": st.integers(0, 9),
        "steps": st.lists(
            st.tuples(st.integers(1, 64), st.integers(-1, _W - 1), st.integers(-1, _W - 1)).map(
                lambda t: [t[0], t[1], t[2], 0, 0]
            ),
            max_size=4,
        ),
        "time": st.integers(0, 10**6),
        "log": st.just([[2, "[state] +A"], [4, "[ops] x"]]),
    },
)
# refused, or taking the message-by-message path (a null, another clock width)
_ODD = st.sampled_from(
    [
        {"c": [1, True, 0, 0, 0]},
        {"c": [1, 0.5, 0, 0, 0]},
        {"s": None},
        {"qd": 1},
        {"acc": None},
        {"steps": [[1, "a", 2, 0, 0]]},
        {"steps": [[1, -3, 2, 0, 0]]},
        {"c": [1, 0, 0]},
        {"c": [3, 1, 1, 1, 1, 1]},
    ]
)

# mostly good messages, so that most runs are long enough to be stored pending
_maybe_odd_tx = st.tuples(_good_tx, st.integers(0, 7), _ODD).map(
    lambda t: (t[0], t[2] if t[1] == 0 else None)
)

# what happens between two batches
_ACTIONS = st.sampled_from(["none", "none", "read", "schema", "single", "drop", "trim"])


def _check_equal(lazy: MachineHistory, eager: MachineHistory) -> None:
    n = len(eager)
    assert len(lazy) == n
    assert [lazy.time_ns(i) for i in range(n)] == [i.time_ns for i in eager.infos()]
    assert lazy.newest_time_sum == eager.newest_time_sum
    assert lazy.last_activity_ns == eager.last_activity_ns
    assert list(lazy.infos()) == list(eager.infos())
    assert lazy.errors == eager.errors
    infos = list(eager.infos())
    for i, info in enumerate(infos):
        assert lazy.index_of(info.id) == eager.index_of(info.id)
        assert lazy.tx_at_mach_time(info.time_sum) == eager.tx_at_mach_time(info.time_sum)
        assert lazy.tx_at_human_time(info.time_ns) == eager.tx_at_human_time(info.time_ns)
        assert lazy.tx_at_queue_tick(info.queue_tick) == eager.tx_at_queue_tick(info.queue_tick)
        assert lazy.had_err_since(i, 3) == eager.had_err_since(i, 3)
        assert lazy.executed_by(i) == eager.executed_by(i)
        assert lazy.clocks(i) == eager.clocks(i)
        assert lazy.log_entries(i) == eager.log_entries(i)
    for state in range(_W):
        for start in (-1, 0, n // 2, n):
            for fwd in (True, False):
                assert lazy.next_touching(state, start, fwd) == eager.next_touching(
                    state, start, fwd
                )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(_maybe_odd_tx, min_size=1, max_size=20),
            _ACTIONS,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_lazy_history_equals_eager(steps: list) -> None:
    """A session nobody reads until the end holds exactly what an eagerly read one holds."""
    lazy_s = Session()
    eager_s = Session()
    for s in (lazy_s, eager_s):
        s.on_schema(schema(), "c1", now_ns=1)
    eager = eager_s.machines["m"]
    assert eager.errors == []  # a read: this one derives at ingest from the start
    lazy = lazy_s.machines["m"]
    k = 0
    for batch, action in steps:
        raws = []
        for good, odd in batch:
            raws.append(msgpack.packb({"m": "m", "id": f"x{k}", **good, **(odd or {})}))
            k += 1
        outs = [s.on_txs([("c1", r) for r in raws], now_ns=1000 + k) for s in (lazy_s, eager_s)]
        assert outs[0] == outs[1]
        if action == "read":
            lazy.info(len(lazy) - 1) if len(lazy) else lazy.errors
        elif action == "schema":
            for h in (lazy, eager):
                h.set_schema(schema(NAMES2 if h.state_names == NAMES else NAMES))
        elif action == "single":  # message by message, between pending runs
            for h in (lazy, eager):
                try:
                    h.append(raws[0], time_ns=5)
                except MessageError:
                    pass
        elif action == "drop":
            assert lazy.drop_front(len(lazy) // 3) == eager.drop_front(len(eager) // 3)
        elif action == "trim":
            freed = [h.trim_ops_logs(10**9, None, 10**9) for h in (lazy, eager)]
            assert freed[0] == freed[1]
    _check_equal(lazy, eager)


def test_an_unread_machine_stores_runs_without_deriving_them() -> None:
    s = Session()
    s.on_schema(schema(), "c1")
    raws = [
        msgpack.packb(
            {"m": "m", "id": f"x{i}", "c": [i, 0, 0, i % 2, 0], "steps": [[1, 0, 1, 0, 0]]}
        )
        for i in range(50)
    ]
    s.on_txs([("c1", r) for r in raws], now_ns=7)
    h = s.machines["m"]
    assert h._pending and h._infos.count(()) == 50  # checked and stored, not derived
    assert len(h) == 50 and h.index_of("x7") == 7 and h.time_ns(3) == 7
    assert h.newest_time_sum == 49 + 1 and h.tx_at_human_time(7) == 49
    assert h.errors == [*range(1, 50, 2)]
    assert not h._pending and () not in h._infos
    assert h.info(0).touched == (0, 1) and h.info(1).added == (0, 3)
    s.on_txs([("c1", r) for r in raws[:10]], now_ns=8)  # read once: derived at ingest now
    assert not h._pending and len(h) == 60 and h.info(50).removed == (0, 3)


def test_a_malformed_message_is_still_refused_on_arrival() -> None:
    s = Session()
    s.on_schema(schema(), "c1")
    raws = [msgpack.packb({"m": "m", "id": f"x{i}", "c": [i, 0, 0, 0, 0]}) for i in range(10)]
    raws[4] = msgpack.packb({"m": "m", "id": "bad", "c": [1, "x", 0, 0, 0]})
    out = s.on_txs([("c1", r) for r in raws], now_ns=7)
    assert out.invalid == 1 and out.total == 9 and "'c'" in out.errors[0]
    assert "c1" in out.bad_conns


def test_a_pending_run_keeps_the_error_and_health_states_of_its_schema() -> None:
    s = Session()
    s.on_schema(schema(), "c1", now_ns=1)
    h = s.machines["m"]
    raws = [
        msgpack.packb({"m": "m", "id": f"x{i}", "c": [1, 1, 0, 1, 0], "s": [2 - i % 2]})
        for i in range(6)
    ]
    s.on_txs([("c1", r) for r in raws], now_ns=7)
    h.set_schema(schema(NAMES2))  # ErrX (3) is no error state any more, Heartbeat is 1
    assert h.errors == [*range(6)]
    assert [h.info(i).is_health for i in range(6)] == [True, False] * 3


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_good_tx, st.integers(0, 10**6)), min_size=1, max_size=30))
def test_a_loaded_machine_derives_with_its_recorded_times(txs: list) -> None:
    """Recordings keep receive times apart from the bytes: the lazy derivation must use them."""
    packed = PackedTxs()
    eager = MachineHistory(schema(), "m", connected=False, from_file=True)
    assert eager.errors == []
    for k, (good, t) in enumerate(txs):
        raw = msgpack.packb({"m": "m", "id": f"x{k}", **{**good, "time": 0}})
        packed.append(raw, t)
        eager.append(msgpack.packb({"m": "m", "id": f"x{k}", **{**good, "time": t}}), 0)
    s = Session()
    s.load([(schema(), packed)])
    lazy = s.machines["m"]
    assert lazy.last_activity_ns == lazy.time_ns(-1) == (txs[-1][1])
    assert list(lazy.infos()) == list(eager.infos())
    assert lazy.errors == eager.errors


def test_stored_infos_leave_the_cyclic_gc_alone() -> None:
    """A read machine's stored infos are plain tuples the GC stops tracking: full collections
    do not walk the history (a NamedTuple per transition would stay tracked)."""
    s = Session()
    s.on_schema(schema(), "c1")
    raws = [
        msgpack.packb({"m": "m", "id": f"x{i}", "c": [i, 0, 0, 1, 0], "s": [i % 3]})
        for i in range(40)
    ]
    s.on_txs([("c1", r) for r in raws[:20]], now_ns=7)
    h = s.machines["m"]
    assert h.info(3).called == (0,)  # read: derived now, and at ingest from here on
    s.on_txs([("c1", r) for r in raws[20:]], now_ns=8)
    s.on_txs([("c1", raws[0].replace(b"x0", b"y0"))], now_ns=9)  # one message alone
    gc.collect()
    gc.collect()  # tuples inside tuples: untracked from the inside out
    assert len(h) == 41 and not any(map(gc.is_tracked, h._infos))
    assert type(h.info(40)) is TxInfo and h.info(40).id == "y0"
