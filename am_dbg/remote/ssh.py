"""``am-dbg --ui-ssh [ADDR]``: every SSH login gets its own viewer of the live session (docs/remote.md).

An `asyncssh` server: public-key auth only, against an ``authorized_keys`` file (``--ui-ssh-keys``,
default ``~/.ssh/authorized_keys``); the host key is generated once and kept in the platformdirs
state dir (``~/.local/state/am-dbg/ssh_host_ed25519_key`` on Linux). Each session asks for a pty
(``ssh -t``): it gets a `ViewerProcess` of that size and terminal type, bridged both ways, resized
with the remote window; closing the session ends the viewer, and the viewer quitting (``q``) ends
the session with its exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import asyncssh

from am_dbg.errors import DbgError
from am_dbg.remote.fanout import Fanout
from am_dbg.remote.viewer_proc import ViewerProcess
from am_rpc.dbg.addr import split_addr

__all__ = ["DEFAULT_KEYS", "SshError", "SshServer", "host_key_path"]

log = logging.getLogger("am_dbg.remote")
DEFAULT_KEYS = "~/.ssh/authorized_keys"


class SshError(DbgError, OSError):
    """The SSH server cannot start: its address, host key or authorized keys (named)."""


def host_key_path() -> Path:
    """Where the generated host key lives (created on first use, mode 600)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("am-dbg")) / "ssh_host_ed25519_key"


def _host_key() -> asyncssh.SSHKey:
    path = host_key_path()
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.export_private_key())
    return key


class _Auth(asyncssh.SSHServer):
    """Public keys only; no passwords, no keyboard-interactive."""

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is required

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class SshServer:
    """The listener; `viewers` are the running sessions' viewer processes."""

    def __init__(
        self, fanout: Fanout, addr: str, keys: str = DEFAULT_KEYS, args: tuple[str, ...] = ()
    ) -> None:
        self.fanout = fanout
        self.addr = addr
        self.keys = os.path.expanduser(keys)
        self.args = args  # extra am-dbg flags for every viewer (theme, filters, ...)
        self.viewers: set[ViewerProcess] = set()
        self._acceptor: Any = None
        self.bound: tuple[str, int] = ("", 0)

    async def start(self) -> None:
        try:
            host, port = split_addr(self.addr)
        except ValueError as err:
            raise SshError(f"--ui-ssh {self.addr}: {err}") from None
        if not os.path.isfile(self.keys):
            raise SshError(f"--ui-ssh: no authorized keys file {self.keys} (see --ui-ssh-keys)")
        try:
            authorized = asyncssh.read_authorized_keys(self.keys)
        except (OSError, ValueError, asyncssh.KeyImportError) as err:
            raise SshError(f"--ui-ssh: cannot read {self.keys}: {err}") from None
        try:
            key = _host_key()
        except (OSError, ValueError, asyncssh.KeyImportError) as err:
            raise SshError(f"--ui-ssh: host key {host_key_path()}: {err}") from None
        try:
            self._acceptor = await asyncssh.create_server(
                _Auth,
                host,
                port,
                server_host_keys=[key],
                authorized_client_keys=authorized,
                process_factory=self._session,
                encoding=None,
                line_editor=False,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
            )
        except OSError as err:
            raise SshError(f"--ui-ssh {self.addr}: {err.strerror or err}") from None
        sock = self._acceptor.sockets[0].getsockname()
        self.bound = (sock[0], int(sock[1]))

    async def _session(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        size = process.term_size
        if process.term_type is None or not size[0]:
            process.stderr.write(b"am-dbg: ask for a terminal: ssh -t ...\r\n")
            process.exit(2)
            return
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def output(data: bytes) -> None:
            if not process.is_closing():
                process.stdout.write(data)

        def ended(code: int) -> None:
            if not done.done():
                done.set_result(code)

        viewer = ViewerProcess(
            self.fanout,
            cols=size[0],
            rows=size[1],
            term=process.term_type,
            args=self.args,
            on_output=output,
            on_exit=ended,
        )
        self.viewers.add(viewer)
        try:
            await viewer.start()
            pump: asyncio.Future[Any] = asyncio.ensure_future(self._keys(process, viewer))
            waits: list[asyncio.Future[Any]] = [pump, done]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            pump.cancel()
            code = done.result() if done.done() else 0
        finally:
            self.viewers.discard(viewer)
            await viewer.close()
        with contextlib.suppress(Exception):
            process.exit(code if 0 <= code < 256 else 1)

    async def _keys(self, process: asyncssh.SSHServerProcess[bytes], viewer: ViewerProcess) -> None:
        while True:
            try:
                data = await process.stdin.read(4096)
            except asyncssh.TerminalSizeChanged as size:
                viewer.resize(size.width, size.height)
                continue
            except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                continue
            if not data:  # the client closed its side
                return
            viewer.write(data)

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            with contextlib.suppress(Exception):
                await self._acceptor.wait_closed()
            self._acceptor = None
        for viewer in list(self.viewers):
            await viewer.close()
