"""The `am-dbg` front door as a user meets it: one-line errors and the exit codes of design.md §4."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from am_dbg.cli import main, port_in_use
from am_dbg.recordings.amdbg import MAGIC, VERSION

ROOT = Path(__file__).resolve().parents[2]


def _am_dbg(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "am_dbg", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_ui_with_a_port_in_use_is_one_line_and_exit_2_before_the_terminal_is_taken() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert port_in_use(f"127.0.0.1:{port}").endswith("address already in use")
        res = _am_dbg("--listen-addr", f"127.0.0.1:{port}")
    assert res.returncode == 2
    assert res.stderr == f"am-dbg: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert res.stdout == ""


def test_port_in_use_is_empty_for_a_free_port_and_for_port_0() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: free for a SO_REUSEADDR listener
    assert port_in_use(f"127.0.0.1:{port}") == ""
    assert port_in_use("127.0.0.1:0") == ""


def test_bad_addresses_and_flags_are_one_line_and_exit_2() -> None:
    for args, needle in [
        (("--headless", "-l", "127.0.0.1:99999"), "--listen-addr: port must be 0-65535"),
        (("--headless", "-l", "127.0.0.1:abc"), "--listen-addr: port must be a number"),
        (("--print-summary",), "--print-summary needs a file"),
        (("--export-data", "x.amdbg", "-l", "-1"), "--export-data needs --headless"),
    ]:
        res = _am_dbg(*args)
        assert res.returncode == 2, res.stderr
        assert res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr
    res = _am_dbg("--no-such-flag")
    assert res.returncode == 2 and "unrecognized arguments: --no-such-flag" in res.stderr


def test_unreadable_imports_are_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.amdbg"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(7).randbytes(100_000))
    future = tmp_path / "future.amdbg"
    future.write_bytes(MAGIC + (VERSION + 1).to_bytes(2, "big") + b"\0" * 64)
    for path, needle in [
        (tmp_path / "missing.amdbg", "No such file or directory"),
        (tmp_path, "Is a directory"),
        (empty, "is empty"),
        (noise, "is neither an am-dbg recording (no AMDBG header) nor a Go am-dbg dump"),
        (future, f"has format version {VERSION + 1}, this am-dbg reads version {VERSION} only"),
    ]:
        # the UI mode (no --headless) stops before it takes over the terminal
        for mode in (["--print-summary"], ["--headless", "-l", "-1"], ["-l", "-1"]):
            assert main(["-i", str(path), *mode]) == 1
            out, err = capsys.readouterr()
            assert out == "" and err.count("\n") == 1 and needle in err, err


def test_conversion_to_an_unwritable_place_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no-such-dir" / "y.amdbg"
    src = str(ROOT / "tests" / "data" / "am-dbg-sim.gob.br")
    assert main(["-i", src, "--headless", "--export-data", str(out)]) == 1
    _, err = capsys.readouterr()
    assert err == f"am-dbg: cannot write {str(out)!r}: No such file or directory\n"
