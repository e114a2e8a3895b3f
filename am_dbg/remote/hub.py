"""The shared side of a remote debugger process (docs/remote.md): one session, many viewers.

Every front end (the terminal, an MCP client) reads the same `Session`; each viewer is a
running `DbgApp` with its own cursor and filters, registered here under a name so that a tool
can address it ("main" is the app in the terminal, or the headless one of ``--ui-mcp stdio``).
"""

from __future__ import annotations

from typing import Any

from am_dbg.model.session import Session
from am_dbg.remote.control import ViewerControl
from am_dbg.remote.errors import RemoteError

__all__ = ["Hub"]


class Hub:
    """The session and the viewers attached to it, by name (insertion order)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.viewers: dict[str, ViewerControl] = {}

    def attach(self, name: str, app: Any) -> ViewerControl:
        if name in self.viewers:
            raise RemoteError(f"a viewer named {name!r} is already attached")
        ctl = ViewerControl(name, app)
        self.viewers[name] = ctl
        return ctl

    def detach(self, name: str) -> None:
        self.viewers.pop(name, None)

    def viewer(self, name: Any) -> ViewerControl:
        ctl = self.viewers.get(name) if isinstance(name, str) else None
        if ctl is None:
            known = ", ".join(self.viewers) or "none"
            raise RemoteError(f"no viewer {name!r} (viewers: {known})")
        return ctl
