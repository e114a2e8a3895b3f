"""Faults over real sockets: timeouts and retries, reconnects, restarts, bye, access control.

Mirrors spec/rpc.md §11.3 cases 9-12 and the §11.4 extras (E-a ... E-l).
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from typing import Any

import pytest

from am_core import Machine, Result, State
from am_rpc import (
    Client,
    ClientOpts,
    HandshakeError,
    NotConnectedError,
    Payload,
    RpcError,
    WrongDestinationError,
    connect,
    serve,
)

from .helpers import NAMES, PairFactory, custom, norels, rels, wait_until

FAST = {"conn_retry_delay": 0.05, "call_retry_delay": 0.05}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _source(schema: Any = None, id: str = "ns-f", handlers: Any = None) -> Machine:
    src = Machine(schema if schema is not None else rels(), id=id)
    src.verify_states(NAMES)
    if handlers is not None:
        src.handlers_bind(handlers)
    return src


class _SlowD:
    """DState blocks 1 s (on the first entry only, unless ``always``)."""

    def __init__(self, always: bool = True) -> None:
        self.always = always
        self.calls = 0

    def DState(self, e: Any) -> None:
        self.calls += 1
        if self.always or self.calls == 1:
            time.sleep(1)


def test_retry_slow_call(make_pair: PairFactory) -> None:
    """#9b, #10, E-d: a real call timeout, a retry, at-least-once; the mirror stays consistent."""
    handlers = _SlowD()
    p = make_pair(handlers=handlers, call_timeout=0.5, call_retry_delay=0.05)
    p.src.handler_timeout = 5
    res = p.nm.add1("D")
    assert res == Result.EXECUTED
    assert p.client.client_mach.tick("RetryingCall") >= 1
    assert p.client.client_mach.tick("ErrNetworkTimeout") >= 1
    assert handlers.calls == 1  # the retry found D active: a no-op
    assert p.src.is1("D") and p.nm.is1("D")
    assert p.client.client_mach.is1("Ready") and p.server.mach.is1("Ready")
    assert not p.client.client_mach.any1("RetryingCall", "RetryingConn")
    wait_until(lambda: p.nm.time() == p.src.time(), 1, "mirror == source")


def test_retry_conn_until_server_starts() -> None:
    """#11: the client dials before the server exists, backs off, then connects."""
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    client = Client(addr, id="late", opts=ClientOpts(conn_retry_delay=0.05))
    client.start()
    src = _source()
    mux = None
    try:
        wait_until(lambda: client.client_mach.tick("Connecting") >= 3, 3, "second dial")
        assert client.client_mach.tick("RetryingConn") >= 1
        mux = serve(src, addr)
        assert client.wait_ready(5)
        assert client.mach.add1("C") == Result.EXECUTED
        assert client.mach.is_(["A", "C"])  # A is auto
        assert not client.client_mach.any1("RetryingCall", "RetryingConn")
    finally:
        client.close()
        if mux:
            mux.close()


def test_reconnect_after_server_restart_converges() -> None:
    """#12 + faults: a crashed server; Canceled while down; the mirror converges to the new one."""
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    src1 = _source(norels(), "ns-one")
    mux1 = serve(src1, addr)
    client = connect(addr, id="rc", **FAST)
    mux2 = None
    try:
        nm = client.mach
        for s in ("A", "B", "C"):
            nm.add1(s)
        assert nm.queue_tick() == 4
        pending_queue = nm.when_queue(100)  # flushed when the queue tick goes backwards
        mux1.close(bye=False)  # a crash: no BYE
        wait_until(lambda: not client.ready, 2, "client notices")
        calls0, retrying0 = client.calls, client.client_mach.tick("RetryingCall")
        assert nm.add1("C") == Result.CANCELED  # never raises, fails fast:
        assert client.calls == calls0  # nothing sent, nothing waited for
        assert client.client_mach.tick("RetryingCall") == retrying0
        src2 = _source(norels(), "ns-two")
        src2.add1("D")
        mux2 = serve(src2, addr)
        assert client.wait_ready(5)
        assert nm.active_states() == ["D"]  # the new source's absolute clock
        assert nm.queue_tick() == 2
        assert nm.remote_id() == "ns-two"
        assert pending_queue.done()
        assert nm.add1("A") == Result.EXECUTED
        assert src2.is_(["A", "D"])
        assert client.client_mach.tick("RetryingConn") >= 1
    finally:
        client.close()
        if mux2:
            mux2.close()


