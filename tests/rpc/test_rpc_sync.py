"""Handshake, mutations, waiting, throttling, payloads, selective sync over real sockets.

Mirrors spec/rpc.md §11.3 cases 1-8 and 13-19.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from am_core import Machine, State
from am_rpc import Payload, connect
from am_rpc.states import CONSUMER_SCHEMA

from .helpers import NAMES, PairFactory, custom, norels, rels, wait_until


def test_basic(make_pair: PairFactory) -> None:
    """#1: Bar requires Foo; Add1(Foo) reaches the source and comes back."""
    schema = custom({"Foo": State(), "Bar": State(require=["Foo"])})
    p = make_pair(schema, ["Exception", "Foo", "Bar", "ErrOnClient"])
    assert p.client.client_mach.is1("Ready") and p.server.mach.is1("Ready")
    assert p.nm.id == "rnm-t1" and p.client.client_mach.id == "rc-t1"
    assert p.nm.add1("Foo") == 0
    assert p.src.is1("Foo") and p.nm.is1("Foo")
    assert p.nm.remote_id() == "ns-t1" and "src-id:ns-t1" in p.nm.tags
    p.assert_no_errors()


def test_type_safe_add(make_pair: PairFactory) -> None:
    """#2: Add(A, C) with relations resolved on the source (A auto via C)."""
    p = make_pair()
    assert p.nm.add(["A", "C"]) == 0
    assert p.src.is_(["A", "C"]) and p.nm.is_(["A", "C"])
    p.assert_no_errors()


def test_waiting_clock_comes_in_the_response(make_pair: PairFactory) -> None:
    """#3: When1(A) resolves; zero pushes; 3 client frames (Hello, Handshake, Add)."""
    p = make_pair()
    w = p.nm.when1("A")
    assert not w.done()
    p.nm.add(["A", "C"])
    assert w.done()  # read-your-writes: resolved before add() returned
    assert p.server.pushes == 0
    assert p.client.peer is not None and p.client.peer.frames_out == 3
    p.assert_no_errors()


def test_add_many(make_pair: PairFactory) -> None:
    """#4: 500 x Add(A, C) then Add1(D); no pushes at all."""
    p = make_pair()
    for _ in range(500):
        p.nm.add(["A", "C"])
    p.nm.add1("D")
    assert p.nm.when1("D").wait(20)
    assert p.server.pushes == 0
    assert p.nm.time() == p.src.time()
    p.assert_no_errors()


def test_add_many_no_sync(make_pair: PairFactory) -> None:
    """#5: AddNS never waits; the mirror learns the result from Sync()."""
    p = make_pair(push_interval=0)
    for _ in range(500):
        assert p.nm.add_ns(["A", "C"]) == 0
    assert p.nm.add1_ns("D") == 0
    wait_until(lambda: p.src.is1("D"), what="source D")
    assert not p.nm.is1("D")  # no pushes, no responses
    w = p.nm.when1("D")
    assert p.client.sync()
    assert w.done() and p.nm.time() == p.src.time()
    assert p.client.peer is not None and p.client.peer.frames_out == 2 + 501 + 1


def test_add_many_instant_clock_adds_no_bytes(make_pair: PairFactory) -> None:
    """#6: with PushInterval ~0 the responses already carry everything: same bytes as #4."""
    out = []
    for interval, cid in ((0.25, "ta"), (1e-9, "tb")):
        p = make_pair(push_interval=interval, client_id=cid)
        for _ in range(200):
            p.nm.add(["A", "C"])
        p.nm.add1("D")
        time.sleep(0.05)
        assert p.server.pushes == 0
        assert p.server.peer is not None
        out.append(p.server.peer.bytes_out)
    assert out[0] == out[1]


def test_many_states(make_pair: PairFactory) -> None:
    """#7: 100 extra states; 182 mutations -> 184 client calls; the mirror stays exact."""
    schema = rels() | {f"State{i}": State() for i in range(100)}
    names = [*NAMES, *(f"State{i}" for i in range(100))]
    p = make_pair(schema, names)
    p.nm.add1("C")
    for i in range(5, 95):
        p.nm.remove1(names[i - 3])
        p.nm.add1(names[i])
    p.nm.add1("D")
    assert p.nm.is1("D")
    assert p.client.peer is not None and p.client.peer.frames_out == 184
    assert p.nm.time() == p.src.time()
    p.assert_no_errors()


def test_high_instant_clocks(make_pair: PairFactory) -> None:
    """#8: ticks around 1,000,000 survive diff encoding (unbounded ints, Q10)."""
    src = Machine(rels(), id="ns-high")
    src.verify_states(NAMES)
    ser, _ = src.export()
    ser.time[1] = 1_000_000  # A
    ser.time[3] = 1_000_000  # C
    src.import_(ser)
    from am_rpc import serve

    mux = serve(src, push_interval=1e-9)
    client = connect(mux.addr, id="high")
    try:
        nm = client.mach
        assert nm.tick("A") == 1_000_000
        for _ in range(200):
            nm.add(["A", "C"])
            nm.remove(["A", "C"])
        nm.add1("D")
        assert nm.is1("D")
        assert nm.time() == src.time() and nm.tick("C") > 1_000_000
        assert nm.machine_tick() == src.machine_tick() == 1
    finally:
        client.close()
        mux.close()


