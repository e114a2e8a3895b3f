"""Run the real `am-dbg` console script as a user would: headless with pipes, the UI on a pty."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[3]
DEMO = ROOT / "recordings" / "demo.amdbg"
FIXTURE = ROOT / "tests" / "data" / "am-dbg-sim.gob.br"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def am_dbg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "am_dbg", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(),
        cwd=ROOT,
    )


def am_dbg_tty(*args: str, timeout: float = 120) -> tuple[int, str]:
    """The UI on a pseudo terminal until it exits; returns the exit code and everything it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ.update(env(), TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "am_dbg", *args])
    out = bytearray()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal (exited)
                chunk = b""
            if not chunk:
                break
            out += chunk
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError(f"am-dbg {' '.join(args)} did not exit in {timeout} s")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