def test_server_killed_mid_call_retries_on_the_new_server() -> None:
    """A call in flight when the server dies is retried after the reconnect (at-least-once)."""
    port = _free_port()
    addr = f"127.0.0.1:{port}"
    slow = _SlowD()
    src1 = _source(handlers=slow)
    src1.handler_timeout = 5
    mux1 = serve(src1, addr)
    client = connect(addr, id="mid", call_timeout=5, **FAST)
    mux2 = None
    result: list[Result] = []
    try:
        t = threading.Thread(target=lambda: result.append(client.mach.add1("D")))
        t.start()
        wait_until(lambda: slow.calls >= 1, what="the call in flight on the first server")
        mux1.close(bye=False)
        src2 = _source()
        mux2 = serve(src2, addr)
        t.join(30)
        assert result == [Result.EXECUTED]
        assert src2.is1("D") and client.mach.is1("D")
        assert client.client_mach.tick("RetryingCall") >= 1
        assert not client.client_mach.is1("RetryingCall")
    finally:
        client.close()
        if mux2:
            mux2.close()


def test_checksum_mismatch_syncs_once_and_converges(make_pair: PairFactory) -> None:
    """E-a: a push that does not fit triggers exactly one Sync."""
    p = make_pair(norels(), push_interval=1e-9)
    with p.nm._lock:
        p.nm._time[1] += 2  # simulate a lost update: A's tick drifted
    p.src.add1("B")
    src_time = p.src.time()
    wait_until(lambda: p.client.syncs == 1, 2, "one sync")
    wait_until(lambda: p.nm.time() == p.src.time(), 2, "converged")
    time.sleep(0.1)
    assert p.client.syncs == 1
    # the sync is counted on the server's RPC machine and only reads the source machine
    assert "MetricSync" not in p.src.state_names()
    assert p.src.time() == src_time
    assert p.server.mach.tick("MetricSync") == 1


def test_queue_tick_only_change_is_pushed(make_pair: PairFactory) -> None:
    """E-b (Q2): a canceled source mutation moves only the queue tick; the mirror sees it."""
    schema = custom({"A": State(require=["B"]), "B": State(), "C": State(), "D": State()})
    p = make_pair(schema, push_interval=0.1)
    q0 = p.nm.queue_tick()
    assert p.src.add1("A") == Result.CANCELED
    assert p.src.queue_tick() == q0 + 1
    wait_until(lambda: p.nm.queue_tick() == p.src.queue_tick(), 0.5, "queue tick pushed")
    wait_until(lambda: p.server.pushes >= 1, what="the push counted")  # counted after the write
    assert p.server.pushes == 1


def test_sync_resets_the_baseline(make_pair: PairFactory) -> None:
    """E-e (Q5): Sync, then a source change, then a push: no mismatch, no second Sync."""
    p = make_pair(norels(), push_interval=1e-9)
    p.src.add1("A")
    assert p.client.sync()
    p.src.add1("B")
    wait_until(lambda: p.nm.is1("B"), 1, "B pushed")
    assert p.client.syncs == 1
    assert p.nm.time() == p.src.time()


def test_push_interval_zero_needs_sync(make_pair: PairFactory) -> None:
    """E-k: no pushes; a server-side change shows after Sync() or the next mutation."""
    p = make_pair(norels(), push_interval=0)
    p.src.add1("A")
    time.sleep(0.3)
    assert p.nm.not1("A")
    p.nm.add1("B")
    assert p.nm.is_(["A", "B"])
    p.src.add1("C")
    assert p.client.sync() and p.nm.is1("C")


def test_no_schema_allowed_maps_client_indexes(make_pair: PairFactory) -> None:
    """E-l (Q6): client-bound indexes in mutations target the right source states."""
    p = make_pair(norels(), allowed=["C", "D"], no_schema=True)
    assert p.nm.state_names() == ["C", "D"]
    p.nm.add1("D")  # index 1 on the client; "A" at index 1 on the source
    assert p.src.active_states() == ["D"]
    assert p.nm.active_states() == ["D"]


def test_allow_id_mismatch_is_not_retried() -> None:
    """E-g: no access -> never Ready, ConnRetryFailed; other clients are fine."""
    mux = serve(_source(), allow_id=["rc-good"])
    try:
        with pytest.raises(HandshakeError, match=r"no access: rc-bad != rc-good"):
            connect(mux.addr, id="bad", timeout=3, **FAST)
        assert mux.connections == 1  # one attempt: a refusal is not retried
        good = connect(mux.addr, id="good")
        assert good.mach.add1("C") == Result.EXECUTED
        good.close()
    finally:
        mux.close()


def test_token_auth() -> None:
    mux = serve(_source(), token="s3cret")
    try:
        ok = connect(mux.addr, id="tok", token="s3cret")
        assert ok.ready
        ok.close()
        with pytest.raises(HandshakeError, match="bad auth token"):
            connect(mux.addr, id="tok2", token="wrong", timeout=2)
        with pytest.raises(HandshakeError, match="bad auth token"):
            connect(mux.addr, id="tok3", timeout=2)
    finally:
        mux.close()


