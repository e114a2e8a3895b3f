"""am-dbg telemetry: the message definitions and the sender that streams a machine to am-dbg.

``connect(mach, addr)`` / ``connect_env(mach)`` attach a `DbgTracer`; the wire format is in
`docs/protocol.md` (`am_rpc.dbg.frames` is the envelope, `am_rpc.dbg.protocol` the messages).
"""

from am_rpc.dbg.protocol import StateDef
from am_rpc.dbg.raw import RawSender
from am_rpc.dbg.sender import DEFAULT_DBG_ADDR, DbgTracer, connect, connect_env

__all__ = ["DEFAULT_DBG_ADDR", "DbgTracer", "RawSender", "StateDef", "connect", "connect_env"]
