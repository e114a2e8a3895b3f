"""The am_rpc exception tree.

Every malformed input from a peer is an exception with a clear reason, never a crash: the caller
catches :class:`ProtocolError`, logs ``str(err)`` and closes only that connection.

::

    RpcError                      base of everything am_rpc raises
    ├── ProtocolError             the peer sent bytes we cannot accept -> close that connection
    │   ├── PreambleError         bad magic / version / codec, or a short preamble
    │   ├── FrameError            bad length prefix (0 or > max_frame) or a frame cut short by EOF
    │   │   └── FrameTooLargeError    length prefix above max_frame (also raised when *sending*)
    │   ├── DecodeError           the payload is not exactly one valid msgpack value
    │   └── EnvelopeError         valid msgpack, but not an aRPC envelope of the right shape
    ├── InvalidParamsError        a message body has the wrong shape (answered, connection kept)
    ├── ChecksumError             a clock diff does not match its checksum (-> Sync)
    ├── ConnectionClosedError     the peer closed the stream cleanly between frames
    ├── EncodeError               a local value cannot be encoded as msgpack (nothing is sent)
    ├── RemoteError               the peer answered with an ERROR frame (``code``, ``message``)
    ├── CallTimeoutError          a call got no answer within its timeout
    ├── NotConnectedError         no usable connection for a call or payload
    ├── WrongDestinationError     a payload addressed to another client id
    ├── HandshakeError            the handshake failed (access denied, bad hello, schema missing...)
    ├── MessageError              a telemetry message is malformed (am_rpc.dbg.protocol; a ValueError)
    ├── BadRequestError           a NATS request that cannot be served (am_rpc.nats.json_msgs; a ValueError)
    ├── NatsRequestError          the remote machine answered a NATS request with an error
    │                             (am_rpc.nats.expose; a RuntimeError)
    ├── NatsServerError           no ``nats-server`` binary, or it did not start
    │                             (am_rpc.nats.local_server; a RuntimeError)
    ├── NoWorkerError             no supervisor handed out a worker in time
    │                             (am_rpc.node.client; a RuntimeError)
    └── JobError                  a job raised in its worker (am_rpc.node.client; a RuntimeError)

``RpcError`` is am_rpc's own root, not an ``am_core.AmError``: am_core's errors carry Go sentinel
texts, am_rpc's carry wire reasons. Every error class am_rpc defines is in this tree
(``tests/rpc/test_rpc_errors.py`` checks it); the ones defined outside this module keep their
former base (``ValueError``/``RuntimeError``) too and are imported from where they live.
"""

from __future__ import annotations


class RpcError(Exception):
    """Base class of every exception raised by am_rpc."""


class ProtocolError(RpcError):
    """The peer sent something we cannot accept; close that connection (and only that one)."""


class PreambleError(ProtocolError):
    """The 8-byte connection preamble is short or has the wrong magic, version or codec."""


class FrameError(ProtocolError):
    """A frame's length prefix is invalid or the stream ended inside a frame."""


class FrameTooLargeError(FrameError):
    """A frame is larger than the configured ``max_frame``."""

    def __init__(self, size: int, max_frame: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds max_frame {max_frame}")
        self.size = size
        self.max_frame = max_frame


class DecodeError(ProtocolError):
    """A frame payload is not exactly one valid msgpack value."""


class EnvelopeError(ProtocolError):
    """A decoded frame is not an aRPC envelope of the right shape."""


class InvalidParamsError(RpcError):
    """A request or notification body has the wrong shape; answered with *invalid params*."""


class ChecksumError(RpcError):
    """A clock diff does not fit the mirror (checksum or index out of range); the mirror re-syncs."""


class ConnectionClosedError(RpcError):
    """The peer closed the stream cleanly at a frame boundary."""


class EncodeError(RpcError):
    """A local value cannot be encoded as msgpack; nothing was sent."""


class RemoteError(RpcError):
    """The peer answered a request with an ERROR frame."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"remote error {code}: {message}")
        self.code = code
        self.message = message


class CallTimeoutError(RpcError):
    """A call got no answer within its timeout."""


class NotConnectedError(RpcError):
    """There is no usable connection (not connected, or the handshake is not done)."""


class WrongDestinationError(RpcError):
    """A payload was addressed to a client id other than the connected one."""


class HandshakeError(RpcError):
    """The aRPC handshake failed: access denied, malformed hello, missing schema or states."""


__all__ = [
    "CallTimeoutError",
    "ChecksumError",
    "ConnectionClosedError",
    "DecodeError",
    "EncodeError",
    "EnvelopeError",
    "FrameError",
    "FrameTooLargeError",
    "HandshakeError",
    "InvalidParamsError",
    "NotConnectedError",
    "PreambleError",
    "ProtocolError",
    "RemoteError",
    "RpcError",
    "WrongDestinationError",
]
