"""MachineHistory: derived data computed at ingest, lookups, lazy decoding."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from am_dbg.model.history import MachineHistory
from am_rpc.dbg.protocol import LogEntry, MessageError, SchemaMsg, StateDef, Step, TxMsg

NAMES = ("Start", "Ready", "Multi", "Healthcheck", "Heartbeat", "ErrNetwork", "Exception")
S, R, M, HC, HB, ERRN, EXC = range(len(NAMES))


def schema(names: tuple[str, ...] = NAMES, token: str = "tok") -> SchemaMsg:
    return SchemaMsg(
        id="m1",
        states_index=names,
        states={n: StateDef(multi=n == "Multi") for n in names},
        token=token,
    )


def tx(tid: str, clocks: list[int], **kw: object) -> TxMsg:
    return TxMsg(mach_id="m1", id=tid, clocks=tuple(clocks), **kw)  # type: ignore[arg-type]


def hist(*txs: TxMsg) -> MachineHistory:
    h = MachineHistory(schema(), "c1")
    for t in txs:
        h.append(t)
    return h


def test_added_removed_against_previous_message() -> None:
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0], called=(S,)),
        tx("b", [1, 1, 0, 0, 0, 0, 0], called=(R,)),
        tx("c", [2, 1, 0, 0, 0, 0, 0], type=1, called=(S,)),
    )
    assert (h.info(0).added, h.info(0).removed) == ((S,), ())
    assert (h.info(1).added, h.info(1).removed) == ((R,), ())
    assert (h.info(2).added, h.info(2).removed) == ((), (S,))
    assert h.info(2).called == (S,)


def test_multi_reactivation_counts_as_added() -> None:
    h = hist(
        tx("a", [1, 0, 1, 0, 0, 0, 0]),
        tx("b", [1, 0, 3, 0, 0, 0, 0], called=(M,)),
        tx("c", [1, 0, 7, 0, 0, 0, 0], called=(M,)),  # two re-activations in one tx
        tx("d", [1, 0, 7, 0, 0, 0, 0], called=(M,), accepted=False),
    )
    assert h.info(1).added == (M,)
    assert h.info(2).added == (M,)
    assert h.info(3).added == ()
    assert h.info(3).removed == ()


def test_queued_messages_are_the_previous_message_too() -> None:
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0]),
        tx("a-0", [1, 0, 0, 0, 0, 0, 0], is_queued=True, mut_queue_tick=3, called=(R,)),
        tx("b", [1, 1, 0, 0, 0, 0, 0], called=(R,), queue_tick=3),
    )
    q = h.info(1)
    assert q.is_queued and not q.is_empty and q.added == () and q.time_diff == 0
    assert h.info(2).added == (R,)
    assert h.info(2).time_diff == 1


def test_touched_from_steps_unique_and_steps_counted() -> None:
    steps = (
        Step(type=32, to_idx=R),
        Step(type=1, from_idx=R, to_idx=S, rel_type=2),
        Step(type=2, to_idx=R, is_final=True, is_enter=True),
        Step(type=4, to_idx=R),
    )
    h = hist(tx("a", [1, 1, 0, 0, 0, 0, 0], steps=steps))
    assert h.info(0).touched == (S, R)
    assert h.info(0).n_steps == 4


def test_time_sum_diff_empty_err_health() -> None:
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0]),
        tx("b", [1, 0, 0, 0, 0, 0, 0], called=(S,)),  # nothing changed: empty
        tx("c", [1, 0, 0, 1, 0, 0, 0], called=(HC,)),
        tx("d", [1, 0, 0, 2, 1, 0, 0], called=(HC, HB)),
        tx("e", [1, 0, 0, 2, 1, 1, 0], called=(ERRN, S)),
        tx("f", [1, 0, 0, 2, 1, 2, 1], called=(EXC,)),
        tx("g", [1, 0, 0, 2, 1, 2, 2]),
    )
    assert [h.info(i).time_sum for i in range(len(h))] == [1, 1, 2, 4, 5, 7, 8]
    assert [h.info(i).time_diff for i in range(len(h))] == [1, 0, 1, 2, 1, 2, 1]
    assert [h.info(i).is_empty for i in range(len(h))] == [False, True] + [False] * 5
    assert [h.info(i).is_health for i in range(len(h))] == [False, False, True, True] + [False] * 3
    assert h.errors == [4, 5]
    assert h.newest_time_sum == 8
    assert h.info(4).is_err and not h.info(6).is_err


def test_canceled_with_no_change_is_not_empty() -> None:
    h = hist(tx("a", [1, 0, 0, 0, 0, 0, 0]), tx("b", [1, 0, 0, 0, 0, 0, 0], accepted=False))
    assert not h.info(1).is_empty and not h.info(1).accepted


def test_lookups_mach_time_human_time_queue_tick_index_of() -> None:
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0], time=100, queue_tick=1),
        tx("b", [1, 1, 0, 0, 0, 0, 0], time=200, queue_tick=2),
        tx("b-0", [1, 1, 0, 0, 0, 0, 0], time=200, queue_tick=2, is_queued=True),
        tx("c", [1, 1, 1, 0, 0, 0, 0], time=300, queue_tick=5),
    )
    assert h.index_of("b-0") == 2
    assert h.index_of("zz") is None
    assert h.tx_at_mach_time(2) == 1  # the first tx at that machine time
    assert h.tx_at_mach_time(3) == 3
    assert h.tx_at_mach_time(4) == -1
    assert h.tx_at_human_time(99) == -1
    assert h.tx_at_human_time(100) == 0
    assert h.tx_at_human_time(250) == 2  # the last one at or before
    assert h.tx_at_human_time(10**19) == 3
    assert h.tx_at_queue_tick(2) == 1
    assert h.tx_at_queue_tick(3) == 3
    assert h.tx_at_queue_tick(99) == 3


def test_executed_by_tick_token_and_never() -> None:
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0], queue_tick=1),
        tx("a-0", [1, 0, 0, 0, 0, 0, 0], queue_tick=1, is_queued=True, mut_queue_tick=3),
        tx("a-1", [1, 0, 0, 0, 0, 0, 0], queue_tick=1, is_queued=True, mut_queue_token=77),
        tx("a-2", [1, 0, 0, 0, 0, 0, 0], queue_tick=1, is_queued=True, mut_queue_tick=4),
        tx("b", [1, 1, 0, 0, 0, 0, 0], queue_tick=2, mut_queue_token=77),
        tx("c", [1, 1, 1, 0, 0, 0, 0], queue_tick=3),
        tx("d", [1, 1, 1, 0, 0, 0, 0], queue_tick=5),
    )
    assert h.executed_by(1) == 5
    assert h.executed_by(2) == 4
    assert h.executed_by(3) is None  # tick 4 never ran
    assert h.executed_by(0) is None  # not a queued message


def test_next_touching_both_ways_with_accept() -> None:
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0]),
        tx("b", [1, 1, 0, 0, 0, 0, 0]),  # adds R
        tx("c", [1, 1, 1, 0, 0, 0, 0]),
        tx("d", [1, 1, 1, 0, 0, 0, 0], called=(R,), accepted=False),  # calls R
        tx("e", [1, 2, 1, 0, 0, 0, 0]),  # removes R
    )
    assert h.next_touching(R, -1, True) == 1
    assert h.next_touching(R, 1, True) == 3
    assert h.next_touching(R, 1, True, accept=lambda j: h.info(j).accepted) == 4
    assert h.next_touching(R, 4, True) is None
    assert h.next_touching(R, 4, False) == 3
    assert h.next_touching(R, 3, False) == 1
    assert h.next_touching(R, 1, False) is None
    assert h.next_touching(M, 0, True) == 2


def test_had_err_since_distance() -> None:
    txs = [tx(f"t{i}", [1, 0, 0, 0, 0, 0, 1 if i == 5 else 2 if i > 5 else 0]) for i in range(120)]
    h = hist(*txs)
    assert h.errors == [5]
    assert not h.had_err_since(4)
    assert h.had_err_since(5)
    assert h.had_err_since(104)
    assert not h.had_err_since(105)
    assert not h.had_err_since(10, distance=5)


def test_log_entries_synthetic_line_prepended() -> None:
    pre = (LogEntry(1, "[extern] hello"),)
    log = (LogEntry(3, "[handler:0] ReadyState"),)
    h = hist(
        tx("a", [1, 0, 0, 0, 0, 0, 0], pre_log=pre, log=log),
        tx("a-0", [1, 0, 0, 0, 0, 0, 0], is_queued=True, called=(R, M), args={"b": "2", "a": "1"}),
        tx("a-1", [1, 0, 0, 0, 0, 0, 0], is_queued=True, is_auto=True, called=(R,)),
        tx("b", [1, 0, 0, 0, 0, 0, 0], type=1, called=(S,), accepted=False, log=log),
        tx("c", [1, 0, 0, 0, 0, 0, 0], type=2, called=(S,)),
    )
    assert h.log_entries(0) == pre + log
    assert h.log_entries(1) == (LogEntry(2, "[queue] +Ready +Multi (a=1 b=2)"),)
    assert h.log_entries(2) == (LogEntry(2, "[aqueu] +Ready"),)
    assert h.log_entries(3) == (LogEntry(2, "[cance] -Start"), *log)
    assert h.log_entries(4) == (LogEntry(2, "[empty] "),)


def test_tx_decodes_on_demand_with_receive_time_and_clocks_padded() -> None:
    full = tx(
        "a",
        [1, 1],
        called=(R,),
        steps=(Step(type=4, to_idx=R),),
        log=(LogEntry(2, "[state] +Ready"),),
        args={"k": "v"},
        stack_trace="trace",
        queue_len=3,
    )
    h = MachineHistory(schema(), "c1")
    h.append(msgpack.packb(full.to_wire()), time_ns=12345)
    got = h.tx(0)
    assert got.time == 12345
    assert got.steps == full.steps and got.log == full.log and got.args == {"k": "v"}
    assert h.clocks(0) == (1, 1, 0, 0, 0, 0, 0)
    assert h.tx(-1) is got  # cached
    with pytest.raises(IndexError):
        h.tx(1)


def test_bytes_are_stored_as_received() -> None:
    raw = msgpack.packb(tx("a", [1, 0, 0, 0, 0, 0, 0], log=(LogEntry(2, "x"),)).to_wire())
    h = MachineHistory(schema(), "c1")
    h.append(raw, time_ns=5)
    assert h.raw(0) is raw
    assert h.info(0).time_ns == 5


@pytest.mark.parametrize(
    ("wire", "key"),
    [
        ({"m": "m1", "id": "x", "c": [1, "2"]}, "'c'"),
        ({"m": "m1", "id": "x", "c": [1], "steps": [[1, 2]]}, "step"),
        ({"m": "m1", "id": "x", "c": [1], "steps": [[1, "a", 2, 0, 0]]}, "steps"),
        ({"m": "m1", "id": "x", "c": [1], "s": [True]}, "'s'"),
        ({"m": "m1", "id": "x", "c": [1], "qt": "7"}, "'qt'"),
        ({"m": "m1", "c": [1]}, "'id'"),
        ({"m": "m1", "id": "x", "c": [1], "qd": 1}, "'qd'"),
    ],
)
def test_malformed_messages_are_refused_with_the_key(wire: dict, key: str) -> None:
    h = MachineHistory(schema(), "c1")
    with pytest.raises(MessageError, match=key):
        h.append(msgpack.packb(wire))
    assert len(h) == 0


def test_not_msgpack_is_refused() -> None:
    h = MachineHistory(schema(), "c1")
    with pytest.raises(MessageError, match="msgpack"):
        h.append(b"\xc1garbage")
    with pytest.raises(MessageError, match="map"):
        h.append(msgpack.packb([1, 2]))


def test_drop_front_shifts_indexes_and_keeps_lookups() -> None:
    txs = [tx(f"t{i}", [1, 0, 0, 0, 0, 0, i % 2], time=i) for i in range(10)]
    h = hist(*txs)
    assert h.errors == [1, 3, 5, 7, 9]
    h.tx(2)  # cached before the drop
    assert h.drop_front(4) == 4
    assert len(h) == 6
    assert h.index_of("t3") is None
    assert h.index_of("t4") == 0
    assert h.errors == [1, 3, 5]
    assert h.tx(0).id == "t4"
    assert h.tx_at_human_time(6) == 2


def test_a_malformed_detail_keeps_the_transition_and_says_why() -> None:
    wire = {
        "m": "m1",
        "id": "x",
        "c": [1],
        "log": [[1]],
        "pre": [[1, "[extern] fine"]],
        "args": [1],
        "steps": [[4, -1, 0, 0, 0]],
    }
    h = MachineHistory(schema(), "c1")
    h.append(msgpack.packb(wire), time_ns=9)
    got = h.tx(0)
    assert got.steps == (Step(type=4, to_idx=0),)
    assert got.log == () and got.args == {}
    texts = [e.text for e in got.pre_log]
    assert texts[-1] == "[extern] fine"
    assert any("'log'" in t and t.startswith("[error]") for t in texts)
    assert any("'args'" in t for t in texts)
    assert h.raw(0) == msgpack.packb(wire)  # nothing lost


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 6), min_size=0, max_size=7), min_size=1, max_size=12))
def test_derived_sets_match_the_definition(clock_seq: list[list[int]]) -> None:
    """added / removed / time_diff against the previous message, short vectors read as 0."""
    h = MachineHistory(schema(), "c1")
    for i, c in enumerate(clock_seq):
        h.append(tx(f"t{i}", c))
    prev: list[int] = []
    for i, c in enumerate(clock_seq):
        n = max(len(c), len(prev))
        cur_p = c + [0] * (n - len(c))
        prev_p = prev + [0] * (n - len(prev))
        added = tuple(
            k
            for k in range(n)
            if cur_p[k] % 2 == 1 and (prev_p[k] % 2 == 0 or cur_p[k] != prev_p[k])
        )
        removed = tuple(k for k in range(n) if cur_p[k] % 2 == 0 and prev_p[k] % 2 == 1)
        info = h.info(i)
        assert (info.added, info.removed) == (added, removed)
        assert info.time_diff == sum(c) - sum(prev)
        assert info.is_err == (
            (len(c) > EXC and c[EXC] % 2 == 1) or (len(c) > ERRN and c[ERRN] % 2 == 1)
        )
        prev = c


def test_null_optional_values_read_as_defaults() -> None:
    wire = {"m": "m1", "id": "x", "c": [1], "t": None, "acc": None, "qd": None, "s": None}
    h = MachineHistory(schema(), "c1")
    info = h.append(msgpack.packb(wire), time_ns=3)
    assert (info.type, info.accepted, info.is_queued, info.called) == (0, True, False, ())
    assert h.tx(0).accepted


def test_next_touching_index_follows_new_and_dropped_txs() -> None:
    h = hist(tx("a", [1, 0, 0, 0, 0, 0, 0]), tx("b", [1, 1, 0, 0, 0, 0, 0]))
    assert h.next_touching(R, 1, True) is None
    h.append(tx("c", [1, 2, 0, 0, 0, 0, 0]))  # removes R, after the index was built
    h.append(tx("d", [1, 2, 0, 0, 0, 0, 0]))
    assert h.next_touching(R, 1, True) == 2
    assert h.next_touching(R, 3, False) == 2
    h.drop_front(2)
    assert h.next_touching(R, -1, True) == 0
    assert h.next_touching(R, 0, False) is None
    h.append(tx("e", [1, 3, 0, 0, 0, 0, 0]))
    assert h.next_touching(R, 0, True) == 2  # e, appended after the drop