class _PayloadSource:
    """CState removes C and sends a payload named after the request's args."""

    def __init__(self) -> None:
        self.mux: Any = None

    def CState(self, e: Any) -> None:
        e.machine().remove1("C")
        self.mux.send_payload(Payload(name=e.args["name"], data="Hello"), e)


class _Consumer:
    def __init__(self) -> None:
        self.got: list[Payload] = []
        self.evt = threading.Event()

    def ServerPayloadState(self, e: Any) -> None:
        self.got.append(e.args["payload"])
        self.evt.set()


def test_payload(make_pair: PairFactory) -> None:
    """#13: a source handler answers a request with a payload; the consumer gets it."""
    consumer_mach = Machine(CONSUMER_SCHEMA, id="consumer")
    consumer = _Consumer()
    consumer_mach.handlers_bind(consumer)
    handlers = _PayloadSource()
    p = make_pair(norels(), handlers=handlers, consumer=consumer_mach)
    handlers.mux = p.mux
    assert p.nm.add1("C", {"name": "TestPayload"}) == 0
    assert consumer.evt.wait(20)
    got = consumer.got[0]
    assert (got.name, got.data, got.source) == ("TestPayload", "Hello", "ns-t1")
    assert len(got.token) == 16
    assert p.client.client_mach.tick("ServerPayload") == 1
    p.assert_no_errors()


def test_mux_many_clients_see_a_change(make_pair: PairFactory) -> None:
    """#14: three clients on one Mux; client 0's Add1(C) reaches every mirror (A is auto)."""
    p = make_pair()
    for i in (1, 2):
        p.extra.append(connect(p.mux.addr, id=f"t1-{i}"))
    assert p.extra[0].mach.add1("C") == 0
    for c in p.extra:
        assert c.mach.when1("A").wait(20), c.mach.id
    assert {s.client_id for s in p.mux.servers} == {"rc-t1", "rc-t1-1", "rc-t1-2"}
    assert p.mux.mach.is1("HasClients")
    assert p.mux.connections == 3
    assert p.mux.mach.tick("ClientConnected") == 6  # an event, once per connection


def test_partial(make_pair: PairFactory) -> None:
    """#15: Allowed {A, B, C} minus Skipped {C}: the mirror shows exactly {A, B}."""
    src_schema = norels()
    p = make_pair(src_schema, allowed=["A", "B", "C"], skipped=["C"])
    p.src.add1("A")
    p.src.add(["B", "C"])
    p.src.add1("D")
    wait_until(lambda: p.nm.is_(["A", "B"]), what="A B on the mirror")
    time.sleep(0.3)
    assert p.nm.active_states() == ["A", "B"]
    assert p.nm.tick("C") == 0 and p.nm.tick("D") == 0


def test_partial_inferred(make_pair: PairFactory) -> None:
    """#16: only A is synced; C is inferred active through A's require, its tick untouched."""
    p = make_pair(allowed=["A"])
    p.src.add1("C")
    wait_until(lambda: p.nm.is1("A"), what="A on the mirror")
    assert p.nm.active_states() == ["A", "C"]
    assert p.nm.tick("C") == 0


def test_partial_no_schema(make_pair: PairFactory) -> None:
    """#17: NoSchema + Allowed {C}: the mirror has only C, no inference."""
    p = make_pair(allowed=["C"], no_schema=True)
    assert p.nm.state_names() == ["C"]
    p.src.add1("C")
    wait_until(lambda: p.nm.is1("C"), what="C on the mirror")
    assert p.nm.active_states() == ["C"]
    assert p.nm.schema() is None


def test_no_schema(make_pair: PairFactory) -> None:
    """#18: NoSchema: ticks are synced directly (A and C both ticked)."""
    p = make_pair(no_schema=True)
    p.src.add1("C")
    wait_until(lambda: p.nm.is_(["A", "C"]), what="A C on the mirror")
    assert p.nm.active_states() == ["A", "C"]


class _CountingTracer:
    def __init__(self) -> None:
        self.txs: list[Any] = []

    def transition_end(self, tx: Any) -> None:
        self.txs.append(tx)


def test_mutations_sync(make_pair: PairFactory) -> None:
    """#19 + E-f: SyncMutations gives one synthetic transition per source mutation, no repeats."""
    p = make_pair(push_interval=1.0, sync_mutations=True)
    tracer = _CountingTracer()
    p.nm.tracer_bind(tracer)
    p.src.add1("B")  # B, C, then auto A
    p.src.add1("D")
    time.sleep(0.1)
    p.server.push_interval = 1e-9
    assert p.nm.when1("D").wait(20)
    assert len(tracer.txs) == 3
    assert [t.mutation.type for t in tracer.txs] == [0, 0, 0]
    assert tracer.txs[0].mutation.called == ["B"]
    # a second round is exported once, from where the first ended (Q3: queue flushed)
    p.src.remove1("D")
    wait_until(lambda: p.nm.not1("D"), what="D removed on the mirror")
    time.sleep(0.05)
    assert len(tracer.txs) == 4
    assert p.nm.time() == p.src.time()
    p.assert_no_errors()


