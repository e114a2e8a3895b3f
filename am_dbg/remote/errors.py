"""The one error of the remote front ends (docs/remote.md): a request names something that is not there."""

from __future__ import annotations

from am_dbg.errors import DbgError

__all__ = ["RemoteError"]


class RemoteError(DbgError, ValueError):
    """A remote request (MCP tool, REPL command) cannot be answered; the message says why.

    Unknown machines, states, filters, viewers and out-of-range transitions raise it, naming the
    value; the MCP server turns it into a tool error, the REPL prints it.
    """
