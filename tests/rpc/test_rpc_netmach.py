"""The NetMachine behaves like a local machine: spec/rpc.md §11.3 cases 20-51, over real sockets."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from am_core import Ctx, Machine, Result, State, StateMissingError

from .helpers import NAMES, PairFactory, custom, norels, rels, wait_until


def test_single_and_multiple_active(make_pair: PairFactory) -> None:
    """#20, #21."""
    p = make_pair(norels())
    p.nm.add1("A")
    assert p.nm.active_states() == ["A"]
    p.nm.add(["B"])
    assert p.nm.active_states() == ["A", "B"]


def test_state_names_set_add_remove(make_pair: PairFactory) -> None:
    """#22-#25."""
    p = make_pair(norels(), preset=["A"])
    assert set(p.nm.state_names()) >= {"A", "B", "C", "D"}
    assert p.nm.active_states() == ["A"]
    p.nm.set(["B"])
    assert p.nm.active_states() == ["B"]
    p.nm.add(["C"])
    p.nm.remove(["C"])
    assert p.nm.active_states() == ["B"]


def test_remove_relations(make_pair: PairFactory) -> None:
    """#26, #27: C removes D; Set(C, D) is Canceled."""
    schema = custom({"A": State(), "B": State(), "C": State(remove=["D"]), "D": State()})
    p = make_pair(schema, preset=["D"])
    assert p.nm.set(["C", "D"]) == Result.CANCELED
    assert p.nm.active_states() == ["D"]
    assert p.nm.add(["C"]) == Result.EXECUTED
    assert p.nm.active_states() == ["C"]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("set", "C")], [["C"]]),
        ([("set", "C"), ("set", "D")], [["C"], ["D"]]),
        ([("add", "C")], [["C"]]),
        ([("add", "C"), ("add", "D")], [["C"], ["D"]]),
    ],
)
def test_remove_relation_cross_blocking(
    make_pair: PairFactory, steps: list[tuple[str, str]], expected: list[list[str]]
) -> None:
    """#28: C rm D, D rm C; the called state wins."""
    schema = custom(
        {"A": State(), "B": State(), "C": State(remove=["D"]), "D": State(remove=["C"])}
    )
    p = make_pair(schema, preset=["D"])
    for (op, state), want in zip(steps, expected, strict=True):
        getattr(p.nm, op)([state])
        assert p.nm.active_states() == want


def test_add_require_auto_relations(make_pair: PairFactory) -> None:
    """#29-#33."""
    schema = custom(
        {
            "A": State(remove=["D"]),
            "B": State(auto=True, require=["A"]),
            "C": State(add=["D"]),
            "D": State(),
        }
    )
    p = make_pair(schema)
    p.nm.set(["C"])
    assert p.nm.active_states() == ["C", "D"]
    p.nm.set(["A", "C"])
    assert p.nm.active_states() == ["A", "B", "C"]  # B auto (requires A)
    p.nm.set([])
    assert p.nm.add(["A"]) == Result.EXECUTED
    assert p.nm.active_states() == ["A", "B"]


def test_switch_and_checks(make_pair: PairFactory) -> None:
    """#34, #43."""
    schema = custom(
        {"A": State(), "B": State(auto=True, require=["A"]), "C": State(), "D": State()}
    )
    p = make_pair(schema, preset=["A"])
    assert p.nm.switch(["A", "B"]) == "A"
    assert p.nm.switch(["C", "D"]) == ""
    assert p.nm.is_(["A", "B"]) and not p.nm.is_(["A", "B", "C"])
    assert not p.nm.not_(["A", "B"]) and not p.nm.not_(["A", "B", "C"]) and p.nm.not1("D")
    assert p.nm.any(["A", "B"], ["C"]) and p.nm.any(["A", "B", "C"], ["A"])


def test_unknown_state_raises_locally(make_pair: PairFactory) -> None:
    p = make_pair()
    frames = p.client.peer.frames_out if p.client.peer else 0
    with pytest.raises(StateMissingError, match="missing states: Nope not defined"):
        p.nm.add1("Nope")
    with pytest.raises(StateMissingError):
        p.nm.when1("Nope")
    assert p.client.peer is not None and p.client.peer.frames_out == frames  # nothing sent


def test_when2_and_when_not2(make_pair: PairFactory) -> None:
    """#37-#40."""
    p = make_pair(norels(), preset=["A"])
    assert p.nm.when1("A").done()  # #38
    assert p.nm.when_not1("B").done()  # #40
    w1, w2 = p.nm.when(["A", "B"]), p.nm.when(["A", "B"])
    p.nm.add(["A", "B"])
    assert w1.done() and w2.done()
    n1, n2 = p.nm.when_not(["A", "B"]), p.nm.when_not(["A", "B"])
    p.nm.remove(["A", "B"])
    assert n1.done() and n2.done()


async def test_waiters_are_awaitable(make_pair: PairFactory) -> None:
    p = make_pair(norels())
    w = p.nm.when1("B")
    threading.Timer(0.05, p.src.add1, args=("B",)).start()
    import asyncio

    await asyncio.wait_for(w, 2)  # delivered by a push, resolved on the client's thread
    assert p.nm.is1("B")


