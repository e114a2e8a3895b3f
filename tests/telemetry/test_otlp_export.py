"""OTLP/HTTP export end to end: a traced program (enabled by AM_OTEL_TRACE=1 and the standard
OTEL_* variables) sends its spans and logs to a receiver process that decodes the protobuf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

PROGRAM = """
from am_core import Event, LogLevel, Machine, State
from am_rpc.telemetry.otel import trace_env

m = Machine({"A": State(remove=["B"]), "B": State(remove=["A"]), "C": State(require=["A"])},
            id="otlp1", log_level=LogLevel.CHANGES)
m.semlogger().set_logger(lambda lvl, msg: None)

class H:
    def BState(self, e: Event) -> None:
        raise ValueError("bad B")

m.handlers_bind(H())
assert trace_env(m) is not None
m.add1("A")
m.add1("C")
m.add1("B")  # raises: Exception
m.add1("C")  # canceled: A missing -> dropped by the filter
# spans and logs are flushed at exit
"""


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_otlp_http_to_a_receiver_process(tmp_path: Path) -> None:
    out = tmp_path / "otlp.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    recv = subprocess.Popen(
        [sys.executable, str(HERE / "otlp_receiver.py"), str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert recv.stdout is not None
        port = int(recv.stdout.readline())
        prog_env = {
            **env,
            "AM_OTEL_TRACE": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_SERVICE_NAME": "otlp-test",
        }
        done = subprocess.run(
            [sys.executable, "-c", PROGRAM],
            env=prog_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        # the program flushed before exiting; the receiver may still be writing
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = _rows(out)
            if any(r["kind"] == "span" and r["name"] == "mach:otlp1" for r in rows) and any(
                r["kind"] == "log" for r in rows
            ):
                break
            time.sleep(0.05)
    finally:
        recv.terminate()
        recv.wait(timeout=30)
    rows = _rows(out)
    spans = [r for r in rows if r["kind"] == "span"]
    logs = [r for r in rows if r["kind"] == "log"]
    assert {s["service"] for s in spans} == {"otlp-test"}
    by_name = {s["name"]: s for s in spans}
    mach = by_name["mach:otlp1"]
    assert mach["parent"] == ""
    names = sorted(s["name"] for s in spans)
    # the canceled "add C" is filtered out; the failed "add B" is kept (its handler raised)
    assert names == sorted(
        [
            "mach:otlp1",
            "tx:[add] A",
            "tx:[add] C",
            "tx:[add] B",
            "tx:[add] Exception",
            "state:A",
            "state:C",
            "state:Exception",
        ]
    ), names
    for s in spans:
        if s is not mach:
            assert s["parent"] == mach["span_id"], s["name"]
            assert s["trace_id"] == mach["trace_id"]
    add_a = by_name["tx:[add] A"]["attributes"]
    assert add_a["am.tx.called"] == ["A"] and add_a["am.tx.result"] == "executed"
    assert add_a["am.tx.added"] == ["A"]
    assert by_name["tx:[add] Exception"]["links"] == [by_name["tx:[add] B"]["span_id"]]
    err = [g for g in logs if g["event_name"] == "am.exception"]
    assert len(err) == 1 and err[0]["body"] == "ValueError: bad B"
    assert err[0]["span_id"] == by_name["tx:[add] B"]["span_id"]
    lines = [g for g in logs if g["event_name"] == ""]
    assert lines and all(g["trace_id"] == mach["trace_id"] for g in lines)
