"""The log reader's extraction (spec/debugger.md §4.6) on real machines streamed over a real socket,
and the open-entries rules on log lines as am_core writes them."""

from __future__ import annotations

import asyncio

import pytest
from ui.recorded import record_live

from am_dbg.model.reader import OpenEntry, Reader, ReaderSection, open_entries_step, parse_source
from am_dbg.model.session import Session
from am_dbg.model.urls import MachUrl
from am_rpc.dbg.protocol import LogEntry

from .scenario import orders_network


@pytest.fixture(scope="module")
def net() -> Session:
    return asyncio.run(record_live(orders_network, disconnect=()))


def _sections(r: Reader, mach: str, i: int) -> dict[str, ReaderSection]:
    return {s.name: s for s in r.sections(mach, i)}


def _first_with(s: Session, mach: str, prefix: str) -> int:
    h = s.machines[mach]
    for i in range(len(h)):
        if any(e.text.startswith(prefix) for e in h.log_entries(i)):
            return i
    raise AssertionError(f"no {prefix} line in {mach}")


def test_source_links_to_the_causing_tx_of_another_machine(net: Session) -> None:
    r = Reader(net)
    i = _first_with(net, "payments", "[source]")
    src = _sections(r, "payments", i)["Source"]
    texts = [n.text for n in src.nodes]
    orders = net.machines["orders"]
    ref = r.source_of("payments", i)
    assert ref is not None and ref.mach_id == "orders"
    j = orders.index_of(ref.tx_id)
    assert j is not None and orders.info(j).called == (1,)  # Order
    assert texts[0] == f"orders t{ref.mach_time}"
    assert texts[1] == f"add Order t{ref.mach_time}"
    assert src.nodes[1].link == MachUrl(mach_id="orders", tx_id=ref.tx_id)
    assert src.nodes[1].states == ("Order",)
    assert "#svc:orders" in texts


def test_state_trace_follows_sources_across_two_machines(net: Session) -> None:
    r = Reader(net)
    i = _first_with(net, "shipping", "[source] payments")
    trace = _sections(r, "shipping", i)["State Trace"]
    assert [n.text for n in trace.nodes] == ["+Pay", "+Order"]
    assert [n.link.mach_id for n in trace.nodes if n.link] == ["payments", "orders"]


def test_forked_lists_the_txs_whose_source_is_this_one(net: Session) -> None:
    r = Reader(net)
    orders = net.machines["orders"]
    ref = r.source_of("payments", _first_with(net, "payments", "[source]"))
    assert ref is not None
    j = orders.index_of(ref.tx_id)
    assert j is not None
    forked = _sections(r, "orders", j)["Forked"]
    assert [n.link.mach_id for n in forked.nodes if n.link] == ["payments"]
    assert forked.nodes[0].text.startswith("add Pay t")


def test_executed_handlers_and_sorted_arguments(net: Session) -> None:
    r = Reader(net)
    i = _first_with(net, "orders", "[handler:0] OrderState")
    secs = _sections(r, "orders", i)
    assert [n.text for n in secs["Executed"].nodes] == ["OrderState:0"]
    assert secs["Executed"].nodes[0].states == ("Order",)
    assert [n.text for n in secs["Arguments"].nodes] == ["id o-1"]


def test_queue_links_queued_msgs_and_their_execution(net: Session) -> None:
    r = Reader(net)
    h = net.machines["orders"]
    q = next(i for i in range(len(h)) if h.info(i).is_queued and h.info(i).called == (1,))
    ex = h.executed_by(q)
    assert ex is not None
    nodes = _sections(r, "orders", q)["Queue"].nodes
    texts = [n.text for n in nodes]
    assert texts[0] == f"current q{h.info(q).queue_tick}"
    assert texts[1] == f"executed at t{h.info(ex).time_sum}"
    assert nodes[1].link == MachUrl(mach_id="orders", tx_id=h.info(ex).id)
    assert f"queued for q{h.info(q).mut_queue_tick}" in texts
    assert texts[-1].endswith("(inferred)")
    # the executed transition points back to its queued message
    back = _sections(r, "orders", ex)["Queue"].nodes
    assert back[1].text == f"queued at t{h.info(q).time_sum}"
    assert back[1].link == MachUrl(mach_id="orders", tx_id=h.info(q).id)


