"""Who gets in and who comes back, over real sockets: graceful redeploys, token guessing, what a
connection may send before HELLO, listeners beyond loopback, clients dropped without close().

docs/arpc.md "Security" and "Restarts"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from am_core import Machine
from am_rpc import Client, ClientOpts, RpcError, codec, connect, serve
from am_rpc.protocol import ErrCode, HelloReq, Method, parse_envelope, request

from .helpers import NAMES, norels, wait_until

ROOT = Path(__file__).parents[2]


def _source(id: str, *active: str) -> Machine:
    src = Machine(norels(), id=id)
    src.verify_states(NAMES)
    if active:
        src.add(list(active))
    return src


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dial(addr: str) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(codec.encode_preamble(codec.Cap.PING | codec.Cap.AUTH))
    return s


def _hello(seq: int, token: str) -> bytes:
    return codec.encode_frame(request(seq, Method.HELLO, HelloReq(id="x", auth=token).to_wire()))


def _read_all(s: socket.socket) -> tuple[list[Any], bool]:
    """Every frame the server sends until it closes (True) or goes quiet for 10 s (False)."""
    dec = codec.FrameDecoder(expect_preamble=True)
    frames: list[Any] = []
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return frames, True
            frames += dec.feed(data)
    except ConnectionResetError:
        return frames, True
    except TimeoutError:
        return frames, False


# -- restarts ----------------------------------------------------------------------------------


def test_graceful_redeploy_every_client_reconverges() -> None:
    """server.close() says BYE to 10 clients; a new serve() on the same address: all come back
    and mirror the new source's states."""
    addr = f"127.0.0.1:{_free_port()}"
    mux1 = serve(_source("ns-one", "A"), addr)
    clients = [connect(addr, id=f"c{i}", conn_retry_delay=0.05) for i in range(10)]
    mux2 = None
    try:
        assert all(c.mach.active_states() == ["A"] for c in clients)
        mux1.close()  # graceful: BYE to each client
        wait_until(lambda: not any(c.ready for c in clients), 10, "every client saw the BYE")
        mux2 = serve(_source("ns-two", "B", "D"), addr)
        wait_until(lambda: all(c.ready for c in clients), 30, "every client reconnected")
        for c in clients:
            wait_until(lambda c=c: c.mach.active_states() == ["B", "D"], 10, "new states")
            assert c.mach.remote_id() == "ns-two"
            assert c.client_mach.tick("RetryingConn") >= 1
            assert c.client_mach.is1("Start")
        assert clients[3].mach.add1("C") == 0
        wait_until(lambda: all(c.mach.is1("C") for c in clients), 10, "a change reaches all")
    finally:
        for c in clients:
            c.close()
        if mux2 is not None:
            mux2.close()


def test_stop_on_bye_keeps_the_go_behaviour() -> None:
    addr = f"127.0.0.1:{_free_port()}"
    mux1 = serve(_source("ns-one"), addr)
    go = connect(addr, id="go", opts=ClientOpts(stop_on_bye=True, conn_retry_delay=0.05))
    mux2 = None
    try:
        mux1.close()
        wait_until(lambda: go.client_mach.not1("Start"), 10, "client stopped")
        mux2 = serve(_source("ns-two"), addr)
        peers = mux2.connections
        assert not go.wait_ready(1)
        assert mux2.connections == peers == 0
    finally:
        go.close()
        if mux2 is not None:
            mux2.close()


_DROPPED = """
import gc, sys
from am_core import Machine
from am_rpc import connect, serve
from tests.rpc.helpers import NAMES, norels, wait_until
src = Machine(norels(), id="ns-d")
src.verify_states(NAMES)
mux = serve(src)
def use():
    c = connect(mux.addr, id="dropped")
    c.mach.add1("A")
use()  # the client is dropped here, never closed
gc.collect()
if sys.argv[1] == "server-gone":
    mux.close()  # the dropped client now retries; the exit must still be clean
else:
    assert len(mux.servers) == 1
print("done", flush=True)
"""


