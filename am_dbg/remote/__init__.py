"""am-dbg beyond one terminal (docs/remote.md): an MCP server for AI agents and a REPL.

- `query`: bounded, JSON-ready answers about a `Session` (machines, schemas, transitions, states);
- `control`: a viewer (a running `DbgApp`) driven by mutations of its own machine, and a text
  snapshot of its screen;
- `mcp_server`: the MCP tools over `query` and `control` (the ``[mcp]`` extra);
- `mcp_run`: ``am-dbg --ui-mcp [ADDR|stdio]``;
- `repl`: ``am-repl``, a prompt on any aRPC machine, the debugger's own included.
"""

from am_dbg.remote.errors import RemoteError

__all__ = ["RemoteError"]
