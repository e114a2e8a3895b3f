"""Hypothesis fuzz of the server's decoder path over real sockets: any bytes, no crash, no harm."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_dbg.model.session import Session
from am_dbg.server import IngestServer
from am_rpc.codec import FrameDecoder, encode_preamble, pack
from am_rpc.dbg.frames import MAGIC

from .helpers import schema, schema_frame, tx, txs_frame

PREAMBLE = encode_preamble(magic=MAGIC)


class _ServerThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.srv = IngestServer(Session(), host="127.0.0.1", port=0, max_frame=1 << 16)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.srv.start(), self.loop).result(5)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.call(self.srv.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[_ServerThread]:
    s = _ServerThread()
    yield s
    s.stop()


def _exchange(port: int, data: bytes) -> bytes:
    """Send `data`, half-close, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


_scalar = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
_value = st.recursive(
    _scalar | st.binary(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
_frame_map = st.fixed_dictionaries(
    {"k": st.sampled_from(["schema", "txs", "disc", "ack", "x"])},
    optional={
        "seq": st.integers(-5, 2**33) | _scalar,
        "txs": st.lists(st.binary(max_size=30) | _value, max_size=4),
        "schema": _value,
        "conn": _value,
        "dropped": _value,
    },
)


def _framed(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


_payloads = st.one_of(
    st.binary(max_size=64).map(lambda b: PREAMBLE + b),  # raw garbage after a valid preamble
    st.binary(max_size=64),  # garbage from the first byte
    _value.map(lambda v: PREAMBLE + _framed(pack(v))),  # any msgpack value as a frame
    _frame_map.map(lambda v: PREAMBLE + _framed(pack(v))),  # frame-shaped maps
    st.lists(st.binary(max_size=40), max_size=3).map(  # txs whose bins are not tx maps
        lambda bins: (
            PREAMBLE
            + schema_frame(schema("fz"))
            + _framed(pack({"k": "txs", "seq": 1, "txs": bins}))
        )
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_payloads)
def test_fuzzed_connections_never_hurt_the_server(server: _ServerThread, data: bytes) -> None:
    _exchange(server.srv.port, data)
    assert server.thread.is_alive()


def test_a_good_client_streams_after_the_fuzzing(server: _ServerThread) -> None:
    seqs = 5
    data = (
        PREAMBLE
        + schema_frame(schema("after-fuzz"))
        + txs_frame([tx("after-fuzz", i) for i in range(1, seqs + 1)], seq=1)
    )
    dec = FrameDecoder(expect_preamble=True, magic=MAGIC)
    frames: list[Any] = []
    with socket.create_connection(("127.0.0.1", server.srv.port), timeout=5) as sock:
        sock.sendall(data)
        while {"k": "ack", "seq": seqs} not in frames:
            chunk = sock.recv(65536)
            assert chunk, "server closed a good connection"
            frames.extend(dec.feed(chunk))
    server.call(server.srv.settle())
    assert len(server.srv.session.machines["after-fuzz"]) == seqs  # type: ignore[attr-defined]