@pytest.mark.parametrize("case", ["server-up", "server-gone"])
def test_a_dropped_client_exits_without_asyncio_warnings(case: str) -> None:
    run = subprocess.run(
        [sys.executable, "-X", "dev", "-c", _DROPPED, case],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    for bad in ("Task was destroyed", "Exception ignored", "Traceback", "never awaited"):
        assert bad not in run.stderr, run.stderr


# -- authentication ------------------------------------------------------------------------------


def test_no_token_beyond_loopback_is_refused() -> None:
    src = _source("ns-open")
    with pytest.raises(RpcError, match=r"refusing to listen on 0\.0\.0\.0:0 without a token"):
        serve(src, "0.0.0.0:0")
    for kw in ({"insecure": True}, {"token": "s3cret"}):
        mux = serve(src, "0.0.0.0:0", **kw)
        mux.close()
    serve(src, "[::1]:0").close()  # loopback needs no token


def test_token_guessing_is_throttled() -> None:
    """One guess per connection, then closed; after 5 failures the address is refused unread
    for the window; afterwards the right token gets in."""
    src = _source("ns-tok")
    mux = serve(src, token="right", auth_failures=5, auth_window=2.0)
    try:
        # many guesses on one connection: only the first is answered, then it is closed
        s = _dial(mux.addr)
        s.sendall(b"".join(_hello(i + 1, f"g{i}") for i in range(200)))
        frames, closed = _read_all(s)
        s.close()
        assert closed and len(frames) == 1
        env = parse_envelope(frames[0])
        assert getattr(env, "code", None) == ErrCode.NO_ACCESS
        # one guess per new connection, as fast as we can for a moment
        answered = refused = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0 and answered + refused < 300:
            s = _dial(mux.addr)
            try:
                s.sendall(_hello(1, "guess"))
            except OSError:
                pass
            frames, closed = _read_all(s)
            s.close()
            assert closed
            answered += bool(frames)
            refused += not frames
        assert answered == 4  # 5 failures in the window in all, the first above
        assert refused >= 1 and mux.throttle.refused == refused
        with pytest.raises(Exception, match=r"could not connect|bad auth token"):
            connect(mux.addr, id="legit", token="right", timeout=0.5, conn_retry_delay=0.05)
        # the window passes: the right token is accepted again
        ok: list[Client] = []

        def try_connect() -> bool:
            try:
                ok.append(connect(mux.addr, id="legit2", token="right", timeout=1))
            except Exception:
                return False
            return True

        wait_until(try_connect, 20, "the window to pass")
        assert ok[0].mach.add1("A") == 0 and src.is1("A")
        ok[0].close()
    finally:
        mux.close()


# -- before HELLO ---------------------------------------------------------------------------------


def test_a_big_frame_before_hello_is_refused_at_its_header() -> None:
    mux = serve(_source("ns-big"), hello_timeout=30)
    try:
        s = _dial(mux.addr)
        s.sendall((16 * 2**20).to_bytes(4, "big"))  # announces 16 MiB
        try:
            s.sendall(b"\0" * 2**20)  # the first of them
        except OSError:
            pass  # already closed: fine
        frames, closed = _read_all(s)
        s.close()
        assert closed and frames == []
        wait_until(lambda: not mux.servers, 10, "the server dropped that connection")
        # a real client still gets in and may then send big frames
        c = connect(mux.addr, id="ok")
        assert c.mach.add1("A") == 0
        c.close()
    finally:
        mux.close()


def test_no_hello_in_time_is_closed() -> None:
    mux = serve(_source("ns-slow"), hello_timeout=0.5)
    try:
        s = _dial(mux.addr)
        frames, closed = _read_all(s)
        s.close()
        assert closed and frames == []
    finally:
        mux.close()