def test_time_and_clock(make_pair: PairFactory) -> None:
    """#41: exact ticks after each step."""
    schema = custom({"A": State(), "B": State(multi=True), "C": State(), "D": State()})
    p = make_pair(schema)
    steps: list[tuple[str, list[str], list[int]]] = [
        ("add", ["A", "B"], [1, 1, 0, 0]),
        ("add", ["A", "B"], [1, 3, 0, 0]),
        ("add", ["A", "B", "C"], [1, 5, 1, 0]),
        ("set", ["D"], [2, 6, 2, 1]),
        ("add", ["D", "C"], [2, 6, 3, 1]),
        ("remove", ["B", "C"], [2, 6, 4, 1]),
        ("add", ["A", "B"], [3, 7, 4, 1]),
        ("add", ["C"], [3, 7, 5, 1]),
    ]
    for op, states, want in steps:
        getattr(p.nm, op)(states)
        assert list(p.nm.time(["A", "B", "C", "D"])) == want, (op, states)
    clock = p.nm.clock()
    assert {"A": 3, "B": 7, "C": 5, "D": 1, "Exception": 0}.items() <= clock.items()
    assert p.nm.clock(["A", "B"]) == {"A": 3, "B": 7}
    assert p.nm.tick("A") == 3


def test_when_time(make_pair: PairFactory) -> None:
    """#42: >= semantics."""
    p = make_pair(norels(), preset=["A", "B"])
    w = p.nm.when_time(["A", "B"], [5, 2])
    p.nm.remove(["A", "B"])
    p.nm.add(["A", "B"])
    assert p.nm.time(["A", "B"]) == [3, 3] and not w.done()
    p.nm.remove1("A")
    p.nm.add1("A")
    assert w.done()


def test_inspect_and_strings(make_pair: PairFactory) -> None:
    """#44, #45."""
    p = make_pair(rels(), preset=["A", "C"])
    text = p.nm.inspect(["A", "C"])
    assert "1 A\n    |Tick     1\n    |Auto     true\n    |Require  C\n" in text
    p.nm.remove(["C"])
    p.nm.add(["B"])
    p.nm.add(["D"])
    full = p.nm.inspect()
    assert "0 ErrOnClient\n    |Tick     0\n    |Require  Exception\n" in full
    assert "1 B\n    |Tick     1\n    |Multi    true\n    |Add      C\n" in full
    assert p.nm.clock(["A", "B", "C", "D"]) == {"A": 3, "B": 1, "C": 3, "D": 1}

    q = make_pair(norels(), preset=["A", "B"], client_id="t2")
    assert q.nm.str() == "(A:1 B:1)"
    assert q.nm.string_all() == "(A:1 B:1) [Exception:0 C:0 D:0 ErrOnClient:0]"


class _Nested:
    def AState(self, e: Any) -> None:
        m = e.machine()
        for _ in range(3):
            m.add1("B")
        for _ in range(2):
            m.remove1("B")


def test_nested_mutation(make_pair: PairFactory) -> None:
    """#46: the source drains its queue before answering."""
    p = make_pair(norels(), handlers=_Nested())
    p.nm.add1("A")
    assert p.nm.active_states() == ["A"]


def test_is_clock_is_time(make_pair: PairFactory) -> None:
    """#47."""
    p = make_pair(norels())
    c1, c2 = p.nm.clock(["A"]), p.nm.clock()
    t1, t2 = p.nm.time(["A"]), p.nm.time()
    assert p.nm.is_clock(c1) and p.nm.is_time(t2)
    p.nm.add(["A", "B"])
    assert not p.nm.is_clock(c1) and not p.nm.is_clock(c2)
    assert not p.nm.is_time(t1, ["A"]) and not p.nm.is_time(t2)
    assert p.nm.was_clock(c2)


def test_when_queue(make_pair: PairFactory) -> None:
    """#48: queue ticks mirror the source (start 1; A 2, B 3, C 4, D 5)."""
    p = make_pair(norels())
    done = threading.Event()

    class Tracer:
        fired = False

        def transition_end(self, tx: Any) -> None:
            if not self.fired and tx.time_before[1] % 2 == 0:  # A was inactive
                self.fired = True

                def work() -> None:
                    p.nm.add1("B")
                    p.nm.add1("C")
                    p.nm.add1("D")
                    if p.nm.when_queue(5).wait(20):
                        done.set()

                threading.Thread(target=work).start()

    p.nm.tracer_bind(Tracer())
    assert p.nm.queue_tick() == 1
    p.nm.add1("A")
    assert done.wait(20)
    assert p.nm.active_states() == ["A", "B", "C", "D"]
    assert p.nm.queue_tick() == 5 == p.src.queue_tick()