def test_client_bye(make_pair: PairFactory) -> None:
    """E-h: client bye -> the server drops ClientConnected and HandshakeDone quickly."""
    p = make_pair()
    server = p.server
    p.client.close(dispose=False)
    wait_until(
        lambda: server.mach.is_disposed() or server.mach.not_(["ClientConnected", "HandshakeDone"]),
        0.2,
        "server drops the client",
    )
    cm = p.client.client_mach
    assert cm.is1("Disconnected") and cm.not1("Start")
    assert cm.tick("RetryingConn") == 0


def test_server_bye_stops_the_client_with_stop_on_bye(make_pair: PairFactory) -> None:
    """Q12 (Go's behaviour, now an option): a server's BYE ends the client; no reconnect."""
    p = make_pair(stop_on_bye=True)
    p.mux.close()
    cm = p.client.client_mach
    wait_until(lambda: cm.is1("Disconnected"), 1, "client disconnected")
    assert cm.not1("Start")
    time.sleep(0.2)
    assert cm.tick("RetryingConn") == 0 and cm.tick("Connecting") == 2


def test_payload_destinations(make_pair: PairFactory) -> None:
    """E-i: wrong destination and no client are errors for the sender."""
    p = make_pair(norels())
    with pytest.raises(WrongDestinationError):
        p.mux.send_payload(Payload(name="x", destination="rc-nobody"))
    with pytest.raises(WrongDestinationError):
        p.server.send_payload(Payload(name="x", destination="rc-nobody"))
    assert p.mux.send_payload(Payload(name="x", data=[1, 2], destination="rc-t1")) == 1
    wait_until(lambda: p.client.client_mach.tick("ServerPayload") == 1, 1, "payload")
    lonely = serve(_source(norels(), "ns-lonely"))
    try:
        with pytest.raises(NotConnectedError):
            lonely.send_payload(Payload(name="x"))
    finally:
        lonely.close()


def test_source_with_handlers_needs_err_on_client() -> None:
    schema = {"A": State()}
    src = Machine(schema, id="bad-src")
    src.verify_states(["Exception", "A"])
    src.handlers_bind(_SlowD())
    with pytest.raises(RpcError, match="ErrOnClient"):
        serve(src)


def test_unix_socket_and_loopback_default() -> None:
    src = _source(norels())
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "arpc.sock")
        mux = serve(src, f"unix:{path}")
        try:
            assert mux.addr == f"unix:{path}"
            c = connect(mux.addr, id="ux")
            assert c.mach.add1("A") == Result.EXECUTED and src.is1("A")
            c.close()
        finally:
            mux.close()
    tcp = serve(src)
    try:
        assert tcp.addr.startswith("127.0.0.1:")
    finally:
        tcp.close()


def test_connect_to_nothing_fails_with_the_reason() -> None:
    port = _free_port()
    with pytest.raises(HandshakeError, match=r"could not connect to 127\.0\.0\.1:\d+ within 0\.5s"):
        connect(f"127.0.0.1:{port}", id="nobody", timeout=0.5, conn_retry_delay=0.05)


def test_netmachine_as_a_source() -> None:
    """Tree topology: a NetMachine is exposed by a second server; mutations travel two hops."""
    src = _source(norels(), "ns-root")
    mux1 = serve(src)
    mid = connect(mux1.addr, id="mid")
    mux2 = serve(mid.mach, push_interval=0.05)
    leaf = connect(mux2.addr, id="leaf")
    try:
        assert leaf.mach.remote_id() == "rnm-mid"
        assert leaf.mach.add1("A") == Result.EXECUTED
        assert src.is1("A") and mid.mach.is1("A") and leaf.mach.is1("A")
        src.add1("B")  # root change -> push to mid -> push to leaf
        wait_until(lambda: leaf.mach.is1("B"), 2, "B two hops away")
    finally:
        leaf.close()
        mux2.close()
        mid.close()
        mux1.close()


def test_tls(tmp_path: Any) -> None:
    """TLS via ssl contexts; a plaintext client cannot talk to a TLS server."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    src = _source(norels(), "ns-tls")
    mux = serve(src, ssl=server_ctx)
    try:
        c = connect(mux.addr, id="tls", ssl=client_ctx)
        assert c.mach.add1("A") == Result.EXECUTED and src.is1("A")
        assert c.peer is not None and c.peer.writer.get_extra_info("sslcontext") is not None
        c.close()
        with pytest.raises(HandshakeError):
            connect(mux.addr, id="plain", timeout=1, **FAST)
    finally:
        mux.close()


def test_close_from_a_netmachine_handler(make_pair: PairFactory) -> None:
    """A handler on the client's I/O thread may close the client without deadlocking."""
    p = make_pair(norels())

    class Closer:
        def BState(self, e: Any) -> None:
            p.client.close()

    p.nm.handlers_bind(Closer())
    p.src.add1("B")  # pushed -> BState on the I/O thread -> close
    wait_until(lambda: p.nm.is_disposed(), 2, "client closed from its handler")
    assert p.client.client_mach.is_disposed()
