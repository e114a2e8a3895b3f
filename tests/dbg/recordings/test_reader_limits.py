"""Readers refuse what would exhaust them, in a real process: a decompression bomb within a fixed
memory bound, a record nested 1,000 deep skipped by `--print-summary` (docs/protocol.md
"Reading recordings")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import msgpack
from test_amdbg_recordings import rich_tx, schema, write_deep_recording

from am_dbg.model.session import Session
from am_dbg.recordings import RecordingWriter
from am_dbg.recordings.amdbg import CHUNK_HEAD

ROOT = Path(__file__).parents[3]
BOMB_MIB = 300
RSS_BOUND_MB = 150

# Peak RSS of this process only: Linux carries ru_maxrss across exec (a child forked from a big
# pytest reports at least the parent's size), so VmHWM of the fresh address space comes first.
_MEASURE = """
import json, resource, sys
from am_dbg.recordings import load
got = load(sys.argv[1])
try:
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "txs": [len(txs) for _, txs in got.machines],
    "warnings": got.warnings,
    "peak_mb": peak,
}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _bomb_chunk(mib: int) -> bytes:
    """A chunk whose checksum holds and whose payload inflates to `mib` MiB of one record."""
    comp = zlib.compressobj(9)
    n = mib * 2**20
    head = b"\x91\x94\x01\x01\xa2c1\xc6" + n.to_bytes(4, "big")  # [[TX, 1, "c1", bin n]]
    parts = [comp.compress(head)]
    zeros = bytes(2**20)
    for _ in range(mib):
        parts.append(comp.compress(zeros))
    parts.append(comp.flush())
    payload = b"".join(parts)
    return CHUNK_HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def test_a_decompression_bomb_is_refused_within_a_fixed_memory_bound(tmp_path: Path) -> None:
    path = tmp_path / "bomb.amdbg"
    with RecordingWriter(path, background=False) as w:
        s = Session(recorder=w)
        s.on_schema(schema("m"), "c1", now_ns=1)
        s.on_txs([("c1", rich_tx("m", i)) for i in range(3)], 10)
    bomb = _bomb_chunk(BOMB_MIB)
    with path.open("ab") as f:
        f.write(bomb)
    with RecordingWriter(tmp_path / "tail.amdbg", background=False) as w:  # a chunk after it
        Session(recorder=w).on_schema(schema("m"), "c1", now_ns=1)
        w.write_tx("c1", msgpack.packb(rich_tx("m", 3).to_wire()), 20)
    tail = (tmp_path / "tail.amdbg").read_bytes()
    with path.open("ab") as f:
        f.write(tail[len(tail) - _last_chunk_len(tail) :])
    assert path.stat().st_size < 400 * 1024  # ~300 KB on disk
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
        check=True,
    ).stdout
    got = json.loads(out)
    assert got["txs"] == [4]  # the three before the bomb and the one after it
    assert len(got["warnings"]) == 1
    assert "inflates to more than 64 MiB, the limit per chunk; refused" in got["warnings"][0]
    assert "resumed at chunk" in got["warnings"][0]
    assert got["peak_mb"] < RSS_BOUND_MB, got["peak_mb"]


def _last_chunk_len(data: bytes) -> int:
    pos, last = 8, 0
    while pos < len(data):
        length, _ = CHUNK_HEAD.unpack_from(data, pos)
        last = CHUNK_HEAD.size + length
        pos += last
    return last


def test_print_summary_survives_a_record_nested_1000_deep(tmp_path: Path) -> None:
    path = tmp_path / "deep.amdbg"
    write_deep_recording(path)
    run = subprocess.run(
        [sys.executable, "-m", "am_dbg", "-i", str(path), "--print-summary"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "RecursionError" not in run.stderr
    assert "2 malformed records skipped (first: tx record: nested deeper than 64 levels)" in (
        run.stderr
    )
    summary = json.loads(run.stdout)
    assert [m["transitions"] for m in summary["machines"]] == [9]
