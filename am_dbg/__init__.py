"""am-dbg: a multi-client terminal debugger for asyncmachine state machines."""

__version__ = "0.1.0"
