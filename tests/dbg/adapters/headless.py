"""A headless am-dbg subprocess recording to a file, and reading its recording back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from am_dbg.recordings import load
from am_rpc import codec

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def headless(rec: Path) -> Iterator[str]:
    """Yields the address of an ``am-dbg --headless --record rec`` listening on a free port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "am_dbg", "--headless", "--record", str(rec), "-l", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.fullmatch(r"listening on (127\.0\.0\.1:\d+)\n", line)
        assert m, f"unexpected first line {line!r}"
        yield m.group(1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err


def summary(rec: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "am_dbg", "-i", str(rec), "--print-summary"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return {m["id"]: m for m in json.loads(out.stdout)["machines"]}


def txs(rec: Path, mach_id: str) -> list[dict[str, Any]]:
    """Every transition message of ``mach_id`` in the recording, decoded."""
    machines = {s.id: (s, t) for s, t in load(rec).machines}
    schema, packed = machines[mach_id]
    out = []
    for raw, _t in packed.packed():
        msg = codec.unpack(raw)
        msg["called"] = [schema.states_index[i] for i in msg["s"]]
        msg["active"] = [n for n, c in zip(schema.states_index, msg["c"], strict=True) if c % 2]
        out.append(msg)
    return out


def log_text(msg: dict[str, Any]) -> list[str]:
    return [text for _lvl, text in msg.get("log", [])]
