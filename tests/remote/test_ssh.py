"""`am-dbg --ui-ssh`: two logins with the real OpenSSH client under ptys, each its own viewer of
one live session; a wrong key is refused. The screens are read through a VT100 emulator (pyte).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

from am_core import Machine, State
from am_rpc.dbg.sender import connect as dbg_connect

ROOT = Path(__file__).resolve().parents[2]
GO = str(ROOT / "tests/data/am-dbg-sim.gob.br")
TIMEOUT = 60.0
COLS, ROWS = 160, 50
AM_DBG = (sys.executable, "-m", "am_dbg")
# no user config, no host-key prompts or files, only the key given, never a password prompt
SSH_OPTS = ("-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "IdentitiesOnly=yes")
SSH_OPTS += ("-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes")

pytestmark = pytest.mark.skipif(
    shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
    reason="LOUD SKIP: no OpenSSH client (apt-get install openssh-client; .ci/run installs it)",
)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


class Term:
    """An `ssh -tt` session whose output feeds a 160x50 emulated screen."""

    def __init__(self, port: int, key: Path) -> None:
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.p = pexpect.spawn(
            "ssh",
            [
                "-tt",
                "-p",
                str(port),
                "-i",
                str(key),
                *SSH_OPTS,
                "-o",
                "LogLevel=ERROR",
                "127.0.0.1",
            ],
            dimensions=(ROWS, COLS),
            env={**os.environ, "TERM": "xterm-256color"},
            timeout=TIMEOUT,
        )

    def pump(self) -> None:
        while True:
            try:
                data = self.p.read_nonblocking(65536, timeout=0.05)
            except (pexpect.TIMEOUT, pexpect.EOF):
                return
            self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait(self, cond: Callable[[str], object], what: str) -> str:
        deadline = time.monotonic() + TIMEOUT
        while True:
            self.pump()
            text = self.text()
            if cond(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")
            if not self.p.isalive():
                self.pump()
                raise AssertionError(f"ssh ended waiting for {what}; screen:\n{self.text()}")

    def quiet(self, what: str, quiet_for: float = 1.0) -> str:
        """Wait until the screen stopped changing (the replay of the session is in)."""
        deadline = time.monotonic() + TIMEOUT
        last, since = self.text(), time.monotonic()
        while time.monotonic() - since < quiet_for:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{last}")
            self.pump()
            if self.text() != last:
                last, since = self.text(), time.monotonic()
        return last

    def address(self) -> str:
        m = re.search(r"mach://\S+", self.text())
        return m.group(0) if m else ""

    def close(self) -> None:
        self.p.close(force=True)


def _t(screen: str) -> int:
    """The client list's title: ``Machines:N T:<newest machine time>``."""
    m = re.search(r"Machines:\d+ T:(\d+)", screen)
    assert m, screen
    return int(m.group(1))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int, Path]]:
    key = tmp_path / "id"
    _keygen(key)
    (tmp_path / "authorized_keys").write_text((tmp_path / "id.pub").read_text())
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")  # the generated host key goes there
    env.pop("AM_DBG_TOKEN", None)
    keys = ("--ui-ssh-keys", str(tmp_path / "authorized_keys"))
    proc = subprocess.Popen(
        [*AM_DBG, "--ui-ssh", "127.0.0.1:0", "--headless", "-l", "127.0.0.1:0", "-i", GO, *keys],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    ssh_port = ingest_port = 0
    lines: list[str] = []
    while not (ssh_port and ingest_port):
        line = proc.stderr.readline()
        assert line, f"am-dbg ended: {''.join(lines)}"
        lines.append(line)
        if line.startswith("ssh on "):
            ssh_port = int(line.rsplit(":", 1)[1])
        elif line.startswith("listening on "):
            ingest_port = int(line.rsplit(":", 1)[1])
    try:
        yield proc, ssh_port, ingest_port, tmp_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert (tmp_path / "state/am-dbg/ssh_host_ed25519_key").stat().st_mode & 0o077 == 0


def test_two_logins_two_viewers_of_one_live_session(
    server: tuple[subprocess.Popen[str], int, int, Path],
) -> None:
    proc, port, ingest, tmp = server
    a, b = Term(port, tmp / "id"), Term(port, tmp / "id")
    try:
        for t in (a, b):
            t.wait(lambda s: "Machines:107" in s and "mach://" in s, "the viewer's first frame")
        for t in (a, b):
            t.wait(lambda s, t=t: t.address().count("/") >= 3, "a transition address")
            t.quiet("the replayed session to be drawn")
        addr_a, addr_b = a.address(), b.address()
        t_a, t_b = _t(a.text()), _t(b.text())
        a.p.send("\x1b[D\x1b[D\x1b[D")  # left x3 in viewer a: three transitions back
        a.wait(lambda s: a.address() not in ("", addr_a), "viewer a to move")
        moved_a = a.address()
        b.pump()
        assert b.address() == addr_b, "viewer b moved with a"
        # a machine streams to the shared ingest port: both viewers get it
        src = Machine(
            {"Start": State(), "Busy": State(multi=True, require=["Start"])}, id="live-ssh"
        )
        tracer = dbg_connect(src, f"127.0.0.1:{ingest}")
        try:
            src.add1("Start")
            for _ in range(5):
                src.add1("Busy")
            for t, t0 in ((a, t_a), (b, t_b)):
                # the list may be scrolled away from it: its count and the newest time say it
                t.wait(lambda s, t0=t0: "Machines:108" in s and _t(s) > t0, "the new machine")
        finally:
            tracer.close()
        assert a.address() == moved_a and b.address() == addr_b  # cursors stayed their own
        # quitting a viewer (ctrl+q) ends its session, the other one keeps going
        a.p.send("\x11")  # ctrl+q
        a.p.expect(pexpect.EOF, timeout=TIMEOUT)
        b.p.send("\x1b[D")
        b.wait(lambda s: b.address() != addr_b, "viewer b to move after a left")
        assert proc.poll() is None
    finally:
        a.close()
        b.close()


def test_a_wrong_key_is_refused(server: tuple[subprocess.Popen[str], int, int, Path]) -> None:
    _, port, _, tmp = server
    _keygen(tmp / "other")
    out = subprocess.run(
        ["ssh", "-p", str(port), "-i", str(tmp / "other"), *SSH_OPTS, "-tt", "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 255
    assert "Permission denied (publickey)" in out.stderr
