"""A viewer in its own process: an ``am-dbg`` in a pty, fed the shared session (docs/remote.md).

Why a process per remote viewer: a Textual app owns its terminal (the driver, signals, the
process-wide print capture and the active-app context), so several apps on different terminals
do not share one process reliably. Each viewer is therefore a plain ``am-dbg`` UI started in a
pseudo-terminal sized like the remote one; it listens on a loopback port guarded by a random
token and gets the session through a `Forwarder` attached to the `Fanout` (a replay of what is
there, then the live frames). Its cursor, filters, selection and theme are its own. The caller
bridges the pty (`write`, `resize`, `on_output`) to its channel (an SSH session).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import secrets
import signal
import socket
import struct
import subprocess
import sys
import termios
from collections.abc import Callable

from am_dbg.remote.fanout import Fanout
from am_dbg.server.forward import Forwarder

__all__ = ["ViewerProcess"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ViewerProcess:
    """One ``am-dbg`` viewer in a pty; `start` spawns and feeds it, `close` ends it."""

    def __init__(
        self,
        fanout: Fanout,
        *,
        cols: int,
        rows: int,
        term: str = "xterm-256color",
        args: tuple[str, ...] = (),
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int], None],
    ) -> None:
        self.fanout = fanout
        self.cols, self.rows = max(cols, 20), max(rows, 10)
        self.term = term or "xterm-256color"
        self.args = args
        self.on_output = on_output
        self.on_exit = on_exit
        self.proc: subprocess.Popen[bytes] | None = None
        self.feed: Forwarder | None = None
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = loop = asyncio.get_running_loop()
        port = _free_port()
        token = secrets.token_hex(16)
        master, slave = pty.openpty()
        _set_size(slave, self.cols, self.rows)
        env = dict(os.environ, TERM=self.term, AM_DBG_TOKEN=token)
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        cmd = [sys.executable, "-m", "am_dbg", "-l", f"127.0.0.1:{port}"]
        cmd += ["--clean-on-connect=false", *self.args]
        self.proc = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,  # its own session: the pty becomes its controlling terminal
            close_fds=True,
        )
        os.close(slave)
        self._fd = master
        os.set_blocking(master, False)
        loop.add_reader(master, self._readable)
        self.feed = Forwarder([f"127.0.0.1:{port}"], on_note=lambda _m: None, secret=token)
        await self.feed.start()  # not up yet: redials with backoff, frames wait for it
        self.fanout.attach(self.feed)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the viewer closed its terminal (it exited)
            data = b""
        if data:
            self.on_output(data)
            return
        self._stop_reading()
        if self._loop is not None:
            self._loop.create_task(self._reap())

    async def _reap(self) -> None:
        code = await asyncio.to_thread(self.proc.wait) if self.proc is not None else 0
        self.on_exit(code)

    def _stop_reading(self) -> None:
        if self._fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def write(self, data: bytes) -> None:
        """Keys from the remote terminal."""
        if self._fd >= 0 and data:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._fd, data)

    def resize(self, cols: int, rows: int) -> None:
        if self._fd >= 0 and cols > 0 and rows > 0:
            _set_size(self._fd, cols, rows)
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGWINCH)

    async def close(self) -> None:
        """Detach the feed, end the viewer (SIGTERM, then SIGKILL after 5 s)."""
        if self.feed is not None:
            self.fanout.detach(self.feed)
            self.feed.close()
            self.feed = None
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            for _ in range(100):
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.to_thread(proc.wait)
        self._stop_reading()

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def __repr__(self) -> str:
        return f"ViewerProcess(pid={self.pid}, {self.cols}x{self.rows})"
