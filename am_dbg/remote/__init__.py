"""am-dbg beyond one terminal (docs/remote.md): an MCP server for AI agents, SSH viewers, a REPL.

- `query`: bounded, JSON-ready answers about a `Session` (machines, schemas, transitions, states);
- `control`: a viewer (a running `DbgApp`) driven by mutations of its own machine, and a text
  snapshot of its screen;
- `mcp_server`: the MCP tools over `query` and `control` (the ``[mcp]`` extra);
- `mcp_run`: ``am-dbg --ui-mcp [ADDR|stdio]``;
- `ssh`, `fanout`, `viewer_proc`: ``am-dbg --ui-ssh [ADDR]``, a viewer process per login;
- `repl`: ``am-repl``, a prompt on any aRPC machine, the debugger's own included;
- `repl_serve`: ``am-dbg --ui-repl [ADDR]``, the debugger's own machine served for it.
"""

from am_dbg.remote.errors import RemoteError

__all__ = ["RemoteError"]
