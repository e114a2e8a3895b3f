"""`am-repl`: a scripted session under a real pty (pexpect) on a machine served over aRPC."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from am_core import Machine, State
from am_rpc import serve
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


@pytest.fixture
def served() -> Iterator[tuple[Machine, str]]:
    src = Machine(
        {
            "Start": State(),
            "Ready": State(require=["Start"]),
            "Working": State(multi=True, require=["Ready"]),
            "Done": State(remove=["Working"]),
        },
        id="worker",
    )
    src.verify_states(["Exception", "Start", "Ready", "Working", "Done"])
    mux = serve(src, "127.0.0.1:0")
    try:
        yield src, str(mux.addr)
    finally:
        mux.close()


def _spawn(*args: str) -> pexpect.spawn:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TERM"] = "dumb"
    return pexpect.spawn(
        sys.executable,
        ["-m", "am_dbg.remote.repl", *args],
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 160),
    )


def test_add_a_state_and_wait_for_another(served: tuple[Machine, str]) -> None:
    src, addr = served
    p = _spawn(addr)
    try:
        p.expect(f"connected to worker at {addr}: 5 states")
        p.expect("worker> ")
        p.sendline("add Start")
        p.expect("executed")
        wait_until(lambda: src.is1("Start"), what="Start on the source")
        # Tab completes a state name: "Rea" -> "Ready "
        p.send("add Rea\t")
        p.expect("Ready ")
        p.sendline("")
        p.expect("executed")
        wait_until(lambda: src.is1("Ready"), what="Ready on the source")
        # an unknown state is named, nothing is sent
        p.sendline("add Nope")
        p.expect("error: add: no state 'Nope' on 'worker'")
        ticks = src.time()
        # when: blocks until the source activates Done
        p.sendline("when Done")
        assert p.expect([r"active: Done", pexpect.TIMEOUT], timeout=0.5) == 1
        src.add1("Done")
        p.expect("active: Done")
        p.expect("worker> ")
        assert src.time()[:3] == ticks[:3]  # the failed add changed nothing
        p.sendline("list")
        p.expect(r"\* Done")
        p.sendline("inspect Ready")
        p.expect("Ready: active, tick 1; require=Start")
        p.sendline("remove Done")
        p.expect("executed")
        wait_until(lambda: not src.is1("Done"), what="Done removed on the source")
        p.sendline("when_not Start --timeout 0.3")
        p.expect("timeout: after 0.3s")
        p.sendline("quit")
        p.expect(pexpect.EOF)
    finally:
        p.close(force=True)
    assert p.exitstatus == 0


def test_cannot_connect_is_one_line(served: tuple[Machine, str]) -> None:
    _, addr = served
    host = addr.rpartition(":")[0]
    p = _spawn(f"{host}:1")
    try:
        p.expect("am-repl: cannot connect to")
        p.expect(pexpect.EOF)
    finally:
        p.close(force=True)
    assert p.exitstatus == 1


def test_argument_values_are_typed() -> None:
    """`key=value`: numbers and true/false as such (a handler computes with them), else text."""
    from am_dbg.remote.repl import arg_value

    assert [arg_value(v) for v in ("5", "-2", "0.5", "true", "False", "ps-1", "")] == [
        5,
        -2,
        0.5,
        True,
        False,
        "ps-1",
        "",
    ]


def test_when_ends_when_the_server_goes() -> None:
    """A `when` on a machine that went away says so instead of waiting for ever."""
    src = Machine({"Start": State(), "Done": State()}, id="short-lived")
    src.verify_states(["Exception", "Start", "Done"])
    mux = serve(src, "127.0.0.1:0")
    p = _spawn(str(mux.addr))
    try:
        p.expect("short-lived> ")
        p.sendline("when Done")
        assert p.expect([r"active: Done", pexpect.TIMEOUT], timeout=0.5) == 1
        mux.close()
        p.expect(f"error: when: lost the connection to {mux.addr}")
        p.expect("short-lived> ")
        p.sendline("quit")
        p.expect(pexpect.EOF)
    finally:
        p.close(force=True)
    assert p.exitstatus == 0
