"""Clock diffs, checksums, schema hash and envelopes as pure functions (spec/rpc.md §3.7, §5, §13)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from am_rpc.clock import (
    Snapshot,
    active_indexes,
    apply_update,
    bound_time,
    checksum,
    make_update,
    schema_hash,
    tracked_indexes,
)
from am_rpc.errors import ChecksumError, EnvelopeError, InvalidParamsError
from am_rpc.protocol import (
    ErrorReply,
    HelloReq,
    HelloResp,
    MutationReq,
    MutationResult,
    Notify,
    Request,
    Response,
    Serialized,
    Update,
    UpdateMany,
    parse_envelope,
)

NAMES = ("Exception", "A", "B", "C", "D", "ErrOnClient")
ALL = tuple(range(len(NAMES)))


def test_spec_example_add_a_c() -> None:
    """§13.8: Add(A, C) from a fresh source gives i=[1,3] t=[1,1] q=1 c=4."""
    prev = Snapshot((0,) * 6, 1)
    now = Snapshot((0, 1, 0, 1, 0, 0), 2)
    upd = make_update(prev, now, ALL, True)
    assert upd == Update((1, 3), (1, 1), 1, 0, 4)
    assert upd.to_wire() == {"i": [1, 3], "t": [1, 1], "q": 1, "c": 4}
    # then the source adds D by itself (with D: add [C, B] B activates too): i=[2,4], c=7
    later = Snapshot((0, 1, 1, 1, 1, 0), 3)
    assert make_update(now, later, ALL, True) == Update((2, 4), (1, 1), 1, 0, 7)
    time, q, mt = apply_update([0] * 6, 1, 0, upd)
    assert (time, q, mt) == ([0, 1, 0, 1, 0, 0], 2, 0)


def test_checksum_mismatch_and_bad_index_are_detected() -> None:
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        apply_update([0] * 6, 1, 0, Update((1,), (1,), 1, 0, 99))
    with pytest.raises(ChecksumError, match="out of range"):
        apply_update([0] * 6, 1, 0, Update((6,), (1,), 0, 0, 2))
    with pytest.raises(ChecksumError, match="negative"):
        apply_update([0] * 6, 1, 0, Update((1,), (-1,), 0, 0, 0))


def test_queue_tick_only_change_is_a_real_diff() -> None:
    """Q2: a canceled mutation moves only the queue tick; it must still be exported."""
    prev = Snapshot((0, 1, 0, 0, 0, 0), 2)
    now = Snapshot((0, 1, 0, 0, 0, 0), 3)
    assert not now.same_as(prev, ALL)
    upd = make_update(prev, now, ALL, True)
    assert upd.indexes == () and upd.queue_tick == 1
    assert apply_update([0, 1, 0, 0, 0, 0], 2, 0, upd)[1] == 3


def test_selective_sync_bindings() -> None:
    tracked = tracked_indexes(NAMES, ["A", "B", "C"], ["C"])
    assert tracked == (1, 2)
    snap = Snapshot((0, 1, 3, 2, 1, 0), 5)
    assert bound_time(snap, tracked, True) == (0, 1, 3, 0, 0, 0)
    assert bound_time(snap, tracked, False) == (1, 3)
    # client-bound (no schema) diffs use positions in the tracked list
    upd = make_update(
        Snapshot((0, 1, 3, 2, 1, 0), 5), Snapshot((0, 2, 3, 9, 9, 0), 8), tracked, False
    )
    assert upd.indexes == (0,) and upd.ticks == (1,)
    assert apply_update([1, 3], 5, 0, upd) == ([2, 3], 8, 0)


def test_first_export_without_baseline_and_large_ticks() -> None:
    now = Snapshot((0, 1_000_001, 0, 1_000_001, 0, 0), 7, 2)
    upd = make_update(None, now, ALL, True)
    assert upd.ticks == (1_000_001, 1_000_001)
    assert apply_update([0] * 6, 0, 0, upd) == ([0, 1_000_001, 0, 1_000_001, 0, 0], 7, 2)


@given(
    st.lists(st.integers(0, 2**40), min_size=6, max_size=6),
    st.lists(st.integers(0, 2**20), min_size=6, max_size=6),
    st.integers(1, 2**20),
    st.integers(0, 2**10),
    st.sets(st.integers(0, 5)),
)
@settings(max_examples=200, deadline=None)
def test_diff_then_apply_converges(
    base: list[int], inc: list[int], q: int, dq: int, tracked_set: set[int]
) -> None:
    tracked = tuple(sorted(tracked_set))
    prev = Snapshot(tuple(base), q)
    now = Snapshot(tuple(b + i for b, i in zip(base, inc, strict=True)), q + dq)
    mirror = list(bound_time(prev, tracked, True))
    time, q2, _ = apply_update(mirror, q, 0, make_update(prev, now, tracked, True))
    assert tuple(time) == bound_time(now, tracked, True)
    assert q2 == q + dq


def test_schema_hash_is_go_compatible() -> None:
    assert schema_hash(None) == ""
    assert schema_hash({}) == "d41d8c"
    a = {"A": {"auto": True, "require": ["C"]}, "B": {"multi": True, "add": ["C"]}}
    b = {"B": {"add": ["C"], "multi": True, "tags": ["x"]}, "A": {"require": ["C"], "auto": True}}
    assert schema_hash(a) == schema_hash(b)  # key order and tags do not matter
    assert schema_hash(a) != schema_hash({**a, "C": {}})
    assert len(schema_hash(a)) == 6


def test_active_set_infers_requires() -> None:
    names = ("A", "B", "C")
    assert active_indexes(names, (1, 0, 0), {"A": ["C"], "C": ["B"]}) == [0, 1, 2]
    assert active_indexes(names, (1, 0, 0)) == [0]
    assert active_indexes(names, (2, 3, 0)) == [1]


def test_checksum_mod_256() -> None:
    assert checksum(250, 5, 1) == 0


def test_envelopes() -> None:
    assert parse_envelope([0, 1, 3, {"s": [1]}]) == Request(1, 3, {"s": [1]})
    assert parse_envelope([1, 0x41, None]) == Notify(0x41, None)
    assert parse_envelope([2, 5, None]) == Response(5, None)
    assert parse_envelope([3, 5, 2, "bad"]) == ErrorReply(5, 2, "bad")
    for bad in ([], [9, 1], [0, 0, 1, None], [0, True, 1, None], "x", [2, 1], [3, 1, 2, 3]):
        with pytest.raises(EnvelopeError):
            parse_envelope(bad)


def test_bodies_roundtrip_and_validate() -> None:
    hello = HelloReq("rc-x", schema_hash="abc", allowed=("A",))
    assert HelloReq.from_wire(hello.to_wire()) == hello
    with pytest.raises(InvalidParamsError, match="ID missing"):
        HelloReq.from_wire({"id": ""})
    ser = Serialized("src", ("A", "B"), (1, 0), 3, 1)
    resp = HelloResp(ser, {"A": {}}, 2)
    assert HelloResp.from_wire(resp.to_wire()) == resp
    with pytest.raises(InvalidParamsError, match="2 names but 1 ticks"):
        Serialized.from_wire({"names": ["A", "B"], "time": [1]})
    mut = MutationReq((1, 2), {"k": 1})
    assert MutationReq.from_wire(mut.to_wire()) == mut
    with pytest.raises(InvalidParamsError):
        MutationReq.from_wire({"s": [-1]})
    many = UpdateMany((0,), ((1,),), (Update((1,), (1,), 1, 0, 3),))
    res = MutationResult(0, None, many)
    assert MutationResult.from_wire(res.to_wire()) == res
    with pytest.raises(InvalidParamsError, match="differ in length"):
        UpdateMany.from_wire({"mt": [0], "cs": [], "u": []})