def test_schema_change(make_pair: PairFactory) -> None:
    """Q8: a runtime schema change reaches the mirror as a full set; handlers fire."""
    p = make_pair(norels(), preset=["A"])

    class Seen:
        def __init__(self) -> None:
            self.events: list[str] = []

        def EState(self, e: Any) -> None:
            self.events.append(e.name)

    seen = Seen()
    p.nm.handlers_bind(seen)
    new_schema = {"Exception": State(multi=True), **norels(), "E": State(require=["A"])}
    p.src.set_schema(new_schema, [*NAMES, "E"])
    wait_until(lambda: "E" in p.nm.state_names(), 2, "new state on the mirror")
    assert p.nm.state_names() == [*NAMES, "E"]
    assert p.nm.schema() is not None and p.nm.schema()["E"].require == ["A"]
    assert p.nm.add1("E") == 0
    assert p.src.is1("E") and p.nm.is_(["A", "E"])
    assert seen.events == ["EState"]
    p.assert_no_errors()


def test_push_throttling(make_pair: PairFactory) -> None:
    """§5.5: leading edge goes out at once; a burst inside the window becomes one trailing push.

    A 60 s window makes both edges independent of the box's speed (the latency of the leading
    edge is in bench/rpc_push.py)."""
    p = make_pair(norels(), push_interval=60)
    p.server._last_export -= 120  # quiet for longer than the window
    p.src.add1("A")
    # leading edge: pushed at once, not at the window's end a minute later
    assert p.nm.when1("A").wait(20)
    wait_until(lambda: p.server.pushes >= 1, what="the push counted")  # counted after the write
    assert p.server.pushes == 1
    for _ in range(20):  # a burst inside the window
        p.src.toggle1("B")
    p.src.add1("C")
    wait_until(lambda: p.server._flush_timer is not None, what="the trailing push armed")
    assert p.server.pushes == 1 and p.nm.not1("C")  # held back until the window ends
    p.server.push_interval = 1e-9  # the window ends
    assert p.nm.when1("C").wait(20)
    wait_until(lambda: p.server.pushes >= 2, what="the push counted")
    assert p.server.pushes == 2  # 21 mutations: one trailing push
    assert p.nm.time() == p.src.time()


def test_source_busy_during_handshake_converges(make_pair: PairFactory) -> None:
    """E-c: changes racing the handshake are applied (or repaired by Sync), never lost."""
    src = Machine(norels(), id="ns-busy")
    src.verify_states(NAMES)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            src.toggle1("A")
            time.sleep(0.0005)

    t = threading.Thread(target=churn)
    t.start()
    from am_rpc import serve

    mux = serve(src, push_interval=0.02)
    clients = [connect(mux.addr, id=f"busy{i}") for i in range(3)]
    try:
        time.sleep(0.2)
        stop.set()
        t.join()
        for c in clients:
            wait_until(lambda c=c: c.mach.time() == src.time(), 2, f"{c.mach.id} converges")
            assert c.mach.queue_tick() == src.queue_tick()
    finally:
        stop.set()
        for c in clients:
            c.close()
        mux.close()


async def test_async_entry_points() -> None:
    """serve_async on the running loop, connect_async without blocking it; waiters are awaitable."""
    import asyncio

    from am_rpc import connect_async, serve_async

    src = Machine(norels(), id="ns-async")
    src.verify_states(NAMES)
    mux = await serve_async(src, "127.0.0.1:0")
    client = await connect_async(mux.addr, id="aio")
    try:
        nm = client.mach
        w = nm.when1("B")
        asyncio.get_running_loop().call_later(0.05, src.add1, "B")  # a local change, pushed
        await asyncio.wait_for(w, 2)
        # a blocking mutation from a worker thread while this loop keeps serving
        assert await asyncio.to_thread(nm.add1, "C") == 0
        assert src.is_(["B", "C"]) and nm.is_(["B", "C"])
    finally:
        await asyncio.to_thread(client.close)
        await mux.close_async()


def test_many_clients_share_a_bounded_pool(make_pair: PairFactory) -> None:
    """Source mutations of all connections run on the Mux's pool: threads stay bounded."""
    schema = custom({f"S{i}": State() for i in range(12)})
    p = make_pair(schema, ["Exception", *(f"S{i}" for i in range(12)), "ErrOnClient"])
    for i in range(1, 12):
        p.extra.append(connect(p.mux.addr, id=f"many{i}"))

    def work(i: int) -> None:
        nm = p.extra[i].mach
        for _ in range(3):
            nm.toggle1(f"S{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.src.tick(f"S{i}") for i in range(12)] == [3] * 12
    pool = [t for t in threading.enumerate() if t.name.startswith(f"rm-{p.mux.name}")]
    assert 1 <= len(pool) <= 8
