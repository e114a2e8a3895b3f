"""The pool directory shared by an active and a standby supervisor (docs/workers.md).

``lock``: an exclusive ``flock`` held by the active supervisor; the OS drops it when that process
dies (even on SIGKILL), which is how a standby learns it must take over. ``pool.json``: the running
workers (id, address, pid, assigned client), rewritten atomically by the active supervisor so that
the standby can adopt them.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any


class PoolFile:
    def __init__(self, pool_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(pool_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / "pool.json"
        self._lock_fd: int | None = None

    def try_lock(self) -> bool:
        """Take the active role if nobody holds it; never blocks."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError as err:
            raise ValueError(f"{self.state_path}: not a pool state file: {err}") from err
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, sort_keys=True))
        os.replace(tmp, self.state_path)
