"""Fuzzing a live server: random bytes and random msgpack values never crash it and never disturb
a well-behaved client on the same Mux."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from am_core import Machine, Result
from am_rpc import Client, Mux, codec, connect, serve
from am_rpc.protocol import Method

from .helpers import NAMES, norels, wait_until

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=12)
)
values = st.recursive(
    _leaf,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(
            st.sampled_from(["s", "a", "e", "id", "i", "t", "c", "x"]) | st.text(max_size=3),
            kids,
            max_size=4,
        )
    ),
    max_leaves=12,
)
envelopes = st.one_of(
    values,
    st.tuples(
        st.sampled_from([0, 1, 2, 3, 4]),
        st.integers(0, 5),
        st.sampled_from([int(m) for m in Method] + [0, 99]),
        values,
    ).map(list),
    st.tuples(st.sampled_from([0, 1]), st.integers(0, 5), values).map(list),
)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def target() -> Iterator[tuple[Machine, Mux, Client, _Errors]]:
    errors = _Errors()
    for name in ("asyncio", "am_rpc"):
        logging.getLogger(name).addHandler(errors)
    src = Machine(norels(), id="ns-fuzz")
    src.verify_states(NAMES)
    mux = serve(src, hello_timeout=1, max_frame=4096)
    good = connect(mux.addr, id="good")
    yield src, mux, good, errors
    good.close()
    mux.close()
    for name in ("asyncio", "am_rpc"):
        logging.getLogger(name).removeHandler(errors)


def _send(addr: str, data: bytes) -> None:
    """Send bytes, half-close, and read until the server closes (it must, or answer and wait)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(3)
        try:
            while s.recv(65536):
                pass
        except (ConnectionResetError, TimeoutError):
            pass


def _handshaken(n: int) -> bytes:
    return (
        codec.encode_preamble()
        + codec.encode_frame([0, 1, Method.HELLO, {"id": f"rc-fuzz{n}", "ss": True}])
        + codec.encode_frame([0, 2, Method.HANDSHAKE, None])
    )


def _good_still_works(src: Machine, mux: Mux, good: Client, errors: _Errors) -> None:
    # fuzzed mutations may still be landing on the source; the good client must converge
    assert good.mach.toggle1("B") in (Result.EXECUTED, Result.CANCELED)
    wait_until(lambda: good.mach.time() == src.time(), 2, "the good mirror converges")
    assert good.ready and mux.mach.is1("Ready")
    assert good.client_mach.tick("Exception") == 0
    crashes = [r for r in errors.records if r.name == "asyncio" or "failed" in r.getMessage()]
    assert not crashes, [r.getMessage() for r in crashes]


_n = iter(range(10**9))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200), with_preamble=st.booleans())
def test_random_bytes(
    target: tuple[Machine, Mux, Client, _Errors], data: bytes, with_preamble: bool
) -> None:
    src, mux, good, errors = target
    prefix = codec.encode_preamble() if with_preamble else b""
    _send(mux.addr, prefix + data)
    _good_still_works(src, mux, good, errors)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(msgs=st.lists(envelopes, min_size=1, max_size=5), handshake=st.booleans())
def test_random_msgpack_values(
    target: tuple[Machine, Mux, Client, _Errors], msgs: list[Any], handshake: bool
) -> None:
    src, mux, good, errors = target
    stream = _handshaken(next(_n)) if handshake else codec.encode_preamble()
    for m in msgs:
        payload = codec.pack(m)
        stream += struct.pack(">I", len(payload)) + payload
    _send(mux.addr, stream)
    _good_still_works(src, mux, good, errors)
