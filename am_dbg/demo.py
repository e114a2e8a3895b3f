"""`am-dbg --demo`: the example programs of `examples/`, streaming to this am-dbg.

Each example runs as a child process (``python examples/<name>.py --duration 0``) with
``AM_DBG_ADDR`` set to the address this am-dbg listens on, so the first screen is alive and the UI
never competes with the demo machines for the GIL. Children are stopped with SIGTERM: every
example then flushes what it streamed before exiting, so a recording made with
``am-dbg --demo --headless --record FILE --exit-after 30`` holds every transition they produced.
If am-dbg itself dies (even by SIGKILL), the examples notice that their parent is gone and stop.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from am_dbg.errors import DbgError

__all__ = ["DEMOS", "Demo", "DemoError", "examples_dir", "start_demo"]

DEMOS: tuple[str, ...] = ("worker_pool", "pipeline", "net_client", "ui_input", "process_pool")
"""The example programs the demo starts (file names in `examples/`, without ``.py``)."""


class DemoError(DbgError, RuntimeError):
    """The demo cannot start (no examples folder, a missing program); the message says why."""


def examples_dir() -> Path:
    """The `examples/` folder of the source checkout this am-dbg runs from."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "examples", here / "_examples"):
        if (cand / "kit.py").is_file():
            return cand
    raise DemoError(
        f"--demo needs the examples/ folder of a source checkout; not found next to {here} "
        "(install from the repository: pip install -e .)"
    )


@dataclass(slots=True)
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    stderr: IO[bytes]


@dataclass(slots=True)
class Demo:
    """The running example programs. `start` launches them; `stop` ends them cleanly."""

    addr: str
    names: Sequence[str] = DEMOS
    seed: int = 1
    log_level: str = ""  # AM_LOG for the children ("" = each example's own levels)
    children: list[_Child] = field(default_factory=list)

    def start(self) -> None:
        """Launch every example (returns at once; they connect to `addr` in the background)."""
        folder = examples_dir()
        paths = [folder / f"{name}.py" for name in self.names]
        for path in paths:
            if not path.is_file():
                raise DemoError(f"demo program {path} not found")
        env = dict(os.environ)
        env["AM_DBG_ADDR"] = self.addr
        env["PYTHONUNBUFFERED"] = "1"
        env["AM_EXAMPLE_PARENT_PID"] = str(os.getpid())  # examples/kit.py: stop when am-dbg dies
        if self.log_level:
            env["AM_LOG"] = self.log_level
        for name, path in zip(self.names, paths, strict=True):
            err = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
            proc = subprocess.Popen(
                [sys.executable, str(path), "--duration", "0", "--seed", str(self.seed)],
                cwd=str(folder),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # Ctrl-C in the terminal goes to am-dbg only
            )
            self.children.append(_Child(name, proc, err))
        if self.addr.startswith("nats://"):
            self._start_relay(folder, env)
        atexit.register(self.kill)

    def _start_relay(self, folder: Path, env: dict[str, str], count: int = 3) -> None:
        """Over NATS, also the relay ring (examples/nats_relay.py): processes that meet only
        through NATS (PubSub mirrors), one per runner."""
        url = self.addr.split("?", 1)[0]
        for i in range(count):
            err = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
            args = ["--nats", url, "--index", str(i), "--count", str(count)]
            proc = subprocess.Popen(
                [sys.executable, str(folder / "nats_relay.py"), "--duration", "0", *args],
                cwd=str(folder),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
            self.children.append(_Child(f"nats_relay-{i}", proc, err))

    def running(self) -> list[str]:
        """Names of the examples still running."""
        return [c.name for c in self.children if c.proc.poll() is None]

    def stop(self, timeout: float = 10.0) -> list[str]:
        """SIGTERM every example and wait (up to `timeout`) for them to flush and exit.

        Returns one line per example that failed (non-zero exit, or killed after the timeout),
        with the end of its stderr.
        """
        for c in self.children:
            if c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        for c in self.children:
            try:
                code = c.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
                problems.append(f"demo {c.name}: did not stop within {timeout:g}s, killed")
                continue
            if code not in (0, -signal.SIGTERM):
                problems.append(f"demo {c.name}: exited with {code}: {_tail(c.stderr)}")
        for c in self.children:
            c.stderr.close()
        self.children.clear()
        atexit.unregister(self.kill)
        return problems

    async def stop_async(self, timeout: float = 10.0) -> list[str]:
        """`stop` without blocking the running loop (the ingest server keeps receiving)."""
        return await asyncio.to_thread(self.stop, timeout)

    def kill(self) -> None:
        """Last resort at interpreter exit: no example outlives am-dbg."""
        for c in self.children:
            if c.proc.poll() is None:
                c.proc.kill()


def _tail(f: IO[bytes], limit: int = 400) -> str:
    f.seek(0)
    text = f.read().decode(errors="replace").strip()
    return text[-limit:].replace("\n", " | ") or "(no output)"


def start_demo(addr: str, names: Sequence[str] = DEMOS, seed: int = 1) -> Demo:
    """Start the demo programs streaming to ``addr`` (``HOST:PORT``); raises `DemoError`."""
    demo = Demo(addr, names, seed)
    demo.start()
    return demo
