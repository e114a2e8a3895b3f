"""am_rpc: aRPC (remote machines with the same API) and the wire codec shared with am-dbg telemetry.

```python
from am_rpc import serve, connect
server = serve(source_mach, "127.0.0.1:0")   # or "unix:/path"; server.addr is the bound address
client = connect(server.addr, id="c1")       # returns once the handshake is done
nm = client.mach                             # the NetMachine: nm.add1("A"), nm.is1("A"), nm.when1("B")
client.close(); server.close()
```

The codec (``am_rpc.codec``) and errors (``am_rpc.errors``) import only msgpack; the RPC classes are
imported lazily so that codec users do not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from am_rpc.errors import (
    CallTimeoutError,
    ChecksumError,
    ConnectionClosedError,
    DecodeError,
    EncodeError,
    EnvelopeError,
    FrameError,
    FrameTooLargeError,
    HandshakeError,
    InvalidParamsError,
    NotConnectedError,
    PreambleError,
    ProtocolError,
    RemoteError,
    RpcError,
    WrongDestinationError,
)

if TYPE_CHECKING:
    from am_rpc.client import Client, ClientOpts
    from am_rpc.entry import connect, connect_async, serve, serve_async
    from am_rpc.mux import Mux
    from am_rpc.netmach import NetMachine
    from am_rpc.protocol import Payload
    from am_rpc.server import Server, ServerOpts

_LAZY = {
    "Client": "am_rpc.client",
    "ClientOpts": "am_rpc.client",
    "Mux": "am_rpc.mux",
    "NetMachine": "am_rpc.netmach",
    "Payload": "am_rpc.protocol",
    "Server": "am_rpc.server",
    "ServerOpts": "am_rpc.server",
    "connect": "am_rpc.entry",
    "connect_async": "am_rpc.entry",
    "serve": "am_rpc.entry",
    "serve_async": "am_rpc.entry",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'am_rpc' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod), name)


__all__ = [
    "CallTimeoutError",
    "ChecksumError",
    "Client",
    "ClientOpts",
    "ConnectionClosedError",
    "DecodeError",
    "EncodeError",
    "EnvelopeError",
    "FrameError",
    "FrameTooLargeError",
    "HandshakeError",
    "InvalidParamsError",
    "Mux",
    "NetMachine",
    "NotConnectedError",
    "Payload",
    "PreambleError",
    "ProtocolError",
    "RemoteError",
    "RpcError",
    "Server",
    "ServerOpts",
    "WrongDestinationError",
    "connect",
    "connect_async",
    "serve",
    "serve_async",
]
