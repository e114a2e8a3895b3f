"""`am-dbg` with the UI around the app: load warnings, `listening on`, `--record`, `--fwd-data`,
bind errors and the exit summary (am_dbg/ui/runner.py), with real files, sockets and processes."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from am_core import LogLevel, Machine, State
from am_dbg.config import parse_args
from am_dbg.model.session import Session
from am_dbg.recordings import load
from am_dbg.server import IngestServer
from am_dbg.ui.help_screen import HelpScreen
from am_dbg.ui.runner import UiRun
from am_rpc.dbg import connect
from tests.waiting import pause_until

ROOT = Path(__file__).resolve().parents[3]
GOB = ROOT / "tests" / "data" / "am-dbg-sim.gob.br"
SCHEMA = {
    "Start": State(),
    "Ready": State(require=["Start"]),
    "Working": State(multi=True),
    "Exception": State(multi=True),
}
BEFORE_UI = "\x1b["  # the first escape sequence: Textual took the terminal


@pytest.fixture
def cut_gob(tmp_path: Path) -> Path:
    """A Go dump cut short: 21 of its 107 machines are complete."""
    path = tmp_path / "cut.gob.br"
    path.write_bytes(GOB.read_bytes()[:50_000])
    return path


def _am_dbg(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "am_dbg", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _before_and_after(err: str) -> tuple[list[str], list[str]]:
    """stderr lines printed before the UI took the screen, and after it gave it back."""
    head, _, _ = err.partition(BEFORE_UI)
    tail = err.rpartition("\x1b[")[2]
    tail = tail[tail.find("Clients:") :] if "Clients:" in tail else ""
    return head.splitlines(), tail.splitlines()


async def test_damaged_import_is_shown_in_the_ui_and_on_stderr(
    cut_gob: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = parse_args(["--test-mode", "-l", "-1", "-i", str(cut_gob)])
    ui = UiRun(cfg)
    assert await ui.open() is None
    err = capsys.readouterr().err
    assert "kept the 21 complete machine(s) of 107, lost 86" in err
    assert err.count(f"am-dbg: {cut_gob}: ") == 2  # the brotli and the gob warning
    app = ui.app
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            assert len(app.session.machines) == 21
            toasts = list(app._notifications)
            assert len(toasts) == 1 and toasts[0].severity == "warning"
            assert toasts[0].title == "Import incomplete (2 warnings)"
            assert "lost 86" in toasts[0].message
            status = app.status._left.plain
            assert "⚠ import incomplete: 2 warnings (? for details)" in status
            await pilot.press("right", "left")  # still there after redraws
            assert "import incomplete" in app.status._left.plain
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            assert "lost 86" in app.screen.about
    finally:
        await ui.close()


async def test_an_intact_import_shows_no_marker(tmp_path: Path) -> None:
    cfg, _ = parse_args(["--test-mode", "-l", "-1", "-i", str(GOB)])
    ui = UiRun(cfg)
    assert await ui.open() is None
    app = ui.app
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            assert not app.load_warnings and not list(app._notifications)
            assert "import" not in app.status._left.plain
    finally:
        await ui.close()


def test_stderr_says_what_was_lost_and_where_it_listens_before_the_ui_and_sums_up_after(
    cut_gob: Path,
) -> None:
    proc = _am_dbg("-i", str(cut_gob), "-l", "127.0.0.1:0", "--exit-after", "1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert out == ""
    before, after = _before_and_after(err)
    assert before[0] == f"Importing data from {cut_gob} Please wait..."
    assert [ln for ln in before if ln.startswith("am-dbg: ")][-1].endswith("lost 86")
    listening = [ln for ln in before if ln.startswith("listening on ")]
    assert len(listening) == 1
    assert re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)", listening[0])
    assert listening[0] != "listening on 127.0.0.1:0"  # port 0 -> the bound port
    assert after[:2] == ["Clients: 21", "Transitions: 1110"]


def test_sigterm_releases_the_screen_then_prints_the_summary() -> None:
    proc = _am_dbg("-l", "127.0.0.1:0")
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("listening on 127.0.0.1:"), line
    try:
        proc.stderr.read(1)  # the UI started drawing: its signal handlers are in place
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    _, after = _before_and_after(err)
    assert after == ["Clients: 0", "Transitions: 0", "Memory: 0mb"]


def test_a_bind_error_other_than_port_in_use_is_one_line_and_exit_2(cut_gob: Path) -> None:
    proc = _am_dbg(
        "-l", "192.0.2.1:6831", "--insecure"
    )  # TEST-NET-1: never an address of this host
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err == "am-dbg: cannot listen on 192.0.2.1:6831: cannot assign requested address\n"
    proc = _am_dbg("-l", "192.0.2.1:6831", "--insecure", "-i", str(cut_gob), "--exit-after", "0.5")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    before, after = _before_and_after(err)
    assert before[-1] == (
        "am-dbg: cannot listen on 192.0.2.1:6831: cannot assign requested address; going on offline"
    )
    assert not any(ln.startswith("listening on") for ln in before)
    assert after[0] == "Clients: 21"


async def test_the_ui_records_and_forwards_a_live_machine(tmp_path: Path) -> None:
    target_session = Session()
    target = IngestServer(target_session, host="127.0.0.1", port=0)
    await target.start()
    rec = tmp_path / "live.amdbg"
    cfg, _ = parse_args(
        [
            "--test-mode",
            "-l",
            "127.0.0.1:0",
            "--record",
            str(rec),
            "--fwd-data",
            f"127.0.0.1:{target.port}",
        ]
    )
    ui = UiRun(cfg)
    assert await ui.open() is None
    app = ui.app
    port = ui.server.port
    assert port != 0 and app.listen_text == f"127.0.0.1:{port}"
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            assert app.tx_bar._left.plain == f"Listening for connections on 127.0.0.1:{port}"
            mach = Machine(dict(SCHEMA), id="live-1", log_level=LogLevel.CHANGES)
            mach.verify_states(list(SCHEMA))
            tracer = connect(mach, f"127.0.0.1:{port}", queued=False)
            mach.add1("Start")
            mach.add1("Ready")
            for _ in range(5):
                mach.add1("Working")
            await pause_until(
                pilot,
                lambda: app.viewer.history is not None and len(app.viewer.history) == 7,
                what="the UI to show the 7 transitions",
            )
            assert app.viewer.selected == "live-1"
            await asyncio.to_thread(tracer.close, 2.0)
    finally:
        await ui.close()
    await target.settle()
    await target.close()
    live = app.session.machines["live-1"]
    assert len(target_session.machines["live-1"]) == len(live) == 7
    res = load(str(rec))
    assert not res.warnings
    loaded = Session()
    loaded.load(res.machines)
    assert list(loaded.machines) == ["live-1"]
    got = loaded.machines["live-1"]
    assert [got.tx(i).id for i in range(7)] == [live.tx(i).id for i in range(7)]
