"""Schemas of the aRPC machines: server ``rs-*``, client ``rc-*``, mux ``rm-*``, consumer (spec §7).

The networking code drives these machines (it adds ``Connecting``, ``Connected``, ``HandshakeDone``...);
the relations make the rest follow (``Ready`` is auto, group members remove each other, errors require
``Exception``), so the machines are an observable, waitable and debuggable view of each connection.
"""

from __future__ import annotations

from am_core.types import Schema, State


def _group(*names: str) -> list[str]:
    return list(names)


_CONN = _group("Connecting", "Connected", "Disconnecting", "Disconnected")
_HANDSHAKE = _group("Handshaking", "HandshakeDone")
_RPC = _group("RpcStarting", "RpcAccepting", "RpcReady")

# pkg/states basic + the shared RPC error states
_SHARED: Schema = {
    "Exception": State(multi=True),
    "ErrHandlerTimeout": State(multi=True, add=["Exception"], require=["Exception"]),
    "ErrNetwork": State(require=["Exception"]),
    "ErrNetworkTimeout": State(require=["Exception"]),
    "ErrRpc": State(require=["Exception"]),
    "ErrDelivery": State(require=["Exception"]),
    "Healthcheck": State(multi=True),
    "Heartbeat": State(),
    "MetricSync": State(multi=True),
}

SERVER_SCHEMA: Schema = {
    **_SHARED,
    "Start": State(add=["RpcStarting"]),
    "RpcStarting": State(require=["Start"], remove=_RPC),
    "RpcAccepting": State(require=["Start"], remove=_RPC),
    "RpcReady": State(require=["Start"], remove=_RPC),
    "ClientConnected": State(require=["RpcReady"]),
    "Handshaking": State(require=["Start"], remove=_HANDSHAKE),
    "HandshakeDone": State(require=["Start", "ClientConnected"], remove=["Exception", *_HANDSHAKE]),
    "Ready": State(auto=True, require=["HandshakeDone", "RpcReady"]),
    "ErrNetwork": State(require=["Exception"], remove=["ClientConnected"]),
    "WebSocketTunnel": State(),
}

CLIENT_SCHEMA: Schema = {
    **_SHARED,
    "Start": State(add=["Connecting"], remove=["ConnRetryFailed"]),
    "Connecting": State(require=["Start"], remove=_CONN),
    "Connected": State(require=["Start"], remove=["RetryingConn", *_CONN], add=["Handshaking"]),
    "Disconnecting": State(remove=_CONN),
    "Disconnected": State(auto=True, remove=_CONN),
    "ErrConnecting": State(require=["Exception"]),
    "Handshaking": State(require=["Start", "Connected"], remove=_HANDSHAKE),
    "HandshakeDone": State(require=["Start", "Connected"], remove=_HANDSHAKE),
    "Ready": State(auto=True, require=["HandshakeDone"]),
    "RetryingCall": State(require=["Start"]),
    "CallRetryFailed": State(remove=["RetryingCall"], add=["ErrNetwork", "Exception"]),
    "RetryingConn": State(require=["Start"]),
    "ConnRetryFailed": State(remove=["Start"]),
    "ErrNetwork": State(require=["Exception"], remove=["Connecting"]),
    "ServerDelivering": State(multi=True, require=["Connected"]),
    "ServerPayload": State(multi=True, require=["Connected"]),
}

MUX_SCHEMA: Schema = {
    "Exception": State(multi=True, remove=["Ready"]),
    "Start": State(),
    "Ready": State(require=["Start"]),
    "ClientConnected": State(multi=True),
    "HasClients": State(require=["Start"]),
    "NewServerErr": State(),
    "ErrNetwork": State(require=["Exception"]),
}

CONSUMER_SCHEMA: Schema = {
    "Exception": State(multi=True),
    "ServerPayload": State(multi=True),
}
"""The minimum a payload consumer needs (spec §7.7); merge it into your own schema."""

STATE_SOURCE_SCHEMA: Schema = {
    "ErrOnClient": State(require=["Exception"]),
}
"""What a source with handlers must include (spec §1.1)."""


def names(schema: Schema) -> list[str]:
    """Index order for our machines: ``Exception`` first, then definition order."""
    return ["Exception", *[n for n in schema if n != "Exception"]]
