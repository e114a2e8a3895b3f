"""The typed ingest decode (`TxCore`) against the dict path: never looser, always the same result."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from am_dbg.model.derive import SchemaFacts, TupleInterner, check_many, check_tx, derive_many
from am_dbg.model.history import MachineHistory
from am_dbg.model.session import Session
from am_dbg.model.wire import TxCore, decode_many
from am_rpc.dbg.protocol import MessageError, SchemaMsg, StateDef, TxMsg

_W = 4
_FACTS = SchemaFacts(err_idxs=(3,), health_idxs=frozenset({2}))

_tx = st.fixed_dictionaries(
    {"c": st.lists(st.integers(0, 2**40), min_size=_W, max_size=_W)},
    optional={
        "s": st.lists(st.integers(-2, _W), max_size=3),
        "t": st.integers(0, 2),
        "qt": st.integers(0, 2**33),
        "mqt": st.integers(0, 9),
        "mqk": st.integers(0, 9),
        "acc": st.booleans(),
        "auto": st.booleans(),
        "chk": st.booleans(),
        "qd": st.booleans(),
        "steps": st.lists(st.lists(st.integers(-1, _W - 1), min_size=5, max_size=5), max_size=4),
        "time": st.integers(-5, 10**12),
        "log": st.just([[2, "[state] +A"]]),
        "args": st.just({"k": "v"}),
        "ql": st.integers(0, 2**64 - 1),  # unknown keys take the dict path (depth-checked)
    },
)
# values the dict path treats specially (refuses, or takes its careful slow path)
_odd = st.sampled_from(
    [
        {"c": [1, True, 0, 0]},
        {"c": [1, 0.5, 0, 0]},
        {"c": [1, 0, 0]},
        {"c": None},
        {"s": [True]},
        {"s": None},
        {"qd": 1},
        {"acc": None},
        {"qt": "7"},
        {"t": False},
        {"id": 5},
        {"m": None},
        {"steps": [[1, 2]]},
        {"steps": [[1, -2, 2, 0, 0]]},
        {"steps": [[1, 0, 1, 0, 0, "more"]]},
        {"steps": [[1, 0, 1, 0, False]]},
        {"steps": None},
        {"time": 1.5},
        {"time": None},
    ]
)


def _pack(txs: list[dict[str, Any]]) -> list[bytes]:
    return [msgpack.packb({"m": "m", "id": f"x{i}", **tx}) for i, tx in enumerate(txs)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_tx, min_size=1, max_size=20),
    st.dictionaries(st.integers(0, 19), _odd, max_size=2),
    st.sampled_from([(), (0,) * _W, (1, 2, 3, 4), (0, 0)]),
)
def test_typed_path_is_never_looser_and_derives_the_same(
    txs: list[dict[str, Any]], odd: dict[int, dict[str, Any]], prev: tuple[int, ...]
) -> None:
    for i, patch in odd.items():
        if i < len(txs):
            txs[i] = {**txs[i], **patch}
    raws = _pack(txs)
    cores = decode_many(raws)
    if cores is None:
        return  # the dict path decides alone (covered by the session tests)
    maps = [msgpack.unpackb(r) for r in raws]
    for d in maps:
        check_tx(d)  # every message the typed decode accepted passes the message-level check
    got = derive_many(cores, prev, 5, _FACTS, 77, TupleInterner())
    want = derive_many(maps, prev, 5, _FACTS, 77, TupleInterner())
    assert got == want
    assert check_many(cores, prev, 77) == check_many(maps, prev, 77)


@pytest.mark.parametrize(
    "patch",
    [
        {"c": [1, True, 0, 0]},
        {"c": [1, 0.5, 0, 0]},
        {"s": None},
        {"acc": 1},
        {"steps": [[1, -2, 0, 0, 0]]},
        {"steps": [[1, 0, 1, 0, 0, "more"]]},
        {"time": 1.5},
    ],
)
def test_anything_odd_sends_the_whole_run_the_dict_way(patch: dict[str, Any]) -> None:
    good = {"c": [1, 0, 0, 0], "steps": [[1, -1, 0, 0, 0]]}
    raws = _pack([good, {**good, **patch}, good])
    assert decode_many(raws) is None
    assert decode_many(raws[:1]) == [
        TxCore(m="m", id="x0", c=[1, 0, 0, 0], steps=[(1, -1, 0, 0, 0)])
    ]


def test_session_stores_the_same_whichever_path_a_batch_takes() -> None:
    """A batch with one odd (but valid) message goes the dict path; the same messages in
    batches the typed decode accepts give the same history."""
    names = ("A", "B", "Healthcheck", "Exception")
    sch = SchemaMsg(id="m", states_index=names, states={n: StateDef() for n in names})
    txs = [
        {"c": [i, i // 2, 0, i % 3 == 0], "s": [i % 2], "qt": i, "steps": [[4, -1, 1, 0, 0]]}
        for i in range(12)
    ]
    for tx in txs:
        tx["c"] = [int(v) for v in tx["c"]]
    odd = {**txs[5], "steps": [[4, -1, 1, 0, 0, "detail"]]}  # valid, but not a TxCore
    raws = _pack(txs)
    raws_odd = [*raws[:5], msgpack.packb({"m": "m", "id": "x5", **odd}), *raws[6:]]
    assert decode_many(raws_odd) is None and decode_many(raws) is not None

    def history(rs: list[bytes]) -> Any:
        s = Session()
        s.on_schema(sch, "c1")
        out = s.on_txs([("c1", r) for r in rs], now_ns=7)
        assert out.total == 12 and out.invalid == 0
        return s.machines["m"]

    typed, dicts = history(raws), history(raws_odd)
    assert list(typed.infos()) == list(dicts.infos())
    assert typed.errors == dicts.errors and typed.newest_time_sum == dicts.newest_time_sum


def test_a_message_the_dict_path_refuses_is_refused_on_the_typed_path_too() -> None:
    with pytest.raises(MessageError):
        check_tx({"m": "m", "id": "x", "c": [1, True]})
    assert decode_many(_pack([{"c": [1, True]}])) is None


@settings(max_examples=40, deadline=None)
@given(st.lists(_tx, min_size=4, max_size=24), st.booleans())
def test_short_runs_of_a_read_machine_match_one_by_one(
    txs: list[dict[str, Any]], read: bool
) -> None:
    """Two machines interleaved (runs of one message each) on the typed path: the same history
    as appending each message alone, whether the machines were read before or not."""
    names = ("A", "B", "Healthcheck", "Exception")
    sch = {
        m: SchemaMsg(id=m, states_index=names, states={n: StateDef() for n in names}) for m in "ab"
    }
    raws = [msgpack.packb({"m": "ab"[i % 2], "id": f"x{i}", **tx}) for i, tx in enumerate(txs)]
    assert decode_many(raws) is not None
    s = Session()
    alone = {}
    for m in "ab":
        s.on_schema(sch[m], "c" + m)
        alone[m] = MachineHistory(sch[m], "c" + m)
        if read:
            s.machines[m].infos()
    out = s.on_txs([("c" + "ab"[i % 2], r) for i, r in enumerate(raws)], now_ns=7)
    assert out.total == len(raws)
    if not read:  # checked only: each machine's runs of one joined into one pending run
        assert all(len(s.machines[m]._pending) == 1 for m in "ab")
    for i, r in enumerate(raws):
        alone["ab"[i % 2]].append(r, time_ns=7)
    for m in "ab":
        assert list(s.machines[m].infos()) == list(alone[m].infos())
        assert s.machines[m].errors == alone[m].errors


def test_load_of_packed_bytes_and_messages_matches_appending_them() -> None:
    """`Session.load` takes packed messages in chunks (typed decode): the same history as
    appending each one, receive times included (a message's own "time", else 0)."""
    names = ("A", "B", "Healthcheck", "Exception")
    sch = SchemaMsg(id="m", states_index=names, states={n: StateDef() for n in names})
    items: list[Any] = []
    for i in range(3000):
        wire = {"m": "m", "id": f"x{i}", "c": [i, i // 2, 0, i % 7 == 0], "s": [i % 3]}
        wire["c"] = [int(v) for v in wire["c"]]
        if i % 3:
            wire["time"] = 1000 + i
        items.append(msgpack.packb(wire))
    items[1500] = TxMsg.from_wire(msgpack.unpackb(items[1500]))  # a decoded one in between
    s = Session()
    s.load([(sch, iter(items))])
    one = MachineHistory(sch, "m")
    for item in items:
        one.append(item)
    h = s.machines["m"]
    assert list(h.infos()) == list(one.infos())
    assert [h.time_ns(i) for i in range(len(h))] == [one.time_ns(i) for i in range(len(one))]
    assert h.time_ns(0) == 0 and h.time_ns(1) == 1001


def test_pending_runs_joined_across_ticks_keep_each_receive_time() -> None:
    names = ("A", "B", "Healthcheck", "Exception")
    sch = {
        m: SchemaMsg(id=m, states_index=names, states={n: StateDef() for n in names}) for m in "ab"
    }
    s = Session()
    alone = {}
    for m in "ab":
        s.on_schema(sch[m], "c" + m)
        alone[m] = MachineHistory(sch[m], "c" + m)
    for tick in range(30):
        batch = []
        for j in range(5):  # a, b, a, b, a: runs of one message
            m = "ab"[j % 2]
            i = tick * 5 + j
            wire = {"m": m, "id": f"x{i}", "c": [i, 0, i % 3, i % 2], "s": [i % 4]}
            if i % 7 == 0:
                wire["time"] = 10**9 + i  # its own receive time (forwarded)
            batch.append(("c" + m, msgpack.packb(wire)))
            alone[m].append(batch[-1][1], time_ns=100 + tick)
        s.on_txs(batch, now_ns=100 + tick)
    for m in "ab":
        h = s.machines[m]
        assert len(h._pending) == 1
        assert list(h.infos()) == list(alone[m].infos())
        assert [h.time_ns(i) for i in range(len(h))] == [alone[m].time_ns(i) for i in range(len(h))]
