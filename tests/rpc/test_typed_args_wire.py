"""Typed args on the wire: across a real aRPC connection (typed top-level args and dataclass
values inside args) and in a recording made by a headless am-dbg, read back."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from am_core import Event, Machine, State
from am_dbg.recordings import load
from am_rpc import codec
from am_rpc.dbg import connect as dbg_connect

from .helpers import PairFactory, custom

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Peer:
    host: str
    port: int


@dataclass
class DialArgs:
    peer: Peer
    retries: int = 3


def schema() -> dict[str, State]:
    return custom({"Dial": State(args=DialArgs), "Other": State()})


class Seen:
    def __init__(self) -> None:
        self.got: list[DialArgs] = []
        self.ev = threading.Event()

    def DialState(self, e: Event) -> None:
        self.got.append(e.args_of(DialArgs))
        self.ev.set()


def test_typed_args_across_arpc(make_pair: PairFactory) -> None:
    seen = Seen()
    p = make_pair(schema(), ["Exception", "Dial", "Other", "ErrOnClient"], handlers=seen)
    p.nm.add1("Dial", DialArgs(Peer("10.0.0.1", 22), retries=5))
    assert seen.ev.wait(30)
    got = seen.got[0]
    assert got == DialArgs(Peer("10.0.0.1", 22), 5)
    assert isinstance(got.peer, Peer)  # the nested dataclass came back as itself
    p.assert_no_errors()


def test_dataclass_value_codec_roundtrip_and_unknown_type() -> None:
    raw = codec.pack({"peer": Peer("h", 1)})
    assert codec.unpack(raw) == {"peer": Peer("h", 1)}

    @dataclass
    class NeverDeclared:
        x: int

    back = codec.unpack(codec.pack({"v": NeverDeclared(4)}))
    assert back == {
        "v": {
            "@type": "test_dataclass_value_codec_roundtrip_and_unknown_type.<locals>.NeverDeclared",
            "x": 4,
        }
    }


def _start_headless(rec: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", "--headless", "-l", "127.0.0.1:0", "--record", str(rec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line)
    assert m, f"unexpected first line {line!r}"
    return proc, int(m.group(1))


def test_typed_args_in_a_recording(tmp_path: Path) -> None:
    rec = tmp_path / "typed.amdbg"
    proc, port = _start_headless(rec)
    try:
        m = Machine(schema(), id="typed-rec")
        tracer = dbg_connect(m, f"127.0.0.1:{port}")
        m.add1("Dial", DialArgs(Peer("example.org", 443)))
        m.add1("Other", {"note": "untyped"})
        assert tracer.close(10)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    loaded = {s.id: txs for s, txs in load(rec).machines}
    msgs: list[dict[str, Any]] = [codec.unpack(raw) for raw, _t in loaded["typed-rec"].packed()]
    typed = [msg["ta"] for msg in msgs if "ta" in msg]
    assert typed == [
        ["DialArgs", {"peer": {"@type": "Peer", "host": "example.org", "port": 443}, "retries": 3}]
    ]