def test_pending_queue_shows_queued_but_not_yet_executed(net: Session) -> None:
    r = Reader(net)
    h = net.machines["orders"]
    i = _first_with(net, "orders", "[handler:0] OrderState")  # queued Done inside the handler
    length = _sections(r, "orders", i)["Queue"].nodes[-1]
    assert [c.text for c in length.children] == [f"q{h.info(i).queue_tick + 1} +Done"]


def test_open_subscriptions_and_pipes_persist_to_later_txs(net: Session) -> None:
    r = Reader(net)
    h = net.machines["orders"]
    opened = _first_with(net, "orders", "[when:new]")
    for i in (opened, len(h) - 1):
        secs = _sections(r, "orders", i)
        assert [n.states for n in secs["When"].nodes] == [("Ship",)]
        assert [n.states for n in secs["StateCtx"].nodes] == [("Start",)]
    assert "When" not in _sections(r, "orders", opened - 1)
    pipes = _sections(r, "shipping", len(net.machines["shipping"]) - 1)["Pipe-in"]
    assert sorted(n.text.split(" |")[0] for n in pipes.nodes) == ["Done: Add", "Done: Remove"]


def test_open_at_is_the_same_from_checkpoints_and_replay(net: Session) -> None:
    h = net.machines["orders"]
    a = [Reader(net).open_at("orders", i) for i in range(len(h))]
    r = Reader(net)
    b = [r.open_at("orders", i) for i in reversed(range(len(h)))][::-1]
    assert a == b


def _e(*texts: str) -> list[LogEntry]:
    return [LogEntry(3, t) for t in texts]


def test_match_closes_the_first_matching_subscription_only() -> None:
    s = open_entries_step((), _e("[when:new] A B", "[when:new] A B", "[whenNot:new] A"), 5)
    assert len(s) == 3
    s2 = open_entries_step(s, _e("[when:match] A,B"), 7)
    assert [o.kind for o in s2] == ["when", "whenNot"]
    assert s2[0].created == 5


def test_when_time_args_queue_and_ctx_entries() -> None:
    s = open_entries_step(
        (),
        _e(
            "[whenTime:new] A,B 1 2",
            "[whenArgs:new] A (id)",
            "[whenQueue:new] 17",
            "[ctx:new] A",
        ),
        3,
    )
    assert [o.kind for o in s] == ["whenTime", "whenArgs", "whenQueue", "ctx"]
    s = open_entries_step(
        s, _e("[whenTime:match] A B [1 2]", "[whenQueue:match] 17", "[ctx:match] A"), 4
    )
    assert [o.kind for o in s] == ["whenArgs"]
    s = open_entries_step(s, _e("[whenArgs:match] A (id)"), 5)
    assert s == ()


def test_pipe_gc_forgets_pipes_of_a_disposed_machine() -> None:
    s = open_entries_step(
        (), _e("[pipe-out:add] A to m2", "[pipe-out:remove] A to m2", "[pipe-in:add] B from m3"), 1
    )
    assert len(s) == 3
    s = open_entries_step(s, _e("[pipe:gc] m2"), 2)
    assert s == (OpenEntry("pipe-in", "add B m3", 1, ("B",), "m3"),)


def test_source_line_parsing_and_garbage() -> None:
    src = parse_source(_e("[add] X", "[source] a/b-c/12"))
    assert src is not None and (src.mach_id, src.tx_id, src.mach_time) == ("a", "b-c", 12)
    assert parse_source(_e("[source] nonsense")) is None


def test_unknown_machine_or_index_gives_no_sections(net: Session) -> None:
    r = Reader(net)
    assert r.sections("nope", 0) == []
    assert r.sections("orders", 10_000) == []
    assert r.open_at("orders", -1) == ()