def test_when_query(make_pair: PairFactory) -> None:
    """#49."""
    p = make_pair(norels(), preset=["A"])
    q1 = p.nm.when_query(lambda c: c["A"] > 4 * c["B"])
    q2 = p.nm.when_query(lambda c: c["A"] < c["B"])
    p.nm.add1("B")
    p.nm.remove1("A")
    p.nm.add1("A")
    p.nm.remove1("A")
    assert not q1.done() and not q2.done()
    p.nm.add1("A")
    assert p.nm.time(["A", "B"]) == [5, 1]
    assert q1.done() and not q2.done()


class _Pipe:
    def __init__(self, local: Machine) -> None:
        self.local = local

    def AnyState(self, e: Any) -> None:
        # a pipe: forward the mirror's active set without blocking the client's I/O thread
        threading.Thread(target=self.local.set, args=(e.machine().active_states(),)).start()


def test_pipes_fire_on_pushed_updates(make_pair: PairFactory) -> None:
    """#50: NetMachine handlers run for pushed (server-side) changes."""
    p = make_pair(norels(), preset=["A"])
    local = Machine(norels(), id="local")
    local.verify_states(NAMES)
    local.set(p.nm.active_states())
    p.nm.handlers_bind(_Pipe(local))
    p.src.add(["A", "B"])
    wait_until(lambda: local.active_states() == ["A", "B"], 1, "local A B")


def test_state_ctx(make_pair: PairFactory) -> None:
    """#51: a state context is cancelled when the state changes."""
    p = make_pair(norels(), preset=["A"])
    ctx_a = p.nm.new_state_ctx("A")
    assert not ctx_a.done() and ctx_a.value == {"id": "rnm-t1", "state": "A", "tick": 1}
    p.nm.remove1("A")
    assert ctx_a.done()
    ctx_b = p.nm.new_state_ctx("B")
    p.nm.add1("B")
    assert ctx_b.done()


def test_when_with_ctx_and_dispose(make_pair: PairFactory) -> None:
    p = make_pair(norels())
    ctx = Ctx()
    w = p.nm.when1("C", ctx)
    ctx.cancel()
    assert w.done() and not p.nm.is1("C")
    pending = p.nm.when1("D")
    with pytest.raises(NotImplementedError):
        p.nm.when_args("D", {"x": 1})
    p.client.close()
    assert pending.done() and p.nm.when_disposed().done()
    assert p.nm.add1("D") == Result.CANCELED


def test_toggle_and_add_err(make_pair: PairFactory) -> None:
    p = make_pair(norels())
    p.nm.toggle1("A")
    assert p.nm.is1("A")
    p.nm.toggle1("A")
    assert p.nm.not1("A")
    err = ValueError("boom")
    p.nm.add_err(err, {"k": 1})
    assert p.nm.err() is err
    assert p.src.is_(["Exception", "ErrOnClient"])
    assert p.nm.is_err()


def test_args_must_be_encodable(make_pair: PairFactory) -> None:
    from am_rpc import InvalidParamsError

    p = make_pair(norels())
    with pytest.raises(InvalidParamsError, match="not msgpack-encodable"):
        p.nm.add1("A", {"x": object()})
    assert p.nm.not1("A")


def test_queued_result_and_when_queue_from_handler(make_pair: PairFactory) -> None:
    """A source busy in a handler answers Queued (>= 2); the mirror's when_queue resolves later."""
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def AState(self, e: Any) -> None:
            entered.set()
            release.wait(20)

    p = make_pair(norels(), handlers=Slow())
    t = threading.Thread(target=p.src.add1, args=("A",))
    t.start()
    assert entered.wait(20)  # the source is busy in AState
    res = p.nm.add1("B")
    assert Result.is_queued(res), res
    w = p.nm.when_queue(int(res))
    release.set()
    t.join()
    assert w.wait(20)
    wait_until(lambda: p.nm.is_(["A", "B"]), 2, "A B")


def test_export_and_forks(make_pair: PairFactory) -> None:
    """Machine API parity: export() and go() (a thread; its error becomes a remote Exception)."""
    p = make_pair(norels(), preset=["A"])
    ser, schema = p.nm.export()
    assert ser.id == "rnm-t1" and ser.state_names == NAMES and ser.time[1] == 1
    assert set(schema) == set(NAMES)
    done = threading.Event()

    def work(ctx: Ctx) -> None:
        assert not ctx.done()
        p.nm.add1("B")
        done.set()
        raise ValueError("forked failure")

    p.nm.go(None, work)
    assert done.wait(20)
    wait_until(lambda: p.src.is_(["B", "Exception", "ErrOnClient"]), 2, "remote Exception")
    assert isinstance(p.nm.err(), ValueError)
    p.client.close()
    assert p.nm.context().done()


def test_misc_getters(make_pair: PairFactory) -> None:
    p = make_pair(norels())
    assert p.nm.groups() == ({}, []) and p.nm.transition() is None
    assert p.nm.queue_len() == 0 and p.nm.when_queue_ends().done()
    assert p.nm.parent_id == "rc-t1" and p.nm.tags == ["rpc-netmach", "src-id:ns-t1"]
    assert p.nm.index(["A", "Nope"]) == [1, -1] and p.nm.index1("D") == 4
    assert p.client.args() == []
