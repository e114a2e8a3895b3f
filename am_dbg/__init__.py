"""am-dbg: a multi-client terminal debugger for asyncmachine state machines.

Map of the package: docs/architecture.md. Errors: `am_dbg.errors` (root `DbgError`).
"""

from am_dbg.errors import DbgError

__version__ = "0.1.0"

__all__ = ["DbgError", "__version__"]
