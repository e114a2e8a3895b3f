"""`am-dbg` opens Go dumps: `--print-summary` on a `.gob.br`, and the headless conversion to `.amdbg`
whose summary is the same (issue 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import brotli
import pytest

from am_dbg.recordings import load
from am_dbg.recordings.gob_import import read_gob_dump

FIXTURE = Path(__file__).parents[2] / "data" / "am-dbg-sim.gob.br"


def am_dbg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "am_dbg", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def summary(path: Path, cwd: Path) -> dict:
    proc = am_dbg("-i", str(path), "--print-summary", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def gob_summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return summary(FIXTURE, tmp_path_factory.mktemp("cwd"))


def test_print_summary_of_the_go_fixture(gob_summary: dict) -> None:
    got = gob_summary
    assert got["format"] == "gob/go-am-dbg"
    machines = got["machines"]
    assert len(machines) == 107
    assert [m["id"] for m in machines] == sorted(m["id"] for m in machines)
    assert sum(m["transitions"] for m in machines) == 7605
    p11 = next(m for m in machines if m["id"] == "sim-p11")
    assert p11["transitions"] == 9
    assert p11["states"][:3] == ["Start", "IsDHT", "Ready"]
    assert p11["disconnected"] is True
    # the 2024 format has no IsQueued: the file cannot tell queued mutations apart
    assert all(m["queued"] is None for m in machines)


def test_headless_conversion_keeps_the_summary(tmp_path: Path, gob_summary: dict) -> None:
    out = tmp_path / "sim.amdbg"
    proc = am_dbg("-i", str(FIXTURE), "--headless", "--export-data", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"AMDBG\0")
    gob, amdbg = gob_summary, summary(out, tmp_path)
    assert amdbg["format"] == "amdbg/1"
    for before, after in zip(gob["machines"], amdbg["machines"], strict=True):
        if before["queued"] is None:
            # unknown in the Go file; our format always knows: nothing was queued
            assert after["queued"] == 0
            after = {**after, "queued": None}
        assert after == before
    assert len(amdbg["machines"]) == len(gob["machines"]) == 107
    # and nothing was lost on the way: the same messages come back
    converted = {schema.id: (schema, list(txs)) for schema, txs in load(out).machines}
    assert converted == {schema.id: (schema, txs) for schema, txs in read_gob_dump(FIXTURE)}


def test_damaged_dump_is_a_one_line_error_not_a_traceback(tmp_path: Path) -> None:
    raw = FIXTURE.read_bytes()
    cut = tmp_path / "cut.gob.br"
    cut.write_bytes(raw[:300])  # nothing decompresses: an error even where damage is salvaged
    bad_type = tmp_path / "bad-type.gob.br"
    gob = bytearray(brotli.decompress(raw))
    gob[300] = 0x7F  # inside the type definitions: a field number that does not exist
    bad_type.write_bytes(brotli.compress(bytes(gob), quality=1))
    for path, reason in [
        (cut, "brotli: the compressed stream is truncated after 300 bytes"),
        (bad_type, "gob: field number 14 out of range (the struct has 2)"),
    ]:
        proc = am_dbg("-i", str(path), "--print-summary", cwd=tmp_path)
        assert "Traceback" not in proc.stderr
        assert reason in proc.stderr
        assert proc.returncode == 1
        assert proc.stdout == ""


def test_truncated_dump_prints_what_was_read_and_warns(tmp_path: Path, gob_summary: dict) -> None:
    # design.md §4: a damaged file prints what was read (exit 0) and says on stderr what was lost
    raw = FIXTURE.read_bytes()
    cut = tmp_path / "cut.gob.br"
    cut.write_bytes(raw[: len(raw) // 2])
    proc = am_dbg("-i", str(cut), "--print-summary", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    kept = json.loads(proc.stdout)["machines"]
    assert 0 < len(kept) < 107
    full = {m["id"]: m for m in gob_summary["machines"]}
    assert all(m == full[m["id"]] for m in kept)  # the complete machines come back exactly
    lines = proc.stderr.splitlines()
    assert lines and all(line.startswith(f"am-dbg: warning: {cut}: ") for line in lines)
    assert f"kept the {len(kept)} complete machine(s) of 107" in proc.stderr
